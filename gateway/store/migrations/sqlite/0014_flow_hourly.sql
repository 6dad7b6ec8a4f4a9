-- The hourly flow rollup (issue 10, `gateway.store.flow`): per community and UTC hour (`hour_us`,
-- the hour's first microsecond), granted passages in and out, vehicle passes in and out, face
-- captures, visitor check-ins and behaviour alarms. Every batch's transaction adds its newly
-- stored events; here the events already stored are counted once, with the same definitions
-- (`gateway.store.flow.MEASURE_SQL`). Counts only: no subject, credential, plate or device.
CREATE TABLE flow_hourly (
    community    TEXT    NOT NULL,
    hour_us      INTEGER NOT NULL,
    people_in    INTEGER NOT NULL DEFAULT 0,
    people_out   INTEGER NOT NULL DEFAULT 0,
    vehicles_in  INTEGER NOT NULL DEFAULT 0,
    vehicles_out INTEGER NOT NULL DEFAULT 0,
    faces        INTEGER NOT NULL DEFAULT 0,
    visitors     INTEGER NOT NULL DEFAULT 0,
    alarms       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (community, hour_us)
) WITHOUT ROWID;
CREATE INDEX flow_hourly_hour ON flow_hourly (hour_us, community);

INSERT INTO flow_hourly (community, hour_us, people_in, people_out, vehicles_in, vehicles_out,
    faces, visitors, alarms)
SELECT community, occurred_us - ((occurred_us % 3600000000) + 3600000000) % 3600000000 AS hour,
    sum(kind = 'access' AND json_extract(body, '$.result') = 'granted'
        AND json_extract(body, '$.direction') = 'in'),
    sum(kind = 'access' AND json_extract(body, '$.result') = 'granted'
        AND json_extract(body, '$.direction') = 'out'),
    sum(kind = 'vehicle_pass' AND json_extract(body, '$.direction') = 'in'),
    sum(kind = 'vehicle_pass' AND json_extract(body, '$.direction') = 'out'),
    sum(kind = 'face_capture'),
    sum(kind = 'visitor' AND json_extract(body, '$.action') = 'checked_in'),
    sum(kind = 'behaviour_alarm')
FROM events
WHERE kind = 'face_capture' OR kind = 'behaviour_alarm'
    OR (kind = 'access' AND json_extract(body, '$.result') = 'granted'
        AND json_extract(body, '$.direction') IN ('in', 'out'))
    OR (kind = 'vehicle_pass' AND json_extract(body, '$.direction') IN ('in', 'out'))
    OR (kind = 'visitor' AND json_extract(body, '$.action') = 'checked_in')
GROUP BY 1, 2
ORDER BY 2, 1;

-- District-scale lists (issue 10), as on PostgreSQL: each gives its filter's rows in the list's
-- order (a community's persons, a grid's or a status's tickets, the open tickets).
CREATE INDEX persons_community ON persons (community, person_id);
CREATE INDEX tickets_grid ON tickets (grid_code, created_us DESC, ticket_id DESC);
CREATE INDEX tickets_status ON tickets (status, created_us DESC, ticket_id DESC);
CREATE INDEX tickets_open ON tickets (created_us DESC, ticket_id DESC) WHERE is_open;
