#!/usr/bin/env bash
# tape-vs-tgt.sh — streaming tape benchmark: TapeGateway's SSC drives vs tgt's (Linux SCSI target framework) VTL,
# plus this machine's `dd conv=fdatasync` write rate, all in the same run, on the same file system, alternating.
# Reports medians and ratios ours/tgt and ours/dd.
#
# The load generator is the shared tapeperf (/work/shared/tools/tapeperf/tapeperf.c, built unchanged): it rewinds,
# writes MIB MiB in variable-length WRITE(6) records (DEPTH in flight), writes one filemark (IMMED=0), rewinds, reads
# everything back with READ(6) (one command at a time) and verifies every byte. Its data is xorshift output:
# incompressible. "N drives" = N tapeperf processes started together, one per drive (one iSCSI session each); the
# aggregate rate is the sum of the per-drive rates.
#
# Usage:  tools/bench/tape-vs-tgt.sh                          (builds TapeGateway Release, runs everything)
#         MIB=128 REPS=1 tools/bench/tape-vs-tgt.sh            (quick smoke run)
#         TARGETS="tg tgz" DRIVES_LIST=1 tools/bench/tape-vs-tgt.sh   (ours uncompressed vs ours as shipped)
#
# Environment knobs (defaults in brackets):
#   MIB [1024]          MiB written and read back per drive per run
#   REPS [3]            runs per target per configuration; targets alternate within each configuration
#   SIZES               record sizes in bytes                                   ["262144 1048576"]
#   DRIVES_LIST         drive counts (parallel tapeperf processes)              ["1 4"]
#   DEPTH [4]           WRITE(6) commands in flight per drive (tapeperf -q)
#   TARGETS             subset/order of: tgt  tg (TapeGateway, DCE=0 set by MODE SELECT after load)
#                       tgz (TapeGateway as shipped: DCE=1, zstd level 1)  dd (dd conv=fdatasync, write only)
#                       tgb (a second TapeGateway server, DCE=0, from TGB_DLL with TGB_ENV: e.g. the build
#                       before a change, to measure before/after in one alternating run)     ["tgt tg dd"]
#   WORKDIR             scratch dir for both libraries and the dd file (same fs) [mktemp -d /var/tmp/tg-tape.XXXXXX]
#   RESULTS_DIR         raw.csv / results.md / logs                              [$WORKDIR/results]
#   KEEP [0]            keep the tape images afterwards
#   BUILD [1]           dotnet build the server (Release) into ARTIFACTS first
#   ARTIFACTS           [/tmp/art-tbench]   TG_DLL [$ARTIFACTS/bin/TapeGateway.Server/release/TapeGateway.Server.dll]
#   TG_PORT [3273] TG_HTTP [8273] TG_LOGLEVEL [Warning] TG_EXTRA (extra server args)  TG_ENV (extra environment,
#                       e.g. "DOTNET_gcServer=0")   TGB_DLL  TGB_ENV  TGB_EXTRA (target tgb; ports TG_PORT+1,
#                       TG_HTTP+1; e.g. TGB_EXTRA=--TapeGateway:TapeCache:Enabled=false: local images, no object store)
#   TGB_DCE             DCE for tgb's drives (default: as tg: 0, or 1 with DATA=text); TGB_DCE=1 with TARGETS="tgz tgb"
#                       compares two builds as shipped (compressing) on tapeperf's incompressible data
#   TGB_CRYPT [0]       1: tgb's drives encrypt (SECURITY PROTOCOL OUT, AES-256-GCM, ENCRYPT + MIXED, set once after
#                       start with tape-ctl crypt; the drives keep it across loads): with TGB_DLL=$TG_DLL the
#                       alternating run measures what hardware encryption costs against tg
#   WARMUP_MIB [512]    untimed warm-up per drive per record size on every tape target: the .NET JIT keeps tiering up
#                       the server for minutes (its compiler thread took 2.5 s of the first 12 256-MiB runs' 12.6 s)
#   DRAIN [1]           after each TapeGateway run, wait until its tier has uploaded everything (upload buffer 0
#                       in GET /api/cache; DRAIN_TIMEOUT [300] s) before the next run, so no target's run shares the
#                       CPU with another's uploads; records the drain time and the server CPU including it. The
#                       servers then run with TapeCache:PublishIntervalSeconds=2 (default 30), so the last, partial
#                       segment of a tape that stays mounted goes 2 s after the run instead of 30 s
#   NOVERIFY [0]        1: after each tape target's run (and its drain), read the same data again with tape-ctl
#                       (REWIND, then the same READ(6)s one at a time, no verification: one per drive in parallel) and
#                       record it as read_noverify_MBps; the report then also compares reads without the client's
#                       per-record work (tapeperf regenerates and compares every record), which every target shares
#   TGT_PORT [3293] (also its control port)   TGT_PARAMS  iSCSI keys set on tgt's target before login, e.g.
#                       "MaxRecvDataSegmentLength=262144 MaxBurstLength=1048576 FirstBurstLength=262144 InitialR2T=No"
#   CLIENT_ENV          environment for the load generators (tapeperf, tape-ctl read), the same for every target, e.g.
#                       CLIENT_ENV=GLIBC_TUNABLES=glibc.malloc.trim_threshold=268435456:glibc.malloc.mmap_threshold=268435456
#                       (libiscsi's synchronous API mallocs every Data-In segment and the whole read buffer per command;
#                       with glibc's default thresholds the heap is trimmed after each record and the next one
#                       page-faults it in again: docs/benchmarks.md "The client's allocator")
#   DATA [random]       random: tapeperf as above. text: the load generator is `tape-ctl stream` instead (compressible
#                       backup-like text, ~3:1 with zstd; writes and reads one command at a time, every record verified;
#                       DEPTH ignored) and every TapeGateway target compresses (DCE=1): a restore of data the drive
#                       compressed, which tgt (no compression) stores as is
#   TAPEPERF_SRC        [/work/shared/tools/tapeperf/tapeperf.c]   TGT_VTL [/work/shared/harness/vm/tgt-vtl.sh]
#
# Both libraries: drives at LUN 1..D, changer at LUN D+1 of one target, tapes HRN001L4.. in the first slots;
# tape i is loaded into drive i once at start (tgt: slot 4096+i-1 -> drive 256+i-1; ours: slot i -> drive 10000+i)
# and every run rewrites it from BOP. Requires: tgt (tgtd, tgtadm, tgtimg), libiscsi-dev + gcc, dotnet SDK.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

MIB=${MIB:-1024}
REPS=${REPS:-3}
SIZES=${SIZES:-"262144 1048576"}
DRIVES_LIST=${DRIVES_LIST:-"1 4"}
DEPTH=${DEPTH:-4}
DRAIN=${DRAIN:-1}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-300}
TARGETS=${TARGETS:-"tgt tg dd"}
KEEP=${KEEP:-0}
NOVERIFY=${NOVERIFY:-0}
DATA=${DATA:-random}
CLIENT_ENV=${CLIENT_ENV:-}
[[ $DATA == random || $DATA == text ]] || { echo "DATA must be random or text" >&2; exit 2; }
BUILD=${BUILD:-1}
ARTIFACTS=${ARTIFACTS:-/tmp/art-tbench}
TG_DLL=${TG_DLL:-$ARTIFACTS/bin/TapeGateway.Server/release/TapeGateway.Server.dll}
TG_PORT=${TG_PORT:-3273}
TG_HTTP=${TG_HTTP:-8273}
TG_LOGLEVEL=${TG_LOGLEVEL:-Warning}
TG_EXTRA=${TG_EXTRA:-}
TG_ENV=${TG_ENV:-}
TGB_DLL=${TGB_DLL:-}
TGB_ENV=${TGB_ENV:-}
TGB_EXTRA=${TGB_EXTRA:-}
TGB_CRYPT=${TGB_CRYPT:-0}
WARMUP_MIB=${WARMUP_MIB:-512}
TGT_PORT=${TGT_PORT:-3293}
TGT_PARAMS=${TGT_PARAMS:-}
TAPEPERF_SRC=${TAPEPERF_SRC:-/work/shared/tools/tapeperf/tapeperf.c}
TGT_VTL=${TGT_VTL:-/work/shared/harness/vm/tgt-vtl.sh}

NDRIVES=4
for n in $DRIVES_LIST; do ((n > NDRIVES)) && NDRIVES=$n; done
NTAPES=$((NDRIVES > 8 ? NDRIVES : 8))
TG_IQN=iqn.2026-11.org.tapegateway:vtl
TGT_IQN=iqn.2026-11.org.tapegateway.bench:tgtvtl
CHANGER_LUN=$((NDRIVES + 1))

WORKDIR=${WORKDIR:-$(mktemp -d /var/tmp/tg-tape.XXXXXX)}
mkdir -p "$WORKDIR"
RESULTS_DIR=${RESULTS_DIR:-$WORKDIR/results}
mkdir -p "$RESULTS_DIR" "$RESULTS_DIR/runs"
TAPEPERF=$WORKDIR/tapeperf
TAPECTL=$WORKDIR/tape-ctl
TG_DATA=$WORKDIR/tg
TGB_DATA=$WORKDIR/tgb
TGB_PORT=$((TG_PORT + 1))
TGB_HTTP=$((TG_HTTP + 1))
TGT_STATE=$WORKDIR/tgt
DD_FILE=$WORKDIR/dd.img
TG_BASE=iscsi://127.0.0.1:$TG_PORT/$TG_IQN
TGB_BASE=iscsi://127.0.0.1:$TGB_PORT/$TG_IQN
TGT_BASE=iscsi://127.0.0.1:$TGT_PORT/$TGT_IQN
RAW=$RESULTS_DIR/raw.csv
MD=$RESULTS_DIR/results.md

TG_PID=
TGB_PID=
TGT_STARTED=0

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

tgt_env() { env PORT="$TGT_PORT" CTL="$TGT_PORT" STATE_DIR="$TGT_STATE" BUILD="$WORKDIR" NUM_DRIVES="$NDRIVES" \
	NUM_SLOTS=$((NTAPES + 2)) NUM_TAPES="$NTAPES" NUM_MAILSLOTS=1 TAPE_SIZE_MB=$((MIB * 2 > 4096 ? MIB * 2 : 4096)) \
	DISK_MB=0 IQN_VTL="$TGT_IQN" "$@"; }
tgt_pid() { cat "$TGT_STATE/tgtd.pid" 2>/dev/null || true; }

stop_pid() { # pid
	local pid=$1
	[[ -n "$pid" ]] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true     # SIGTERM: sessions drain, loaded tapes are sealed
		for _ in $(seq 75); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

stop_tg() {
	stop_pid "$TG_PID"
	TG_PID=
	stop_pid "$TGB_PID"
	TGB_PID=
}

stop_tgt() {
	[[ "$TGT_STARTED" == 1 ]] || return 0
	# tgt-vtl.sh stops only the tgtd it started (PID file + control port check): tgtadm shutdown, then the PID.
	tgt_env "$TGT_VTL" stop >&2 || true
	TGT_STARTED=0
}

cleanup() {
	local rc=$?
	stop_tg
	stop_tgt
	rm -f "$DD_FILE"
	if [[ "$KEEP" != 1 ]]; then rm -rf "$TG_DATA" "$TGB_DATA" "$TGT_STATE/media"; fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

has_target() { [[ " $TARGETS " == *" $1 "* ]]; }
has_tg() { has_target tg || has_target tgz; }

# ---------------------------------------------------------------------------------------------------------------
# tooling
gcc -O2 -o "$TAPEPERF" "$TAPEPERF_SRC" -liscsi || die "cannot build tapeperf from $TAPEPERF_SRC (need libiscsi-dev)"
gcc -O2 -Wall -o "$TAPECTL" "$HERE/tape-ctl.c" -liscsi || die "cannot build tape-ctl"
if has_target tgt; then
	command -v tgtd >/dev/null && command -v tgtadm >/dev/null && command -v tgtimg >/dev/null || die "tgt is not installed"
	[[ -x "$TGT_VTL" ]] || die "$TGT_VTL not found"
fi
if has_tg; then
	command -v dotnet >/dev/null || die "dotnet SDK not found"
	if [[ "$BUILD" == 1 ]]; then
		log "building TapeGateway.Server (Release) into $ARTIFACTS"
		(cd "$REPO" && dotnet build src/TapeGateway.Server -c Release --artifacts-path "$ARTIFACTS" -nologo -v q) \
			>"$RESULTS_DIR/build.log" 2>&1 || { tail -20 "$RESULTS_DIR/build.log" >&2; die "build failed"; }
	fi
	[[ -f "$TG_DLL" ]] || die "TapeGateway.Server.dll not found at $TG_DLL"
fi
if has_target tgb; then
	[[ -f "$TGB_DLL" ]] || die "target tgb needs TGB_DLL (a TapeGateway.Server.dll), not found: '$TGB_DLL'"
fi
SRC_DESC="commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet HEAD -- src 2>/dev/null || echo ' + uncommitted changes in src/')"
if has_tg; then
	SRC_DESC="$SRC_DESC; dll built $(date -u -r "$TG_DLL" '+%Y-%m-%d %H:%M:%S UTC')$([[ "$BUILD" == 1 ]] || echo ' (BUILD=0: prebuilt)')${TG_ENV:+, environment $TG_ENV}"
fi
if has_target tgb; then
	SRC_DESC="$SRC_DESC; tgb = $TGB_DLL (built $(date -u -r "$TGB_DLL" '+%Y-%m-%d %H:%M:%S UTC'))${TGB_ENV:+, environment $TGB_ENV}$([[ "$TGB_CRYPT" == 1 ]] && echo ', drives encrypting (AES-256-GCM, SECURITY PROTOCOL OUT)' || true)"
fi

# ---------------------------------------------------------------------------------------------------------------
# targets
start_tgt() {
	log "starting tgt VTL on 127.0.0.1:$TGT_PORT ($NDRIVES drives, $NTAPES tapes) via $TGT_VTL"
	TGT_STARTED=1
	tgt_env "$TGT_VTL" start >&2 || die "tgt-vtl.sh start failed (see $TGT_STATE/tgtd.log)"
	local kv
	for kv in $TGT_PARAMS; do
		tgtadm -C "$TGT_PORT" --lld iscsi --mode target --op update --tid 1 --name "${kv%%=*}" --value "${kv#*=}"
	done
	for i in $(seq "$NDRIVES"); do
		"$TAPECTL" move "$TGT_BASE/$CHANGER_LUN" $((4096 + i - 1)) $((256 + i - 1)) >/dev/null || die "tgt: load drive $i failed"
		"$TAPECTL" ready "$TGT_BASE/$i" >/dev/null || die "tgt: drive $i not ready"
	done
	log "tgt drive 1 compression page: $("$TAPECTL" dce "$TGT_BASE/1" | tr '\n' ' ')"
}

start_tg() { # name dll port http datadir env extra-args; sets REPLY to the PID
	local name=$1 dll=$2 port=$3 http=$4 data=$5 extra_env=$6 extra_args=$7 base tapes pid
	base=iscsi://127.0.0.1:$port/$TG_IQN
	log "starting TapeGateway $name ($dll${extra_env:+, $extra_env}) on 127.0.0.1:$port ($NDRIVES drives, $NTAPES tapes)"
	rm -rf "$data"
	tapes=$(for i in $(seq "$NTAPES"); do printf 'HRN%03dL4,' "$i"; done)
	# shellcheck disable=SC2086
	env ASPNETCORE_ENVIRONMENT=Harness $extra_env dotnet "$dll" \
		--TapeGateway:DataDirectory="$data" \
		--TapeGateway:Iscsi:Address=127.0.0.1 \
		--TapeGateway:Iscsi:Port="$port" \
		--Urls=http://127.0.0.1:"$http" \
		--TapeGateway:Library:Drives="$NDRIVES" \
		--TapeGateway:Library:StorageSlots=$((NTAPES + 2)) \
		--TapeGateway:Library:ChangerLun="$CHANGER_LUN" \
		--TapeGateway:Library:FirstDriveLun=1 \
		--TapeGateway:Library:Tapes:0:Barcode="${tapes%,}" \
		--Logging:LogLevel:Default="$TG_LOGLEVEL" \
		$([[ "$DRAIN" == 1 ]] && echo --TapeGateway:TapeCache:PublishIntervalSeconds=2) \
		$extra_args \
		>"$RESULTS_DIR/tapegateway-$name.log" 2>&1 &
	pid=$!
	REPLY=$pid
	local ok=0
	for _ in $(seq 120); do
		if "$TAPECTL" move "$base/$CHANGER_LUN" 1 10001 >/dev/null 2>&1; then ok=1; break; fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	[[ $ok == 1 ]] || { tail -30 "$RESULTS_DIR/tapegateway-$name.log" >&2; die "TapeGateway $name not usable at $base/$CHANGER_LUN"; }
	for i in $(seq 2 "$NDRIVES"); do
		"$TAPECTL" move "$base/$CHANGER_LUN" "$i" $((10000 + i)) >/dev/null || die "$name: load drive $i failed"
	done
	for i in $(seq "$NDRIVES"); do
		"$TAPECTL" ready "$base/$i" >/dev/null || die "$name: drive $i not ready"
	done
	log "$name drive 1 compression page after load: $("$TAPECTL" dce "$base/1" | tr '\n' ' ')"
}

set_dce() { # base value drives
	local i
	for i in $(seq "$3"); do
		"$TAPECTL" dce "$1/$i" "$2" >/dev/null || die "MODE SELECT DCE=$2 on $1/$i failed"
	done
}

# DCE for a TapeGateway target before a run: tgz as shipped (1), the others uncompressed (0)
set_target_dce() { # target drives
	local off=0
	[[ $DATA == text ]] && off=1 # compressible data: the drives compress, as shipped
	case $1 in tg) set_dce "$TG_BASE" $off "$2" ;; tgz) set_dce "$TG_BASE" 1 "$2" ;; tgb) set_dce "$TGB_BASE" "${TGB_DCE:-$off}" "$2" ;; esac
}

has_target tgt && start_tgt
if has_tg; then
	start_tg tg "$TG_DLL" "$TG_PORT" "$TG_HTTP" "$TG_DATA" "$TG_ENV" "$TG_EXTRA"
	TG_PID=$REPLY
fi
if has_target tgb; then
	start_tg tgb "$TGB_DLL" "$TGB_PORT" "$TGB_HTTP" "$TGB_DATA" "$TGB_ENV" "$TG_EXTRA $TGB_EXTRA"
	TGB_PID=$REPLY
	if [[ "$TGB_CRYPT" == 1 ]]; then
		for ((i = 1; i <= NDRIVES; i++)); do
			crypt=$("$TAPECTL" crypt "$TGB_BASE/$i" on) || die "SECURITY PROTOCOL OUT on $TGB_BASE/$i failed"
			log "tgb drive $i: $crypt"
		done
	fi
fi

# ---------------------------------------------------------------------------------------------------------------
# measurement
kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
sys_busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
HZ=$(getconf CLK_TCK)
server_pid() { case $1 in tgt) tgt_pid ;; tg | tgz) echo "$TG_PID" ;; tgb) echo "$TGB_PID" ;; *) echo "" ;; esac; }
base_url() { case $1 in tgt) echo "$TGT_BASE" ;; tgb) echo "$TGB_BASE" ;; *) echo "$TG_BASE" ;; esac; }
http_port() { case $1 in tg | tgz) echo "$TG_HTTP" ;; tgb) echo "$TGB_HTTP" ;; *) echo "" ;; esac; }

# Waits until a TapeGateway target's tier has nothing left to upload; prints the seconds waited ("" when the target
# has no tier: tgt, dd, or TapeCache:Enabled=false, whose /api/cache answers an error).
drain_wait() { # target
	local port t0 used
	port=$(http_port "$1")
	[[ -n "$port" && "$DRAIN" == 1 ]] || return 0
	t0=$(date +%s.%N)
	while true; do
		used=$(curl -sf "http://127.0.0.1:$port/api/cache" | sed -n 's/.*"uploadBufferUsedBytes":\([0-9]*\).*/\1/p') || return 0
		[[ -n "$used" ]] || return 0
		[[ "$used" == 0 ]] && break
		awk -v a="$t0" -v b="$(date +%s.%N)" -v m="$DRAIN_TIMEOUT" 'BEGIN { exit !(b - a > m) }' && die "$1: upload buffer still at $used bytes after ${DRAIN_TIMEOUT}s"
		sleep 0.1
	done
	awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}

# N tapeperf processes at once, one per drive; prints "writes reads verified client_cpu_s" (per-drive lists joined by /)
tapeperf_parallel() { # target block drives mib tag
	local t=$1 bs=$2 n=$3 mib=$4 tag=$5 base i out w=() r=() v=yes
	base=$(base_url "$t")
	(
		for i in $(seq "$n"); do
			if [[ $DATA == text ]]; then
				env $CLIENT_ENV "$TAPECTL" stream "$base/$i" "$bs" $((mib * 1048576 / bs)) >"$RESULTS_DIR/runs/$tag.d$i.out" 2>&1 &
			else
				env $CLIENT_ENV "$TAPEPERF" -b "$bs" -m "$mib" -q "$DEPTH" "$base/$i" >"$RESULTS_DIR/runs/$tag.d$i.out" 2>&1 &
			fi
		done
		fail=0
		for job in $(jobs -p); do wait "$job" || fail=1; done
		times >"$RESULTS_DIR/runs/$tag.times"     # not in a pipeline: that would be another subshell
		exit $fail
	) || { cat "$RESULTS_DIR/runs/$tag".d*.out >&2; die "tapeperf on $t ($tag) failed"; }
	for i in $(seq "$n"); do
		out=$(grep write_MBps= "$RESULTS_DIR/runs/$tag.d$i.out")
		w+=("$(kv write_MBps "$out")")
		r+=("$(kv read_MBps "$out")")
		[[ "$(kv verified "$out")" == yes ]] || v=NO
	done
	# children's user+sys CPU (bash `times`, second line: "XmY.YYYs XmY.YYYs")
	local ccpu
	ccpu=$(awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); s += a[1] * 60 + a[2] } printf "%.2f", s }' "$RESULTS_DIR/runs/$tag.times")
	echo "$(IFS=/; echo "${w[*]}") $(IFS=/; echo "${r[*]}") $v $ccpu"
}

sum_list() { tr '/' '\n' <<<"$1" | awk '{ s += $1 } END { printf "%.1f", s }'; }

echo "block,drives,target,rep,write_MBps,read_MBps,write_per_drive,read_per_drive,verified,wall_s,server_cpu_s,server_cpu_pct,client_cpu_s,other_cpu_pct,loadavg1,drain_s,server_cpu_with_drain_s,read_noverify_MBps" >"$RAW"

# N tape-ctl reads at once, one per drive, of what the last tapeperf run wrote (no verification); prints the sum MB/s
tapectl_read_parallel() { # target block drives mib tag
	local t=$1 bs=$2 n=$3 mib=$4 tag=$5 base i
	base=$(base_url "$t")
	(
		for i in $(seq "$n"); do
			env $CLIENT_ENV "$TAPECTL" read "$base/$i" "$bs" $((mib * 1048576 / bs)) >"$RESULTS_DIR/runs/$tag.nv$i.out" 2>&1 &
		done
		fail=0
		for job in $(jobs -p); do wait "$job" || fail=1; done
		exit $fail
	) || { cat "$RESULTS_DIR/runs/$tag".nv*.out >&2; die "tape-ctl read on $t ($tag) failed"; }
	for i in $(seq "$n"); do kv read_MBps "$(grep read_MBps= "$RESULTS_DIR/runs/$tag.nv$i.out")"; done | awk '{ s += $1 } END { printf "%.1f", s }'
}

run_one() { # block drives target rep
	local bs=$1 n=$2 t=$3 rep=$4 tag pid c0=0 c1=0 s0 s1 t0 t1 wall load res wsum rsum wl rl v ccpu scpu other
	tag="b$bs-d$n-$t-r$rep"
	pid=$(server_pid "$t")
	[[ -z "$pid" ]] || kill -0 "$pid" 2>/dev/null || die "$t (pid $pid) is not running"
	set_target_dce "$t" "$n"
	sync
	sleep 1
	load=$(cut -d' ' -f1 /proc/loadavg)
	s0=$(sys_busy_ticks)
	[[ -z "$pid" ]] || c0=$(cpu_ticks "$pid")
	t0=$(date +%s.%N)
	if [[ $t == dd ]]; then
		local ddout bytes secs
		ddout=$( (time -p dd if=/dev/zero of="$DD_FILE" bs=1M count=$((MIB * n)) conv=fdatasync) 2>&1) || die "dd failed: $ddout"
		bytes=$(awk '/copied/ { print $1 }' <<<"$ddout")
		secs=$(sed -n 's/.*copied, \([0-9.e+-]*\) s,.*/\1/p' <<<"$ddout")
		wl=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.1f", b / s / 1e6 }')
		rl=""
		v=n/a
		ccpu=$(awk '/^(user|sys) / { s += $2 } END { printf "%.2f", s }' <<<"$ddout")
	else
		res=$(tapeperf_parallel "$t" "$bs" "$n" "$MIB" "$tag")
		read -r wl rl v ccpu <<<"$res"
	fi
	t1=$(date +%s.%N)
	[[ -z "$pid" ]] || c1=$(cpu_ticks "$pid")
	s1=$(sys_busy_ticks)
	local drain c2 dcpu=""
	drain=$(drain_wait "$t")
	if [[ -n "$drain" ]]; then
		c2=$(cpu_ticks "$pid")
		dcpu=$(awk -v c="$((c2 - c0))" -v hz="$HZ" 'BEGIN { printf "%.2f", c / hz }')
	fi
	[[ $t == dd ]] && { rm -f "$DD_FILE"; sync; }
	local nv=""
	[[ $NOVERIFY == 1 && $t != dd ]] && nv=$(tapectl_read_parallel "$t" "$bs" "$n" "$MIB" "$tag")
	wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	scpu=$(awk -v c="$((c1 - c0))" -v hz="$HZ" 'BEGIN { printf "%.2f", c / hz }')
	local spct
	spct=$(awk -v c="$scpu" -v w="$wall" 'BEGIN { printf "%.0f", c / w * 100 }')
	other=$(awk -v s="$((s1 - s0))" -v c="$scpu" -v cl="$ccpu" -v hz="$HZ" -v w="$wall" \
		'BEGIN { o = s / hz - c - cl; if (o < 0) o = 0; printf "%.0f", o / w * 100 }')
	wsum=$(sum_list "$wl")
	rsum=$([[ -n "$rl" ]] && sum_list "$rl" || echo "")
	[[ $v == NO ]] && die "$tag: data NOT verified"
	echo "$bs,$n,$t,$rep,$wsum,$rsum,$wl,$rl,$v,$wall,$scpu,$spct,$ccpu,$other,$load,$drain,$dcpu,$nv" >>"$RAW"
	log "$(printf '%7s B x%d %-3s rep %d: write %7s MB/s  read %7s MB/s  (%s | %s) wall %5ss server CPU %4s%%  client %ss  other CPU %3s%%  load %s%s%s' \
		"$bs" "$n" "$t" "$rep" "$wsum" "${rsum:--}" "$wl" "${rl:--}" "$wall" "$spct" "$ccpu" "$other" "$load" \
		"${drain:+  uploads drained ${drain}s later, server CPU with them ${dcpu}s}${nv:+  read without verification $nv MB/s}")"
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
T_START=$(date -u '+%Y-%m-%d %H:%M')
log "warm-up (not recorded): $WARMUP_MIB MiB per drive, every record size, on every tape target"
for t in $TARGETS; do
	[[ $t == dd ]] && continue
	set_target_dce "$t" "$NDRIVES"
	for bs in $SIZES; do tapeperf_parallel "$t" "$bs" "$NDRIVES" "$WARMUP_MIB" "warmup-$t-$bs" >/dev/null; done
done

for bs in $SIZES; do
	for n in $DRIVES_LIST; do
		for rep in $(seq "$REPS"); do
			for t in $TARGETS; do
				run_one "$bs" "$n" "$t" "$rep"
			done
		done
	done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------------------------------
# report
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
col() { awk -F, -v b="$1" -v n="$2" -v t="$3" -v c="$4" '$1 == b && $2 == n && $3 == t && $c != "" { print $c }' "$RAW"; }
med() { col "$@" | median; }
runs() { col "$@" | paste -sd/ | sed 's#/# / #g'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b != "") printf "%.2f", b / a; else print "–" }'; }
cpu_per_gb() { med "$1" "$2" "$3" "${4:-11}" | awk -v m="$MIB" -v n="$2" '{ printf "%.2f", $1 / (2 * m * n * 1048576 / 1e9) }'; } # server CPU s / GB written+read
# the same including the upload drain after the run (column 17), or the run's own when the target has no tier
cpu_per_gb_all() { if [[ -n "$(col "$1" "$2" "$3" 17)" ]]; then cpu_per_gb "$1" "$2" "$3" 17; else cpu_per_gb "$1" "$2" "$3"; fi; }
label() { awk -v b="$1" 'BEGIN { if (b % 1048576 == 0) printf "%d MiB", b / 1048576; else printf "%d KiB", b / 1024 }'; }
TGN=tg
has_target tg || TGN=tgz
has_target tgt && A=tgt || A=$([[ $TGN == tg ]] && has_target tgz && echo tgz || echo "")
{
	echo "Measured $T_START–$(date -u '+%H:%M UTC') on $(nproc) vCPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), kernel $(uname -r), dotnet $(dotnet --version 2>/dev/null || echo n/a), tgt $(dpkg-query -W -f '${Version}' tgt 2>/dev/null || echo '?'), $(findmnt -n -o FSTYPE,SOURCE -T "$WORKDIR" 2>/dev/null | tr -s ' ' | sed 's/ / on /')."
	echo "TapeGateway $SRC_DESC. $([[ $DATA == text ]] && echo "tape-ctl stream (compressible text, DCE=1 on every TapeGateway target, one command at a time)" || echo "tapeperf") $MIB MiB per drive per run$([[ $DATA == text ]] || echo ", depth $DEPTH"); $REPS runs per target, alternating ($TARGETS); load average $LOAD_START at start, $LOAD_END at end; tgt session keys: ${TGT_PARAMS:-shipped defaults}; load generators' environment: ${CLIENT_ENV:-default}."
	echo
	echo "| Metric (MB/s, sum over drives) | ${A:-–} (median) | ${TGN} (median) | **${TGN}/${A:-–}** | dd fdatasync (median) | **${TGN}/dd** | ${A:-–} runs | ${TGN} runs | dd runs | server CPU s/GB moved ${A:-–} / ${TGN} (${TGN} with its uploads) | ${TGN} uploads drained after (s, median) | other CPU % ${A:-–} / ${TGN} |"
	echo "|---|---:|---:|---:|---:|---:|---|---|---|---|---|---|"
	for bs in $SIZES; do
		for n in $DRIVES_LIST; do
			for dir in write read; do
				c=$([[ $dir == write ]] && echo 5 || echo 6)
				a=$([[ -n "$A" ]] && med "$bs" "$n" "$A" "$c" || echo "")
				b=$(med "$bs" "$n" "$TGN" "$c")
				d=""
				[[ $dir == write ]] && has_target dd && d=$(med "$bs" "$n" dd 5)
				echo "| $(label "$bs") records, $n drive$([[ $n == 1 ]] || echo s), $dir | ${a:-–} | $b | **$(ratio "$a" "$b")** | ${d:-–} | $([[ -n "$d" ]] && echo "**$(ratio "$d" "$b")**" || echo –) | $([[ -n "$A" ]] && runs "$bs" "$n" "$A" "$c") | $(runs "$bs" "$n" "$TGN" "$c") | $([[ -n "$d" ]] && runs "$bs" "$n" dd 5) | $([[ -n "$A" ]] && cpu_per_gb "$bs" "$n" "$A") / $(cpu_per_gb "$bs" "$n" "$TGN") ($(cpu_per_gb_all "$bs" "$n" "$TGN")) | $(med "$bs" "$n" "$TGN" 16) | $([[ -n "$A" ]] && med "$bs" "$n" "$A" 14) / $(med "$bs" "$n" "$TGN" 14) |"
			done
		done
	done
	echo
	echo "Medians of every target (MB/s; server CPU s per GB moved in brackets, including the upload drain after the run for a TapeGateway with its tier):"
	echo
	echo "| Metric |$(for t in $TARGETS; do printf ' %s |' "$t"; done)"
	echo "|---|$(for t in $TARGETS; do printf -- '---:|'; done)"
	for bs in $SIZES; do
		for n in $DRIVES_LIST; do
			for dir in write read; do
				c=$([[ $dir == write ]] && echo 5 || echo 6)
				printf '| %s records, %s drive%s, %s |' "$(label "$bs")" "$n" "$([[ $n == 1 ]] || echo s)" "$dir"
				for t in $TARGETS; do
					v=$(med "$bs" "$n" "$t" "$c")
					if [[ -z "$v" ]]; then printf ' – |'; elif [[ $t == dd ]]; then printf ' %s |' "$v"; else printf ' %s (%s) |' "$v" "$(cpu_per_gb_all "$bs" "$n" "$t")"; fi
				done
				echo
			done
		done
	done
	if [[ $NOVERIFY == 1 ]]; then
		echo
		echo "Reads again without the client's verification (tape-ctl read: the same READ(6)s, one at a time, nothing regenerated or compared), medians in MB/s; the last column is ${TGN}/${A:-–}:"
		echo
		echo "| Metric |$(for t in $TARGETS; do [[ $t == dd ]] || printf ' %s |' "$t"; done) **${TGN}/${A:-–}** |"
		echo "|---|$(for t in $TARGETS; do [[ $t == dd ]] || printf -- '---:|'; done)---:|"
		for bs in $SIZES; do
			for n in $DRIVES_LIST; do
				printf '| %s records, %s drive%s, read (no verification) |' "$(label "$bs")" "$n" "$([[ $n == 1 ]] || echo s)"
				for t in $TARGETS; do [[ $t == dd ]] || printf ' %s |' "$(med "$bs" "$n" "$t" 18)"; done
				printf ' **%s** |\n' "$(ratio "$([[ -n "$A" ]] && med "$bs" "$n" "$A" 18)" "$(med "$bs" "$n" "$TGN" 18)")"
			done
		done
	fi
} >"$MD"

cat "$MD"
log "raw results: $RAW   table: $MD   per-run tapeperf output: $RESULTS_DIR/runs"
