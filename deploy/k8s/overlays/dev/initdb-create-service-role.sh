#!/bin/bash
# Runs once, when the dev database's data directory is first initialised
# (postgres image's /docker-entrypoint-initdb.d): creates the service's
# restricted login role. The migrations grant it rights on its table.
set -euo pipefail
psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v role="$SERVICE_ROLE" -v password="$SERVICE_PASSWORD" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
SQL
