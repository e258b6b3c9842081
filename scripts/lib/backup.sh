# Backups of Oxbow's PostgreSQL: WAL archiving, base backups and point-in-time restores. The
# restore runbook (README, "Operations") uses these; tests/integration/restore.rs drills them.
# Source it after services.sh. As root, PostgreSQL's commands run as the postgres user.

# oxbow_archiving_postgres DATA PORT ARCHIVE DATABASE: a primary that archives every WAL
# segment into ARCHIVE (at least every second while writes go on, so a crash loses at most
# about a second of commits), and serves DATABASE.
oxbow_archiving_postgres() {
  local data; data=$(oxbow_pg_datadir "$1")
  local port=$2 archive; archive=$(oxbow_pg_datadir "$3")
  local database=$4 bindir; bindir=$(oxbow_pg_bindir)
  if [ ! -f "$data/PG_VERSION" ]; then
    oxbow_pg_run "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null ||
      oxbow_die "initdb failed in $data"
  fi
  cat >> "$data/postgresql.auto.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$data'
wal_level = replica
archive_mode = on
archive_command = 'test ! -f $archive/%f && cp %p $archive/%f.part && mv $archive/%f.part $archive/%f'
archive_timeout = 1
max_wal_senders = 4
CONF
  oxbow_pg_run "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start >/dev/null ||
    { tail -20 "$data/server.log" >&2; oxbow_die "PostgreSQL did not start on port $port"; }
  oxbow_pg_run "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -qc "create database \"$database\"" postgres >/dev/null
  echo "$data"
}

# oxbow_base_backup PORT DIR: a base backup of the primary on PORT into DIR (plain format, with
# the WAL it needs to be consistent), taken while it serves.
oxbow_base_backup() {
  local port=$1 dir; dir=$(oxbow_pg_datadir "$2")
  oxbow_pg_run "$(oxbow_pg_bindir)/pg_basebackup" -h 127.0.0.1 -p "$port" -U postgres -D "$dir" \
    --checkpoint=fast --wal-method=stream >/dev/null || oxbow_die "pg_basebackup from port $port failed"
  echo "$dir"
}

# oxbow_restore_postgres BACKUP ARCHIVE DATA PORT [TARGET]: a fresh cluster in DATA, from the
# base backup BACKUP and the WAL in ARCHIVE, recovered up to TARGET and promoted. TARGET is a
# time ('2026-11-29 22:41:07+00'), a restore point's name (made with pg_create_restore_point),
# or empty for everything the archive holds. Waits until it takes writes.
oxbow_restore_postgres() {
  local backup=$1 archive=$2 data; data=$(oxbow_pg_datadir "$3")
  local port=$4 target=${5:-} bindir; bindir=$(oxbow_pg_bindir)
  [ -f "$backup/PG_VERSION" ] || oxbow_die "$backup holds no base backup"
  [ -z "$(ls -A "$data")" ] || oxbow_die "$data is not empty: restore into a fresh directory"
  cp -a "$backup/." "$data/"
  [ "$(id -u)" -ne 0 ] || chown -R postgres: "$data"
  chmod 700 "$data"
  rm -f "$data/postmaster.pid" "$data/standby.signal"
  local target_setting=""
  case "$target" in
    "") ;;
    [0-9][0-9][0-9][0-9]-*) target_setting="recovery_target_time = '$target'" ;;
    *) target_setting="recovery_target_name = '$target'" ;;
  esac
  cat >> "$data/postgresql.auto.conf" <<CONF
port = $port
unix_socket_directories = '$data'
archive_mode = off
restore_command = 'cp $archive/%f %p'
recovery_target_action = 'promote'
$target_setting
CONF
  oxbow_pg_run touch "$data/recovery.signal"
  oxbow_pg_run "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -w -t 600 start >/dev/null ||
    { tail -20 "$data/server.log" >&2; oxbow_die "the restored PostgreSQL did not start on port $port"; }
  local i
  for i in $(seq 600); do
    [ "$("$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -Atqc 'select pg_is_in_recovery()' postgres 2>/dev/null)" = f ] &&
      { echo "$data"; return 0; }
    sleep 0.1
  done
  tail -20 "$data/server.log" >&2
  oxbow_die "the restored PostgreSQL on port $port did not finish recovery"
}

# oxbow_stop_cluster DATA [MODE]: stops the cluster in DATA (fast, or immediate: a crash).
oxbow_stop_cluster() {
  oxbow_pg_run "$(oxbow_pg_bindir)/pg_ctl" -D "$1" -m "${2:-fast}" -w stop >/dev/null 2>&1 || true
}
