#!/usr/bin/env bash
# tools/e2e/run.sh - TapeGateway end-to-end test with real Linux initiators in a VM.
#
#   tools/e2e/run.sh [--dll PATH] [--scenarios "disk disk-kernel tape btape"] [--keep]
#
# Builds the gateway (or takes --dll), starts it on free loopback ports with a fresh data directory, boots one
# throw-away QEMU guest per scenario (tools/e2e/vm.sh), stops the gateway by its PID, prints one line per scenario
# and, last, "N passed, N failed". Exit status 0 only if nothing failed. Prerequisites: tools/e2e/install-deps.sh
# (Debian packages, as root) and the .NET SDK (only when building).
#
# Scenarios (guest scripts in tools/e2e/guest/):
#   disk         SBC LUN 0 of iqn.2026-11.org.tapegateway:volume0 via QEMU's libiscsi -> scsi-block -> guest sd
#   disk-kernel  the same LUN via the guest kernel's own initiator (iscsi_tcp + open-iscsi), guest/disk.sh again
#   tape         changer + 2 drives (library, SingleTarget layout) via QEMU -> scsi-generic -> guest st/ch/sg:
#                mtx, mt, tar, dd, sg_logs, sg_read_attr (guest/tape.sh)
#   btape        Bacula 9.6 btape "test" + "auto" through mtx-changer against the same library (guest/btape.sh)
# Default: $E2E_SCENARIOS if set, else "disk disk-kernel tape btape" when the built gateway contains the tape
# library (TapeGateway.Library.dll next to the server dll), else "disk disk-kernel".
#
# Environment: E2E_BUILD (cache: guest image, gateway build, runs; default ${TMPDIR:-/tmp}/tapegw-e2e),
#   E2E_ACCEL=auto|kvm|tcg, E2E_SCENARIOS, TG_ARTIFACTS (reuse that --artifacts-path build), E2E_LAYOUT
#   (SingleTarget, default, or TargetPerDevice for the library scenarios).
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
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
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
  if [ $HAS_LIBRARY = 1 ]; then SCENARIOS="disk disk-kernel tape btape"; else SCENARIOS="disk disk-kernel"; fi
fi
NEED_LIBRARY=0; case " $SCENARIOS " in *" tape "*|*" btape "*|*" tape-kernel "*) NEED_LIBRARY=1 ;; esac
echo "e2e: gateway $DLL (tape library: $([ $HAS_LIBRARY = 1 ] && echo yes || echo no)); scenarios: $SCENARIOS"

# ---- 2. the guest image (cached) -------------------------------------------------------------------------------
if ! GUEST=$("$HERE/build-guest.sh" 2> "$RUN/build-guest.log"); then
  cat "$RUN/build-guest.log"; bad "guest image (run tools/e2e/install-deps.sh as root)"; LINES+=("guest image: FAILED"); final; exit 1
fi
cat "$RUN/build-guest.log"; echo "e2e: guest image $GUEST"

# ---- 3. the gateway ------------------------------------------------------------------------------------------
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { local p i; for i in $(seq 1 50); do p=$((20000 + RANDOM % 20000)); port_busy $p || { echo $p; return; }; done; return 1; }
ISCSI_PORT=$(free_port); HTTP_PORT=$(free_port)
while [ "$HTTP_PORT" = "$ISCSI_PORT" ]; do HTTP_PORT=$(free_port); done
DATA=$RUN/data; mkdir -p "$DATA"
DISK_IQN=iqn.2026-11.org.tapegateway:volume0
VTL_IQN=iqn.2026-11.org.tapegateway:vtl
LAYOUT=${E2E_LAYOUT:-SingleTarget}
BARCODES="HRN001L4 HRN002L4 HRN003L4 HRN004L4 HRN005L4 HRN006L4 HRN007L4 HRN008L4"
GW_ARGS=(--TapeGateway:Iscsi:Address=127.0.0.1 --TapeGateway:Iscsi:Port=$ISCSI_PORT --Urls=http://127.0.0.1:$HTTP_PORT
         --TapeGateway:DataDirectory=$DATA)
if [ $NEED_LIBRARY = 1 ]; then
  # 2 drives, 10 slots, 1 mailslot, HRN001L4..HRN008L4 in slots 1-8; 4 GiB tapes (btape writes ~1.3 GB)
  GW_ARGS+=(--TapeGateway:Library:Enabled=true --TapeGateway:Library:Layout=$LAYOUT
            --TapeGateway:Library:Drives=2 --TapeGateway:Library:StorageSlots=10 --TapeGateway:Library:ImportExportSlots=1
            --TapeGateway:Library:ChangerLun=0 --TapeGateway:Library:FirstDriveLun=1
            --TapeGateway:Library:AllowSmallTapes=true
            "--TapeGateway:Library:Tapes:0:Barcode=$(echo $BARCODES | tr ' ' ,)" --TapeGateway:Library:Tapes:0:CapacityMiB=4096)
else
  GW_ARGS+=(--TapeGateway:Library:Enabled=false)
fi
GW_PID=""
stop_gateway() {
  [ -n "$GW_PID" ] || return 0
  if kill -0 "$GW_PID" 2>/dev/null; then
    kill -TERM "$GW_PID" 2>/dev/null
    local i; for i in $(seq 1 100); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$GW_PID" 2>/dev/null && { echo "e2e: gateway $GW_PID ignored SIGTERM for 10 s; SIGKILL"; kill -KILL "$GW_PID" 2>/dev/null; }
  fi
  wait "$GW_PID" 2>/dev/null; GW_RC=$?
  GW_PID=""
}
trap 'stop_gateway' EXIT
trap 'stop_gateway; exit 130' INT TERM
echo "e2e: dotnet $DLL ${GW_ARGS[*]}"
(cd "$DATA" && exec dotnet "$DLL" "${GW_ARGS[@]}") < /dev/null > "$RUN/gateway.log" 2>&1 &
GW_PID=$!
up=0; for i in $(seq 1 600); do
  port_busy "$ISCSI_PORT" && { up=1; break; }
  kill -0 "$GW_PID" 2>/dev/null || break
  sleep 0.1
done
if [ $up = 1 ]; then ok "gateway (pid $GW_PID) listens on 127.0.0.1:$ISCSI_PORT"
else bad "gateway did not open 127.0.0.1:$ISCSI_PORT within 60 s"; tail -30 "$RUN/gateway.log"; LINES+=("gateway: FAILED to start"); final; exit 1; fi
iscsi-ls "iscsi://127.0.0.1:$ISCSI_PORT" > "$RUN/targets.txt" 2>&1
sed 's/^/        /' "$RUN/targets.txt"
if [ $NEED_LIBRARY = 1 ]; then
  if [ "$LAYOUT" = SingleTarget ]; then want=$VTL_IQN; else want=iqn.2026-11.org.tapegateway:mediachanger; fi
  grep -q "Target:$want " "$RUN/targets.txt" && ok "SendTargets offers the library target $want" || bad "SendTargets does not offer $want (library not configured?)"
fi

# ---- 4. the scenarios ------------------------------------------------------------------------------------------
LIB_ENV=(--env "E2E_BARCODES=$BARCODES")
if [ "$LAYOUT" = SingleTarget ]; then
  LIB_LUNS=(--lun $VTL_IQN/0 --lun $VTL_IQN/1 --lun $VTL_IQN/2); LIB_TARGETS=(--target $VTL_IQN)
else
  P=iqn.2026-11.org.tapegateway:
  LIB_LUNS=(--lun ${P}mediachanger/0 --lun ${P}tapedrive-01/0 --lun ${P}tapedrive-02/0)
  LIB_TARGETS=(--target ${P}mediachanger --target ${P}tapedrive-01 --target ${P}tapedrive-02)
fi
run_scenario() {   # run_scenario NAME vm.sh-args...
  local name=$1; shift
  local out=$RUN/$name t=$SECONDS rc res p f
  echo; echo "==== scenario $name"
  "$HERE/vm.sh" --portal "127.0.0.1:$ISCSI_PORT" --out "$out" "$@" > "$out.log" 2>&1; rc=$?
  # print the check lines; for a failed check also its commands and output
  awk '/^# /{buf=""} {buf=buf $0 "\n"} /^(ok|FAIL) /{ if ($1=="FAIL") printf "%s", buf; else print; buf="" }
       /^RESULT:|^vm.sh:|^E2E-BOOT/{print}' "$out.log" | sed 's/^/  /'
  res=$(grep -a -E '^RESULT: [0-9]+ passed, [0-9]+ failed' "$out.log" | tail -1)
  if [ -n "$res" ]; then
    p=$(echo "$res" | awk '{print $2}'); f=$(echo "$res" | awk '{print $4}')
  else
    p=0; f=1; echo "  (no RESULT line from the guest; vm.sh exit $rc; see $out.log, $out/console.log)"; tail -20 "$out.log" | sed 's/^/    /'
  fi
  [ "$rc" != 0 ] && [ "$f" = 0 ] && f=1
  PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
  LINES+=("$(printf '%-12s %3d passed, %d failed  (%d s; %s)' "$name" "$p" "$f" $((SECONDS - t)) "$out.log")")
  if kill -0 "$GW_PID" 2>/dev/null; then ok "gateway still running after $name"; else bad "gateway died during $name"; tail -30 "$RUN/gateway.log"; fi
}
for s in $SCENARIOS; do
  case "$s" in
    disk)        run_scenario disk --mode qemu --lun $DISK_IQN/0:block --env E2E_DISK_BYTES=1073741824 --timeout 300 "$HERE/guest/disk.sh" ;;
    disk-kernel) run_scenario disk-kernel --mode kernel --target $DISK_IQN --devs 1 --env E2E_DISK_BYTES=1073741824 --timeout 300 "$HERE/guest/disk.sh" ;;
    tape)        run_scenario tape --mode qemu "${LIB_LUNS[@]}" "${LIB_ENV[@]}" --timeout 600 "$HERE/guest/tape.sh" ;;
    tape-kernel) run_scenario tape-kernel --mode kernel "${LIB_TARGETS[@]}" --devs 3 "${LIB_ENV[@]}" --timeout 600 "$HERE/guest/tape.sh" ;;
    btape)       run_scenario btape --mode qemu "${LIB_LUNS[@]}" "${LIB_ENV[@]}" --timeout 900 "$HERE/guest/btape.sh" ;;
    *) bad "unknown scenario $s" ;;
  esac
done

# ---- 5. stop the gateway ----------------------------------------------------------------------------------------
echo; echo "==== gateway shutdown"
MARK=$(wc -l < "$RUN/gateway.log")
stop_gateway
[ "${GW_RC:-1}" = 0 ] && ok "gateway stopped on SIGTERM with exit status 0" || bad "gateway exit status ${GW_RC:-?} after SIGTERM"
if grep -qE '^(crit|fail): ' "$RUN/gateway.log"; then
  echo "  gateway log has errors:"; grep -E -A3 '^(crit|fail): ' "$RUN/gateway.log" | head -30 | sed 's/^/    /'
  bad "gateway logged fail:/crit: entries ($RUN/gateway.log)"
else ok "gateway logged no fail:/crit: entries"; fi
LINES+=("gateway      checks included above")
[ $KEEP = 1 ] || rm -rf "$DATA"
final
[ "$FAILED" = 0 ]
