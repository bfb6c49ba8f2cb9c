#!/bin/sh
# What the official image does for `redis-server ...`: listen on every interface without
# protected mode (other containers connect), as the redis user, in /data.
set -eu
if [ "${1:-}" = redis-server ]; then
    shift
    # The caller's own options come last, so they win.
    set -- redis-server --bind '* -::*' --protected-mode no "$@"
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
fi
exec "$@"
