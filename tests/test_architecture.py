"""The package arrows point one way: schemas <- adapters <- gateway <- composition.

`schemas` holds contracts and pure helpers, `adapters` parse with them, `gateway` runs the
service; only the composition modules (`gateway.cli`, `gateway.demo`) may start simulators.
`testkit` launches services for `tests` and `bench`, which never import each other.
Imports inside functions count too: a lazy import is still an arrow.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = {"schemas", "adapters", "gateway", "simulators", "testkit", "tests", "bench"}

ALLOWED: dict[str, set[str]] = {
    "schemas": {"schemas"},
    "adapters": {"schemas", "adapters"},
    "gateway": {"schemas", "adapters", "gateway"},
    "simulators": {"schemas", "simulators"},
    "testkit": {"schemas", "adapters", "gateway", "simulators", "testkit"},
    "tests": {"schemas", "adapters", "gateway", "simulators", "testkit", "tests"},
    "bench": {"schemas", "adapters", "gateway", "simulators", "testkit", "bench"},
}
COMPOSITION_MODULES = {"gateway/cli.py", "gateway/demo.py"}
"""The only gateway modules that may import `simulators`: they assemble a demo or a CLI."""


def imported_modules(path: Path) -> set[str]:
    """The dotted names of the modules a module imports, anywhere in its body; for
    `from package import name`, both `package` and `package.name` (it may be a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def first_party_imports(path: Path) -> set[str]:
    """The top-level first-party packages a module imports, anywhere in its body."""
    return {name.split(".")[0] for name in imported_modules(path)} & FIRST_PARTY


def allowed_for(package: str, path: Path) -> set[str]:
    """What a module may import: its package's allowance, plus simulators for composition."""
    if str(path.relative_to(ROOT)) in COMPOSITION_MODULES:
        return ALLOWED[package] | {"simulators"}
    return ALLOWED[package]


def modules_of(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
class TestPackageArrows:
    """Each package imports only the packages below it."""

    def test_imports_only_packages_below_it(self, package: str) -> None:
        """No module of the package imports a package it must not depend on."""
        offenders = {
            str(path.relative_to(ROOT)): sorted(imported - allowed)
            for path in modules_of(package)
            if (imported := first_party_imports(path)) - (allowed := allowed_for(package, path))
        }
        assert offenders == {}


class TestCompositionModules:
    """Inside the gateway, only the CLI and the demo start simulators."""

    def test_they_exist_and_import_simulators(self) -> None:
        """The exception is real: each composition module does import simulators."""
        for module in COMPOSITION_MODULES:
            assert "simulators" in first_party_imports(ROOT / module)

    def test_no_other_gateway_module_imports_simulators(self) -> None:
        """Any other gateway module importing simulators is an arrow pointing up."""
        importers = {
            str(path.relative_to(ROOT))
            for path in modules_of("gateway")
            if "simulators" in first_party_imports(path)
        }
        assert importers == COMPOSITION_MODULES

    def test_no_other_gateway_module_imports_a_composition_module(self) -> None:
        """Importing `gateway.demo` would bring simulators in by the back door."""
        composition = {
            module.removesuffix(".py").replace("/", ".") for module in COMPOSITION_MODULES
        }
        importers = {
            str(path.relative_to(ROOT))
            for path in modules_of("gateway")
            if imported_modules(path) & composition
        }
        assert importers <= COMPOSITION_MODULES


class TestTheCheckItself:
    """The import scan sees every form of import, so the arrows test can fail."""

    def test_finds_plain_from_and_lazy_imports(self, tmp_path: Path) -> None:
        """`import x.y`, `from x import y` and an import inside a function are all found."""
        module = tmp_path / "m.py"
        module.write_text(
            "import gateway.cli\nfrom adapters import base\n"
            "def f() -> None:\n    from tests import conftest\n",
            encoding="utf-8",
        )
        assert first_party_imports(module) == {"gateway", "adapters", "tests"}

    def test_names_imported_from_a_package_count_as_modules(self, tmp_path: Path) -> None:
        """`from gateway import demo` is an import of `gateway.demo`."""
        module = tmp_path / "m.py"
        module.write_text("from gateway import demo\n", encoding="utf-8")
        assert "gateway.demo" in imported_modules(module)

    def test_relative_and_third_party_imports_are_ignored(self, tmp_path: Path) -> None:
        """Relative imports stay inside their package; third-party ones are not arrows."""
        module = tmp_path / "m.py"
        module.write_text("from . import sibling\nimport pydantic\n", encoding="utf-8")
        assert first_party_imports(module) == set()
