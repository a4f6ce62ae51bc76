# /e2e/lib.sh - helpers for the e2e guest scenarios (tools/e2e/guest/*.sh source it).
#   check "what" 'commands'      one counted check: passes when the commands exit 0
#   check_fails "what" 'cmds'    one counted check: passes when the commands exit non-zero
#   show "what" 'commands'       runs and prints, never counts
#   finish                       prints "RESULT: N passed, N failed"; exit status 1 if anything failed
#   session_info                 kernel mode: shows the iSCSI sessions and their negotiated parameters
#   scsi_devices                 sets DISKS_SD/DISKS_SG, TAPES_NST/TAPES_ST/TAPES_SG, CHANGER_SG/CHANGER_CH, sorted
#                                by SCSI address H:C:T:L
# Every check prints its commands and their output (indented), then "ok" or "FAIL" with its time. Commands run in
# a subshell without pipefail: a pipeline's status is its last command's.
[ -f /e2e/run.env ] && . /e2e/run.env
E2E_PASSED=0; E2E_FAILED=0; E2E_FAILURES=()

_uptime() { cut -d' ' -f1 /proc/uptime; }
_check() {   # _check want(0|1) what cmds
  local want=$1 what=$2 cmds=$3 rc t0 t1 ok
  printf '\n# %s\n' "$what"
  printf '%s\n' "$cmds" | sed 's/^/  $ /'
  t0=$(_uptime)
  ( eval "$cmds" ) 2>&1 | sed 's/^/  > /'
  rc=${PIPESTATUS[0]}
  t1=$(_uptime)
  if [ "$want" = 0 ]; then [ "$rc" = 0 ] && ok=1 || ok=0; else [ "$rc" != 0 ] && ok=1 || ok=0; fi
  if [ $ok = 1 ]; then
    E2E_PASSED=$((E2E_PASSED + 1)); printf 'ok     %s  [rc=%s %ss]\n' "$what" "$rc" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')"
  else
    E2E_FAILED=$((E2E_FAILED + 1)); E2E_FAILURES+=("$what")
    printf 'FAIL   %s  [rc=%s %ss]\n' "$what" "$rc" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')"
  fi
}
check()       { _check 0 "$1" "$2"; }
check_fails() { _check 1 "$1" "$2"; }
show() {
  printf '\n# (show) %s\n' "$1"; printf '%s\n' "$2" | sed 's/^/  $ /'
  ( eval "$2" ) 2>&1 | sed 's/^/  > /'
}
finish() {
  local f
  printf '\n'
  for f in "${E2E_FAILURES[@]}"; do printf 'failed: %s\n' "$f"; done
  printf 'RESULT: %d passed, %d failed\n' "$E2E_PASSED" "$E2E_FAILED"
  [ "$E2E_FAILED" = 0 ]
}

session_info() {   # kernel mode: the negotiated iSCSI session parameters, for the log
  [ "${E2E_MODE:-}" = kernel ] || return 0
  show "iSCSI sessions (kernel initiator) and negotiated parameters" \
    'iscsiadm -m session; iscsiadm -m session -P 3 | grep -E "Target:|HeaderDigest|DataDigest|MaxRecvDataSegmentLength|MaxXmitDataSegmentLength|FirstBurstLength|MaxBurstLength|ImmediateData|InitialR2T|MaxOutstandingR2T"'
}

scsi_devices() {
  DISKS_SD=(); DISKS_SG=(); TAPES_NST=(); TAPES_ST=(); TAPES_SG=(); CHANGER_SG=""; CHANGER_CH=""
  local a d
  for a in $(for d in /sys/bus/scsi/devices/*:*:*:*; do [ -e "$d/type" ] && basename "$d"; done |
             sort -t: -k1,1n -k2,2n -k3,3n -k4,4n); do
    d=/sys/bus/scsi/devices/$a
    case "$(cat "$d/type")" in
      0) DISKS_SD+=("/dev/$(ls "$d/block")"); DISKS_SG+=("/dev/$(ls "$d/scsi_generic")") ;;
      1) TAPES_SG+=("/dev/$(ls "$d/scsi_generic")")
         TAPES_NST+=("/dev/$(ls "$d/scsi_tape" | grep -E '^nst[0-9]+$')")
         TAPES_ST+=("/dev/$(ls "$d/scsi_tape" | grep -E '^st[0-9]+$')") ;;
      8) [ -n "$CHANGER_SG" ] || CHANGER_SG=/dev/$(ls "$d/scsi_generic")
         [ -n "$CHANGER_CH" ] || CHANGER_CH=/dev/$(ls "$d/scsi_changer" 2>/dev/null | head -1) ;;
    esac
  done
  echo "devices: disks=(${DISKS_SD[*]}) (${DISKS_SG[*]}) tapes=(${TAPES_NST[*]}) (${TAPES_SG[*]}) changer=$CHANGER_SG $CHANGER_CH"
}

# Tape scenarios (tape.sh, archive.sh); $CH is the changer's sg device, set by the scenario.
slot_of() {   # slot_of BARCODE: the mtx element number of the (storage or I/E) slot holding it
  mtx -f $CH status | sed -nE "s/^ *Storage Element ([0-9]+)( IMPORT\/EXPORT)?:Full *:VolumeTag=$1 *\$/\1/p" | head -1
}
online() {   # online /dev/nstX: poll mt status (opening nst of a loading drive) until ONLINE; prints the status
  local i
  for i in $(seq 1 60); do
    mt -f "$1" status > /tmp/mt.st 2>&1 && grep -q ONLINE /tmp/mt.st && { cat /tmp/mt.st; return 0; }
    sleep 0.5
  done
  cat /tmp/mt.st; return 1
}
