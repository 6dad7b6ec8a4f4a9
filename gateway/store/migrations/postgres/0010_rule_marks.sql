-- How far each community's watermark rules have been evaluated (issue 8): the engine evaluates
-- a rule at the instants its community's watermark passed since `evaluated_to`, and records the
-- mark in the transaction that records the tickets of that evaluation, so a restarted process
-- or a new lease holder resumes exactly where the last one stopped (only a community and rule
-- with no mark at all is caught up from `gateway.rules.watermark.CATCH_UP` back). The mark only
-- moves forward.
CREATE TABLE rule_marks (
    community    text        NOT NULL,
    rule         text        NOT NULL,
    evaluated_to timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (community, rule)
);
