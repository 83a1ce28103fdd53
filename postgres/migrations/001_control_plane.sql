-- The logging database ("control plane", spec §7): gateway data only, never
-- tenant rows. Every table is created here; later migrations only add.

-- Clients defined in the database, merged over the config file (spec §8).
CREATE TABLE athena_clients (
    id                   bigserial PRIMARY KEY,
    client_name          text        NOT NULL,
    pg_uri               text,
    pg_uri_env_var       text,
    is_active            boolean     NOT NULL DEFAULT true,
    is_frozen            boolean     NOT NULL DEFAULT false,
    source               text        NOT NULL DEFAULT 'database' CHECK (source IN ('config', 'database')),
    metadata             jsonb       NOT NULL DEFAULT '{}'::jsonb,
    load_failures        integer     NOT NULL DEFAULT 0,
    last_load_error      text,
    last_load_failure_at timestamptz,
    disabled_reason      text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    deleted_at           timestamptz,
    CHECK (pg_uri IS NOT NULL OR pg_uri_env_var IS NOT NULL)
);
-- One live row per name; a soft-deleted name can be created again.
CREATE UNIQUE INDEX athena_clients_live_name ON athena_clients (client_name) WHERE deleted_at IS NULL;
CREATE INDEX athena_clients_updated_at ON athena_clients (updated_at);

-- Per-client gateway settings (cache TTL, insert window, …) as JSON.
CREATE TABLE athena_client_configs (
    client_name text PRIMARY KEY,
    config      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE gateway_request_log (
    id              bigserial PRIMARY KEY,
    request_id      text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    client          text,
    method          text        NOT NULL,
    path            text        NOT NULL,
    status_code     integer     NOT NULL,
    duration_ms     double precision NOT NULL,
    ipv4            text,
    user_agent      text,
    user_id         text,
    company_id      text,
    organization_id text,
    api_key_id      text,
    cached          boolean     NOT NULL DEFAULT false,
    error           text,
    message         text
);
CREATE INDEX gateway_request_log_created_at ON gateway_request_log (created_at);
CREATE INDEX gateway_request_log_client_created ON gateway_request_log (client, created_at DESC);
CREATE INDEX gateway_request_log_request_id ON gateway_request_log (request_id);

CREATE TABLE gateway_operation_log (
    id          bigserial PRIMARY KEY,
    request_id  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    client_name text        NOT NULL,
    operation   text        NOT NULL,
    table_name  text,
    status_code integer     NOT NULL,
    duration_ms double precision NOT NULL,
    rows        bigint,
    error       text,
    message     text,
    cache_key   text
);
CREATE INDEX gateway_operation_log_created_at ON gateway_operation_log (created_at);
-- Drill-down: client → table → operation, newest first, optionally errors only.
CREATE INDEX gateway_operation_log_drilldown ON gateway_operation_log (client_name, table_name, operation, created_at DESC);
CREATE INDEX gateway_operation_log_errors ON gateway_operation_log (client_name, created_at DESC) WHERE status_code >= 400;

CREATE TABLE client_statistics (
    client_name         text PRIMARY KEY,
    total_requests      bigint NOT NULL DEFAULT 0,
    successful_requests bigint NOT NULL DEFAULT 0,
    failed_requests     bigint NOT NULL DEFAULT 0,
    cached_requests     bigint NOT NULL DEFAULT 0,
    last_request_at     timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE client_table_statistics (
    client_name         text   NOT NULL,
    table_name          text   NOT NULL,
    operation           text   NOT NULL,
    total_requests      bigint NOT NULL DEFAULT 0,
    successful_requests bigint NOT NULL DEFAULT 0,
    failed_requests     bigint NOT NULL DEFAULT 0,
    cached_requests     bigint NOT NULL DEFAULT 0,
    last_request_at     timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_name, table_name, operation)
);

CREATE TABLE gateway_admission_events (
    id          bigserial PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    request_id  text        NOT NULL,
    client_name text,
    route       text,
    decision    text        NOT NULL CHECK (decision IN ('admitted', 'rejected', 'deferred')),
    reason      text,
    window_count integer,
    window_limit integer
);
CREATE INDEX gateway_admission_events_created_at ON gateway_admission_events (created_at);
CREATE INDEX gateway_admission_events_client ON gateway_admission_events (client_name, created_at DESC);

CREATE TABLE gateway_deferred_requests (
    request_id   text PRIMARY KEY,
    client_name  text        NOT NULL,
    operation    text        NOT NULL,
    payload      jsonb       NOT NULL,
    state        text        NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'completed', 'failed')),
    attempts     integer     NOT NULL DEFAULT 0,
    result       jsonb,
    error        text,
    workflow_id  text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    completed_at timestamptz
);
CREATE INDEX gateway_deferred_requests_state ON gateway_deferred_requests (state, created_at);

CREATE TABLE pipeline_step_log (
    id          bigserial PRIMARY KEY,
    run_id      text        NOT NULL,
    pipeline    text,
    step        text        NOT NULL,
    status      text        NOT NULL,
    rows        bigint,
    error       text,
    message     text,
    started_at  timestamptz,
    finished_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pipeline_step_log_run ON pipeline_step_log (run_id, created_at);

-- API keys (spec §1.2): only a salted hash of the secret is stored.
CREATE TABLE api_keys (
    id          bigserial PRIMARY KEY,
    public_id   text        NOT NULL UNIQUE,
    name        text        NOT NULL DEFAULT '',
    description text,
    client_name text,                  -- NULL: valid for every client
    secret_salt bytea       NOT NULL,
    secret_hash bytea       NOT NULL,
    is_active   boolean     NOT NULL DEFAULT true,
    expires_at  timestamptz,
    last_used_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX api_keys_client ON api_keys (client_name);

CREATE TABLE api_key_rights (
    api_key_id bigint NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    right_name text   NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (api_key_id, right_name)
);

-- Global enforcement switch: exactly one row.
CREATE TABLE api_key_config (
    id         integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    enforce    boolean     NOT NULL DEFAULT false,
    fail_mode  text        NOT NULL DEFAULT 'fail_closed' CHECK (fail_mode IN ('fail_closed', 'fail_open')),
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO api_key_config (id) VALUES (1);

-- Per-client override of the global switch (NULL columns inherit it).
CREATE TABLE api_key_client_config (
    client_name text PRIMARY KEY,
    enforce     boolean,
    fail_mode   text CHECK (fail_mode IN ('fail_closed', 'fail_open')),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Wildcard-host routing (spec §1.1): first Host label → client.
CREATE TABLE public_gateway_routes (
    id          bigserial PRIMARY KEY,
    route_key   text        NOT NULL UNIQUE,
    client_name text        NOT NULL,
    is_active   boolean     NOT NULL DEFAULT true,
    description text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

---- create above / drop below ----
DROP TABLE public_gateway_routes, api_key_client_config, api_key_config, api_key_rights, api_keys,
    pipeline_step_log, gateway_deferred_requests, gateway_admission_events, client_table_statistics,
    client_statistics, gateway_operation_log, gateway_request_log, athena_client_configs, athena_clients;
