"""The platform contract's JSON Schemas as files (docs/platform/*.schema.json).

Generated from `schemas.platform` by `scgw platform-schemas`, and compared with the committed
files by a test, so the document a vendor implements cannot drift from what the gateway sends.
"""

import json
from pathlib import Path

from schemas.platform import platform_schemas


def rendered_platform_schemas() -> dict[str, str]:
    """File name → text of every schema (2-space JSON, Chinese as is, a final newline)."""
    return {
        f"{name}.schema.json": json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
        for name, schema in platform_schemas().items()
    }


def write_platform_schemas(folder: Path) -> list[Path]:
    """Write every schema into `folder` (created if missing); the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered_platform_schemas().items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
