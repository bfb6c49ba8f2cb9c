#!/bin/sh
# What the official image's 20-envsubst-on-templates.sh does: each
# /etc/nginx/templates/NAME.template becomes /etc/nginx/conf.d/NAME, with ${VAR} replaced for
# the variables that are set only (Nginx's own $variables stay as they are).
set -eu
if [ "${1:-}" = nginx ]; then
    defined=$(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/${\1}/p' | tr '\n' ' ')
    for template in /etc/nginx/templates/*.template; do
        [ -f "$template" ] || continue
        output=/etc/nginx/conf.d/$(basename "$template" .template)
        envsubst "$defined" < "$template" > "$output"
        echo "$0: filled $template into $output"
    done
fi
exec "$@"
