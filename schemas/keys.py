"""API keys as the keys API shows them: what an admin sends to create one, the key with its
secret (answered once, at creation), and the key as listed (never the secret or its hash)."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from schemas.devices import CommunityCode
from schemas.events import UtcDatetime
from schemas.times import ISO_8601_ONLY

KeyRole = Literal["admin", "gov", "property", "device_ops"]
"""A key's role (`gateway.access.Role`): what it may do."""

KeyId = Annotated[str, StringConstraints(pattern=r"^key_[0-9a-f]{12}$")]
"""A key's id: `key_` and 12 hex digits; the secret carries it (`scgw_<key_id>_<random>`)."""

_EXAMPLE_ID = "key_3f9a1c07b2d4"
_EXAMPLE_SECRET = f"scgw_{_EXAMPLE_ID}_q8Xv2oJ0m4T6yR1bN7wK3eH5sZ9cL2fA0uP4gD8iV6t"


class KeyCreate(BaseModel):
    """A key to create: who it is for, its role, its community scope, its expiry."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "亿达物业",
                    "role": "property",
                    "communities": ["yida"],
                    "pii": False,
                    "expires_at": "2027-03-01T00:00:00+00:00",
                }
            ]
        },
    )

    name: str = Field(
        min_length=1,
        max_length=100,
        description="Who holds the key, as the audit log names its actions.",
        examples=["亿达物业"],
    )
    role: KeyRole = Field(description="What the key may do (see the README's permission table).")
    communities: list[CommunityCode] | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="The communities the key sees (codes of the grid map); null for every"
        " community.",
        examples=[["yida"], None],
    )
    pii: StrictBool = Field(
        default=False,
        description="Whether the key may read residents' names and phones unmasked (each such"
        " read is audited).",
    )
    expires_at: Annotated[UtcDatetime, ISO_8601_ONLY] | None = Field(
        default=None,
        description="When the key stops working, ISO 8601 with an offset; must lie in the"
        " future. Null: never.",
        examples=["2027-03-01T00:00:00+00:00"],
    )


class KeyPublic(BaseModel):
    """A key as listed: never its secret, never its hash."""

    model_config = ConfigDict(frozen=True)

    key_id: KeyId = Field(description="The key's id, also the second part of its secret.")
    name: str = Field(description="Who holds the key.", examples=["亿达物业"])
    role: KeyRole = Field(description="`admin`, `gov`, `property` or `device_ops`.")
    communities: list[str] | None = Field(
        description="The communities the key sees; null for every community.",
        examples=[["yida"]],
    )
    pii: bool = Field(description="Whether the key reads names and phones unmasked.")
    created_at: UtcDatetime = Field(description="When the key was created.")
    expires_at: UtcDatetime | None = Field(description="When the key stops working; null: never.")
    revoked_at: UtcDatetime | None = Field(
        description="When the key was revoked; null: it was not."
    )
    last_used_at: UtcDatetime | None = Field(
        description="When the key was last accepted (recorded at most once a minute); null: never."
    )


class KeyCreated(KeyPublic):
    """A new key with its secret: the only time the secret is shown (only its hash is kept)."""

    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "key_id": _EXAMPLE_ID,
                    "secret": _EXAMPLE_SECRET,
                    "name": "亿达物业",
                    "role": "property",
                    "communities": ["yida"],
                    "pii": False,
                    "created_at": "2026-12-01T08:00:00+00:00",
                    "expires_at": "2027-03-01T00:00:00+00:00",
                    "revoked_at": None,
                    "last_used_at": None,
                }
            ]
        },
    )

    secret: str = Field(
        description="The key to present as `X-API-Key` (or a bearer token):"
        " `scgw_<key_id>_<random>`. Shown only in this answer.",
        examples=[_EXAMPLE_SECRET],
    )
