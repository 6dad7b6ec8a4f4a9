"""Master-data rows written with plain SQL beside the store, for tests of what reads them
(resolution, inference, retention) on both backends; the importer's own path is tested
elsewhere."""

import sqlite3
from contextlib import closing
from datetime import UTC, date, datetime

import psycopg

from gateway.store.micros import to_micros


class MasterRows:
    """Inserts houses, persons, residencies, credentials, vehicles and audit entries."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite:///")

    def sql(
        self, statement: str, params: dict[str, object] | None = None
    ) -> list[tuple[object, ...]]:
        """One statement (named `%(x)s` parameters) on a connection of our own, committed."""
        if self.sqlite:
            lite_statement = statement
            for name in params or {}:
                lite_statement = lite_statement.replace(f"%({name})s", f":{name}")
            lite_params = {k: self._lite(v) for k, v in (params or {}).items()}
            with closing(sqlite3.connect(self.url.removeprefix("sqlite:///"))) as lite, lite:
                return lite.execute(lite_statement, lite_params).fetchall()
        with psycopg.connect(self.url, autocommit=True) as pg:
            cursor = pg.execute(statement.encode(), params)
            return cursor.fetchall() if cursor.description else []

    @staticmethod
    def _lite(value: object) -> object:
        if isinstance(value, datetime):
            return to_micros(value)
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, bool):
            return int(value)
        return value

    def t(self, column: str) -> str:
        """A time column's name on this backend (`created_at` / `created_us`)."""
        return column.removesuffix("_at") + "_us" if self.sqlite else column

    def house(self, community: str, house_code: str, building: str, unit: str) -> None:
        self.sql(
            "INSERT INTO houses (house_code, community, building, unit, usage,"
            f" {self.t('created_at')}, {self.t('updated_at')})"
            " VALUES (%(code)s, %(community)s, %(building)s, %(unit)s, 'self_occupied',"
            " %(now)s, %(now)s)",
            {
                "code": house_code,
                "community": community,
                "building": building,
                "unit": unit,
                "now": datetime.now(UTC),
            },
        )

    def person(
        self, community: str, person_id: str, id_hash: str, population_type: str = "registered"
    ) -> None:
        self.sql(
            "INSERT INTO persons (person_id, community, id_hash, population_type,"
            f" {self.t('created_at')}, {self.t('updated_at')}) VALUES (%(id)s, %(community)s,"
            " %(hash)s, %(type)s, %(now)s, %(now)s)",
            {
                "id": person_id,
                "community": community,
                "hash": id_hash,
                "type": population_type,
                "now": datetime.now(UTC),
            },
        )

    def residency(
        self, person_id: str, house_code: str, since: date | None = None, until: date | None = None
    ) -> None:
        self.sql(
            "INSERT INTO residencies (person_id, house_code, relation, since, until,"
            f" {self.t('updated_at')})"
            " VALUES (%(p)s, %(h)s, 'owner', %(since)s, %(until)s, %(now)s)",
            {
                "p": person_id,
                "h": house_code,
                "since": since,
                "until": until,
                "now": datetime.now(UTC),
            },
        )

    def credential(
        self,
        community: str,
        ref: str,
        person_id: str,
        since: date | None = None,
        until: date | None = None,
        period: int = 1,
    ) -> None:
        self.sql(
            "INSERT INTO credentials (community, ref, period, kind, person_id, since, until,"
            f" {self.t('updated_at')}) VALUES (%(c)s, %(ref)s, %(period)s, 'card', %(p)s,"
            " %(since)s, %(until)s, %(now)s)",
            {
                "c": community,
                "ref": ref,
                "period": period,
                "p": person_id,
                "since": since,
                "until": until,
                "now": datetime.now(UTC),
            },
        )

    def vehicle(
        self,
        community: str,
        vehicle_id: str,
        plate_no: str,
        plate_color: str,
        *,
        registered: bool,
        last_seen: datetime | None = None,
        until: date | None = None,
    ) -> None:
        self.sql(
            "INSERT INTO vehicles (vehicle_id, community, plate_no, plate_color, registered,"
            f" until, {self.t('first_seen_at')}, {self.t('last_seen_at')}, {self.t('created_at')},"
            f" {self.t('updated_at')}) VALUES (%(v)s, %(c)s, %(plate)s, %(colour)s, %(reg)s,"
            " %(until)s, %(seen)s, %(seen)s, %(created)s, %(created)s)",
            {
                "v": vehicle_id,
                "c": community,
                "plate": plate_no,
                "colour": plate_color,
                "reg": registered,
                "until": until,
                "seen": last_seen,
                "created": last_seen or datetime.now(UTC),
            },
        )

    def visitor(self, community: str, person_id: str, id_hash: str, visit_until: datetime) -> None:
        self.sql(
            "INSERT INTO persons (person_id, community, id_hash, population_type,"
            f" {self.t('visit_until')}, {self.t('created_at')}, {self.t('updated_at')})"
            " VALUES (%(id)s, %(c)s, %(hash)s, 'visitor', %(until)s, %(until)s, %(until)s)",
            {"id": person_id, "c": community, "hash": id_hash, "until": visit_until},
        )

    def audit(self, at: datetime) -> None:
        self.sql(
            f"INSERT INTO audit_log ({self.t('at')}, actor, action) VALUES (%(at)s, 'admin',"
            " 'person.unmask')",
            {"at": at},
        )
