-- Statistics batching (architecture "stats batching"): every gateway process
-- sums its counters in memory and a StatsFlush workflow applies them to
-- client_statistics and client_table_statistics. The activity records the
-- flush id here in the same transaction as the counts, so a retried
-- activity (or a restarted workflow with the same id) never counts twice.
CREATE TABLE stats_flushes (
    flush_id   text        PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);
-- For pruning old flush ids (DELETE … WHERE applied_at < …).
CREATE INDEX stats_flushes_applied_at ON stats_flushes (applied_at);

---- create above / drop below ----

DROP TABLE stats_flushes;
