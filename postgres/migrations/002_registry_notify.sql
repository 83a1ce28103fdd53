-- Live client registry (spec §8): every change to athena_clients or
-- public_gateway_routes is announced with NOTIFY in the writing transaction,
-- whoever writes it (the admin API, `athena clients`, or an operator in psql),
-- so every gateway process reloads within one round trip. The payload is the
-- client name or route key; listeners reload everything, so a lost
-- notification only costs a poll interval.
CREATE FUNCTION athena_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- TG_ARGV[0] is the channel, TG_ARGV[1] the column sent as payload.
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM pg_notify(TG_ARGV[0], coalesce(to_jsonb(OLD) ->> TG_ARGV[1], ''));
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM pg_notify(TG_ARGV[0], coalesce(to_jsonb(NEW) ->> TG_ARGV[1], ''));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER athena_clients_notify_insert_delete AFTER INSERT OR DELETE ON athena_clients
    FOR EACH ROW EXECUTE FUNCTION athena_notify_change('athena_clients_changed', 'client_name');
-- Failure bookkeeping alone (load_failures, last_load_error) does not change
-- what the registry serves, so only the columns it serves wake listeners.
CREATE TRIGGER athena_clients_notify_update AFTER UPDATE ON athena_clients
    FOR EACH ROW
    WHEN ((OLD.client_name, OLD.pg_uri, OLD.pg_uri_env_var, OLD.is_active, OLD.is_frozen, OLD.source, OLD.deleted_at)
          IS DISTINCT FROM
          (NEW.client_name, NEW.pg_uri, NEW.pg_uri_env_var, NEW.is_active, NEW.is_frozen, NEW.source, NEW.deleted_at))
    EXECUTE FUNCTION athena_notify_change('athena_clients_changed', 'client_name');

CREATE TRIGGER public_gateway_routes_notify AFTER INSERT OR UPDATE OR DELETE ON public_gateway_routes
    FOR EACH ROW EXECUTE FUNCTION athena_notify_change('athena_routes_changed', 'route_key');

---- create above / drop below ----
DROP TRIGGER public_gateway_routes_notify ON public_gateway_routes;
DROP TRIGGER athena_clients_notify_update ON athena_clients;
DROP TRIGGER athena_clients_notify_insert_delete ON athena_clients;
DROP FUNCTION athena_notify_change();
