#!/usr/bin/env bash
# Stops the throw-away RGW started by tools/rgw/start.sh, by the PIDs it recorded (radosgw, then the OSD, then the
# monitor), and deletes its work dir. SIGTERM first, SIGKILL after 10 s: the OSD needs ~5 s to stop and the data is
# throw-away anyway. Idempotent. TAPEGW_RGW_KEEP=1 keeps the work dir (logs) for a post-mortem.
set -uo pipefail

WORK="${TAPEGW_RGW_DIR:-${TMPDIR:-/tmp}/tapegw-rgw}"

stop_pidfile() {
  local f="$WORK/$1.pid" p
  [[ -f "$f" ]] || return 0
  p=$(cat "$f")
  if kill "$p" 2>/dev/null; then
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$p" 2>/dev/null && { echo "rgw: $1 (pid $p) ignored SIGTERM; killing it" >&2; kill -9 "$p" 2>/dev/null; }
  fi
  rm -f "$f"
}

for d in rgw osd mon; do stop_pidfile "$d"; done
if [[ -d "$WORK" && "${TAPEGW_RGW_KEEP:-0}" != 1 ]]; then
  rm -rf "$WORK"
fi
echo "stopped"
