-- A device's clock skew as the gateway estimates it from the device's status messages
-- (seconds its clock runs ahead; negative: behind), and when that estimate was measured
-- (integer microseconds since the Unix epoch, UTC). The rule is in gateway/device_status.py.
ALTER TABLE devices ADD COLUMN clock_skew_s REAL;
ALTER TABLE devices ADD COLUMN clock_skew_measured_us INTEGER;

-- /metrics lists the devices whose skew reaches a threshold, worst first.
CREATE INDEX devices_clock_skew ON devices (abs(clock_skew_s));
