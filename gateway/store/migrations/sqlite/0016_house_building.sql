-- Houses by building name across communities (issue 10): a person or house search by building
-- alone (a district-wide key, no `community`) could use no index, since houses_place leads with
-- the community, and scanned every house (300k in the district: 0.5-0.8 s). Building names
-- repeat across communities ("1栋"), so the community stays a filter on what this finds.
-- No index on presence.last_at for the house list's last-seen read: moving last_at is a HOT
-- update today (presence is filled to 70% for that), and an index on it would make every
-- sighting write the index.
CREATE INDEX houses_building ON houses (building, unit, house_code);
