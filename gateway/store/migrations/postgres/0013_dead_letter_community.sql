-- The community a dead letter's topic was routed to (issue 9: a key scoped to a community sees
-- that community's dead letters). NULL when routing placed the topic in no community (an unknown
-- topic or community): such letters are seen only by keys scoped to every community.
ALTER TABLE dead_letters ADD COLUMN community text;

CREATE INDEX dead_letters_community ON dead_letters (community, id DESC);
