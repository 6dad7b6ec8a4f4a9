"""`scgw openapi`: the API's OpenAPI document as committed in `docs/openapi.json`.

The app is built with default settings and placeholder secrets and never started: the document
depends on the code alone, never on this machine's environment, so CI can compare the committed
file with what the code describes (tests/gateway/api/test_openapi.py).
"""

import sys
from pathlib import Path
from typing import Any

from gateway.api.app import create_app
from gateway.api.openapi import render
from gateway.config import GatewayConfig, Settings
from gateway.runtime import Secrets

PLACEHOLDER_SECRETS = Secrets(
    "openapi-document-only-" + "0" * 16, "openapi-document-only-" + "1" * 16
)
"""Never used: the app's lifespan (which would open anything) does not run."""


def current_document() -> dict[str, Any]:
    """The OpenAPI document the code describes now."""
    app = create_app(Settings.model_construct(), GatewayConfig(), PLACEHOLDER_SECRETS)
    return app.openapi()


def write_document(output: Path | None) -> int:
    """Write the rendered document to `output`, or to stdout."""
    text = render(current_document())
    if output is None:
        sys.stdout.write(text)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    return 0
