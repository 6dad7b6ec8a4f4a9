"""The device registry as the pipeline sees it, and the watch that marks silent devices offline.

The `devices` table is the source of truth: the TOML file's devices are upserted into it at
start-up and property systems PUT theirs through the API. The pipeline reads an in-memory
copy (`DeviceRegistry`), because it runs synchronously on the event loop and must not wait on
the database for every message. The copy is updated at once by this process's API and
reloaded by `gateway.device_status.DeviceWatch` every check interval, so devices registered
through another gateway process show up here too. When a device counts as online or offline
is decided in `gateway.device_status`.
"""

import logging
from collections.abc import Iterable

from gateway.config import GatewayConfig
from gateway.store.base import Store
from schemas.devices import DeviceRegistration

logger = logging.getLogger(__name__)

LOAD_PAGE = 1000


class DeviceRegistry:
    """Looks devices up by id; an unknown id answers None and the pipeline applies its policy."""

    def __init__(self, devices: Iterable[DeviceRegistration] = ()) -> None:
        self._devices = {device.device_id: device for device in devices}
        self._changes = 0
        self._digest: str | None = None
        """The store's registrations digest the contents were read at (None: never read)."""

    @classmethod
    def from_config(cls, config: GatewayConfig) -> "DeviceRegistry":
        return cls(config.devices)

    @classmethod
    async def load(cls, store: Store) -> "DeviceRegistry":
        """Every device in the store's table."""
        registry = cls()
        await registry.reload(store)
        return registry

    def get(self, device_id: str) -> DeviceRegistration | None:
        return self._devices.get(device_id)

    def put(self, device: DeviceRegistration) -> None:
        """Add or replace one device (after the store has it)."""
        self._devices[device.device_id] = device
        self._changes += 1

    async def reload(self, store: Store) -> bool:
        """Replace the contents with the store's table; False if a `put` raced the read.

        The table is read only when its registrations digest moved since the last read: at
        district scale the read costs seconds of CPU, in pages that each hold up the event
        loop, and the watch asks every 30 s. The digest is taken before the read, so a change
        landing during the read shows as a new digest next time and is read then.
        A device PUT while the table was being read may be missing from that read; keeping
        the current contents then is right, and the next reload picks everything up.
        """
        changes = self._changes
        digest = await store.device_registrations_digest()
        if digest == self._digest:
            return True
        devices = await load_devices(store)
        if changes != self._changes:
            return False
        self._devices = {device.device_id: device for device in devices}
        self._digest = digest
        return True

    def __len__(self) -> int:
        return len(self._devices)


async def load_devices(store: Store) -> list[DeviceRegistration]:
    """Every registered device, following the store's pages to the end."""
    devices: list[DeviceRegistration] = []
    cursor: str | None = None
    while True:
        page = await store.list_devices(LOAD_PAGE, cursor)
        devices.extend(device.registration() for device in page.data)
        cursor = page.next_cursor
        if cursor is None:
            return devices
