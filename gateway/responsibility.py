"""The responsibility list (职责清单): per ticket category, who handles it, how fast, how serious
it is, and whether it goes to the grid platform or stays with the property company.

The list is data, a TOML file (`config/responsibility.toml` ships the pilot's categories;
`SCGW_RESPONSIBILITY` names another, e.g. the district's 224 items): adding a category is an
edit of that file, never of code. A broken file stops the gateway at start with
`file:line: key: reason` (`gateway.config.read_toml_model`).
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adapters.mapping import SpecError
from gateway.config import read_toml_model
from schemas.tickets import Category, CategoryCode, Severity, UnitType

PILOT_RESPONSIBILITY: Final = (
    Path(__file__).resolve().parent.parent / "config" / "responsibility.toml"
)
"""The list shipped with the gateway: the pilot's categories."""

MAX_SLA_HOURS: Final = 24 * 366

Send = Literal["platform", "property"]
"""Where a category's tickets go: to the grid platform, or kept with the property company."""


class CategorySpec(BaseModel):
    """One line of the list."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: CategoryCode
    name: str = Field(min_length=1, max_length=64)
    name_en: str | None = Field(default=None, min_length=1, max_length=64)
    """Optional English name, for the dashboard's English view (the platform never sees it)."""
    gbt_class: str | None = Field(default=None, min_length=1, max_length=64)
    units: tuple[UnitType, ...] = Field(min_length=1)
    sla_hours: float = Field(gt=0, le=MAX_SLA_HOURS, strict=True, allow_inf_nan=False)
    """A TOML number: `true` or `"24"` is refused, not read as 1 or 24."""
    severity: Severity
    send: Send

    @field_validator("units")
    @classmethod
    def _units_once_each(cls, units: tuple[UnitType, ...]) -> tuple[UnitType, ...]:
        for index, unit in enumerate(units):
            if unit in units[:index]:
                raise SpecError((index,), f"unit type {unit} is listed twice")
        return units

    @property
    def category(self) -> Category:
        """The category as a ticket carries it."""
        return Category(code=self.code, name=self.name, gbt_class=self.gbt_class)

    @property
    def forward(self) -> bool:
        return self.send == "platform"


class ResponsibilityFile(BaseModel):
    """The file's shape: at least one category, each code once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    categories: tuple[CategorySpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _codes_once_each(self) -> "ResponsibilityFile":
        seen: set[str] = set()
        for index, spec in enumerate(self.categories):
            if spec.code in seen:
                raise SpecError(("categories", index, "code"), f"{spec.code} is listed twice")
            seen.add(spec.code)
        return self


class ResponsibilityList:
    """Looks categories up by code."""

    def __init__(self, categories: tuple[CategorySpec, ...], source: Path | None = None) -> None:
        ResponsibilityFile(categories=categories)  # the same rules, however the list was made
        self._by_code = {spec.code: spec for spec in categories}
        self.source = source
        """The file the list came from (None when built in code), for error messages."""

    @classmethod
    def load(cls, path: Path | None = None) -> "ResponsibilityList":
        """The list in `path` (the pilot's when None); `ConfigError` names file, key and line."""
        source = path or PILOT_RESPONSIBILITY
        return cls(read_toml_model(source, ResponsibilityFile).categories, source)

    def get(self, code: str) -> CategorySpec | None:
        return self._by_code.get(code)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __iter__(self) -> Iterator[CategorySpec]:
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)
