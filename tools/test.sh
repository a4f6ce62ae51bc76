#!/usr/bin/env bash
# TapeGateway: the one test command.
#
#   bash tools/test.sh
#
# Stages:
#   0. prerequisites  apt packages from tools/apt-packages.txt (installed when root or with password-less sudo)
#   1. build          dotnet build TapeGateway.sln -c Release (once)
#   2. unit           dotnet test on the solution (--no-build)
#   3. initiator      starts the built gateway on free ports with a temp data dir and runs libiscsi's real
#                     initiator against it: discovery, LUN listing, CHAP (one-way and mutual, good and bad
#                     secrets), initiator allow-list, header digest, management API, and the iscsi-test-cu
#                     conformance suite compared against tools/conformance/iscsi-test-cu.expected-failures.
#
# The last line printed is always "N passed, N failed" (sum over all stages); the exit status is non-zero if
# anything failed. Knobs (environment variables), all optional:
#   TG_ARTIFACTS=/tmp/art     build/test with --artifacts-path (isolated from a concurrent build in the tree)
#   TG_LOG_DIR=/tmp/logs      where logs go (default: a new /tmp/tapegateway-test.XXXXXX, kept after the run)
#   TG_SKIP_UNIT=1            skip stage 2 (dotnet test)
#   TG_SKIP_CU=1              skip iscsi-test-cu (the rest of stage 3 still runs)
#   TG_CU_TESTS="SCSI.Inquiry iSCSI.*"   suites to run (FAMILY.Suite globs; default: every SCSI and iSCSI suite = ALL)
#   TG_CU_LUN_MIB=1024        size of the LUN iscsi-test-cu works on (default 1024, as shipped)
#   TG_CU_SUITE_TIMEOUT=180   seconds one suite may take before it is killed and counted as failed
#   TG_CU_BUDGET=1200         seconds for the whole conformance run; suites left when it is spent count as failed
#   TG_CU_ARGS="-S"           extra iscsi-test-cu arguments (e.g. -S to allow SANITIZE tests)

set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# A stray CHAP identity in the environment would make libiscsi authenticate when a check means not to.
unset LIBISCSI_CHAP_USERNAME LIBISCSI_CHAP_PASSWORD LIBISCSI_CHAP_TARGET_USERNAME LIBISCSI_CHAP_TARGET_PASSWORD

LOG_DIR="${TG_LOG_DIR:-}"
if [[ -z "$LOG_DIR" ]]; then
  LOG_DIR="$(mktemp -d /tmp/tapegateway-test.XXXXXX)"
else
  mkdir -p "$LOG_DIR"
fi
LOG_DIR="$(cd "$LOG_DIR" && pwd)"

PASSED=0
FAILED=0
STAGE_LINES=()   # one summary line per stage, printed again at the end
GW_PID=""
START_TIME=$SECONDS

# ----------------------------------------------------------------------------------------------------------------
# helpers

say()     { printf '%s\n' "$*"; }
section() { printf '\n==== %s ====\n' "$*"; }
ok()      { PASSED=$((PASSED + 1)); STAGE_PASS=$((STAGE_PASS + 1)); printf '  PASS  %s\n' "$*"; }
bad()     { FAILED=$((FAILED + 1)); STAGE_FAIL=$((STAGE_FAIL + 1)); printf '  FAIL  %s\n' "$*"; }
indent()  { sed 's/^/        /'; }

stage_begin() { STAGE_NAME="$1"; STAGE_PASS=0; STAGE_FAIL=0; STAGE_T0=$SECONDS; section "$1"; }
stage_end() {
  local extra="${1:-}"
  local line
  line="$(printf '%-22s %4d passed, %4d failed  (%ds)%s' "$STAGE_NAME:" "$STAGE_PASS" "$STAGE_FAIL" \
    $((SECONDS - STAGE_T0)) "${extra:+  $extra}")"
  STAGE_LINES+=("$line")
  say "-- $line"
}

finish() {
  section "summary"
  local l
  for l in "${STAGE_LINES[@]}"; do say "$l"; done
  say "logs: $LOG_DIR"
  say "total time: $((SECONDS - START_TIME))s"
  say "$PASSED passed, $FAILED failed"
  if ((FAILED > 0)); then exit 1; fi
  exit 0
}

GW_EXIT=""
GW_STOP_SECONDS=""
stop_gateway() {
  if [[ -n "$GW_PID" ]] && kill -0 "$GW_PID" 2>/dev/null; then
    local t0=$SECONDS
    kill -TERM "$GW_PID" 2>/dev/null
    for _ in $(seq 1 100); do
      kill -0 "$GW_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$GW_PID" 2>/dev/null; then
      say "  gateway (pid $GW_PID) did not stop on SIGTERM within 10s; killing it"
      kill -KILL "$GW_PID" 2>/dev/null
    fi
    wait "$GW_PID" 2>/dev/null
    GW_EXIT=$?
    GW_STOP_SECONDS=$((SECONDS - t0))
  fi
  GW_PID=""
}

trap 'stop_gateway' EXIT
trap 'stop_gateway; exit 130' INT TERM

# true when nothing accepts TCP connections on 127.0.0.1:$1
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pick_port VAR: stores a port that nothing listens on (and that this run has not handed out) in VAR
pick_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    [[ " ${USED_PORTS:-} " == *" $p "* ]] && continue
    if port_free "$p"; then
      USED_PORTS="${USED_PORTS:-} $p"
      printf -v "$1" '%s' "$p"
      return 0
    fi
  done
  return 1
}


# ----------------------------------------------------------------------------------------------------------------
# stage 0: prerequisites

stage_begin "prerequisites"

APT_PACKAGES=()
while read -r pkg _; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  APT_PACKAGES+=("$pkg")
done <"$ROOT/tools/apt-packages.txt"

MISSING=()
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in "${APT_PACKAGES[@]}"; do
    if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]]; then
      MISSING+=("$pkg")
    fi
  done
else
  for cmd in iscsi-test-cu iscsi-ls iscsi-inq curl; do
    command -v "$cmd" >/dev/null 2>&1 || MISSING+=("$cmd")
  done
fi

INITIATOR_OK=1
if ((${#MISSING[@]} > 0)); then
  say "missing packages: ${MISSING[*]}"
  SUDO=()
  CAN_INSTALL=1
  if [[ "$(id -u)" != 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      SUDO=(sudo -n)
    else
      CAN_INSTALL=0
    fi
  fi
  if ((CAN_INSTALL)) && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    if ! "${SUDO[@]}" apt-get install -y --no-install-recommends "${MISSING[@]}" >"$LOG_DIR/apt.log" 2>&1; then
      # a fresh machine may have no package lists yet
      "${SUDO[@]}" apt-get update >>"$LOG_DIR/apt.log" 2>&1
      "${SUDO[@]}" apt-get install -y --no-install-recommends "${MISSING[@]}" >>"$LOG_DIR/apt.log" 2>&1 ||
        { tail -n 20 "$LOG_DIR/apt.log" | indent; }
    fi
  else
    say "cannot install them here (not root, no password-less sudo). Run:"
    say "    sudo apt-get update && sudo apt-get install -y ${MISSING[*]}"
  fi
fi
if command -v iscsi-test-cu >/dev/null 2>&1 && command -v iscsi-ls >/dev/null 2>&1 &&
  command -v iscsi-inq >/dev/null 2>&1 && command -v curl >/dev/null 2>&1; then
  ok "initiator tools: $(dpkg-query -W -f='libiscsi-bin ${Version}' libiscsi-bin 2>/dev/null || echo present), curl"
else
  bad "initiator tools (iscsi-ls, iscsi-inq, iscsi-test-cu, curl) missing: sudo apt-get install -y ${APT_PACKAGES[*]}"
  INITIATOR_OK=0
fi

if command -v dotnet >/dev/null 2>&1 && dotnet --list-sdks 2>/dev/null | grep -q '^10\.'; then
  ok "dotnet SDK $(dotnet --version 2>/dev/null)"
else
  bad ".NET SDK 10 not found (see https://learn.microsoft.com/dotnet/core/install/linux-debian)"
  stage_end
  finish
fi
stage_end

# ----------------------------------------------------------------------------------------------------------------
# stage 1: build

stage_begin "build"
ART_ARGS=()
if [[ -n "${TG_ARTIFACTS:-}" ]]; then
  ART_ARGS=(--artifacts-path "$TG_ARTIFACTS")
  SERVER_DLL="$TG_ARTIFACTS/bin/TapeGateway.Server/release/TapeGateway.Server.dll"
else
  SERVER_DLL="$ROOT/src/TapeGateway.Server/bin/Release/net10.0/TapeGateway.Server.dll"
fi
say "dotnet build TapeGateway.sln -c Release ${ART_ARGS[*]}"
BUILD_OK=0
SERVER_BUILT=0
if dotnet build TapeGateway.sln -c Release "${ART_ARGS[@]}" -nologo -clp:NoSummary >"$LOG_DIR/build.log" 2>&1; then
  BUILD_OK=1
fi
# "TapeGateway.Server -> .../TapeGateway.Server.dll": the server project itself built in this run
if grep -qE 'TapeGateway\.Server -> .*TapeGateway\.Server\.dll' "$LOG_DIR/build.log" && [[ -f "$SERVER_DLL" ]]; then
  SERVER_BUILT=1
fi
if ((BUILD_OK && SERVER_BUILT)); then
  ok "build ($(grep -cE ' -> ' "$LOG_DIR/build.log") projects)"
  stage_end
else
  grep -E '(error|warning) [A-Z]+[0-9]+:' "$LOG_DIR/build.log" | sort -u | head -n 30 | indent
  ((BUILD_OK)) && say "  (build succeeded but $SERVER_DLL was not produced)"
  bad "build failed (full log: $LOG_DIR/build.log)"
  if ((SERVER_BUILT)); then
    say "  the server itself built: skipping dotnet test, going on with the initiator stages"
    TG_SKIP_UNIT=1
    stage_end
  else
    stage_end
    finish
  fi
fi

# Style gate: the code must stay `dotnet format` clean (the brief's strict-build rule).
stage_begin "format"
# --no-restore reuses the build's restore, which lives in obj/ only without TG_ARTIFACTS (else format restores itself).
FORMAT_RESTORE=(--no-restore); [[ -n "${TG_ARTIFACTS:-}" ]] && FORMAT_RESTORE=()
if dotnet format TapeGateway.sln --verify-no-changes "${FORMAT_RESTORE[@]}" >"$LOG_DIR/format.log" 2>&1; then
  ok "dotnet format --verify-no-changes"
else
  grep -oE '^[^(]+\([0-9]+,[0-9]+\): (error|warning) [A-Z]+' "$LOG_DIR/format.log" | sort -u | head -n 20 | indent
  bad "dotnet format found unformatted code (log: $LOG_DIR/format.log; fix with: dotnet format TapeGateway.sln)"
fi
stage_end


# ----------------------------------------------------------------------------------------------------------------
# stage 2: dotnet test

if [[ "${TG_SKIP_UNIT:-0}" != 1 ]]; then
  stage_begin "dotnet test"
  TRX_DIR="$LOG_DIR/trx"
  rm -rf "$TRX_DIR"
  say "dotnet test TapeGateway.sln -c Release --no-build ${ART_ARGS[*]}"
  dotnet test TapeGateway.sln -c Release --no-build "${ART_ARGS[@]}" -nologo \
    --logger trx --results-directory "$TRX_DIR" \
    --blame-hang-timeout 3m >"$LOG_DIR/dotnet-test.log" 2>&1
  TEST_RC=$?
  # VSTest prints one line per test assembly:
  #   Passed!  - Failed:     0, Passed:    42, Skipped:     0, Total:    42, Duration: 1 s - X.Tests.dll (net10.0)
  SUMMARY_LINES="$(grep -E '^(Passed|Failed)! +- Failed: ' "$LOG_DIR/dotnet-test.log")"
  U_PASS=0 U_FAIL=0 U_SKIP=0
  while IFS= read -r line; do
    [[ -z "$line" ]] && continue
    f=$(sed -E 's/.*Failed: +([0-9]+),.*/\1/' <<<"$line")
    p=$(sed -E 's/.*Passed: +([0-9]+),.*/\1/' <<<"$line")
    s=$(sed -E 's/.*Skipped: +([0-9]+),.*/\1/' <<<"$line")
    U_PASS=$((U_PASS + p)) U_FAIL=$((U_FAIL + f)) U_SKIP=$((U_SKIP + s))
    say "  $(sed -E 's/^(Passed|Failed)! +- //; s/, Duration:[^-]*- / - /' <<<"$line")"
  done <<<"$SUMMARY_LINES"
  # Each failed test with the first lines of its error message and stack, so a CI log alone says what broke.
  awk '/^ +Failed [^ ]/ { sub(/^ +Failed /, "  FAIL  "); print; n = 10; next }
       n > 0 && /^ +(Standard Output Messages|Failed |Passed |Skipped )/ { n = 0 }
       n > 0 { print "        " $0; n-- }' "$LOG_DIR/dotnet-test.log" | head -n 200
  PASSED=$((PASSED + U_PASS)) STAGE_PASS=$((STAGE_PASS + U_PASS))
  FAILED=$((FAILED + U_FAIL)) STAGE_FAIL=$((STAGE_FAIL + U_FAIL))
  if ((TEST_RC != 0 && U_FAIL == 0)); then
    grep -iE "error|is invalid|aborted|crash" "$LOG_DIR/dotnet-test.log" | sort -u | head -n 20 | indent
    bad "dotnet test exited with $TEST_RC without reporting a failed test (log: $LOG_DIR/dotnet-test.log)"
  fi
  if [[ -z "$SUMMARY_LINES" ]]; then
    say "  (no test assembly reported results)"
  fi
  stage_end "skipped: $U_SKIP; log: $LOG_DIR/dotnet-test.log, TRX: $TRX_DIR"
fi

# ----------------------------------------------------------------------------------------------------------------
# stage 2b: the object store contract against a real Ceph RADOS Gateway (docs/object-storage.md). Stage 2 already ran
# the in-memory and filesystem stores; here only the S3 class runs, so nothing is counted twice.
if [[ "${TG_SKIP_S3:-0}" != 1 && "${TG_SKIP_UNIT:-0}" != 1 ]]; then
  stage_begin "s3: ceph rgw"
  trap 'stop_gateway; bash tools/rgw/stop.sh >/dev/null 2>&1' EXIT
  if bash tools/rgw/start.sh >"$LOG_DIR/rgw-start.log" 2>&1; then
    ok "ceph rgw: $(tail -n 1 "$LOG_DIR/rgw-start.log")"
    # shellcheck disable=SC1091
    source "${TMPDIR:-/tmp}/tapegw-rgw/env.sh"
    # The S3 store contract and the Glacier emulation (Storage.Tests), then the server against RGW and a whole tape
    # life through iSCSI: write, export, archive to GLACIER, retrieve, read back (Integration.Tests, *Rgw*). Stage 2
    # reported these as skipped, so nothing is counted twice.
    s3_run() { # s3_run NAME PROJECT FILTER
      dotnet test "$2" -c Release --no-build "${ART_ARGS[@]}" -nologo --filter "$3" >"$LOG_DIR/$1.log" 2>&1 || true
      local line f p
      line="$(grep -E '^(Passed|Failed)! +- Failed: ' "$LOG_DIR/$1.log" || true)"
      if [[ -n "$line" ]]; then
        f=$(sed -E 's/.*Failed: +([0-9]+),.*/\1/' <<<"$line"); p=$(sed -E 's/.*Passed: +([0-9]+),.*/\1/' <<<"$line")
        PASSED=$((PASSED + p)); STAGE_PASS=$((STAGE_PASS + p)); FAILED=$((FAILED + f)); STAGE_FAIL=$((STAGE_FAIL + f))
        say "  $1: $p passed, $f failed"
        grep -E '^ +Failed [^ ]' "$LOG_DIR/$1.log" | sed -E 's/^ +Failed /  FAIL  /' || true
      else
        bad "$1 reported nothing (log: $LOG_DIR/$1.log)"
      fi
    }
    s3_run s3-test tests/TapeGateway.Storage.Tests "FullyQualifiedName~S3ObjectStoreContract|FullyQualifiedName~S3GlacierEmulationTests"
    s3_run s3-gateway-test tests/TapeGateway.Integration.Tests "FullyQualifiedName~RgwTests"
    unset TAPEGW_S3_ENDPOINT TAPEGW_S3_ACCESS_KEY TAPEGW_S3_SECRET_KEY
  else
    bad "ceph rgw did not start (log: $LOG_DIR/rgw-start.log)"
    tail -n 20 "$LOG_DIR/rgw-start.log" | indent
  fi
  cp -r "${TMPDIR:-/tmp}/tapegw-rgw/log" "$LOG_DIR/rgw-log" 2>/dev/null || true
  bash tools/rgw/stop.sh >/dev/null 2>&1 || true
  trap 'stop_gateway' EXIT
  stage_end "log: $LOG_DIR/s3-test.log"
fi


# ----------------------------------------------------------------------------------------------------------------
# stage 3: real initiator (libiscsi) against the running gateway

OPEN_IQN="iqn.2026-11.org.tapegateway:volume0"
CHAP_IQN="iqn.2026-11.org.tapegateway:chap"
MUTUAL_IQN="iqn.2026-11.org.tapegateway:mutual"
CHAP_USER="user1"
CHAP_SECRET="secretsecret12"
MUTUAL_USER="user2"
MUTUAL_SECRET="secretsecret34"
MUTUAL_TARGET_USER="target2"
MUTUAL_TARGET_SECRET="tgtsecret5678"
CHAP_INITIATOR="iqn.2026-11.org.tapegateway:test-chap-client"
MUTUAL_INITIATOR="iqn.2026-11.org.tapegateway:test-mutual-client"
CU_INITIATOR_1="iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test"
CU_INITIATOR_2="iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test-2"
CU_LUN_MIB="${TG_CU_LUN_MIB:-1024}"

if ((INITIATOR_OK == 0)); then
  finish
fi

stage_begin "initiator: gateway"
DATA_DIR="$LOG_DIR/data"
rm -rf "$DATA_DIR"
mkdir -p "$DATA_DIR"
ISCSI_PORT="" HTTP_PORT=""
pick_port ISCSI_PORT
pick_port HTTP_PORT
if [[ -z "$ISCSI_PORT" || -z "$HTTP_PORT" ]]; then
  bad "could not find free TCP ports on 127.0.0.1"
  stage_end
  finish
fi
PORTAL="127.0.0.1:$ISCSI_PORT"

# Target 0 is the default volume (restated in full so the run does not depend on appsettings.json), shrunk for
# the conformance suite. Target 1 needs one-way CHAP, target 2 mutual CHAP; each admits one initiator name, so
# that they are not in the SendTargets answer for other initiators (iscsi-ls -s would try to log in to them).
GW_ARGS=(
  "--Urls=http://127.0.0.1:$HTTP_PORT"
  "--TapeGateway:DataDirectory=$DATA_DIR"
  "--TapeGateway:Iscsi:Address=127.0.0.1"
  "--TapeGateway:Iscsi:Port=$ISCSI_PORT"
  "--TapeGateway:Iscsi:ShutdownLogoutWaitSeconds=0"
  "--TapeGateway:Targets:0:Name=$OPEN_IQN"
  "--TapeGateway:Targets:0:Luns:0:Lun=0"
  "--TapeGateway:Targets:0:Luns:0:Type=Disk"
  "--TapeGateway:Targets:0:Luns:0:File=volumes/volume0.img"
  "--TapeGateway:Targets:0:Luns:0:SizeMiB=$CU_LUN_MIB"
  "--TapeGateway:Targets:0:Luns:0:BlockSize=512"
  "--TapeGateway:Targets:1:Name=$CHAP_IQN"
  "--TapeGateway:Targets:1:Luns:0:Lun=0"
  "--TapeGateway:Targets:1:Luns:0:File=volumes/chap.img"
  "--TapeGateway:Targets:1:Luns:0:SizeMiB=64"
  "--TapeGateway:Targets:2:Name=$MUTUAL_IQN"
  "--TapeGateway:Targets:2:Luns:0:Lun=0"
  "--TapeGateway:Targets:2:Luns:0:File=volumes/mutual.img"
  "--TapeGateway:Targets:2:Luns:0:SizeMiB=64"
  "--TapeGateway:Iscsi:TargetSecurity:0:TargetName=$CHAP_IQN"
  "--TapeGateway:Iscsi:TargetSecurity:0:Chap:UserName=$CHAP_USER"
  "--TapeGateway:Iscsi:TargetSecurity:0:Chap:Secret=$CHAP_SECRET"
  "--TapeGateway:Iscsi:TargetSecurity:0:AllowedInitiators:0=$CHAP_INITIATOR"
  "--TapeGateway:Iscsi:TargetSecurity:1:TargetName=$MUTUAL_IQN"
  "--TapeGateway:Iscsi:TargetSecurity:1:Chap:UserName=$MUTUAL_USER"
  "--TapeGateway:Iscsi:TargetSecurity:1:Chap:Secret=$MUTUAL_SECRET"
  "--TapeGateway:Iscsi:TargetSecurity:1:Chap:MutualUserName=$MUTUAL_TARGET_USER"
  "--TapeGateway:Iscsi:TargetSecurity:1:Chap:MutualSecret=$MUTUAL_TARGET_SECRET"
  "--TapeGateway:Iscsi:TargetSecurity:1:AllowedInitiators:0=$MUTUAL_INITIATOR"
)
say "dotnet $SERVER_DLL --TapeGateway:Iscsi:Port=$ISCSI_PORT --Urls=http://127.0.0.1:$HTTP_PORT ... (log: $LOG_DIR/gateway.log)"
(cd "$DATA_DIR" && exec dotnet "$SERVER_DLL" "${GW_ARGS[@]}") </dev/null >"$LOG_DIR/gateway.log" 2>&1 &
GW_PID=$!

GW_UP=0
for _ in $(seq 1 300); do # 60 s
  if ! kill -0 "$GW_PID" 2>/dev/null; then break; fi
  # Both listeners: the iSCSI one is a hosted service that starts before Kestrel binds the management port.
  if port_open "$ISCSI_PORT" && port_open "$HTTP_PORT"; then GW_UP=1; break; fi
  sleep 0.2
done
if ((GW_UP)); then
  ok "gateway (pid $GW_PID) listening on $PORTAL and http://127.0.0.1:$HTTP_PORT after $((SECONDS - STAGE_T0))s"
else
  if kill -0 "$GW_PID" 2>/dev/null; then
    bad "gateway did not open $PORTAL and http://127.0.0.1:$HTTP_PORT within 60s"
  else
    wait "$GW_PID"
    bad "gateway exited with status $? before opening $PORTAL"
  fi
  tail -n 40 "$LOG_DIR/gateway.log" | indent
  stop_gateway
  stage_end
  finish
fi

# management API
if out="$(curl -fsS --max-time 10 "http://127.0.0.1:$HTTP_PORT/health" 2>&1)" && grep -q '"ok"' <<<"$out"; then
  ok "GET /health: $out"
else
  bad "GET /health: $out"
fi
if out="$(curl -fsS --max-time 10 "http://127.0.0.1:$HTTP_PORT/api/targets" 2>&1)" &&
  grep -qF "\"$OPEN_IQN\"" <<<"$out" && grep -qF "\"$CHAP_IQN\"" <<<"$out" && grep -qF "\"$MUTUAL_IQN\"" <<<"$out"; then
  ok "GET /api/targets lists the three configured targets"
else
  bad "GET /api/targets does not list $OPEN_IQN, $CHAP_IQN and $MUTUAL_IQN: ${out:0:400}"
fi
stage_end

# ---- login checks --------------------------------------------------------------------------------------------
stage_begin "initiator: login"
N_CHECK=0

# run_check EXPECT(ok|fail) "description" command...   (output in $LOG_DIR/checks/NN.log)
# Optional grep -E patterns after '--' must all occur in the output (for fail: the reason for the refusal).
run_check() {
  local expect="$1" desc="$2"
  shift 2
  local cmd=() pats=()
  while (($#)) && [[ "$1" != "--" ]]; do cmd+=("$1"); shift; done
  (($#)) && shift
  pats=("$@")
  N_CHECK=$((N_CHECK + 1))
  mkdir -p "$LOG_DIR/checks"
  local log
  log="$LOG_DIR/checks/$(printf '%02d' "$N_CHECK").log"
  printf '$ %s\n' "${cmd[*]}" >"$log"
  timeout 60 "${cmd[@]}" >>"$log" 2>&1
  local rc=$?
  printf '[exit %d]\n' "$rc" >>"$log"
  local missing=""
  if [[ "$expect" == ok ]]; then
    local p
    for p in "${pats[@]}"; do
      grep -qE -- "$p" "$log" || missing+=" '$p'"
    done
    if ((rc == 0)) && [[ -z "$missing" ]]; then
      ok "$desc"
    else
      bad "$desc (exit $rc${missing:+, output lacks$missing})"
      sed -n '2,30p' "$log" | indent
    fi
  else
    if ((rc == 124)); then
      bad "$desc (timed out after 60s instead of failing)"
    elif ((rc != 0)); then
      local p
      for p in "${pats[@]}"; do
        grep -qE -- "$p" "$log" || missing+=" '$p'"
      done
      if [[ -z "$missing" ]]; then
        ok "$desc (refused, exit $rc)"
      else
        bad "$desc (refused, but for another reason: output lacks$missing)"
        sed -n '2,30p' "$log" | indent
      fi
    else
      bad "$desc (SUCCEEDED but must fail)"
      sed -n '2,30p' "$log" | indent
    fi
  fi
}

Q_OPEN="${OPEN_IQN//./\\.}"
Q_CHAP="${CHAP_IQN//./\\.}"
LUN0_RE='Lun:0 +Type:DIRECT_ACCESS'

run_check ok "(a) iscsi-ls (discovery) lists $OPEN_IQN" \
  iscsi-ls "iscsi://$PORTAL" -- "^Target:$Q_OPEN Portal:"
run_check ok "(a) iscsi-ls -s without CHAP lists $OPEN_IQN and its LUN 0" \
  iscsi-ls -s "iscsi://$PORTAL" -- "^Target:$Q_OPEN Portal:" "^$LUN0_RE"
run_check ok "(a) discovery hides $CHAP_IQN from initiators not on its allow-list" \
  bash -c "out=\$(iscsi-ls iscsi://$PORTAL) && printf '%s\n' \"\$out\" && ! grep -qF '$CHAP_IQN' <<<\"\$out\""
run_check ok "(a) iscsi-inq on $OPEN_IQN/0 with header digest CRC32C" \
  iscsi-inq "iscsi://$PORTAL/$OPEN_IQN/0?header_digest=crc32c"
run_check ok "(b) iscsi-ls -s with CHAP $CHAP_USER lists $CHAP_IQN and its LUN 0" \
  iscsi-ls -s -i "$CHAP_INITIATOR" "iscsi://$CHAP_USER%$CHAP_SECRET@$PORTAL" \
  -- "^Target:$Q_CHAP Portal:" "^Target:$Q_OPEN Portal:" "^$LUN0_RE"
run_check ok "(b) iscsi-inq on $CHAP_IQN/0 with the right CHAP secret" \
  iscsi-inq -i "$CHAP_INITIATOR" "iscsi://$CHAP_USER%$CHAP_SECRET@$PORTAL/$CHAP_IQN/0"
run_check ok "(b) iscsi-inq on the open $OPEN_IQN/0 offering CHAP credentials (target must pick AuthMethod=None)" \
  iscsi-inq "iscsi://$CHAP_USER%$CHAP_SECRET@$PORTAL/$OPEN_IQN/0"
run_check fail "(c) iscsi-ls -s with a wrong CHAP secret must fail" \
  iscsi-ls -s -i "$CHAP_INITIATOR" "iscsi://$CHAP_USER%wrongsecret1234@$PORTAL" \
  -- "list_luns: .*Authentication failure"
run_check fail "(c) iscsi-inq on $CHAP_IQN/0 with a wrong CHAP secret must fail" \
  iscsi-inq -i "$CHAP_INITIATOR" "iscsi://$CHAP_USER%wrongsecret1234@$PORTAL/$CHAP_IQN/0" \
  -- "Authentication failure"
run_check fail "(c) iscsi-inq on $CHAP_IQN/0 with a wrong CHAP user must fail" \
  iscsi-inq -i "$CHAP_INITIATOR" "iscsi://nosuchuser%$CHAP_SECRET@$PORTAL/$CHAP_IQN/0" \
  -- "Authentication failure"
run_check fail "(c) iscsi-ls -s without a secret must fail (CHAP target not reachable)" \
  iscsi-ls -s -i "$CHAP_INITIATOR" "iscsi://$PORTAL" \
  -- "list_luns: .*Authentication failure"
run_check fail "(c) iscsi-inq on $CHAP_IQN/0 without a secret must fail" \
  iscsi-inq -i "$CHAP_INITIATOR" "iscsi://$PORTAL/$CHAP_IQN/0" \
  -- "Authentication failure"
run_check fail "(c) iscsi-inq on $CHAP_IQN/0 with the right secret but an initiator not on the allow-list must fail" \
  iscsi-inq "iscsi://$CHAP_USER%$CHAP_SECRET@$PORTAL/$CHAP_IQN/0" \
  -- "Authorization failure"
run_check ok "(e) mutual CHAP on $MUTUAL_IQN/0 with the right secrets" \
  iscsi-inq -i "$MUTUAL_INITIATOR" \
  "iscsi://$MUTUAL_USER%$MUTUAL_SECRET@$PORTAL/$MUTUAL_IQN/0?target_user=$MUTUAL_TARGET_USER&target_password=$MUTUAL_TARGET_SECRET"
run_check fail "(e) mutual CHAP: the initiator must reject a target that does not know the expected target secret" \
  iscsi-inq -i "$MUTUAL_INITIATOR" \
  "iscsi://$MUTUAL_USER%$MUTUAL_SECRET@$PORTAL/$MUTUAL_IQN/0?target_user=$MUTUAL_TARGET_USER&target_password=notthesecret99" \
  -- "Invalid CHAP_R"
run_check fail "(e) mutual CHAP target with a wrong initiator secret must fail" \
  iscsi-inq -i "$MUTUAL_INITIATOR" \
  "iscsi://$MUTUAL_USER%wrongsecret1234@$PORTAL/$MUTUAL_IQN/0?target_user=$MUTUAL_TARGET_USER&target_password=$MUTUAL_TARGET_SECRET" \
  -- "Authentication failure"
if kill -0 "$GW_PID" 2>/dev/null; then
  ok "gateway still running after the login checks"
else
  bad "gateway died during the login checks"
  tail -n 40 "$LOG_DIR/gateway.log" | indent
fi
stage_end "logs: $LOG_DIR/checks/"

# ---- iscsi-test-cu -------------------------------------------------------------------------------------------
if [[ "${TG_SKIP_CU:-0}" != 1 ]] && kill -0 "$GW_PID" 2>/dev/null; then
  stage_begin "initiator: iscsi-test-cu"
  source "$ROOT/tools/conformance/run-iscsi-test-cu.sh"
  run_iscsi_test_cu "iscsi://$PORTAL/$OPEN_IQN/0"
  stage_end "$CU_STAGE_NOTE"
fi

stage_begin "initiator: shutdown"
if kill -0 "$GW_PID" 2>/dev/null; then
  STOP_MARK=$(wc -l <"$LOG_DIR/gateway.log")
  stop_gateway
  if [[ "$GW_EXIT" == 0 ]]; then
    ok "gateway stopped on SIGTERM with exit status 0 in ${GW_STOP_SECONDS}s"
  else
    bad "gateway stopped on SIGTERM with exit status $GW_EXIT in ${GW_STOP_SECONDS}s (expected 0)"
  fi
  if tail -n "+$((STOP_MARK + 1))" "$LOG_DIR/gateway.log" | grep -qE '^(crit|fail): '; then
    bad "gateway logged errors while shutting down:"
    tail -n "+$((STOP_MARK + 1))" "$LOG_DIR/gateway.log" | grep -E -A3 '^(crit|fail): ' | head -n 20 | indent
  else
    ok "gateway logged no errors while shutting down"
  fi
else
  bad "gateway was no longer running at the end"
  tail -n 40 "$LOG_DIR/gateway.log" | indent
fi
say "  gateway log: $(grep -cE '^fail: ' "$LOG_DIR/gateway.log") 'fail:' and $(grep -cE '^crit: ' "$LOG_DIR/gateway.log") 'crit:' entries in all ($LOG_DIR/gateway.log)"
stage_end

# keep the logs, drop the (sparse but large) volume files
rm -rf "$DATA_DIR/volumes"


# stage 4: real Linux initiators (sd, st, ch, mtx, tar, btape) in a QEMU guest — docs/e2e.md
stage_begin "e2e: linux vm"
if [[ -n "${TG_SKIP_E2E:-}" ]]; then
  say "  skipped (TG_SKIP_E2E)"
else
  bash tools/e2e/run.sh --dll "$SERVER_DLL" >"$LOG_DIR/e2e.log" 2>&1 || true
  grep -E '^  (FAIL|XFAIL|XPASS) ' "$LOG_DIR/e2e.log" | indent || true
  sed -n '/^==== e2e summary/,$p' "$LOG_DIR/e2e.log" | indent || true
  E2E_LAST=$(tail -n 1 "$LOG_DIR/e2e.log")
  if [[ "$E2E_LAST" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    PASSED=$((PASSED + BASH_REMATCH[1])); STAGE_PASS=$((STAGE_PASS + BASH_REMATCH[1]))
    FAILED=$((FAILED + BASH_REMATCH[2])); STAGE_FAIL=$((STAGE_FAIL + BASH_REMATCH[2]))
  else
    bad "tools/e2e/run.sh printed no 'N passed, N failed' line (log: $LOG_DIR/e2e.log)"
  fi
fi
stage_end

finish
