#!/bin/sh
# One-shot Temporal setup for docker-compose.yml, run in temporalio/admin-tools.
#   schema     create or upgrade the temporal and temporal_visibility databases
#   namespace  register the "default" namespace (no error when it exists)
set -eu
case "${1:-}" in
schema)
	for db in temporal temporal_visibility; do
		dir=temporal
		[ "$db" = temporal_visibility ] && dir=visibility
		temporal-sql-tool --plugin "$SQL_PLUGIN" --ep "$SQL_HOST" -p "$SQL_PORT" -u "$SQL_USER" --pw "$SQL_PASSWORD" --db "$db" create || true
		temporal-sql-tool --plugin "$SQL_PLUGIN" --ep "$SQL_HOST" -p "$SQL_PORT" -u "$SQL_USER" --pw "$SQL_PASSWORD" --db "$db" setup-schema -v 0.0 || true
		temporal-sql-tool --plugin "$SQL_PLUGIN" --ep "$SQL_HOST" -p "$SQL_PORT" -u "$SQL_USER" --pw "$SQL_PASSWORD" --db "$db" \
			update-schema -d "/etc/temporal/schema/postgresql/v12/$dir/versioned"
	done
	;;
namespace)
	temporal operator namespace describe --namespace default --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1 ||
		temporal operator namespace create --namespace default --retention 72h --address "$TEMPORAL_ADDRESS"
	;;
*)
	echo "usage: $0 schema|namespace" >&2
	exit 2
	;;
esac
