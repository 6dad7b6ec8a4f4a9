"""The platform contract document and its JSON Schemas stay true to the code."""

import json
import re
import time
from pathlib import Path
from typing import Any

from gateway.cli import main
from gateway.platform_schemas import rendered_platform_schemas
from gateway.signing import sign, signed_headers
from schemas.platform import PLATFORM_UPDATE, PlatformTicket

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "docs" / "platform-contract.md"
SCHEMAS = ROOT / "docs" / "platform"


def json_blocks(text: str) -> list[object]:
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]


class TestPlatformSchemas:
    """docs/platform/*.schema.json are what `scgw platform-schemas` generates now."""

    def test_committed_files_are_current(self) -> None:
        """Regenerate with `scgw platform-schemas` when this fails."""
        expected = rendered_platform_schemas()
        assert sorted(path.name for path in SCHEMAS.glob("*.json")) == sorted(expected)
        for name, text in expected.items():
            assert (SCHEMAS / name).read_text(encoding="utf-8") == text, name

    def test_the_command_writes_them(self, tmp_path: Path) -> None:
        """`scgw platform-schemas --out DIR` writes every schema into DIR."""
        assert main(["platform-schemas", "--out", str(tmp_path)]) == 0
        assert {p.name: p.read_text(encoding="utf-8") for p in tmp_path.iterdir()} == (
            rendered_platform_schemas()
        )


class TestContractDocument:
    """docs/platform-contract.md's examples are exact."""

    def test_worked_signature_example_is_what_the_gateway_computes(self) -> None:
        """The documented signature is `gateway.signing.sign` of the documented request."""
        block = re.search(r"```text\n(.*?)```", CONTRACT.read_text(encoding="utf-8"), re.S)
        assert block is not None
        fields = dict(re.findall(r"^(\w+): +(.*)$", block.group(1), re.M))
        body = fields["body"].encode()
        computed = sign(
            fields["secret"], fields["method"], fields["target"], int(fields["timestamp"]), body
        )
        assert computed == fields["signature"]
        PLATFORM_UPDATE.validate_json(body)  # and the body is a message of the contract

    def test_json_examples_are_valid_messages(self) -> None:
        """The ticket and both updates shown validate against the contract's models."""
        ticket, *updates = json_blocks(CONTRACT.read_text(encoding="utf-8"))
        PlatformTicket.model_validate(ticket)
        assert [PLATFORM_UPDATE.validate_python(u).type for u in updates] == [
            "evidence",
            "cancelled",
        ]

    def test_the_python_verify_sample_accepts_our_signatures(self) -> None:
        """The vendor's sample `verify` accepts what the gateway signs now, and nothing else."""
        block = re.search(r"```python\n(.*?)```", CONTRACT.read_text(encoding="utf-8"), re.S)
        assert block is not None
        namespace: dict[str, Any] = {}
        exec(block.group(1), namespace)  # our own document's sample, nothing received
        body = b'{"type":"cancelled"}'
        headers = signed_headers(
            "s3cret-of-the-sample", "POST", "/p/tickets", int(time.time()), body
        )
        verify = namespace["verify"]
        assert verify(b"s3cret-of-the-sample", "POST", "/p/tickets", headers, body) is True
        assert verify(b"another-secret", "POST", "/p/tickets", headers, body) is False
        assert verify(b"s3cret-of-the-sample", "POST", "/q/tickets", headers, body) is False
