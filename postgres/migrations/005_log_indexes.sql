-- The request and operation logs are append-only and pruned by age. A
-- btree on created_at costs a leaf insert per logged row (with the other
-- indexes it made the request log's COPY about twice as slow as the heap
-- alone); a BRIN index costs next to nothing per row and still serves the
-- retention DELETE (created_at < cutoff) and time-range scans, because
-- rows arrive in created_at order. The operation log's drilldown btree
-- stays: the admin drilldown reads it newest first. The request log's
-- (client, created_at) and request_id btrees go: no route reads them, and
-- each cost 3-4µs of server CPU per logged request (COPY of 100k rows:
-- 0.87-1.01s with them, 0.49-0.58s without). To find one request, bound
-- the search by time: the gateway's request ids are UUIDv7s whose first
-- 12 hex digits are the Unix milliseconds it was received, so
--   WHERE request_id = $1 AND created_at BETWEEN t - '1 min' AND t + '1 min'
-- uses the BRIN index.
DROP INDEX gateway_request_log_created_at;
CREATE INDEX gateway_request_log_created_at ON gateway_request_log USING brin (created_at);
DROP INDEX gateway_operation_log_created_at;
CREATE INDEX gateway_operation_log_created_at ON gateway_operation_log USING brin (created_at);
DROP INDEX gateway_request_log_client_created;
DROP INDEX gateway_request_log_request_id;

---- create above / drop below ----

DROP INDEX gateway_request_log_created_at;
CREATE INDEX gateway_request_log_created_at ON gateway_request_log (created_at);
DROP INDEX gateway_operation_log_created_at;
CREATE INDEX gateway_operation_log_created_at ON gateway_operation_log (created_at);
CREATE INDEX gateway_request_log_client_created ON gateway_request_log (client, created_at DESC);
CREATE INDEX gateway_request_log_request_id ON gateway_request_log (request_id);
