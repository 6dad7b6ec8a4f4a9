-- A device's parent: the platform, cloud account, service or controller whose connection may
-- relay this device's events (a payload may name a device only if the topic's device is the
-- device itself or its parent). NULL: only the device speaks for itself.
ALTER TABLE devices ADD COLUMN parent text COLLATE "C";
