#!/usr/bin/env bash
# Takes the screenshots in docs/ of the Temporal UI that `athena dev` serves: the namespace
# list and the "athena" task queue with the worker polling it. Run `make run` in another
# shell first. Installs Debian's chromium when missing and running as root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
UI=${UI:-http://127.0.0.1:8233}
if ! command -v chromium >/dev/null; then
	[ "$(id -u)" -eq 0 ] || { echo "install chromium first: sudo apt-get install chromium" >&2; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
curl -fsS -o /dev/null "$UI/" || { echo "the Temporal UI does not answer at $UI: start 'make run' first" >&2; exit 1; }
shot() {
	local profile
	profile=$(mktemp -d)
	chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$profile" --window-size=1440,900 --virtual-time-budget=15000 \
		--screenshot="$2" "$UI/$1" 2>/dev/null
	rm -rf "$profile"
	echo "wrote $2"
}
mkdir -p docs
shot namespaces docs/temporal-ui-namespaces.png
shot namespaces/default/task-queues/athena docs/temporal-ui-task-queue-athena.png
