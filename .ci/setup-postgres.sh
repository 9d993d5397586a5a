#!/usr/bin/env bash
# Start a throw-away PostgreSQL server for the test suite and print the line that points the
# tests at it:
#
#     eval "$(bash .ci/setup-postgres.sh)"    # sets CUTAWAY_TEST_PG_DSN
#
# Only that `export …` line goes to stdout; progress goes to stderr. Never relies on a
# pre-started service: installs Debian's PostgreSQL when its binaries are missing, creates a
# cluster in $CUTAWAY_PG_DIR (default: /dev/shm/cutaway-pg, else $TMPDIR/cutaway-pg) owned by
# a non-root user (initdb refuses root), listening on 127.0.0.1 at a free port and on a unix
# socket in that folder, with password authentication for a superuser role `cutaway` that
# the tests use to create one database per test. Running it again while that server is up
# only prints the line again; a stale folder (server gone, e.g. after a reboot) is wiped and
# rebuilt. Stop it with
#     runuser -u postgres -- "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/pg_ctl" -D "$CUTAWAY_PG_DIR/data" stop
set -euo pipefail

# Memory-backed /dev/shm when it has room: creating a database per test is then ~10x faster
# than on a virtual disk (fsync is off either way; nothing here must survive a reboot).
default_dir() {
    local avail_kb
    avail_kb="$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }' || true)"
    if [[ -d /dev/shm && -w /dev/shm && "${avail_kb:-0}" -gt $((2 * 1024 * 1024)) ]]; then
        printf '/dev/shm/cutaway-pg\n'
    else
        printf '%s/cutaway-pg\n' "${TMPDIR:-/tmp}"
    fi
}
PGDIR="${CUTAWAY_PG_DIR:-$(default_dir)}"
ROLE=cutaway

say() { printf 'setup-postgres: %s\n' "$*" >&2; }

find_bindir() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
        printf '%s\n' "$dir"
        return 0
    fi
    # Not Debian's layout: whatever is on PATH (a developer's own install).
    if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return 0
    fi
    return 1
}

BINDIR="$(find_bindir || true)"
if [[ -z "$BINDIR" ]]; then
    if [[ $EUID -ne 0 ]]; then
        say "PostgreSQL is not installed and installing it needs root: apt-get install -y postgresql"
        exit 1
    fi
    say "installing PostgreSQL (apt-get)…"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends postgresql >&2
    BINDIR="$(find_bindir)" || { say "no initdb/pg_ctl after installing postgresql"; exit 1; }
fi

# initdb and the server refuse to run as root: run them as an unprivileged owner.
if [[ $EUID -eq 0 ]]; then
    OWNER=postgres
    if ! id -u "$OWNER" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$OWNER"
    fi
    as_owner() { runuser -u "$OWNER" -- "$@"; }
else
    OWNER="$(id -un)"
    as_owner() { "$@"; }
fi

print_dsn() {
    printf 'export CUTAWAY_TEST_PG_DSN=%q\n' \
        "postgresql://${ROLE}:$(cat "$PGDIR/password")@127.0.0.1:$(cat "$PGDIR/port")/postgres"
}

# True when postmaster.pid names a live server of *this* data folder (not a recycled pid).
our_server_runs() {
    local pid
    pid="$(head -n 1 "$PGDIR/data/postmaster.pid" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-D $PGDIR/data"
}

# Reuse a server that this script started earlier and that still answers.
if [[ -f "$PGDIR/port" && -f "$PGDIR/password" && -f "$PGDIR/ready" ]] && our_server_runs \
    && "$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$(cat "$PGDIR/port")" -t 5; then
    say "reusing the server in $PGDIR (port $(cat "$PGDIR/port"))"
    print_dsn
    exit 0
fi

if our_server_runs; then
    # Ours but not answering (half-started earlier run): stop it, then start afresh.
    as_owner "$BINDIR/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || true
fi
rm -rf "$PGDIR"
mkdir -p "$PGDIR"
chmod 700 "$PGDIR"
if [[ $EUID -eq 0 ]]; then chown "$OWNER": "$PGDIR"; fi

PASSWORD="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
umask 077
printf '%s\n' "$PASSWORD" >"$PGDIR/password"
printf '%s\n' "$PASSWORD" >"$PGDIR/pwfile"
if [[ $EUID -eq 0 ]]; then chown "$OWNER": "$PGDIR/password" "$PGDIR/pwfile"; fi

say "initdb in $PGDIR/data ($("$BINDIR/postgres" --version))"
# Local (socket) connections are trusted, for this script only; TCP needs the password.
as_owner "$BINDIR/initdb" -D "$PGDIR/data" -U "$ROLE" --pwfile="$PGDIR/pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale --no-instructions >/dev/null
rm -f "$PGDIR/pwfile"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

started=""
for _ in 1 2 3; do
    PORT="$(free_port)"
    # fsync and friends off: a test cluster trades durability for speed.
    if as_owner "$BINDIR/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 -o \
        "-p $PORT -c listen_addresses=127.0.0.1 -k $PGDIR -c fsync=off -c synchronous_commit=off \
-c full_page_writes=off -c max_connections=200 -c shared_buffers=64MB" start >/dev/null; then
        started=1
        break
    fi
    say "start on port $PORT failed (taken meanwhile?); retrying"
done
if [[ -z "$started" ]]; then
    say "PostgreSQL did not start; its log:"
    tail -n 30 "$PGDIR/server.log" >&2 || true
    exit 1
fi
printf '%s\n' "$PORT" >"$PGDIR/port"
touch "$PGDIR/ready"
say "PostgreSQL up on 127.0.0.1:$PORT (data in $PGDIR/data, role $ROLE)"
print_dsn
