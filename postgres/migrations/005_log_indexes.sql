-- The request and operation logs are append-only and pruned by age. A
-- btree on created_at costs a leaf insert per logged row (with the other
-- indexes it made the request log's COPY about twice as slow as the heap
-- alone); a BRIN index costs next to nothing per row and still serves the
-- retention DELETE (created_at < cutoff) and time-range scans, because
-- rows arrive in created_at order. The client/drilldown btrees stay: the
-- admin routes read them newest first. (The request_id btree stays too:
-- the gateway's ids are time-ordered UUIDv7s, so they append to it.)
DROP INDEX gateway_request_log_created_at;
CREATE INDEX gateway_request_log_created_at ON gateway_request_log USING brin (created_at);
DROP INDEX gateway_operation_log_created_at;
CREATE INDEX gateway_operation_log_created_at ON gateway_operation_log USING brin (created_at);

---- create above / drop below ----

DROP INDEX gateway_request_log_created_at;
CREATE INDEX gateway_request_log_created_at ON gateway_request_log (created_at);
DROP INDEX gateway_operation_log_created_at;
CREATE INDEX gateway_operation_log_created_at ON gateway_operation_log (created_at);
