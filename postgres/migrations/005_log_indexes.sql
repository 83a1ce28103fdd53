-- The request and operation logs are append-only and pruned by age. A
-- btree on created_at costs a leaf insert per logged row (with the other
-- indexes it made the request log's COPY about twice as slow as the heap
-- alone); a BRIN index costs next to nothing per row and still serves the
-- retention DELETE (created_at < cutoff) and time-range scans, because
-- rows arrive in created_at order. The operation log's drilldown btree
-- stays (the admin drilldown reads it newest first), and so does the
-- request_id btree: the gateway's ids are time-ordered UUIDv7s, so they
-- append to it. The request log's (client, created_at) btree goes: no
-- route reads it, it cost about 4µs of server CPU per logged request, and
-- a time-bounded query per client is served by the BRIN index.
DROP INDEX gateway_request_log_created_at;
CREATE INDEX gateway_request_log_created_at ON gateway_request_log USING brin (created_at);
DROP INDEX gateway_operation_log_created_at;
CREATE INDEX gateway_operation_log_created_at ON gateway_operation_log USING brin (created_at);
DROP INDEX gateway_request_log_client_created;

---- create above / drop below ----

DROP INDEX gateway_request_log_created_at;
CREATE INDEX gateway_request_log_created_at ON gateway_request_log (created_at);
DROP INDEX gateway_operation_log_created_at;
CREATE INDEX gateway_operation_log_created_at ON gateway_operation_log (created_at);
CREATE INDEX gateway_request_log_client_created ON gateway_request_log (client, created_at DESC);
