#!/bin/sh
# Run a command with no network at all: in a new network namespace that holds only loopback (brought up, so
# chapter 06's service on 127.0.0.1 works), where the kernel lets an unprivileged user make one (unshare -rn).
# Elsewhere it says so and runs the command as it is; the Python-level guard (tests/netguard) applies either way.
if unshare -rn sh -c 'ip link set lo up' 2>/dev/null; then
	exec unshare -rn sh -c 'ip link set lo up && exec "$@"' offline "$@"
fi
echo "tests/offline.sh: this kernel refuses a network namespace (unshare -rn); only the Python-level guard applies" >&2
exec "$@"
