"""The device registry as the pipeline sees it: where each device stands.

Loaded from the TOML config; the registry's table and API come with the device-registry work.
"""

from gateway.config import DeviceSpec, GatewayConfig


class DeviceRegistry:
    """Looks devices up by id; an unknown id answers None and the pipeline applies its policy."""

    def __init__(self, devices: list[DeviceSpec]) -> None:
        self._devices = {device.device_id: device for device in devices}

    @classmethod
    def from_config(cls, config: GatewayConfig) -> "DeviceRegistry":
        return cls(config.devices)

    def get(self, device_id: str) -> DeviceSpec | None:
        return self._devices.get(device_id)

    def __len__(self) -> int:
        return len(self._devices)
