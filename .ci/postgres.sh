#!/usr/bin/env bash
# A local PostgreSQL for the class-mode tests: install it when missing, make sure a cluster
# runs, create the mnist_small role and database, and print their URL as the last stdout line.
# Idempotent, so CI and a developer can run it any number of times. Run as root (apt, runuser).
set -euo pipefail

# the server binary, not the package name: a removed package can still be "known" to dpkg
if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
  apt-get update -qq  # a fresh machine (or container) has no package lists yet
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

# Debian's package normally creates 15/main (and may start it); create one when it did not,
# e.g. after create_main_cluster = false or a dropped cluster.
if [ -z "$(pg_lsclusters -h)" ]; then
  version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  pg_createcluster "$version" main >/dev/null
fi
# the first cluster; awk, not head, so that pipefail never sees a SIGPIPE
read -r version cluster port status _ < <(pg_lsclusters -h | awk 'NR == 1')
# no systemd here: pg_ctlcluster starts postgres as the cluster's owner (postgres refuses root)
# and waits until it accepts connections
[[ $status == online* ]] || pg_ctlcluster "$version" "$cluster" start

# as the postgres superuser over the local socket (peer authentication); from / so that
# psql does not warn about a working directory the postgres user cannot read
psql_admin() { (cd / && runuser -u postgres -- psql -p "$port" -X -q -t -A -v ON_ERROR_STOP=1 "$@"); }

# CREATE ROLE has no IF NOT EXISTS; ALTER every time so that a role left over with another
# password or without CREATEDB (the test fixtures create a database per test) is put right
psql_admin <<'SQL'
SELECT 'CREATE ROLE mnist_small' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mnist_small') \gexec
ALTER ROLE mnist_small LOGIN CREATEDB PASSWORD 'mnist_small';
-- the fixtures drop each test's database WITH (FORCE), which must end an autovacuum worker that
-- happens to be in it (a process of no role): that takes pg_signal_backend
GRANT pg_signal_backend TO mnist_small;
SELECT 'CREATE DATABASE mnist_small OWNER mnist_small' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'mnist_small') \gexec
SQL

echo "postgresql+psycopg://mnist_small:mnist_small@localhost:$port/mnist_small"
