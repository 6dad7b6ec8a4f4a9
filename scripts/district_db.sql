-- A district-sized scratch database for EXPLAIN and timings of the API's reads (issue 10):
-- 141 communities, 589-ish grids, 300,000 houses, 800,000 persons with residencies and
-- credentials, 200,000 vehicles, 300,000 tickets, 3 million presence rows and 20 million events
-- over the last 10 days. Run on a database `scgw migrate` brought to 0013 (so 0014's backfill
-- can be timed after), never on one holding real data:
--     psql "$DSN" -v ON_ERROR_STOP=1 -f scripts/district_db.sql
-- then `scgw migrate` (0014) and `python scripts/district_reads.py "$DSN"`.
-- A house is in its residents' community (person n lives in house n % 300000 + 1), as the
-- import enforces and the person search by place relies on.
-- The events' secondary indexes are dropped during the load and built after it (much faster).
\timing on
INSERT INTO houses (house_code, community, building, unit, floor, room, area_m2, usage, grid_code,
    registered_occupants, created_at, updated_at)
SELECT 'h' || lpad(n::text, 7, '0'), 'c' || lpad(((n - 1) % 141 + 1)::text, 3, '0'), 'b' || (n / 141 % 40),
    'u' || (n % 4), (n % 30)::text, (n % 4 + 1)::text, 90,
    (ARRAY['self_occupied', 'rented', 'vacant', 'commercial'])[n % 4 + 1],
    '430112' || lpad(((n - 1) % 141 + 1)::text, 6, '0') || lpad((n / 141 % 4 + 1)::text, 3, '0'), 3, now(), now()
FROM generate_series(1, 300000) n;
INSERT INTO persons (person_id, community, id_hash, id_type, id_masked, name_masked, gender,
    birth_year, population_type, tags, created_at, updated_at)
SELECT 'p' || lpad(n::text, 7, '0'), 'c' || lpad((n % 300000 % 141 + 1)::text, 3, '0'), md5('id' || n),
    'resident_id_card', '430***********' || lpad((n % 10000)::text, 4, '0'), '张*',
    (ARRAY['male', 'female'])[n % 2 + 1], 1940 + n % 80,
    (ARRAY['registered', 'registered', 'registered', 'floating', 'unregistered', 'visitor'])[n % 6 + 1],
    CASE WHEN n % 25 = 0 THEN '["elderly_alone"]'::jsonb WHEN n % 31 = 0 THEN '["disabled"]'::jsonb
        ELSE '[]'::jsonb END, now(), now()
FROM generate_series(1, 800000) n;
INSERT INTO residencies (person_id, house_code, relation, since, updated_at)
SELECT 'p' || lpad(n::text, 7, '0'), 'h' || lpad((n % 300000 + 1)::text, 7, '0'), 'owner', date '2020-01-01', now()
FROM generate_series(1, 800000) n;
INSERT INTO credentials (community, ref, period, kind, person_id, since, updated_at)
SELECT 'c' || lpad((n % 300000 % 141 + 1)::text, 3, '0'), md5('card' || n), 1, 'card',
    'p' || lpad(n::text, 7, '0'), date '2020-01-01', now()
FROM generate_series(1, 800000) n;
INSERT INTO vehicles (vehicle_id, community, plate_no, plate_color, owner_person_id, house_code,
    registered, created_at, updated_at)
SELECT 'v' || lpad(n::text, 7, '0'), 'c' || lpad((n % 300000 % 141 + 1)::text, 3, '0'),
    '湘A' || lpad(n::text, 6, '0'), 'blue', 'p' || lpad(n::text, 7, '0'),
    'h' || lpad((n % 300000 + 1)::text, 7, '0'), true, now(), now()
FROM generate_series(1, 200000) n;
INSERT INTO tickets (ticket_id, dedup_key, is_open, rule, category, category_code, severity,
    community, grid_code, location, responsible_units, title, description, summary_en, event_ids,
    evidence_count, first_at, last_at, image_urls, occurrences, detected_at, created_at,
    updated_at, sla_due_at, status, forward)
SELECT 't-' || lpad(to_hex(n), 24, '0'), 'k' || n, n % 10 = 0,
    (ARRAY['safety.door_forced', 'fire_safety.lane_occupied', 'elderly.no_activity'])[n % 3 + 1],
    '{"code": "fire_safety", "name": "消防安全"}'::jsonb,
    (ARRAY['fire_safety', 'public_safety', 'care'])[n % 3 + 1], 'major', comm,
    '430112' || lpad((n % 141 + 1)::text, 6, '0') || '001', '{"address": "湖南省长沙市望城区"}'::jsonb,
    jsonb_build_array(jsonb_build_object('type', 'property', 'code', 'pm-' || comm, 'name', '物业')),
    '消防通道占用', '描述', 'fire lane', '[]'::jsonb, 1, t, t, '[]'::jsonb, 1, t, t, t,
    t + interval '1 day',
    CASE WHEN n % 10 = 0 THEN (ARRAY['detected', 'dispatched', 'handled'])[n / 10 % 3 + 1]
        ELSE 'closed' END, false
FROM (SELECT n, 'c' || lpad((n % 141 + 1)::text, 3, '0') AS comm,
    now() - n * interval '21 seconds' AS t FROM generate_series(1, 300000) n) s;
INSERT INTO presence (community, subject_key, building, unit, day, night, ref, first_at, last_at)
SELECT 'c' || lpad((p % 300000 % 141 + 1)::text, 3, '0'), 's1:' || md5('s' || p),
    'b' || ((p % 300000) / 141 % 40), 'u' || (p % 300000 % 4), current_date - d, p % 3 = 0,
    md5('card' || p), now() - d * interval '1 day', now() - d * interval '1 day' + interval '1 hour'
FROM generate_series(0, 29) d, generate_series(1, 800000, 8) p;

DROP INDEX events_newest;
DROP INDEX events_kind_newest;
DROP INDEX events_community_newest;
DROP INDEX events_device_newest;
DROP INDEX events_subject;
DROP INDEX events_occurred_at_idx;
ALTER TABLE events DROP CONSTRAINT events_pkey;
SELECT format($f$
INSERT INTO events (occurred_at, event_id, kind, community, device_id, received_at, body)
SELECT t, id, kind, comm, dev, t, jsonb_build_object('event_id', id, 'community', comm,
    'device_id', dev, 'occurred_at', t, 'received_at', t, 'dialect', 'hik_isapi', 'kind', kind,
    'direction', CASE WHEN n %% 2 = 0 THEN 'in' ELSE 'out' END,
    'result', CASE WHEN n %% 17 = 0 THEN 'denied' ELSE 'granted' END, 'method', 'card',
    'vendor_code', '5-75', 'subject_key', 's1:' || lpad(to_hex(n %% 800000), 32, '0'),
    'action', 'checked_in', 'plate_no', '湘A' || lpad((n %% 200000)::text, 6, '0'))
FROM (SELECT n, now() - interval '%s days' - (n %% 2000000) * interval '43.2 milliseconds' AS t,
    'e' || %s || '-' || lpad(to_hex(n), 24, '0') AS id,
    (ARRAY['access', 'access', 'access', 'access', 'access', 'access', 'access', 'access',
        'face_capture', 'face_capture', 'face_capture', 'face_capture', 'face_capture',
        'vehicle_pass', 'vehicle_pass', 'vehicle_pass', 'visitor', 'behaviour_alarm',
        'door_state', 'device_status'])[n %% 20 + 1] AS kind,
    'c' || lpad((n %% 141 + 1)::text, 3, '0') AS comm,
    '430112' || lpad((n %% 20000)::text, 14, '0') AS dev
    FROM generate_series(1, 2000000) n) s
$f$, d, d) FROM generate_series(0, 9) d
\gexec
ALTER TABLE events ADD PRIMARY KEY (event_id, occurred_at);
CREATE INDEX events_occurred_at_idx ON events (occurred_at DESC);
CREATE INDEX events_newest ON events (occurred_at DESC, event_id DESC);
CREATE INDEX events_kind_newest ON events (kind, occurred_at DESC, event_id DESC);
CREATE INDEX events_community_newest ON events (community, occurred_at DESC, event_id DESC);
CREATE INDEX events_device_newest ON events (device_id, occurred_at DESC, event_id DESC);
CREATE INDEX events_subject ON events ((body ->> 'subject_key'))
    WHERE (body ->> 'subject_key') IS NOT NULL;
VACUUM ANALYZE;
