"""One validator per dataset: a raw row (from JSON, CSV or Excel) to the record the store
applies, or the (field, reason) it is rejected for.

Personal values are transformed here and nowhere else: ID numbers are checked for their type,
then only their keyed hash and mask go on; names and phones are masked, sealed for the audited
unmasked read and fingerprinted so a re-import can tell unchanged from changed; credentials
become their keyed hash in the namespace the adapters use. Reasons name the rule, never the
value. Values arrive as text (CSV), JSON values or Excel cells: a whole number is taken as
its digits, a list is only allowed for `tags`. Identifiers (ID numbers, credential values,
phones, house codes, plates) must be text: as a number they have already lost digits (Excel
keeps 15) or leading zeros, and may even pass a check digit as someone else's. Place fields
may not start like a spreadsheet formula (`=`, `+`, `-`, `@`; a plain negative floor number
is allowed): they travel into exports that people open in Excel.

Columns: each dataset has required and optional fields (`FIELDS`). A table whose header lacks a
required column or has a column no dataset field names is refused whole before any row is
applied (`columns_problem`): a misspelt optional column (`phnoe`) would otherwise drop its
data from every row in silence. A JSON object names its own fields, so there the same rules
reject the row.
"""

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Final, TypeVar, cast, get_args

from pydantic import BaseModel, ValidationError

from adapters.plates import normalise_plate
from gateway.grids import GridMap
from gateway.masterdata.readers import DUPLICATE_KEY, EXTRA_FIELDS, NOT_AN_OBJECT
from gateway.pii import ContactField, ContactVault
from gateway.privacy import is_shareable_key
from gateway.store.masterdata import Dataset
from schemas.codes import CredentialKind, HouseUsage, PlateColor, PopulationType, Relation
from schemas.countries import is_country_code
from schemas.housing import Grid, HouseRecord
from schemas.identifiers import NAME_PROBLEMS, is_printable, name_problem
from schemas.identity import birth_facts, id_type_code, resident_id_problem
from schemas.phones import PHONE_RULE, normalise_phone
from schemas.plates import plate_problem
from schemas.population import CredentialRecord, PersonRecord, ResidencyEnd, ResidentRecord
from schemas.privacy import (
    Pseudonymizer,
    credential_ref,
    hash_id_number,
    mask_id_number,
    mask_name,
    mask_phone,
    normalise_credential,
    normalise_id_number,
)
from schemas.vehicles import VehicleRecord

_M = TypeVar("_M", bound=BaseModel)
Row = Mapping[str, object]
"""A raw row: CSV text, JSON values or Excel cells by field name."""

Record = HouseRecord | ResidentRecord | VehicleRecord | CredentialRecord


@dataclass(frozen=True, slots=True)
class Fields:
    """A dataset's columns: the ones every row needs, and the others it may have."""

    required: tuple[str, ...]
    optional: tuple[str, ...]
    all: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "all", frozenset(self.required + self.optional))


FIELDS: Final[Mapping[Dataset, Fields]] = {
    "houses": Fields(
        ("house_code", "building"),
        ("unit", "floor", "room", "area_m2", "usage", "grid_code", "registered_occupants"),
    ),
    "residents": Fields(
        ("id_number", "population_type", "house_code"),
        ("id_type", "name", "phone", "ethnicity", "nationality", "relation", "since", "tags"),
    ),
    "vehicles": Fields(
        ("plate_no",), ("plate_color", "vehicle_type", "owner_id_number", "house_code")
    ),
    "credentials": Fields(("kind", "value", "owner_id_number"), ("since", "until")),
}
"""Each dataset's columns (JSON keys): the required ones first."""

RESIDENCY_END_FIELDS: Final = Fields(("id_number", "house_code", "until"), ())

IDENTIFIER_FIELDS: Final = frozenset(
    {"id_number", "owner_id_number", "value", "phone", "house_code", "plate_no"}
)
"""Fields refused as numbers (JSON numbers, Excel number cells): see the module docstring."""
NUMBER_IDENTIFIER: Final = "is a number, not text: store identifiers as text (in Excel, text cells)"


class RowError(Exception):
    """A row's field breaks a rule; the reason names the rule, never the value."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason)
        self.field = field
        self.reason = reason


def shown_name(name: str, position: int) -> str:
    """A column or key as a rejection may name it: ours when it looks like one, else a
    placeholder by position (a header cell may hold anything, even a phone number)."""
    return name if is_shareable_key(name) else f"<column {position}>"


def columns_problem(dataset: Dataset, columns: tuple[str, ...]) -> dict[str, list[str]] | None:
    """The unknown, missing and repeated columns of a table's header, or None when it fits
    `dataset`. Columns without a name are ignored (a row with a value there is rejected)."""
    fields = FIELDS[dataset]
    unknown = [
        shown_name(name, index)
        for index, name in enumerate(columns, start=1)
        if name and name not in fields.all
    ]
    missing = [name for name in fields.required if name not in columns]
    duplicated = sorted({name for name in columns if name and columns.count(name) > 1})
    if not (unknown or missing or duplicated):
        return None
    return {"unknown": unknown, "missing": missing, "duplicated": duplicated}


class RowValidator:
    """Turns the raw rows of one community's import into records."""

    def __init__(
        self,
        community: str,
        grids: GridMap,
        pseudonymizer: Pseudonymizer,
        contacts: ContactVault,
    ) -> None:
        self._community = community
        self._grids = grids
        self._pseudonymizer = pseudonymizer
        self._contacts = contacts
        self._validators: Mapping[Dataset, Callable[[Row], Record]] = {
            "houses": self._house,
            "residents": self._resident,
            "vehicles": self._vehicle,
            "credentials": self._credential,
        }

    def record(self, dataset: Dataset, row: Row) -> Record:
        """The row's record, or `RowError`."""
        _check_shape(FIELDS[dataset], row)
        return self._validators[dataset](row)

    def residency_end(self, row: Row) -> ResidencyEnd:
        """One item of a residencies/end request, its ID number hashed."""
        _check_shape(RESIDENCY_END_FIELDS, row)
        return ResidencyEnd(
            id_hash=self._id_hash(_required(row, "id_number"), "id_number"),
            house_code=_house_code(_required(row, "house_code")),
            until=_date(row, "until") or _missing("until"),
        )

    def _house(self, row: Row) -> HouseRecord:
        building = _place(row, "building", required=True)
        assert building is not None
        if self._grids.grid_of_building(self._community, building) is None and any(
            grid.buildings for grid in self._community_grids()
        ):
            raise RowError("building", "is not a building of this community in the grid map")
        grid_code, problem = self._grids.house_grid(
            self._community, building, _text(row, "grid_code")
        )
        if problem is not None:
            raise RowError("grid_code", problem)
        return _model(
            HouseRecord,
            house_code=_house_code(_required(row, "house_code")),
            building=building,
            unit=_place(row, "unit"),
            floor=_place(row, "floor"),
            room=_place(row, "room"),
            area_m2=_area(row),
            usage=_choice(row, "usage", HouseUsage, "other"),
            grid_code=grid_code,
            registered_occupants=_count(row, "registered_occupants"),
        )

    def _resident(self, row: Row) -> ResidentRecord:
        type_text = _text(row, "id_type") or "111"
        id_type = id_type_code(type_text)
        if id_type is None:
            raise RowError(
                "id_type", "is not a GA/T 517 code (111, 112, 113, 414, 554, 990) or canonical name"
            )
        number = normalise_id_number(_required(row, "id_number"))
        problem = id_type.problem(number)
        if problem is not None:
            raise RowError("id_number", problem)
        gender, birth_year = birth_facts(number) if id_type.gb11643 else ("unknown", None)
        population_type = _choice(row, "population_type", PopulationType, None)
        nationality = _nationality(row, population_type == "foreign")
        name = _text(row, "name")
        if name is not None and len(name) > 64:
            raise RowError("name", "must be at most 64 characters")
        phone = _phone(row)
        person = _model(
            PersonRecord,
            id_hash=hash_id_number(self._pseudonymizer, number),
            id_type=id_type.id_type,
            id_masked=mask_id_number(number),
            nationality=nationality,
            name_masked=mask_name(name),
            phone_masked=mask_phone(phone) if phone else None,
            gender=gender,
            birth_year=birth_year,
            ethnicity=_ethnicity(row),
            population_type=population_type,
            tags=_tags(row),
            **self._contact("name", name),
            **self._contact("phone", phone),
        )
        return _model(
            ResidentRecord,
            person=person,
            house_code=_house_code(_required(row, "house_code")),
            relation=_choice(row, "relation", Relation, "other"),
            since=_date(row, "since"),
        )

    def _vehicle(self, row: Row) -> VehicleRecord:
        plate = normalise_plate(_required(row, "plate_no"))
        if plate is None or plate_problem(plate) is not None:
            raise RowError("plate_no", "is not a licence plate (5 to 10 plate characters)")
        owner = _text(row, "owner_id_number")
        house = _text(row, "house_code")
        return _model(
            VehicleRecord,
            plate_no=plate,
            plate_color=_choice(row, "plate_color", PlateColor, "blue"),
            vehicle_type=_place(row, "vehicle_type", max_length=32),
            owner_id_hash=self._id_hash(owner, "owner_id_number") if owner else None,
            house_code=_house_code(house) if house else None,
        )

    def _credential(self, row: Row) -> CredentialRecord:
        kind = cast(CredentialKind, _choice(row, "kind", CredentialKind, None))
        value = _required(row, "value")
        if len(value) > 64:
            raise RowError("value", "must be at most 64 characters")
        if kind == "id_number":  # what ID-card readers read: GB 11643 cards (111, 2023's 554)
            problem = resident_id_problem(normalise_credential(kind, value))
            if problem is not None:
                raise RowError("value", problem)
        since, until = _date(row, "since"), _date(row, "until")
        if since is not None and until is not None and until < since:
            raise RowError("until", "is before since")
        return _model(
            CredentialRecord,
            kind=kind,
            ref=credential_ref(self._pseudonymizer, kind, value),
            owner_id_hash=self._id_hash(_required(row, "owner_id_number"), "owner_id_number"),
            since=since,
            until=until,
        )

    def _community_grids(self) -> tuple[Grid, ...]:
        community = self._grids.community(self._community)
        return community.grids if community is not None else ()

    def _id_hash(self, number: str, field: str) -> str:
        """An owner's or resident's ID number as stored records name them: its keyed hash. Its
        type is not given here, so only its length is checked; an unknown hash is the store's
        `unknown owner`."""
        if len(number) > 40:
            raise RowError(field, "must be at most 40 characters")
        return hash_id_number(self._pseudonymizer, number)

    def _contact(self, field: ContactField, value: str | None) -> dict[str, object]:
        if not value:
            return {}
        return {
            f"{field}_ref": self._contacts.fingerprint(field, value),
            f"{field}_sealed": self._contacts.seal(field, value),
        }


def _check_shape(fields: Fields, row: Row) -> None:
    if NOT_AN_OBJECT in row:
        raise RowError("<row>", "is not a JSON object")
    if DUPLICATE_KEY in row:
        raise RowError(shown_name(str(row[DUPLICATE_KEY]), 0), "duplicate_key: named twice")
    if EXTRA_FIELDS in row:
        raise RowError("<row>", "has values under no named column of the header")
    for position, key in enumerate(row, start=1):
        if key not in fields.all:
            raise RowError(shown_name(str(key), position), "is not a field of this dataset")
    for name in fields.required:
        if _text(row, name) is None:
            _missing(name)


def _missing(field: str) -> date:
    raise RowError(field, "is required")


def _text(row: Row, field: str) -> str | None:
    """The field as text, surrounding blanks removed; None when absent or blank."""
    value = row.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal | float):
        raise RowError(field, "must be text or a number")
    if not isinstance(value, str) and field in IDENTIFIER_FIELDS:
        raise RowError(field, NUMBER_IDENTIFIER)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RowError(field, "must be text or a finite number")
        if value.is_integer():  # JSON 3.0 as Excel's 3.0 (which the reader makes 3)
            return str(int(value))
    text = str(value).strip()
    if not is_printable(text):  # NUL would fail a PostgreSQL chunk; bidi overrides mislead
        raise RowError(field, NAME_PROBLEMS["not_printable"])
    return text or None


def _required(row: Row, field: str) -> str:
    text = _text(row, field)
    if text is None:
        raise RowError(field, "is required")
    return text


_HOUSE_CODE: Final = re.compile(r"[0-9A-Za-z][0-9A-Za-z_.\-]{0,63}")


def _house_code(text: str) -> str:
    if not _HOUSE_CODE.fullmatch(text):
        raise RowError(
            "house_code", "must be 1 to 64 of A-Z a-z 0-9 _ . -, a letter or digit first"
        )
    return text


def _place(row: Row, field: str, *, required: bool = False, max_length: int = 64) -> str | None:
    text = _required(row, field) if required else _text(row, field)
    if text is None:
        return None
    problem = name_problem(text, max_length=max_length)
    if problem is not None:
        reason = NAME_PROBLEMS[problem] if problem != "too_long" else None
        raise RowError(field, reason or f"must be at most {max_length} characters")
    if text[0] in _FORMULA_STARTS and not (field == "floor" and _NEGATIVE_FLOOR.fullmatch(text)):
        raise RowError(field, "must not start with = + - or @ (a spreadsheet formula)")
    return text


_FORMULA_STARTS: Final = frozenset("=+-@")
_NEGATIVE_FLOOR: Final = re.compile(r"-[0-9]{1,3}")
"""A basement floor (`-1`): a number in a spreadsheet, never a formula."""


def _choice(row: Row, field: str, literal: object, default: str | None) -> str:
    """A value of a canonical list (a `Literal`), or `default` when blank."""
    text = _text(row, field)
    allowed: tuple[str, ...] = get_args(literal)
    if text is None:
        if default is None:
            raise RowError(field, "is required")
        return default
    text = text.lower()
    if text not in allowed:
        raise RowError(field, f"must be one of {', '.join(allowed)}")
    return text


def _area(row: Row) -> Decimal | None:
    text = _text(row, "area_m2")
    if text is None:
        return None
    try:
        area = Decimal(text)
        if not area.is_finite():
            raise InvalidOperation
        area = area.quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise RowError("area_m2", "must be a number of square metres") from None
    if not Decimal(0) < area < Decimal(100_000):
        raise RowError("area_m2", "must be more than 0 and less than 100000")
    return area


def _count(row: Row, field: str) -> int:
    text = _text(row, field)
    if text is None:
        return 0
    if not _COUNT.fullmatch(text) or int(text) > 1000:
        raise RowError(field, "must be a whole number from 0 to 1000")
    return int(text)


_COUNT: Final = re.compile(r"[0-9]{1,4}")
"""ASCII digits only: `str.isdigit` also takes `²`, which `int` refuses."""


def _date(row: Row, field: str) -> date | None:
    text = _text(row, field)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RowError(field, "must be an ISO date (YYYY-MM-DD)") from None


def _phone(row: Row) -> str | None:
    text = _text(row, "phone")
    if text is None:
        return None
    if len(text) > 32:
        raise RowError("phone", PHONE_RULE)
    try:
        return normalise_phone(text) or None
    except ValueError:
        raise RowError("phone", PHONE_RULE) from None


_ETHNICITY: Final = re.compile(r"0[1-9]|[1-4][0-9]|5[0-6]|97|98")


def _ethnicity(row: Row) -> str | None:
    text = _text(row, "ethnicity")
    if text is None:
        return None
    text = text.zfill(2)  # Excel keeps 01 as the number 1
    if not _ETHNICITY.fullmatch(text):
        raise RowError("ethnicity", "is not a GB 3304 code (01 to 56, 97, 98)")
    return text


def _nationality(row: Row, required: bool) -> str | None:
    text = _text(row, "nationality")
    if text is None:
        if required:
            raise RowError("nationality", "is required for population_type foreign")
        return None
    code = text.upper()
    if not is_country_code(code):
        raise RowError("nationality", "is not a GB/T 2659 alpha-3 country code")
    return code


_TAG: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")
MAX_TAGS: Final = 16


def _tags(row: Row) -> tuple[str, ...]:
    """`;`-separated text (CSV, Excel) or a list of texts (JSON); each a snake_case ASCII
    token (`elderly_living_alone`), at most 16: tags are categories, and a free-text tag is
    where a name or a note about a person would end up stored unmasked."""
    value = row.get("tags")
    if value is None:
        return ()
    if isinstance(value, list):
        if not all(isinstance(item, str) for item in value):
            raise RowError("tags", "must be a list of texts")
        items: list[str] = value
    elif isinstance(value, str):
        items = value.split(";")
    else:
        raise RowError("tags", "must be ;-separated text or a list")
    tags = [item.strip() for item in items if item.strip()]
    for tag in tags:
        if not _TAG.fullmatch(tag):
            raise RowError(
                "tags", "each tag must be snake_case: a-z first, then a-z 0-9 _ (at most 32)"
            )
    unique = tuple(dict.fromkeys(tags))
    if len(unique) > MAX_TAGS:
        raise RowError("tags", f"must be at most {MAX_TAGS} tags")
    return unique


def _model(model: type[_M], **values: Any) -> _M:
    """The record; a rule the checks above missed becomes a rejection naming its field only."""
    try:
        return model(**values)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "<row>"
        raise RowError(field, "breaks the field's rule") from None
