-- Deferred requests (spec §5) keep what a worker needs to run the request
-- later exactly as the gateway would have run it now: the route (method and
-- path), the headers that shape the answer (never credentials), the
-- principal the caller authenticated as when the request was accepted, and
-- the HTTP status of the result envelope.
ALTER TABLE gateway_deferred_requests
    ADD COLUMN method      text,
    ADD COLUMN path        text,
    ADD COLUMN headers     jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN principal   jsonb,
    ADD COLUMN status_code integer;

---- create above / drop below ----

ALTER TABLE gateway_deferred_requests
    DROP COLUMN method, DROP COLUMN path, DROP COLUMN headers, DROP COLUMN principal, DROP COLUMN status_code;
