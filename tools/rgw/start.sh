#!/usr/bin/env bash
# Starts a throw-away single-node Ceph RADOS Gateway for tests: 1 monitor, 1 BlueStore OSD on a sparse file, radosgw
# (beast), loopback only, cephx off, with GLACIER and DEEP_ARCHIVE placement storage classes. Facts behind each
# setting: ../shared/docs/s3-local.md and docs/object-storage.md.
#
#   bash tools/rgw/start.sh            # prints "READY http://127.0.0.1:7480" as its last line
#   source "$TAPEGW_RGW_DIR/env.sh"    # exports TAPEGW_S3_ENDPOINT, TAPEGW_S3_ACCESS_KEY, TAPEGW_S3_SECRET_KEY
#   bash tools/rgw/stop.sh
#
# Knobs: TAPEGW_RGW_DIR (work dir, default $TMPDIR/tapegw-rgw), TAPEGW_RGW_PORT (default 7480),
#        TAPEGW_RGW_INSTALL=1 (apt-get install tools/rgw/apt-packages.txt when radosgw is missing; needs root).
# Idempotent: when the three daemons of a previous start are alive and S3 answers, it only prints the endpoint again;
# a half-dead cluster is stopped and rebuilt (the data is throw-away). Exits non-zero, with the log tails, on failure.
# Fixed ports: 3300/6789 (mon) and 6800-7300 (OSD), so only one instance per machine.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="${TAPEGW_RGW_DIR:-${TMPDIR:-/tmp}/tapegw-rgw}"
PORT="${TAPEGW_RGW_PORT:-7480}"
ENDPOINT="http://127.0.0.1:$PORT"
ACCESS_KEY=TESTKEY
SECRET_KEY=TESTSECRET
T0=$SECONDS

log() { printf '[rgw %3ds] %s\n' $((SECONDS - T0)) "$*" >&2; }
alive() { [[ -f "$WORK/$1.pid" ]] && kill -0 "$(cat "$WORK/$1.pid")" 2>/dev/null; }
s3_up() { curl -fsS --max-time 2 -o /dev/null "$ENDPOINT/" 2>/dev/null; }
fail() {
  log "FAILED: $*"
  for f in mon osd rgw; do
    [[ -f "$WORK/log/$f.log" ]] && { echo "---- $f.log (tail)" >&2; tail -n 15 "$WORK/log/$f.log" >&2; }
  done
  exit 1
}

if alive mon && alive osd && alive rgw && s3_up; then
  log "already running in $WORK"
  echo "READY $ENDPOINT"
  exit 0
fi

if ! command -v radosgw >/dev/null 2>&1; then
  if [[ "${TAPEGW_RGW_INSTALL:-0}" == 1 ]]; then
    mapfile -t pkgs < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$HERE/apt-packages.txt")
    log "installing ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null 2>&1 ||
      { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; }
  else
    fail "radosgw is not installed (apt-get install \$(sed 's/#.*//' tools/rgw/apt-packages.txt), or TAPEGW_RGW_INSTALL=1)"
  fi
fi

# Whatever is left of an earlier start is stopped and wiped: a partial cluster is not worth repairing.
bash "$HERE/stop.sh" >/dev/null 2>&1 || true
mkdir -p "$WORK"/{mon/a,osd/0,log,run}

FSID=$(uuidgen)
CONF="$WORK/ceph.conf"
cat >"$CONF" <<CONF
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:3300,v1:127.0.0.1:6789]
mon initial members = a
public network = 127.0.0.0/8
# Loopback-only throw-away cluster: no cephx.
auth cluster required = none
auth service required = none
auth client required = none
# Without it radosgw hangs forever logging "get_initial_auth_request returned -13" when auth is none.
ms mon client mode = crc secure
run dir = $WORK/run
admin socket = $WORK/run/\$name.asok
log file = $WORK/log/\$name.log
# One OSD: size-1 pools, few PGs, no warnings that would keep the cluster from HEALTH_OK-ish states.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
# The test disk may be more than 70 % full; the monitor must not refuse to run because of it.
mon data avail warn = 1
mon data avail crit = 0

[mon]
mon data = $WORK/mon/\$cluster-\$id

[osd]
osd data = $WORK/osd/\$cluster-\$id
osd objectstore = bluestore
# BlueStore on a 20 GiB sparse file: real on-disk format, no block device, disk use grows with the data only.
bluestore block create = true
bluestore block size = 21474836480
bluestore fsck on mkfs = false
osd memory target = 939524096
osd max object name len = 460
osd max object namespace len = 64

[client.rgw]
rgw data = $WORK/rgw
# tcp_nodelay: without it every small GET waits ~40 ms (Nagle + delayed ACK).
rgw frontends = beast endpoint=127.0.0.1:$PORT tcp_nodelay=1
# Free deleted data after 30 s instead of 2 h, so repeated runs do not fill the sparse file.
rgw gc obj min wait = 30
rgw dns name = 127.0.0.1
CONF
ln -sfn "$WORK/mon/a" "$WORK/mon/ceph-a"
ln -sfn "$WORK/osd/0" "$WORK/osd/ceph-0"
CEPH=(ceph -c "$CONF" --connect-timeout 10)

log "monitor"
monmaptool --create --fsid "$FSID" --addv a '[v2:127.0.0.1:3300,v1:127.0.0.1:6789]' "$WORK/monmap" >/dev/null
ceph-mon -c "$CONF" --mkfs -i a --monmap "$WORK/monmap" >>"$WORK/log/setup.log" 2>&1 || fail "ceph-mon --mkfs"
ceph-mon -c "$CONF" -i a -f >>"$WORK/log/mon.stdout" 2>&1 &
echo $! >"$WORK/mon.pid"
for _ in $(seq 1 100); do "${CEPH[@]}" mon stat >/dev/null 2>&1 && break; sleep 0.2; done
"${CEPH[@]}" mon stat >/dev/null 2>&1 || fail "monitor did not answer"

log "osd"
OSD_UUID=$(uuidgen)
OSD_ID=$("${CEPH[@]}" osd new "$OSD_UUID")
[[ "$OSD_ID" == 0 ]] || fail "unexpected OSD id '$OSD_ID'"
ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$OSD_UUID" >>"$WORK/log/setup.log" 2>&1 || fail "ceph-osd --mkfs"
ceph-osd -c "$CONF" -i 0 -f >>"$WORK/log/osd.stdout" 2>&1 &
echo $! >"$WORK/osd.pid"
for _ in $(seq 1 150); do
  "${CEPH[@]}" osd stat -f json 2>/dev/null | grep -q '"num_up_osds":1' && break
  alive osd || fail "ceph-osd exited"
  sleep 0.2
done
"${CEPH[@]}" osd stat -f json 2>/dev/null | grep -q '"num_up_osds":1' || fail "the OSD did not come up"

start_rgw() {
  radosgw -c "$CONF" -n client.rgw -f >>"$WORK/log/rgw.stdout" 2>&1 &
  echo $! >"$WORK/rgw.pid"
  for _ in $(seq 1 300); do
    s3_up && return 0
    alive rgw || fail "radosgw exited"
    sleep 0.2
  done
  fail "radosgw did not answer on $ENDPOINT"
}
stop_rgw() {
  local p
  p=$(cat "$WORK/rgw.pid")
  kill "$p" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.2; done
  kill -9 "$p" 2>/dev/null || true
}

log "radosgw (first start creates the default zone and pools)"
start_rgw
ADMIN=(radosgw-admin -c "$CONF" -n client.rgw)
"${ADMIN[@]}" user create --uid=tapegw --display-name="TapeGateway tests" \
  --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >>"$WORK/log/setup.log" 2>&1 || fail "user create"
# Archive tiers are placement storage classes, each with its own data pool, so HEAD and LIST report them.
for sc in GLACIER DEEP_ARCHIVE; do
  pool="default.rgw.$(tr 'A-Z_' 'a-z-' <<<"$sc").data"
  "${ADMIN[@]}" zonegroup placement add --rgw-zonegroup=default --placement-id=default-placement \
    --storage-class="$sc" >>"$WORK/log/setup.log" 2>&1 || fail "zonegroup placement add $sc"
  "${ADMIN[@]}" zone placement add --rgw-zone=default --placement-id=default-placement \
    --storage-class="$sc" --data-pool="$pool" >>"$WORK/log/setup.log" 2>&1 || fail "zone placement add $sc"
done
log "restarting radosgw so the storage classes take effect"
stop_rgw
start_rgw

cat >"$WORK/env.sh" <<ENV
export TAPEGW_S3_ENDPOINT=$ENDPOINT
export TAPEGW_S3_ACCESS_KEY=$ACCESS_KEY
export TAPEGW_S3_SECRET_KEY=$SECRET_KEY
export TAPEGW_RGW_DIR=$WORK
ENV
log "up in $((SECONDS - T0))s (work dir $WORK; env: source $WORK/env.sh)"
echo "READY $ENDPOINT"
