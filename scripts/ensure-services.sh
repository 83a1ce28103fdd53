#!/usr/bin/env bash
# Makes sure the services the tests talk to are answering:
#   PostgreSQL on 127.0.0.1:5432 (superuser postgres, trust auth) with a database "test",
#   Redis on 127.0.0.1:6379.
# A stopped service is started; a missing one is installed from Debian's packages when running
# as root. Called by `make test` (and so by .ci/run); safe to run any number of times.
set -euo pipefail

PGHOST=127.0.0.1
PGPORT=5432
REDIS_PORT=${REDIS_PORT:-6379}

log() { printf 'ensure-services: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }

apt_install() {
	is_root || die "$* is not installed and this is not root: run 'sudo apt-get install $*'"
	command -v apt-get >/dev/null || die "$* is not installed and apt-get is not available: install it with your package manager"
	log "installing $* with apt-get (this takes a while)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "$@"
}

# wait_for CMD...: retry for up to 30 seconds.
wait_for() {
	local i
	for i in $(seq 1 60); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.5
	done
	return 1
}

pg_ready() { pg_isready -q -h "$PGHOST" -p "$PGPORT"; }
psql_admin() { psql -X -q -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres "$@"; }

# allow_local_trust makes a freshly installed Debian cluster accept the tests' password-less
# connections on loopback, as the CI machines are configured.
allow_local_trust() {
	local hba
	for hba in /etc/postgresql/*/main/pg_hba.conf; do
		[ -f "$hba" ] || continue
		grep -q '^# athena: loopback trust' "$hba" && continue
		log "allowing trust authentication on loopback in $hba"
		{
			echo '# athena: loopback trust for tests (added by scripts/ensure-services.sh)'
			echo 'host all all 127.0.0.1/32 trust'
			echo 'host all all ::1/128 trust'
			cat "$hba"
		} >"$hba.new"
		chown --reference="$hba" "$hba.new"
		chmod --reference="$hba" "$hba.new"
		mv "$hba.new" "$hba"
	done
}

ensure_postgres() {
	if command -v pg_isready >/dev/null && pg_ready; then
		return 0
	fi
	local installed=no
	if ! ls -d /etc/postgresql/*/main >/dev/null 2>&1 || ! command -v pg_ctlcluster >/dev/null; then
		apt_install postgresql
		installed=yes
	fi
	if [ "$installed" = yes ]; then
		allow_local_trust
	fi
	if ! pg_ready; then
		local version
		version=$(ls /etc/postgresql | sort -V | tail -n 1)
		log "starting PostgreSQL $version (cluster main)"
		if [ "$installed" = yes ]; then
			pg_ctlcluster --skip-systemctl-redirect "$version" main restart || true
		else
			pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
		fi
	fi
	wait_for pg_ready || die "PostgreSQL does not answer on $PGHOST:$PGPORT; see /var/log/postgresql/"
	log "PostgreSQL answers on $PGHOST:$PGPORT"
}

ensure_test_database() {
	local exists
	exists=$(psql_admin -Atc "SELECT 1 FROM pg_database WHERE datname = 'test'") ||
		die "cannot connect to PostgreSQL on $PGHOST:$PGPORT as postgres without a password (tests expect trust auth on loopback)"
	if [ "$exists" != 1 ]; then
		log "creating database test"
		psql_admin -c 'CREATE DATABASE test'
	fi
}

redis_ready() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

ensure_redis() {
	if command -v redis-cli >/dev/null && redis_ready; then
		return 0
	fi
	if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
		apt_install redis-server
	fi
	if ! redis_ready; then
		log "starting Redis on 127.0.0.1:$REDIS_PORT"
		redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no
	fi
	wait_for redis_ready || die "Redis does not answer on 127.0.0.1:$REDIS_PORT"
	log "Redis answers on 127.0.0.1:$REDIS_PORT"
}

ensure_postgres
ensure_test_database
ensure_redis
