-- +goose Up
-- What the desk's pages read without reading the history: the items each
-- feed brought a day (a UTC day, by when raqib first saw them; kept at
-- commit, outliving the items until pruning passes the day), and the rules
-- of a story's items.
CREATE TABLE feed_days (
    feed  text COLLATE "C" NOT NULL,
    day   integer NOT NULL,  -- days since 1970-01-01
    items bigint NOT NULL,
    PRIMARY KEY (feed, day)
);
INSERT INTO feed_days (feed, day, items)
    SELECT feed, GREATEST(0, fetched_ns / 86400000000000)::integer, count(*) FROM items GROUP BY 1, 2;
CREATE INDEX item_rules_by_story ON item_rules (story);

-- +goose Down
DROP INDEX item_rules_by_story;
DROP TABLE feed_days;
