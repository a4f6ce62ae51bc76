#!/usr/bin/env bash
# tools/e2e/run.sh - TapeGateway end-to-end test with real Linux initiators in a VM.
#
#   tools/e2e/run.sh [--dll PATH] [--scenarios "disk disk-kernel tape archive btape bacula amanda"] [--keep]
#
# Builds the gateway (or takes --dll), starts it on free loopback ports with a fresh data directory, boots one
# throw-away QEMU guest per scenario (tools/e2e/vm.sh), stops the gateway by its PID, prints one line per scenario
# and, last, "N passed, N failed". Exit status 0 only if nothing failed. Prerequisites: tools/e2e/install-deps.sh
# (Debian packages, as root) and the .NET SDK (only when building).
#
# Scenarios (guest scripts in tools/e2e/guest/), run in the order given:
#   disk         SBC LUNs 0 (512-byte blocks) and 1 (4096) of iqn.2026-11.org.tapegateway:volume0 via QEMU's
#                libiscsi -> scsi-block -> guest sd (guest/disk.sh)
#   disk-kernel  the same LUNs via the guest kernel's own initiator (iscsi_tcp + open-iscsi), guest/disk.sh again
#   tape         library (changer + 2 drives, SingleTarget layout: ...:vtl LUN 0 changer, LUNs 1-2 drives) via
#                QEMU -> scsi-generic -> guest st/ch/sg: mtx, mt, tar, dd, sg_logs, sg_read_attr, and pseudo-random
#                positioning sequences through st checked against a model (guest/tape.sh)
#   archive      issue 5's tape life (guest/archive.sh): tar a backup onto a tape, mtx transfer it into the
#                mailslot, the archive job archives it (it leaves the library), retrieve it through the HTTP API, load
#                it from the I/E slot read-only and read it back; own gateway configuration "archive" (layout as
#                tape, archive job every 2 s, 5 s export grace, filesystem object store); the guest kernel's
#                initiator, for its network: the guest calls the API at 10.0.2.2 (QEMU user networking -> loopback)
#   tape-kernel  guest/tape.sh again, AWS layout (TargetPerDevice: ...:mediachanger, ...:tapedrive-01/02) through
#                the guest kernel's initiator, with CRC32C digests, InitialR2T=Yes, ImmediateData=No, 4 KiB PDUs
#   btape        Bacula 9.6 btape "test" + "auto" through mtx-changer, SingleTarget layout (guest/btape.sh)
#   bacula       a whole Bacula 9.6 cycle in the guest (bacula-dir with SQLite catalog, -fd, -sd, bconsole), the
#                library as an Autochanger with 2 drives: label barcodes, Full, Incremental appending to the same
#                tape, restores, a Full on another tape, a Full spanning two small tapes; SingleTarget layout
#                (guest/bacula.sh, image "bacula")
#   bacula-kernel the same Bacula cycle through the guest kernel's initiator, AWS layout (TargetPerDevice: one
#                session per IQN), after tape-kernel on the same gateway
#   amanda       an Amanda 3.5 cycle in the guest (server + client, auth local, amgtar, holding disk), chg-robot
#                with both drives and barcodes: amlabel, amcheck, amdump level 0 and level 1 (each on its own tape),
#                amfetchdump of both, GNU tar restore; SingleTarget layout (guest/amanda.sh, image "amanda")
# Default: $E2E_SCENARIOS if set, else "disk disk-kernel tape archive btape bacula amanda tape-kernel bacula-kernel" when the build contains
# the tape library (TapeGateway.Library.dll next to the server dll), else "disk disk-kernel".
# One gateway process per configuration (disk only / SingleTarget / archive / TargetPerDevice), each with a fresh data
# directory; it is restarted only when the next scenario needs another configuration.
#
# Environment: E2E_BUILD (cache: guest image, gateway build, runs; default ${TMPDIR:-/tmp}/tapegw-e2e),
#   E2E_ACCEL=auto|kvm|tcg, E2E_SCENARIOS, TG_ARTIFACTS (build into / reuse that --artifacts-path),
#   E2E_LAYOUT=SingleTarget|TargetPerDevice (one layout for all library scenarios),
#   E2E_POS_SEEDS / E2E_POS_OPS (tape, tape-kernel: "SEED1 SEED2" / "N1 N2" of the random positioning sequences).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export E2E_BUILD=${E2E_BUILD:-${TMPDIR:-/tmp}/tapegw-e2e}
DLL=""; SCENARIOS=${E2E_SCENARIOS:-}; KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dll) DLL=$2; shift 2 ;;
    --scenarios) SCENARIOS=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,/^set -uo pipefail/{/^#/p}' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
T0=$SECONDS
PASSED=0; FAILED=0; LINES=()
ok()  { PASSED=$((PASSED + 1)); echo "  ok    $*"; }
bad() { FAILED=$((FAILED + 1)); echo "  FAIL  $*"; }
final() {
  echo
  echo "==== e2e summary ($((SECONDS - T0)) s, logs: $RUN)"
  local l; for l in "${LINES[@]}"; do echo "  $l"; done
  [ "${XFAIL:-0}" -gt 0 ] || [ "${XPASS:-0}" -gt 0 ] && echo "  expected failures (known target bugs, not counted as failed): $XFAIL; unexpectedly passing: $XPASS"
  echo "$PASSED passed, $FAILED failed"
}

mkdir -p "$E2E_BUILD/runs"
RUN=$(mktemp -d "$E2E_BUILD/runs/$(date +%Y%m%d-%H%M%S).XXXX")
echo "e2e: logs and run directories in $RUN"

# ---- 1. the gateway build -------------------------------------------------------------------------------------
if [ -z "$DLL" ]; then
  ART=${TG_ARTIFACTS:-$E2E_BUILD/artifacts}
  echo "e2e: dotnet build src/TapeGateway.Server -c Release --artifacts-path $ART"
  if ! (cd "$ROOT" && dotnet build src/TapeGateway.Server -c Release --artifacts-path "$ART" -nologo -v q) > "$RUN/build.log" 2>&1; then
    tail -30 "$RUN/build.log"; bad "gateway build (log: $RUN/build.log)"; LINES+=("build: FAILED"); final; exit 1
  fi
  DLL=$ART/bin/TapeGateway.Server/release/TapeGateway.Server.dll
fi
[ -f "$DLL" ] || { bad "no gateway at $DLL"; final; exit 1; }
HAS_LIBRARY=0; [ -f "$(dirname "$DLL")/TapeGateway.Library.dll" ] && HAS_LIBRARY=1
if [ -z "$SCENARIOS" ]; then
  if [ $HAS_LIBRARY = 1 ]; then SCENARIOS="disk disk-kernel tape archive btape bacula amanda tape-kernel bacula-kernel"; else SCENARIOS="disk disk-kernel"; fi
fi
NEED_LIBRARY=0; case " $SCENARIOS " in *" tape "*|*" archive "*|*" btape "*|*" tape-kernel "*|*" bacula "*|*" bacula-kernel "*|*" amanda "*|*" ltfs "*) NEED_LIBRARY=1 ;; esac
[ $NEED_LIBRARY = 1 ] && [ $HAS_LIBRARY = 0 ] && echo "e2e: WARNING: library scenarios requested but $(dirname "$DLL") has no TapeGateway.Library.dll"
echo "e2e: gateway $DLL (tape library: $([ $HAS_LIBRARY = 1 ] && echo yes || echo no)); scenarios: $SCENARIOS"

# ---- 2. the guest image (cached) -------------------------------------------------------------------------------
if ! GUEST=$("$HERE/build-guest.sh" 2> "$RUN/build-guest.log"); then
  cat "$RUN/build-guest.log"; bad "guest image (run tools/e2e/install-deps.sh as root)"; LINES+=("guest image: FAILED"); final; exit 1
fi
cat "$RUN/build-guest.log"; echo "e2e: guest image $GUEST"

# ---- 3. the gateway: one process per configuration ------------------------------------------------------------
# config "disk": library disabled; "SingleTarget" / "TargetPerDevice": library in that layout; "archive": the library
# in layout $L1 with a fast archive job (the disk target volume0 is there in every configuration). Scenarios run in
# the given order; the gateway is restarted (fresh data directory) only when the next scenario needs another
# configuration.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { local p i; for i in $(seq 1 50); do p=$((20000 + RANDOM % 20000)); port_busy $p || { echo $p; return; }; done; return 1; }
DISK_IQN=iqn.2026-11.org.tapegateway:volume0
P=iqn.2026-11.org.tapegateway:
BARCODES="HRN001L4 HRN002L4 HRN003L4 HRN004L4 HRN005L4 HRN006L4 HRN007L4 HRN008L4"
SMALL_BARCODES="SML001L4 SML002L4"
FILL_BARCODE=SML003L4
AMANDA_BARCODES="AMD001L4 AMD002L4 AMD003L4"
TAR_BARCODES="TAR001L4 TAR002L4"
WORM_BARCODE=WRM001LV
PART_BARCODE=PRT001L5
GW_PID=""; GW_CONFIG=""; GW_N=0; ISCSI_PORT=""; HTTP_PORT=""
stop_gateway() {   # stops the gateway this script started, by its PID; checks exit status and log
  [ -n "$GW_PID" ] || return 0
  local i rc log=$RUN/gateway-$GW_N.log
  if kill -0 "$GW_PID" 2>/dev/null; then
    kill -TERM "$GW_PID" 2>/dev/null
    for i in $(seq 1 100); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$GW_PID" 2>/dev/null && { echo "e2e: gateway $GW_PID ignored SIGTERM for 10 s; SIGKILL"; kill -KILL "$GW_PID" 2>/dev/null; }
  fi
  wait "$GW_PID" 2>/dev/null; rc=$?
  GW_PID=""
  [ "${1:-}" = quiet ] && return 0
  [ "$rc" = 0 ] && ok "gateway #$GW_N ($GW_CONFIG) stopped on SIGTERM with exit status 0" || bad "gateway #$GW_N ($GW_CONFIG) exit status $rc after SIGTERM"
  if grep -qE '^(crit|fail): ' "$log"; then
    grep -E -A3 '^(crit|fail): ' "$log" | head -30 | sed 's/^/    /'
    bad "gateway #$GW_N logged fail:/crit: entries ($log)"
  else ok "gateway #$GW_N logged no fail:/crit: entries"; fi
  [ $KEEP = 1 ] || rm -rf "$RUN/data-$GW_N"
}
trap 'stop_gateway quiet' EXIT
trap 'stop_gateway quiet; exit 130' INT TERM
start_gateway() {   # start_gateway CONFIG
  local cfg=$1 data want up=0
  [ "$cfg" = "$GW_CONFIG" ] && [ -n "$GW_PID" ] && return 0
  stop_gateway
  GW_N=$((GW_N + 1)); GW_CONFIG=$cfg; data=$RUN/data-$GW_N; mkdir -p "$data"
  ISCSI_PORT=$(free_port); HTTP_PORT=$(free_port)
  while [ "$HTTP_PORT" = "$ISCSI_PORT" ]; do HTTP_PORT=$(free_port); done
  # the disk target, pinned here rather than taken from appsettings.json: LUN 0 1 GiB of 512-byte blocks,
  # LUN 1 512 MiB of 4096-byte blocks (both sparse files in the data directory)
  local T=--TapeGateway:Targets:0
  local args=(--TapeGateway:Iscsi:Address=127.0.0.1 "--TapeGateway:Iscsi:Port=$ISCSI_PORT" "--Urls=http://127.0.0.1:$HTTP_PORT"
              "--TapeGateway:DataDirectory=$data" "$T:Name=$DISK_IQN" "$T:Alias=e2e"
              "$T:Luns:0:Lun=0" "$T:Luns:0:Type=Disk" "$T:Luns:0:File=volumes/e2e-512.img" "$T:Luns:0:SizeMiB=1024" "$T:Luns:0:BlockSize=512"
              "$T:Luns:1:Lun=1" "$T:Luns:1:Type=Disk" "$T:Luns:1:File=volumes/e2e-4k.img" "$T:Luns:1:SizeMiB=512" "$T:Luns:1:BlockSize=4096")
  if [ "$cfg" = disk ]; then
    args+=(--TapeGateway:Library:Enabled=false)
  else
    local layout=$cfg
    if [ "$cfg" = archive ]; then
      # the archive job every 2 s (default 10 s) and 5 s of grace after an export (appsettings.json: 1 min), so an
      # exported tape is ARCHIVED within seconds yet stays IN TRANSIT TO VTS long enough for the guest to see it in
      # the mailslot; the retrieval job runs on the same schedule. The tapes go to the default filesystem object
      # store under the data directory, which records storage classes and restores at once.
      layout=$L1
      args+=("--TapeGateway:Archive:Schedule=0/2 * * * * ?" --TapeGateway:Archive:MinimumExportAge=00:00:05)
    fi
    # 2 drives, 19 slots, 1 mailslot, HRN001L4..HRN008L4 in slots 1-8; 4 GiB tapes (btape writes ~1.3 GB); two
    # 32 MiB tapes in slots 9-10 (SMALL_BARCODES) that a Bacula job spans; a 256 MiB tape in slot 11 (FILL_BARCODE)
    # for "btape fill", which needs more than 10000 records (about 5000 blocks of 63 KiB) before the end of the tape;
    # three 1 GiB tapes in slots 12-14 for Amanda (AMANDA_BARCODES); two 32 MiB tapes in slots 15-16 for the tape
    # scenario's multi-volume tar (TAR_BARCODES); a 64 MiB LTO-5 WORM tape in slot 17 (WORM_BARCODE); a 4 GiB LTO-5
    # data tape in slot 18 that the tape scenario partitions (PART_BARCODE); slot 19 stays empty
    args+=(--TapeGateway:Library:Enabled=true "--TapeGateway:Library:Layout=$layout"
           --TapeGateway:Library:Drives=2 --TapeGateway:Library:StorageSlots=19 --TapeGateway:Library:ImportExportSlots=1
           --TapeGateway:Library:ChangerLun=0 --TapeGateway:Library:FirstDriveLun=1 --TapeGateway:Library:AllowSmallTapes=true
           "--TapeGateway:Library:Tapes:0:Barcode=${BARCODES// /,}" --TapeGateway:Library:Tapes:0:CapacityMiB=4096
           "--TapeGateway:Library:Tapes:1:Barcode=${SMALL_BARCODES// /,}" --TapeGateway:Library:Tapes:1:CapacityMiB=32
           "--TapeGateway:Library:Tapes:2:Barcode=$FILL_BARCODE" --TapeGateway:Library:Tapes:2:CapacityMiB=256
           "--TapeGateway:Library:Tapes:3:Barcode=${AMANDA_BARCODES// /,}" --TapeGateway:Library:Tapes:3:CapacityMiB=1024
           "--TapeGateway:Library:Tapes:4:Barcode=${TAR_BARCODES// /,}" --TapeGateway:Library:Tapes:4:CapacityMiB=32
           "--TapeGateway:Library:Tapes:5:Barcode=$WORM_BARCODE" --TapeGateway:Library:Tapes:5:CapacityMiB=64 --TapeGateway:Library:Tapes:5:Worm=true
           "--TapeGateway:Library:Tapes:6:Barcode=$PART_BARCODE" --TapeGateway:Library:Tapes:6:CapacityMiB=4096)
  fi
  echo; echo "==== gateway #$GW_N ($cfg)"
  echo "  dotnet $DLL ${args[*]}"
  (cd "$data" && exec dotnet "$DLL" "${args[@]}") < /dev/null > "$RUN/gateway-$GW_N.log" 2>&1 &
  GW_PID=$!
  for _ in $(seq 1 600); do
    port_busy "$ISCSI_PORT" && { up=1; break; }
    kill -0 "$GW_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ $up = 1 ]; then ok "gateway #$GW_N (pid $GW_PID) listens on 127.0.0.1:$ISCSI_PORT"
  else bad "gateway #$GW_N did not open 127.0.0.1:$ISCSI_PORT within 60 s"; tail -30 "$RUN/gateway-$GW_N.log"; stop_gateway quiet; return 1; fi
  iscsi-ls "iscsi://127.0.0.1:$ISCSI_PORT" > "$RUN/targets-$GW_N.txt" 2>&1
  sed 's/^/        /' "$RUN/targets-$GW_N.txt"
  case "${layout:-$cfg}" in SingleTarget) want=${P}vtl ;; TargetPerDevice) want=${P}mediachanger ;; *) want=$DISK_IQN ;; esac
  if grep -q "Target:$want " "$RUN/targets-$GW_N.txt"; then ok "SendTargets offers $want"; else bad "SendTargets does not offer $want"; return 1; fi
}

# ---- 4. the scenarios ------------------------------------------------------------------------------------------
lib_devices() {   # lib_devices LAYOUT qemu|kernel: vm.sh arguments for the changer and the two drives
  if [ "$1" = SingleTarget ]; then
    [ "$2" = qemu ] && echo "--lun ${P}vtl/0 --lun ${P}vtl/1 --lun ${P}vtl/2" || echo "--target ${P}vtl --devs 3"
  else
    [ "$2" = qemu ] && echo "--lun ${P}mediachanger/0 --lun ${P}tapedrive-01/0 --lun ${P}tapedrive-02/0" ||
      echo "--target ${P}mediachanger --target ${P}tapedrive-01 --target ${P}tapedrive-02 --devs 3"
  fi
}
XFAIL=0; XPASS=0
expected_failure() {   # expected_failure SCENARIO DESCRIPTION: listed in expected-failures.txt?
  local sc pre
  while read -r sc pre; do
    [ "$sc" = "$1" ] && [ -n "$pre" ] && [ "${2#"$pre"}" != "$2" ] && return 0
  done < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$HERE/expected-failures.txt" 2>/dev/null)
  return 1
}
run_scenario() {   # run_scenario NAME CONFIG vm.sh-args...
  local name=$1 cfg=$2; shift 2
  local out=$RUN/$name t=$SECONDS rc res p f
  if ! start_gateway "$cfg"; then LINES+=("$(printf '%-12s not run: the gateway did not start' "$name")"); FAILED=$((FAILED + 1)); return; fi
  echo; echo "==== scenario $name (gateway #$GW_N, $cfg)"
  # E2E_API: the gateway's management API as the guest reaches it, in kernel mode only (QEMU user networking maps
  # 10.0.2.2 to this host's loopback; qemu mode has no network)
  "$HERE/vm.sh" --portal "127.0.0.1:$ISCSI_PORT" --out "$out" --env "E2E_API=http://10.0.2.2:$HTTP_PORT" "$@" > "$out.log" 2>&1; rc=$?
  # the check lines; for a failed check also its commands and output
  # (a FAIL of a check listed in expected-failures.txt is shown as XFAIL, without its output)
  sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$HERE/expected-failures.txt" 2>/dev/null |
    awk -v sc="$name" '$1 == sc { sub(/^[^ \t]+[ \t]+/, ""); print }' > "$out.xfail"
  awk 'FILENAME == ARGV[1] { if ($0 != "") x[n++] = $0; next }
       /^# /{buf=""} {buf=buf $0 "\n"}
       /^(ok|FAIL) /{ d = $0; sub(/^(ok|FAIL) +/, "", d); e = 0; for (i = 0; i < n; i++) if (index(d, x[i]) == 1) e = 1
                      if ($1 == "FAIL" && e) { sub(/^FAIL  /, "XFAIL "); print }
                      else if ($1 == "FAIL") printf "%s", buf; else print
                      buf="" }
       /^RESULT:|^vm.sh:|^E2E-BOOT/{print}' "$out.xfail" "$out.log" | sed 's/^/  /'
  res=$(grep -a -E '^RESULT: [0-9]+ passed, [0-9]+ failed' "$out.log" | tail -1)
  if [ -n "$res" ]; then
    p=$(echo "$res" | awk '{print $2}'); f=$(echo "$res" | awk '{print $4}')
    # known target bugs (tools/e2e/expected-failures.txt): a failure there is XFAIL, a pass there is XPASS
    local line desc kind
    while IFS= read -r line; do
      kind=${line%% *}; desc=${line#* }; desc=${desc#"${desc%%[![:space:]]*}"}; desc=${desc%%  \[rc=*}
      if expected_failure "$name" "$desc"; then
        if [ "$kind" = FAIL ]; then f=$((f - 1)); XFAIL=$((XFAIL + 1))
        else XPASS=$((XPASS + 1)); echo "  XPASS  $desc (now passes: remove it from tools/e2e/expected-failures.txt)"; fi
      fi
    done < <(grep -a -E '^(ok|FAIL) ' "$out.log")
  else
    p=0; f=1; echo "  (no RESULT line from the guest; vm.sh exit $rc; see $out.log, $out/console.log)"; tail -20 "$out.log" | sed 's/^/    /'
  fi
  [ -z "$res" ] && [ "$rc" != 0 ] && [ "$f" = 0 ] && f=1
  PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
  LINES+=("$(printf '%-12s %3d passed, %d failed  %4d s  %s' "$name" "$p" "$f" $((SECONDS - t)) "$out.log")")
  if kill -0 "$GW_PID" 2>/dev/null; then ok "gateway still running after $name"; else bad "gateway died during $name"; tail -30 "$RUN/gateway-$GW_N.log"; fi
}
archive_history() {   # archive_history BARCODE: the tape life of the scenario "archive" as the gateway's catalog
                      # recorded it (tape_events, append-only). The guest polls the API every 0.5 s and rarely sees
                      # ARCHIVING, which lasts only as long as the server-side copy; the history has every transition.
                      # And no archive or retrieval step may have failed on the way (they log warn: and retry).
  [ "$GW_CONFIG" = archive ] && [ -n "$GW_PID" ] || return 0   # the gateway did not start: already counted
  local b=$1 got want="AVAILABLE>IN TRANSIT TO VTS, IN TRANSIT TO VTS>ARCHIVING, ARCHIVING>ARCHIVED, ARCHIVED>RETRIEVING, RETRIEVING>RETRIEVED, RETRIEVED>ARCHIVED"
  got=$(sqlite3 -readonly "$RUN/data-$GW_N/catalog.db" "SELECT group_concat(t, ', ') FROM (SELECT from_state || '>' || to_state AS t
          FROM tape_events WHERE barcode = '$b' AND kind = 'state-transition' ORDER BY id)" 2>&1)
  if [ "$got" = "$want" ]; then ok "archive: the catalog's history of $b is $want"
  else bad "archive: the catalog's history of $b is '$got', expected '$want'"; fi
  if grep -qE '^warn: TapeGateway\.Archive\.' "$RUN/gateway-$GW_N.log"; then
    grep -E -A3 '^warn: TapeGateway\.Archive\.' "$RUN/gateway-$GW_N.log" | head -20 | sed 's/^/    /'
    bad "archive: the archive/retrieval jobs logged warn: entries (failed steps; $RUN/gateway-$GW_N.log)"
  else ok "archive: no archive or retrieval step failed (no warn: from TapeGateway.Archive)"; fi
}
# tape-kernel logs in with digests on and without immediate or unsolicited data, in small PDUs: every write goes
# through R2T/Data-Out and every PDU is checked, the opposite corner from the defaults disk-kernel uses
STRICT_NODE_OPTS="node.conn[0].iscsi.HeaderDigest=CRC32C node.conn[0].iscsi.DataDigest=CRC32C node.session.iscsi.ImmediateData=No
  node.session.iscsi.InitialR2T=Yes node.conn[0].iscsi.MaxRecvDataSegmentLength=4096 node.session.iscsi.MaxBurstLength=65536"
L1=${E2E_LAYOUT:-SingleTarget}; L2=${E2E_LAYOUT:-TargetPerDevice}
POS_ENV=(--env "E2E_POS_SEEDS=${E2E_POS_SEEDS:-}" --env "E2E_POS_OPS=${E2E_POS_OPS:-}")   # empty: tape.sh's defaults
DISK_SIZES="E2E_DISK_BYTES=1073741824 536870912"
DISK_CFG=disk; [ $NEED_LIBRARY = 1 ] && DISK_CFG=$L1     # no restart just for the disk scenarios
for s in $SCENARIOS; do
  case "$s" in
    disk)        run_scenario disk $DISK_CFG --mode qemu --lun $DISK_IQN/0:block --lun $DISK_IQN/1:block --env "$DISK_SIZES" --timeout 300 "$HERE/guest/disk.sh" ;;
    disk-kernel) run_scenario disk-kernel $DISK_CFG --mode kernel --target $DISK_IQN --devs 2 --env "$DISK_SIZES" --timeout 300 "$HERE/guest/disk.sh" ;;
    tape)        run_scenario tape $L1 --mode qemu $(lib_devices $L1 qemu) --env "E2E_BARCODES=$BARCODES" --env "E2E_TAR_BARCODES=$TAR_BARCODES" --env "E2E_WORM_BARCODE=$WORM_BARCODE" --env "E2E_PART_BARCODE=$PART_BARCODE" "${POS_ENV[@]}" --timeout 600 "$HERE/guest/tape.sh" ;;
    archive)     run_scenario archive archive --mode kernel $(lib_devices $L1 kernel) --env "E2E_BARCODES=$BARCODES" --timeout 600 "$HERE/guest/archive.sh"
                 archive_history "${BARCODES%% *}" ;;
    tape-kernel) run_scenario tape-kernel $L2 --mode kernel $(lib_devices $L2 kernel) --env "E2E_BARCODES=$BARCODES" --env "E2E_TAR_BARCODES=$TAR_BARCODES" --env "E2E_WORM_BARCODE=$WORM_BARCODE" --env "E2E_PART_BARCODE=$PART_BARCODE" \
                   --env "E2E_NODE_OPTS=$STRICT_NODE_OPTS" "${POS_ENV[@]}" --timeout 600 "$HERE/guest/tape.sh" ;;
    btape)       run_scenario btape $L1 --mode qemu $(lib_devices $L1 qemu) --env "E2E_BARCODES=$BARCODES" --env "E2E_FILL_BARCODE=$FILL_BARCODE" --timeout 900 "$HERE/guest/btape.sh" ;;
    bacula-kernel) run_scenario bacula-kernel $L2 --mode kernel --image bacula $(lib_devices $L2 kernel) --env "E2E_BARCODES=$BARCODES" --env "E2E_SMALL_BARCODES=$SMALL_BARCODES" --timeout 900 "$HERE/guest/bacula.sh" ;;
    amanda)      run_scenario amanda $L1 --mode qemu --image amanda $(lib_devices $L1 qemu) --env "E2E_AMANDA_BARCODES=$AMANDA_BARCODES" --timeout 900 "$HERE/guest/amanda.sh" ;;
    ltfs)        # opt-in (not in the default list): LTFS is built from source, which needs GitHub (tools/e2e/build-ltfs.sh)
                 if LTFS_TGZ=${E2E_LTFS_TGZ:-$("$HERE/build-ltfs.sh" ${E2E_LTFS_SRC:-} 2> "$RUN/build-ltfs.log")}; then
                   run_scenario ltfs $L1 --mode kernel $(lib_devices $L1 kernel) --env "E2E_LTFS_BARCODE=$PART_BARCODE" --timeout 900 "$HERE/guest/ltfs.sh" "$LTFS_TGZ"
                 else tail -20 "$RUN/build-ltfs.log"; bad "ltfs: tools/e2e/build-ltfs.sh failed (log: $RUN/build-ltfs.log)"; fi ;;
    bacula)      run_scenario bacula $L1 --mode qemu --image bacula $(lib_devices $L1 qemu) --env "E2E_BARCODES=$BARCODES" --env "E2E_SMALL_BARCODES=$SMALL_BARCODES" --timeout 900 "$HERE/guest/bacula.sh" ;;
    *) bad "unknown scenario $s" ;;
  esac
done

# ---- 5. stop the gateway ----------------------------------------------------------------------------------------
echo; echo "==== gateway shutdown"
stop_gateway
LINES+=("(gateway start/stop/log checks are counted in the total: see above)")
final
[ "$FAILED" = 0 ]
