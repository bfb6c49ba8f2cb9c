#!/bin/sh
# What the official image does for `rabbitmq-server`: the default account from
# RABBITMQ_DEFAULT_USER/PASS, reachable from other containers, AMQP on 5672 and the
# management API on 15672; the server in the foreground as the rabbitmq user.
set -eu
if [ "${1:-}" = rabbitmq-server ]; then
    mkdir -p /etc/rabbitmq/conf.d
    {
        echo "loopback_users.guest = false"
        echo "listeners.tcp.default = 5672"
        echo "management.tcp.port = 15672"
        if [ -n "${RABBITMQ_DEFAULT_USER:-}" ]; then
            echo "default_user = $RABBITMQ_DEFAULT_USER"
            echo "default_pass = ${RABBITMQ_DEFAULT_PASS:?RABBITMQ_DEFAULT_PASS goes with RABBITMQ_DEFAULT_USER}"
        fi
    } > /etc/rabbitmq/conf.d/10-defaults.conf
    chown -R rabbitmq:rabbitmq /var/lib/rabbitmq
    shift
    exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups \
        /usr/lib/rabbitmq/bin/rabbitmq-server "$@"
fi
exec "$@"
