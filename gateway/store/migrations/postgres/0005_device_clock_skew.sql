-- A device's clock skew as the gateway estimates it from the device's status messages
-- (seconds its clock runs ahead; negative: behind), and when that estimate was measured.
-- The rule is in gateway/device_status.py.
ALTER TABLE devices
    ADD COLUMN clock_skew_s double precision,
    ADD COLUMN clock_skew_measured_at timestamptz;

-- /metrics lists the devices whose skew reaches a threshold, worst first.
CREATE INDEX devices_clock_skew ON devices (abs(clock_skew_s));
