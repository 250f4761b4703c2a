-- +goose Up
-- The records are the JSON raqib writes (storage's types, encoding/json),
-- kept as bytea: a publisher's text may hold bytes that jsonb and text
-- refuse (NUL). The columns beside them are what listings order and
-- filter by. Times that order are Unix nanoseconds (bigint), as the
-- embedded engine orders them, so that both list the same items in the
-- same order. Names and ids are COLLATE "C": they order by their bytes,
-- as the embedded engine's keys do, whatever the database's locale.

CREATE TABLE feeds (
    name  text COLLATE "C" PRIMARY KEY,
    state bytea NOT NULL
);

-- seq is given at commit from item_seq; commits that decide stories hold
-- the story lock, so within them seq is the order of commit.
CREATE SEQUENCE item_seq;

CREATE TABLE items (
    seq         bigint PRIMARY KEY,
    id          text COLLATE "C" NOT NULL UNIQUE,
    feed        text COLLATE "C" NOT NULL,
    story       text COLLATE "C" NOT NULL,
    duplicate   boolean NOT NULL,
    date_ns     bigint NOT NULL,  -- Item.Date()
    fetched_ns  bigint NOT NULL,
    doc         bytea NOT NULL,
    fingerprint bytea,
    samples     bytea  -- set (maybe empty) when fingerprint is
);
CREATE INDEX items_by_date ON items (date_ns DESC, seq DESC);
CREATE INDEX items_by_feed ON items (feed, date_ns DESC, seq DESC);
CREATE INDEX items_by_story ON items (story);
CREATE INDEX items_by_fetched ON items (fetched_ns, seq);

-- A rule's items, for its listings and streams.
CREATE TABLE item_rules (
    rule    text COLLATE "C" NOT NULL,
    date_ns bigint NOT NULL,
    seq     bigint NOT NULL REFERENCES items (seq) ON DELETE CASCADE,
    story   text COLLATE "C" NOT NULL,
    PRIMARY KEY (rule, date_ns, seq)
);
CREATE INDEX item_rules_by_seq ON item_rules (seq);

-- Identity keys (guid, canonical URL, content hash, "text:" + text hash).
-- A pruned item's keys stay, item NULL and pruned set, so that a feed that
-- still lists it does not bring it back.
CREATE TABLE keys (
    key    text COLLATE "C" PRIMARY KEY,
    item   text COLLATE "C",
    pruned timestamptz
);
CREATE INDEX keys_by_item ON keys (item);
CREATE INDEX keys_by_pruned ON keys (pruned) WHERE pruned IS NOT NULL;

CREATE TABLE stories (
    id         text COLLATE "C" PRIMARY KEY,
    size       integer NOT NULL,
    updated_ns bigint NOT NULL,  -- Cluster.Updated (a zero time: the least bigint)
    doc        bytea NOT NULL
);
CREATE INDEX stories_by_size ON stories (size DESC, updated_ns DESC, id DESC);
CREATE INDEX stories_by_updated ON stories (updated_ns, id);

CREATE TABLE seeds (
    name        text COLLATE "C" PRIMARY KEY,
    doc         bytea NOT NULL,
    fingerprint bytea,
    samples     bytea
);

-- One alert per id (rule, story, channel): the primary key is what keeps
-- a story from alerting twice, whichever daemon ingests it.
CREATE TABLE alerts (
    id         text COLLATE "C" PRIMARY KEY,
    state      text NOT NULL,
    created_ns bigint NOT NULL,  -- Alert.Created (a zero time: the least bigint)
    item       text COLLATE "C" NOT NULL,
    story      text COLLATE "C" NOT NULL,
    doc        bytea NOT NULL
);
CREATE INDEX alerts_by_state ON alerts (state, created_ns DESC, id DESC);
CREATE INDEX alerts_by_created ON alerts (created_ns DESC, id DESC);
CREATE INDEX alerts_by_story ON alerts (story);

-- +goose Down
DROP TABLE alerts, seeds, stories, keys, item_rules, items, feeds;
DROP SEQUENCE item_seq;
