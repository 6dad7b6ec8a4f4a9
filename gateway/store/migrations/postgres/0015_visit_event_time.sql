-- The event time of the visitor event a person's visit columns (visit_house, visit_from,
-- visit_until, and a visitor's masked forms) come from (issue 10): a batch's visitor event
-- changes them only if it is not older than the one stored (an older one only fills what is
-- still empty), so a registration and its cancellation seconds apart end in the newer state
-- whichever batch commits last (several processes on one shared subscription, a device
-- resending an older message later).
-- Rows stored before keep NULL, "older than anything": the next visitor event of that person
-- applies, whatever its time (nothing stored tells which event the columns came from). Adding
-- a nullable column rewrites nothing.
ALTER TABLE persons ADD COLUMN visit_event_at timestamptz;
