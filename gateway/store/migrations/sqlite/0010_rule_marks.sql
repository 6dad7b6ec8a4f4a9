-- How far each community's watermark rules have been evaluated (issue 8); the PostgreSQL
-- migration of the same number explains the table. Times are integer microseconds since the
-- epoch (UTC).

CREATE TABLE rule_marks (
    community       TEXT    NOT NULL,
    rule            TEXT    NOT NULL,
    evaluated_to_us INTEGER NOT NULL,
    updated_us      INTEGER NOT NULL,
    PRIMARY KEY (community, rule)
) WITHOUT ROWID;
