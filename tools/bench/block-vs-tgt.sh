#!/usr/bin/env bash
# block-vs-tgt.sh — side-by-side block benchmark: TapeGateway vs tgt (Linux SCSI target framework),
# same machine, same run, same filesystem, same LUN size. Reports medians and ratios (ours/tgt).
#
# Usage:  tools/bench/block-vs-tgt.sh            (builds TapeGateway Release, runs everything)
#         DURATION=5 REPS=1 tools/bench/block-vs-tgt.sh      (quick smoke run)
#         ONLY=tgt tools/bench/block-vs-tgt.sh                (validate the tooling against tgt alone)
#
# Environment knobs (defaults in brackets):
#   SIZE_MIB [2048]   LUN size for both targets (both backing files prefilled with dd unless PREFILL=0)
#   DURATION [15]     measured seconds per run         WARMUP [2]  untimed seconds at the start of each run
#   REPS [3]          runs per target per metric; targets alternate A B A B ... within each metric
#   METRICS           subset of: randread4k randwrite4k seqread1m seqwrite1m   [all four]
#   ONLY              "tgt" or "tg" to run a single target (tooling validation)
#   WORKDIR           scratch dir for both backing files (same fs)   [mktemp -d /var/tmp/tg-bench.XXXXXX]
#   RESULTS_DIR       where raw.csv / results.md go                  [$WORKDIR/results]
#   KEEP [0]          keep the 2 x SIZE_MIB backing files afterwards
#   BUILD [1]         dotnet build the server (Release) into ARTIFACTS first
#   ARTIFACTS         [/tmp/art-bench]  TG_DLL [$ARTIFACTS/bin/TapeGateway.Server/release/TapeGateway.Server.dll]
#   TG_PORT [3271] TG_HTTP [8271] TG_LOGLEVEL [Warning]   TGT_PORT [3291] TGT_CTL [3291] (tgtd -C control port)
#   TG_EXTRA          extra args appended to the TapeGateway command line
#   TGT_PARAMS        iSCSI session keys to set on the tgt target before login, e.g. to match TapeGateway's
#                     defaults: "MaxRecvDataSegmentLength=262144 MaxBurstLength=1048576 InitialR2T=No"
#                     [empty = tgt's shipped defaults: MRDSL 8192, MaxBurst 262144, FirstBurst 65536, InitialR2T=Yes]
#
# Requires: tgt (tgtd, tgtadm), libiscsi-dev + gcc (the load generator is built from iscsi-writeperf.c),
# dotnet SDK, iscsi-ls (libiscsi-bin) optional.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

SIZE_MIB=${SIZE_MIB:-2048}
DURATION=${DURATION:-15}
WARMUP=${WARMUP:-2}
REPS=${REPS:-3}
METRICS=${METRICS:-"randread4k randwrite4k seqread1m seqwrite1m"}
ONLY=${ONLY:-}
PREFILL=${PREFILL:-1}
KEEP=${KEEP:-0}
BUILD=${BUILD:-1}
ARTIFACTS=${ARTIFACTS:-/tmp/art-bench}
TG_DLL=${TG_DLL:-$ARTIFACTS/bin/TapeGateway.Server/release/TapeGateway.Server.dll}
TG_PORT=${TG_PORT:-3271}
TG_HTTP=${TG_HTTP:-8271}
TG_LOGLEVEL=${TG_LOGLEVEL:-Warning}
TG_EXTRA=${TG_EXTRA:-}
TG_IQN=iqn.2026-11.org.tapegateway:volume0
TG_LUN=0
TGT_PORT=${TGT_PORT:-3291}
TGT_CTL=${TGT_CTL:-3291}
TGT_IQN=iqn.2026-11.org.tapegateway.bench:tgt
TGT_LUN=1                       # tgt puts its controller at LUN 0
BLOCK=512                       # logical block size of both LUNs

WORKDIR=${WORKDIR:-$(mktemp -d /var/tmp/tg-bench.XXXXXX)}
mkdir -p "$WORKDIR/volumes"
RESULTS_DIR=${RESULTS_DIR:-$WORKDIR/results}
mkdir -p "$RESULTS_DIR"
TOOL=$WORKDIR/iscsi-writeperf
TG_IMG=$WORKDIR/volumes/tapegateway.img
TGT_IMG=$WORKDIR/volumes/tgt.img
TG_URL=iscsi://127.0.0.1:$TG_PORT/$TG_IQN/$TG_LUN
TGT_URL=iscsi://127.0.0.1:$TGT_PORT/$TGT_IQN/$TGT_LUN
RAW=$RESULTS_DIR/raw.csv
MD=$RESULTS_DIR/results.md

TG_PID=
TGT_PID=

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

stop_tg() {
	[[ -n "$TG_PID" ]] || return 0
	if kill -0 "$TG_PID" 2>/dev/null; then
		kill -TERM "$TG_PID" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$TG_PID" 2>/dev/null || break; sleep 0.2; done
		kill -0 "$TG_PID" 2>/dev/null && kill -KILL "$TG_PID" 2>/dev/null || true
	fi
	wait "$TG_PID" 2>/dev/null || true
	TG_PID=
}

stop_tgt() {
	[[ -n "$TGT_PID" ]] || return 0
	if kill -0 "$TGT_PID" 2>/dev/null; then
		# tgtd ignores SIGTERM while targets exist; use its own shutdown path first.
		tgtadm -C "$TGT_CTL" --op update --mode sys --name State -v offline >/dev/null 2>&1 || true
		tgtadm -C "$TGT_CTL" --lld iscsi --op delete --mode target --tid 1 --force >/dev/null 2>&1 || true
		tgtadm -C "$TGT_CTL" --op delete --mode system >/dev/null 2>&1 || true
		for _ in $(seq 50); do kill -0 "$TGT_PID" 2>/dev/null || break; sleep 0.2; done
		kill -0 "$TGT_PID" 2>/dev/null && kill -KILL "$TGT_PID" 2>/dev/null || true
	fi
	wait "$TGT_PID" 2>/dev/null || true
	TGT_PID=
}

cleanup() {
	local rc=$?
	stop_tg
	stop_tgt
	if [[ "$KEEP" != 1 ]]; then rm -f "$TG_IMG" "$TGT_IMG"; fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------------------------
# tooling
command -v tgtd >/dev/null && command -v tgtadm >/dev/null || die "tgt (tgtd/tgtadm) is not installed"
gcc -O2 -Wall -o "$TOOL" "$HERE/iscsi-writeperf.c" -liscsi || die "cannot build iscsi-writeperf (need libiscsi-dev)"

if [[ "$ONLY" != tgt ]]; then
	command -v dotnet >/dev/null || die "dotnet SDK not found"
	if [[ "$BUILD" == 1 ]]; then
		log "building TapeGateway.Server (Release) into $ARTIFACTS"
		(cd "$REPO" && dotnet build src/TapeGateway.Server -c Release --artifacts-path "$ARTIFACTS" -nologo -v q) \
			>"$RESULTS_DIR/build.log" 2>&1 || { tail -20 "$RESULTS_DIR/build.log" >&2; die "build failed"; }
	fi
	[[ -f "$TG_DLL" ]] || die "TapeGateway.Server.dll not found at $TG_DLL"
fi
# describe the source now (the tree may move on while we measure); with BUILD=0 this is only the current HEAD
SRC_DESC="commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet HEAD -- src 2>/dev/null || echo ' + uncommitted changes in src/')"
if [[ "$ONLY" != tgt ]]; then
	SRC_DESC="$SRC_DESC; dll built $(date -u -r "$TG_DLL" '+%Y-%m-%d %H:%M:%S UTC')$([[ "$BUILD" == 1 ]] || echo ' (BUILD=0: prebuilt)')"
fi

# ---------------------------------------------------------------------------------------------------------------
# backing files: same directory (same filesystem), same size, both prefilled so reads hit allocated blocks
prepare_image() {
	local img=$1
	rm -f "$img"
	if [[ "$PREFILL" == 1 ]]; then
		dd if=/dev/zero of="$img" bs=1M count="$SIZE_MIB" conv=fsync status=none
	else
		truncate -s "${SIZE_MIB}M" "$img"
	fi
}
log "preparing ${SIZE_MIB} MiB backing files in $WORKDIR/volumes (prefill=$PREFILL)"
[[ "$ONLY" == tg ]] || prepare_image "$TGT_IMG"
[[ "$ONLY" == tgt ]] || prepare_image "$TG_IMG"
sync

wait_ready() { # url timeout_s
	local url=$1 deadline=$((SECONDS + $2))
	until "$TOOL" -q -o read -m 1 -b 8 -n 4096 "$url" >/dev/null 2>"$RESULTS_DIR/ready.err"; do
		((SECONDS < deadline)) || { cat "$RESULTS_DIR/ready.err" >&2; return 1; }
		sleep 0.5
	done
}

start_tgt() {
	log "starting tgtd on 127.0.0.1:$TGT_PORT (control port $TGT_CTL)"
	tgtd -f -C "$TGT_CTL" --iscsi portal=127.0.0.1:"$TGT_PORT" >"$RESULTS_DIR/tgtd.log" 2>&1 &
	TGT_PID=$!
	local ok=0
	for _ in $(seq 50); do
		if tgtadm -C "$TGT_CTL" --lld iscsi --mode target --op show >/dev/null 2>&1; then ok=1; break; fi
		kill -0 "$TGT_PID" 2>/dev/null || break
		sleep 0.1
	done
	[[ $ok == 1 ]] || { cat "$RESULTS_DIR/tgtd.log" >&2; die "tgtd did not come up"; }
	tgtadm -C "$TGT_CTL" --lld iscsi --mode target --op new --tid 1 --targetname "$TGT_IQN"
	tgtadm -C "$TGT_CTL" --lld iscsi --mode logicalunit --op new --tid 1 --lun "$TGT_LUN" \
		--backing-store "$TGT_IMG" --bstype rdwr
	local kv
	for kv in ${TGT_PARAMS:-}; do
		tgtadm -C "$TGT_CTL" --lld iscsi --mode target --op update --tid 1 --name "${kv%%=*}" --value "${kv#*=}"
	done
	tgtadm -C "$TGT_CTL" --lld iscsi --mode target --op bind --tid 1 --initiator-address ALL
	wait_ready "$TGT_URL" 20 || die "tgt target not usable at $TGT_URL"
}

start_tg() {
	log "starting TapeGateway ($TG_DLL) on 127.0.0.1:$TG_PORT"
	# shellcheck disable=SC2086
	dotnet "$TG_DLL" \
		--TapeGateway:Iscsi:Address=127.0.0.1 \
		--TapeGateway:Iscsi:Port="$TG_PORT" \
		--Urls=http://127.0.0.1:"$TG_HTTP" \
		--TapeGateway:DataDirectory="$WORKDIR" \
		--TapeGateway:Targets:0:Name="$TG_IQN" \
		--TapeGateway:Targets:0:Luns:0:Lun="$TG_LUN" \
		--TapeGateway:Targets:0:Luns:0:File="$TG_IMG" \
		--TapeGateway:Targets:0:Luns:0:SizeMiB="$SIZE_MIB" \
		--TapeGateway:Targets:0:Luns:0:BlockSize="$BLOCK" \
		--Logging:LogLevel:Default="$TG_LOGLEVEL" \
		$TG_EXTRA \
		>"$RESULTS_DIR/tapegateway.log" 2>&1 &
	TG_PID=$!
	if ! wait_ready "$TG_URL" 60; then
		tail -30 "$RESULTS_DIR/tapegateway.log" >&2
		die "TapeGateway not usable at $TG_URL (is login implemented yet?)"
	fi
}

TARGETS=()
case "$ONLY" in
	"") TARGETS=(tgt tg) ;;
	tgt) TARGETS=(tgt) ;;
	tg) TARGETS=(tg) ;;
	*) die "ONLY must be tgt or tg" ;;
esac
for t in "${TARGETS[@]}"; do
	if [[ $t == tgt ]]; then start_tgt; else start_tg; fi
done
log "backing file allocation (du -m): $(cd "$WORKDIR/volumes" && du -m -- *.img | tr '\n' ' ')"

# ---------------------------------------------------------------------------------------------------------------
# measurement
metric_args() {
	case $1 in
		randread4k) echo "-o read -r -b $((4096 / BLOCK)) -m 32" ;;
		randwrite4k) echo "-o write -r -b $((4096 / BLOCK)) -m 32" ;;
		seqread1m) echo "-o read -b $((1048576 / BLOCK)) -m 8" ;;
		seqwrite1m) echo "-o write -b $((1048576 / BLOCK)) -m 8" ;;
		*) die "unknown metric $1" ;;
	esac
}
metric_field() { case $1 in *4k) echo iops ;; *) echo mibps ;; esac; }
metric_label() {
	case $1 in
		randread4k) echo "4 KiB random read, QD32 (IOPS)" ;;
		randwrite4k) echo "4 KiB random write, QD32 (IOPS)" ;;
		seqread1m) echo "1 MiB sequential read, QD8 (MiB/s)" ;;
		seqwrite1m) echo "1 MiB sequential write, QD8 (MiB/s)" ;;
	esac
}
cpu_ticks() { # utime+stime of a process incl. all its threads, in clock ticks
	awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
sys_busy_ticks() { # all CPUs: user+nice+system+irq+softirq+steal
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}
target_pid() { if [[ $1 == tgt ]]; then echo "$TGT_PID"; else echo "$TG_PID"; fi; }
target_url() { if [[ $1 == tgt ]]; then echo "$TGT_URL"; else echo "$TG_URL"; fi; }
kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }

HZ=$(getconf CLK_TCK)
echo "metric,target,rep,value,iops,mibps,lat_avg_us,lat_max_us,secs,server_cpu_pct,client_cpu_s,other_cpu_pct,loadavg1,server_cpu_us_per_io" >"$RAW"

run_one() { # metric target rep
	local metric=$1 t=$2 rep=$3 pid url out c0 c1 t0 t1 wall scpu s0 s1 other load
	pid=$(target_pid "$t")
	url=$(target_url "$t")
	kill -0 "$pid" 2>/dev/null || die "$t (pid $pid) is not running"
	sync
	sleep 1
	load=$(cut -d' ' -f1 /proc/loadavg)
	s0=$(sys_busy_ticks)
	c0=$(cpu_ticks "$pid")
	t0=$(date +%s.%N)
	# shellcheck disable=SC2046
	out=$("$TOOL" -q $(metric_args "$metric") -W "$WARMUP" -t "$DURATION" -s "$rep" "$url") \
		|| die "$metric on $t failed"
	t1=$(date +%s.%N)
	c1=$(cpu_ticks "$pid")
	s1=$(sys_busy_ticks)
	wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
	scpu=$(awk -v c="$((c1 - c0))" -v hz="$HZ" -v w="$wall" 'BEGIN { printf "%.0f", c / hz / w * 100 }')
	local value
	value=$(kv "$(metric_field "$metric")" "$out")
	# CPU burnt by everything except the target under test and the load generator (noise indicator)
	other=$(awk -v s="$((s1 - s0))" -v c="$((c1 - c0))" -v cl="$(kv client_cpu_s "$out")" -v hz="$HZ" -v w="$wall" \
		'BEGIN { o = (s - c) / hz - cl; if (o < 0) o = 0; printf "%.0f", o / w * 100 }')
	local per_io
	per_io=$(awk -v c="$((c1 - c0))" -v hz="$HZ" -v n="$(kv ios_all "$out")" 'BEGIN { if (n > 0) printf "%.1f", c / hz * 1e6 / n; else print "" }')
	echo "$metric,$t,$rep,$value,$(kv iops "$out"),$(kv mibps "$out"),$(kv lat_avg_us "$out"),$(kv lat_max_us "$out"),$(kv secs "$out"),$scpu,$(kv client_cpu_s "$out"),$other,$load,$per_io" >>"$RAW"
	log "$(printf '%-12s %-4s rep %d: %10s %-5s  avg lat %8s us  server CPU %4s%% (%6s us/IO)  other CPU %4s%%  load %s' "$metric" "$t" "$rep" "$value" "$(metric_field "$metric")" "$(kv lat_avg_us "$out")" "$scpu" "$per_io" "$other" "$load")"
}

log "warm-up pass (not recorded): 3 s per metric per target"
for metric in $METRICS; do
	for t in "${TARGETS[@]}"; do
		# shellcheck disable=SC2046
		"$TOOL" -q $(metric_args "$metric") -t 3 "$(target_url "$t")" >/dev/null || die "warm-up $metric on $t failed"
	done
done

for metric in $METRICS; do
	for rep in $(seq "$REPS"); do
		for t in "${TARGETS[@]}"; do
			run_one "$metric" "$t" "$rep"
		done
	done
done

# ---------------------------------------------------------------------------------------------------------------
# report
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
col() { # metric target column-number
	awk -F, -v m="$1" -v t="$2" -v c="$3" '$1 == m && $2 == t { print $c }' "$RAW"
}
runs() { col "$1" "$2" 4 | paste -sd/ | sed 's#/# / #g'; }

{
	echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) vCPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), kernel $(uname -r), dotnet $(dotnet --version 2>/dev/null || echo n/a), tgt $(tgtd -V 2>/dev/null | awk '{print $NF}' || true)."
	echo "TapeGateway $SRC_DESC; LUN ${SIZE_MIB} MiB, ${BLOCK}-byte blocks, backing files prefill=$PREFILL on $(findmnt -n -o FSTYPE -T "$WORKDIR" 2>/dev/null || echo '?'); ${DURATION} s per run after ${WARMUP} s warm-up, ${REPS} runs per target, alternating; tgt session keys: ${TGT_PARAMS:-shipped defaults}."
	echo
	if [[ ${#TARGETS[@]} == 2 ]]; then
		echo "| Metric | tgt (median) | TapeGateway (median) | ours/tgt | tgt runs | TapeGateway runs | server CPU us/IO tgt / ours (ours/tgt) | server CPU % tgt / ours | other CPU % tgt / ours |"
		echo "|---|---:|---:|---:|---|---|---|---|---|"
	else
		echo "| Metric | ${TARGETS[0]} (median) | runs | server CPU us/IO | server CPU % | other CPU % | avg latency us |"
		echo "|---|---:|---|---|---|---|---|"
	fi
	for metric in $METRICS; do
		if [[ ${#TARGETS[@]} == 2 ]]; then
			a=$(col "$metric" tgt 4 | median)
			b=$(col "$metric" tg 4 | median)
			ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "n/a" }')
			ca=$(col "$metric" tgt 14 | median)
			cb=$(col "$metric" tg 14 | median)
			cr=$(awk -v a="$ca" -v b="$cb" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "n/a" }')
			echo "| $(metric_label "$metric") | $a | $b | **$ratio** | $(runs "$metric" tgt) | $(runs "$metric" tg) | $ca / $cb ($cr) | $(col "$metric" tgt 10 | median) / $(col "$metric" tg 10 | median) | $(col "$metric" tgt 12 | median) / $(col "$metric" tg 12 | median) |"
		else
			t=${TARGETS[0]}
			echo "| $(metric_label "$metric") | $(col "$metric" "$t" 4 | median) | $(runs "$metric" "$t") | $(col "$metric" "$t" 14 | median) | $(col "$metric" "$t" 10 | median) | $(col "$metric" "$t" 12 | median) | $(col "$metric" "$t" 7 | median) |"
		fi
	done
} >"$MD"

cat "$MD"
log "raw results: $RAW   table: $MD"
