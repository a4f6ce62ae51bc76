#!/usr/bin/env bash
# tools/e2e/vm.sh - boot one throw-away guest whose SCSI devices are iSCSI LUNs of a target on this machine, run
# one guest scenario script in it, and print the script's output. Exit status = the script's (125: the guest
# never reported one: boot failure, crash, timeout).
#
#   vm.sh [options] SCENARIO.sh [FILE...]        FILEs are copied into the guest's /e2e/files/
#     --portal 127.0.0.1:PORT    the target (loopback only)
#     --mode qemu|kernel         qemu (default): QEMU's libiscsi logs in, one session per LUN, and passes each LUN
#                                  to the guest's virtio-scsi HBA (scsi-block for disks, scsi-generic otherwise);
#                                kernel: the guest kernel's iscsi_tcp + iscsid/iscsiadm log in over QEMU user
#                                  networking (guest 10.0.2.15 -> 10.0.2.2 = this host's loopback), one session
#                                  per target IQN with all its LUNs
#     --lun IQN/LUN[:block|generic|hd]   (qemu mode, repeatable) a LUN to attach; guest address 0:0:T:LUN with
#                                  T = the IQN's index in order of first appearance
#     --target IQN               (kernel mode, repeatable) a target to log in to
#     --devs N                   SCSI devices the guest waits for (qemu mode: default = number of --lun)
#     --env K=V                  (repeatable) exported to the scenario script
#     --timeout S                scenario time limit (default 600)
#     --out DIR                  run directory: console.log, guest.log, qemu.cmdline, qemu.log (default: new temp dir)
#     --image base|bacula        the guest image (build-guest.sh; bacula: the base image plus bacula-dir/-fd/-sd,
#                                  bconsole and an empty SQLite catalog; default base)
# Environment: E2E_BUILD (cache folder), E2E_ACCEL=auto|kvm|tcg, E2E_MEM (MiB, default 1024), E2E_SMP (default 1).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export E2E_BUILD=${E2E_BUILD:-${TMPDIR:-/tmp}/tapegw-e2e}
PORTAL=""; MODE=qemu; LUNS=(); TARGETS=(); DEVS=""; ENVS=(); TMO=600; OUT=""; IMAGE=base
while [ $# -gt 0 ]; do
  case "$1" in
    --portal) PORTAL=$2; shift 2 ;; --mode) MODE=$2; shift 2 ;;
    --lun) LUNS+=("$2"); shift 2 ;; --target) TARGETS+=("$2"); shift 2 ;;
    --devs) DEVS=$2; shift 2 ;; --env) ENVS+=("$2"); shift 2 ;;
    --timeout) TMO=$2; shift 2 ;; --out) OUT=$2; shift 2 ;;
    --image) IMAGE=$2; shift 2 ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    --*) echo "vm.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { sed -n '2,26p' "$0" >&2; exit 2; }
SCENARIO=$1; shift
[ -f "$SCENARIO" ] || { echo "vm.sh: no scenario $SCENARIO" >&2; exit 2; }
case "${PORTAL%:*}" in 127.*|localhost) ;; *) echo "vm.sh: --portal must be 127.x.x.x:PORT (got '$PORTAL')" >&2; exit 2 ;; esac
PORT=${PORTAL##*:}; PORTAL=127.0.0.1:$PORT
case "$MODE" in qemu|kernel) ;; *) echo "vm.sh: --mode qemu|kernel" >&2; exit 2 ;; esac

case "$IMAGE" in base) GUEST=$("$HERE/build-guest.sh") || exit 125 ;;
  bacula) GUEST=$("$HERE/build-guest.sh" --bacula) || exit 125 ;;
  amanda) GUEST=$("$HERE/build-guest.sh" --amanda) || exit 125 ;; *) echo "vm.sh: --image base|bacula|amanda" >&2; exit 2 ;; esac
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/tapegw-e2e-run.XXXXXX")}
mkdir -p "$OUT"

# ---- accelerator: KVM when it really works (probe boot, cached per host kernel), else TCG
accel() {
  local cache=$E2E_BUILD/accel.$(uname -r) a=tcg
  if [ -f "$cache" ]; then cat "$cache"; return; fi
  if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    local f; f=$(mktemp)
    timeout 20 qemu-system-x86_64 -accel kvm -cpu host -m 256 -nodefaults -no-reboot -display none -nic none \
      -kernel "$GUEST/vmlinuz" -initrd "$GUEST/initramfs.gz" -append "console=ttyS0 panic=-1 e2e.probe=1" \
      -serial null -serial "file:$f" >/dev/null 2>&1
    grep -q E2E-PROBE-OK "$f" && a=kvm
    rm -f "$f"
  fi
  echo "$a" > "$cache"; echo "$a"
}
ACCEL=${E2E_ACCEL:-auto}; [ "$ACCEL" = auto ] && ACCEL=$(accel)
case "$ACCEL" in kvm) ACCEL_ARGS=(-accel kvm -cpu host) ;; *) ACCEL=tcg; ACCEL_ARGS=(-accel tcg -cpu max) ;; esac

# ---- per-run overlay: the scenario, its library, its environment, extra files
OV=$OUT/overlay; rm -rf "$OV"; mkdir -p "$OV/e2e/files"
cp "$SCENARIO" "$OV/e2e/scenario.sh"; cp "$HERE/guest/lib.sh" "$OV/e2e/lib.sh"
for f in "$@"; do cp -r "$f" "$OV/e2e/files/"; done
{
  printf 'export E2E_MODE=%q E2E_ACCEL=%q\n' "$MODE" "$ACCEL"
  printf 'export E2E_GUEST_PORTAL=%q\n' "$([ "$MODE" = kernel ] && echo "10.0.2.2:$PORT" || echo "$PORTAL")"
  printf 'export E2E_TARGETS=%q\n' "${TARGETS[*]:-}"
  for kv in "${ENVS[@]}"; do printf 'export %s=%q\n' "${kv%%=*}" "${kv#*=}"; done
} > "$OV/e2e/run.env"
( cd "$OV" && find . -print0 | cpio --null -o -H newc --quiet -R 0:0 ) | gzip -1 > "$OUT/overlay.gz"
cat "$GUEST/initramfs.gz" "$OUT/overlay.gz" > "$OUT/initrd.gz"

# ---- devices
DEV_ARGS=(); NET_ARGS=(-nic none)
if [ "$MODE" = qemu ]; then
  DEV_ARGS=(-device virtio-scsi-pci,id=hba)
  declare -A TID=(); ntid=0; i=0
  for spec in "${LUNS[@]}"; do
    kind=generic; case "$spec" in *:block|*:generic|*:hd) kind=${spec##*:}; spec=${spec%:*} ;; esac
    iqn=${spec%/*}; lun=${spec##*/}
    [[ "$lun" =~ ^[0-9]+$ ]] || { echo "vm.sh: bad --lun $spec" >&2; exit 2; }
    [ -n "${TID[$iqn]+x}" ] || { TID[$iqn]=$ntid; ntid=$((ntid + 1)); }
    case "$kind" in block) dev=scsi-block ;; hd) dev=scsi-hd ;; *) dev=scsi-generic ;; esac
    DEV_ARGS+=(-drive "file=iscsi://$PORTAL/$iqn/$lun,if=none,id=d$i,format=raw"
               -device "$dev,drive=d$i,bus=hba.0,channel=0,scsi-id=${TID[$iqn]},lun=$lun")
    i=$((i + 1))
  done
  DEVS=${DEVS:-$i}
else
  NET_ARGS=(-netdev user,id=n0,net=10.0.2.0/24,host=10.0.2.2 -device virtio-net-pci,netdev=n0)
  DEVS=${DEVS:-1}
fi

MEM=${E2E_MEM:-1024}; SMP=${E2E_SMP:-1}
QEMU=(qemu-system-x86_64 "${ACCEL_ARGS[@]}" -machine pc -smp "$SMP" -m "$MEM" -nodefaults -no-reboot -display none
      "${NET_ARGS[@]}" -kernel "$GUEST/vmlinuz" -initrd "$OUT/initrd.gz"
      -append "console=ttyS0 panic=-1 loglevel=6 e2e.mode=$MODE e2e.devs=$DEVS e2e.timeout=$TMO"
      -serial "file:$OUT/console.log" -serial "file:$OUT/guest.raw"
      -iscsi "initiator-name=iqn.2026-11.org.tapegateway:e2e-guest-qemu" "${DEV_ARGS[@]}")
printf '%q ' "${QEMU[@]}" > "$OUT/qemu.cmdline"; echo >> "$OUT/qemu.cmdline"

t0=$(date +%s.%N)
timeout --kill-after=10 $((TMO + 120)) "${QEMU[@]}" > "$OUT/qemu.log" 2>&1
qrc=$?
rm -f "$OUT/initrd.gz"            # 17 MB; overlay.gz + the cached image rebuild it
t1=$(date +%s.%N)
tr -d '\r' < "$OUT/guest.raw" > "$OUT/guest.log" 2>/dev/null || : > "$OUT/guest.log"
grep -a -v '^E2E-EXIT=' "$OUT/guest.log"
RC=$(grep -a -o '^E2E-EXIT=[0-9]*' "$OUT/guest.log" | tail -1 | cut -d= -f2)
BOOT=$(grep -a -o '^E2E-BOOT uptime=[0-9.]*' "$OUT/guest.log" | head -1 | cut -d= -f2)
if [ -z "$RC" ]; then
  echo "vm.sh: the guest reported no exit status (qemu exit $qrc); qemu.log and the end of console.log:"
  tail -5 "$OUT/qemu.log"; tail -40 "$OUT/console.log"
  RC=125
fi
echo "vm.sh: $(basename "$SCENARIO") mode=$MODE accel=$ACCEL devs=$DEVS boot=${BOOT:-?}s wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')s exit=$RC run-dir=$OUT"
exit "$RC"
