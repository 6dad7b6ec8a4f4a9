"""The SQL both stream stores share (`gateway.store.tickets_sql.Dialect` for the time columns)."""

from typing import Final

from gateway.store.tickets_sql import TICKET_COLUMNS

TICKETS_CHANGED: Final = (
    f"SELECT {TICKET_COLUMNS} FROM tickets"
    " WHERE {updated} > :after_at OR ({updated} = :after_at AND ticket_id > :after_id)"
    " ORDER BY {updated}, ticket_id LIMIT :limit"
)
