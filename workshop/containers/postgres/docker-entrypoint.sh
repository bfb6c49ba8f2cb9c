#!/bin/sh
# What the official image does for `postgres`: at first start, a cluster in $PGDATA whose
# superuser $POSTGRES_USER (default postgres) has the password $POSTGRES_PASSWORD, a database
# $POSTGRES_DB (default: the user's name), password logins from anywhere; then the server in
# the foreground as the postgres user. (No /docker-entrypoint-initdb.d: nothing here uses it.)
set -eu
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

if [ "${1:-}" = postgres ]; then
    user=${POSTGRES_USER:-postgres}
    database=${POSTGRES_DB:-$user}
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        if [ -z "${POSTGRES_PASSWORD:-}" ]; then
            echo "Error: the database is uninitialized and POSTGRES_PASSWORD is not set." >&2
            exit 1
        fi
        password=$(mktemp)
        printf '%s\n' "$POSTGRES_PASSWORD" > "$password"
        chown postgres "$password"
        as_postgres initdb --username="$user" --pwfile="$password" \
            --auth-local=trust --auth-host=scram-sha-256 >/dev/null
        rm -f "$password"
        echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
        echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
        if [ "$database" != postgres ]; then
            echo "CREATE DATABASE \"$database\";" \
                | as_postgres postgres --single -D "$PGDATA" postgres >/dev/null
        fi
        echo "PostgreSQL init process complete; ready for start up."
    fi
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$@"
fi
exec "$@"
