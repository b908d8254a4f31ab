#!/bin/bash
# Entrypoint of the postgres:16 stand-in: the part of the official image's entrypoint that
# docker-compose.yml relies on. On the first start it creates the cluster in $PGDATA with
# POSTGRES_USER (default postgres) and POSTGRES_PASSWORD (required), password (scram) logins over
# the network, and the database POSTGRES_DB (default: the user's name); then it runs the server on
# every interface of the container, as the unprivileged postgres user.
set -euo pipefail

if [ "${1:-}" != postgres ]; then exec "$@"; fi

if [ "$(id -u)" = 0 ]; then
  install -d -m 700 -o postgres -g postgres "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo 'docker-entrypoint.sh: POSTGRES_PASSWORD must be set' >&2
    exit 1
  fi
  password_file=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$password_file"
  initdb -D "$PGDATA" --username="$user" --pwfile="$password_file" \
    --auth-local=trust --auth-host=scram-sha-256
  rm -f "$password_file"
  echo 'host all all all scram-sha-256' >>"$PGDATA/pg_hba.conf"
  # These binaries put their socket in /tmp by default; psql and pg_isready look in /var/run/postgresql.
  echo "unix_socket_directories = '/var/run/postgresql'" >>"$PGDATA/postgresql.conf"
  if [ "$db" != postgres ]; then
    # Like the official image: a server on the socket only, so that nothing connects before the
    # database exists (the compose healthcheck asks over TCP).
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
    psql -v ON_ERROR_STOP=1 -h /var/run/postgresql -U "$user" -d postgres \
      -c "CREATE DATABASE \"$db\""
    pg_ctl -D "$PGDATA" -m fast -w stop
  fi
fi

exec postgres -c listen_addresses='*' "${@:2}"
