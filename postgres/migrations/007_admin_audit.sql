-- The admin audit trail (spec §1.2): one row per admin mutation — who
-- (actor: "admin" for the admin key, else the key's public id), what
-- (action, target), the state before and after (JSON, NULL when there was
-- none), and the request it came from. Rows arrive through the batched log
-- writer; the log retention never prunes them.
CREATE TABLE admin_audit_log (
    id         bigserial PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    request_id text        NOT NULL,
    actor      text        NOT NULL,
    action     text        NOT NULL,
    target     text        NOT NULL,
    before     jsonb,
    after      jsonb
);
-- GET /admin/audit pages newest first, optionally for one target.
CREATE INDEX admin_audit_log_created ON admin_audit_log (created_at DESC, id DESC);
CREATE INDEX admin_audit_log_target ON admin_audit_log (target, created_at DESC);

---- create above / drop below ----

DROP TABLE admin_audit_log;
