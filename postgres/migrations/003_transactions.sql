-- Idempotent transactions (spec §3.9): POST /gateway/transaction with an
-- idempotency_key stores its committed answer here, so a retry reaching any
-- gateway process gets the first answer instead of running again. scope is
-- the database (client name or direct-URI scope) plus the API key, so two
-- tenants never share a key space. A row with response NULL is a
-- reservation held by a transaction still running; a stale one (its process
-- died) is taken over by the next request. response is json, not jsonb, so
-- a replay is byte for byte the first answer (jsonb would reorder keys).
CREATE TABLE gateway_transactions (
    scope           text        NOT NULL,
    idempotency_key text        NOT NULL,
    request_hash    text        NOT NULL,
    response        json,
    created_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    PRIMARY KEY (scope, idempotency_key)
);
-- For pruning expired results (DELETE … WHERE created_at < …).
CREATE INDEX gateway_transactions_created_at ON gateway_transactions (created_at);

---- create above / drop below ----

DROP TABLE gateway_transactions;
