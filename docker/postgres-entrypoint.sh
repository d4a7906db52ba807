#!/bin/sh
# First start: make the cluster in $PGDATA with the role $POSTGRES_USER (password $POSTGRES_PASSWORD, required) owning
# the database $POSTGRES_DB; TCP clients authenticate with scram-sha-256. Later starts: the cluster as it is. Then exec
# the command (postgres as PID 1's child, so `docker stop` shuts it down cleanly).
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set for the first start}"
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 -D "$PGDATA" >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  if [ "$POSTGRES_DB" != postgres ]; then  # initdb makes only `postgres` (and the templates)
    postgres --single -D "$PGDATA" postgres >/dev/null <<SQL
CREATE DATABASE "$POSTGRES_DB" OWNER "$POSTGRES_USER";
SQL
  fi
  echo "postgres-entrypoint: cluster made in $PGDATA (role $POSTGRES_USER, database $POSTGRES_DB)"
fi
exec "$@"
