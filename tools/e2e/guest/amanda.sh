#!/bin/bash
# Guest scenario "amanda": an Amanda 3.5 backup cycle as an admin runs it, through the changer. The Amanda server and
# client run in the guest (auth "local", GNU tar through amgtar, a holding disk); the library is a chg-robot changer
# (mtx on the changer's sg device) with both drives, barcodes on, restricted to the slots of E2E_AMANDA_BARCODES:
#   amlabel of three tapes by slot -> amtape inventory (labels and barcodes) -> amcheck -> amdump (level 0, tape 1)
#   -> files changed and added -> amdump (level 1: Amanda writes every run to a fresh tape, tape 2) -> amfetchdump of
#   both levels (the changer loads each tape by its label) -> GNU tar extracts level 0 then level 1 -> every file
#   sha256-identical to the state the second run saved
# Checks also amreport's result, amadmin find (which tape holds which level) and that no run left an error.
# Needs the "amanda" guest image (vm.sh --image amanda).
. /e2e/lib.sh
scsi_devices
CH=$CHANGER_SG; D0=${TAPES_NST[0]:-}; D1=${TAPES_NST[1]:-}
if [ -z "$CH" ] || [ -z "$D0" ] || [ -z "$D1" ]; then echo "need a changer and two tape drives"; echo "RESULT: 0 passed, 1 failed"; exit 1; fi
for b in amdump amlabel amtape amcheck amfetchdump amadmin amreport; do
  command -v $b >/dev/null || { echo "$b is not in the guest image (vm.sh --image amanda)"; echo "RESULT: 0 passed, 1 failed"; exit 1; }
done
set -- ${E2E_AMANDA_BARCODES:-AMD001L4 AMD002L4 AMD003L4}
T1=$1; T2=$2; T3=$3
CONF=e2e
DATA=/tmp/data
ST=/var/lib/amanda/$CONF
hostname localhost
echo "127.0.0.1 localhost" > /etc/hosts
show "resolver before" 'perl -MSocket=:addrinfo -e '"'"'my ($e, @r) = getaddrinfo("localhost", "", {flags => AI_ADDRCONFIG|AI_CANONNAME}); print "err=[$e] n=", scalar(@r), "\n"'"'"''
# glibc's getaddrinfo with AI_ADDRCONFIG (Amanda's resolve_hostname) answers nothing while the only IPv4 address is
# 127.0.0.1, as in a guest without a network card; one more address on lo is enough
ip addr add 10.0.9.1/32 dev lo 2>/dev/null
# the chunker and the dumper share buffers through POSIX shared memory (shm_open: /dev/shm)
mkdir -p /dev/shm && mount -t tmpfs -o mode=1777 tmpfs /dev/shm
show "resolver after" 'perl -MSocket=:addrinfo -e '"'"'my ($e, @r) = getaddrinfo("localhost", "", {flags => AI_ADDRCONFIG|AI_CANONNAME}); print "err=[$e] n=", scalar(@r), "\n"'"'"''
S1=$(slot_of $T1); S2=$(slot_of $T2); S3=$(slot_of $T3)
echo "amanda tapes: $T1=$S1 $T2=$S2 $T3=$S3"
mkdir -p /etc/amanda/$CONF $ST/curinfo $ST/log $ST/index $ST/holding /var/lib/amanda/gnutar-lists /var/log/amanda /tmp/amanda
: > $ST/tapelist

# ---- configuration ----------------------------------------------------------------------------------------------
# "holdingdisk auto", not "required": once in CI (both runs of one boot) Amanda 3.5's driver found its freshly made
# holding/<run timestamp> directory gone before it could write its pid file there ("directory ... is not writable",
# "Can't create .../pid: No such file or directory") and, with "required", failed the dump without touching a tape.
# With auto it dumps straight to tape instead, which exercises every tape path this scenario checks; when the
# directory is there it spools through the holding disk as before.
cat > /etc/amanda/$CONF/amanda.conf <<CONF
org "e2e"
mailto ""
dumpuser "backup"
inparallel 2
dumpcycle 7 days
runspercycle 2
tapecycle 3 tapes
runtapes 1
etimeout 600
dtimeout 1800
ctimeout 60
autoflush no
infofile "$ST/curinfo"
logdir "$ST/log"
indexdir "$ST/index"
tapelist "$ST/tapelist"
labelstr "^E2E-[0-9][0-9]\$"
define changer robot {
  tpchanger "chg-robot:$CH"
  property "tape-device" "0=tape:$D0" "1=tape:$D1"
  property "use-slots" "$S1-$S3"
  property "fast-search" "yes"
  property "load-poll" "0s poll 1s until 120s"
  changerfile "$ST/changer-state"
}
tpchanger "robot"
define tapetype VTL-LTO {
  length 1024 mbytes
  blocksize 256 kbytes
}
tapetype "VTL-LTO"
holdingdisk hd1 {
  directory "$ST/holding"
  use 64 mbytes
}
define application-tool app_amgtar {
  plugin "amgtar"
  property "GNUTAR-PATH" "/bin/tar"
  property "GNUTAR-LISTDIR" "/var/lib/amanda/gnutar-lists"
}
define dumptype gtar-local {
  auth "local"
  program "APPLICATION"
  application "app_amgtar"
  compress none
  index yes
  record yes
  holdingdisk auto
}
CONF
echo "localhost $DATA gtar-local" > /etc/amanda/$CONF/disklist
cat > /etc/amanda/amanda-client.conf <<CONF
conf "$CONF"
index_server "localhost"
tape_server "localhost"
auth "local"
CONF
show "amanda.conf" "cat /etc/amanda/$CONF/amanda.conf /etc/amanda/$CONF/disklist"

# ---- helpers ----------------------------------------------------------------------------------------------------
mkfile() { dd if=/dev/urandom of="$1" bs=$2 count=1 2>/dev/null; }
snapshot() { (cd "$DATA" && find . -type f | LC_ALL=C sort | xargs sha256sum) > "$1"; }
same_tree() {   # same_tree SHAFILE DIR: DIR holds exactly the files of SHAFILE with those contents
  (cd "$2" && find . -type f | LC_ALL=C sort) > /tmp/restored.list
  awk '{print $2}' "$1" > /tmp/expected.list
  diff /tmp/expected.list /tmp/restored.list || { echo "file lists differ (< expected, > restored)"; return 1; }
  (cd "$2" && sha256sum -c --quiet "$1") && echo "$(wc -l < "$1") files identical"
}
drives_empty() { local s; s=$(mtx -f $CH status) || return 1; ! echo "$s" | grep -q '^Data Transfer Element.*:Full'; }
# the tape a run wrote, from amadmin find: the label in the line of LEVEL for the disk
tape_of_level() { amadmin $CONF find localhost $DATA 2>/dev/null | awk -v l="$1" '$5 == l && $1 ~ /^[0-9]/ {for (i = 6; i <= NF; i++) if ($i ~ /^E2E-/) {print $i; exit}}'; }

# ---- the data: about 6 MB in 50 files ---------------------------------------------------------------------------
mkdir -p $DATA/docs $DATA/bin $DATA/db
for i in $(seq 1 30); do mkfile $DATA/docs/file$i.txt $((1000 + i * 2311)); done
for i in $(seq 1 15); do mkfile $DATA/bin/blob$i.bin $((100 * 1024 + i * 999)); done
mkfile $DATA/db/big1.dat 2500000; mkfile $DATA/db/big2.dat 900001
for i in 1 2 3; do seq 1 30000 > $DATA/docs/seq$i.log; done
snapshot /tmp/state1.sha

# ---- label, inventory, check ------------------------------------------------------------------------------------
check "drives empty; $T1 $T2 $T3 in slots $S1 $S2 $S3" 'drives_empty && [ -n "$S1" ] && [ "$S2" = $((S1 + 1)) ] && [ "$S3" = $((S1 + 2)) ]'
for n in 1 2 3; do
  eval "s=\$S$n t=\$T$n"
  check "amlabel E2E-0$n slot $s ($t)" "amlabel $CONF E2E-0$n slot $s 2>&1 | tee /tmp/amlabel$n.log; grep -q 'Writing label .E2E-0$n.' /tmp/amlabel$n.log && grep -q '^E2E-0$n\$\\|E2E-0$n ' $ST/tapelist"
done
check "amtape show: the three labels by slot" "amtape $CONF show 2>&1 | tee /tmp/amtape-show.log; for n in 1 2 3; do grep -q \"E2E-0\$n\" /tmp/amtape-show.log || exit 1; done"
check "amtape inventory: each label with its barcode" "amtape $CONF inventory 2>&1 | tee /tmp/amtape-inv.log; grep -q \"E2E-01.*$T1\\|$T1.*E2E-01\" /tmp/amtape-inv.log && grep -q \"E2E-03.*$T3\\|$T3.*E2E-03\" /tmp/amtape-inv.log"
check "amcheck: no problems" "amcheck $CONF 2>&1 | tee /tmp/amcheck.log; grep -q '0 problems found' /tmp/amcheck.log"

# ---- run 1: level 0 ---------------------------------------------------------------------------------------------
check "amdump (run 1): exit status 0" "amdump $CONF; rc=\$?; echo amdump rc=\$rc; amreport $CONF -f /tmp/report1.txt; cat /tmp/report1.txt; [ \$rc = 0 ]"
check "amreport 1: the disk dumped at level 0 and taped, no failure" "grep -Eq '^localhost +/tmp/data +0 ' /tmp/report1.txt && ! grep -Eiq 'FAILED|FAIL |Error|STRANGE' /tmp/report1.txt"
L0TAPE=$(tape_of_level 0)
check "amadmin find: level 0 on tape $L0TAPE" "amadmin $CONF find localhost $DATA; [ -n '$L0TAPE' ]"

# ---- changes, run 2: level 1 on a fresh tape --------------------------------------------------------------------
sleep 2
for i in 2 9 17; do echo "changed after run 1 $i" >> $DATA/docs/file$i.txt; done
mkfile $DATA/bin/blob4.bin 150001; mkfile $DATA/db/big2.dat 1200003
mkdir -p $DATA/new; for i in 1 2 3 4; do mkfile $DATA/new/added$i.bin $((30000 * i)); done
snapshot /tmp/state2.sha
check "amdump (run 2): exit status 0" "amdump $CONF; rc=\$?; echo amdump rc=\$rc; amreport $CONF -f /tmp/report2.txt; cat /tmp/report2.txt; [ \$rc = 0 ]"
check "amreport 2: the disk dumped at level 1, no failure" "grep -Eq '^localhost +/tmp/data +1 ' /tmp/report2.txt && ! grep -Eiq 'FAILED|FAIL |Error|STRANGE' /tmp/report2.txt"
L1TAPE=$(tape_of_level 1)
check "amadmin find: level 1 on another tape ($L1TAPE, level 0 on $L0TAPE)" "amadmin $CONF find localhost $DATA; [ -n '$L1TAPE' ] && [ '$L1TAPE' != '$L0TAPE' ]"
check "the tapelist records both tapes as used" "cat $ST/tapelist; grep -Eq '^[0-9]+ $L0TAPE ' $ST/tapelist && grep -Eq '^[0-9]+ $L1TAPE ' $ST/tapelist"

# ---- restore: amfetchdump level 0 then level 1, extracted in order ----------------------------------------------
mkdir -p /tmp/fetch /tmp/restore
L0DATE=$(awk -v t="$L0TAPE" '$2 == t {print $1}' $ST/tapelist); L1DATE=$(awk -v t="$L1TAPE" '$2 == t {print $1}' $ST/tapelist)
check "amfetchdump level 0 of $L0DATE (the changer loads $L0TAPE by its label)" "cd /tmp/fetch && amfetchdump -p -l $CONF localhost $DATA $L0DATE 0 > /tmp/fetch/level0.tar 2> /tmp/fetch0.log; rc=\$?; cat /tmp/fetch0.log; ls -l /tmp/fetch; [ \$rc = 0 ] && [ -s /tmp/fetch/level0.tar ]"
check "amfetchdump level 1 of $L1DATE (from $L1TAPE)" "cd /tmp/fetch && amfetchdump -p -l $CONF localhost $DATA $L1DATE 1 > /tmp/fetch/level1.tar 2> /tmp/fetch1.log; rc=\$?; cat /tmp/fetch1.log; ls -l /tmp/fetch; [ \$rc = 0 ] && [ -s /tmp/fetch/level1.tar ]"
check "GNU tar extracts level 0, then level 1" "cd /tmp/restore && tar -xpf /tmp/fetch/level0.tar --listed-incremental=/dev/null && tar -xpf /tmp/fetch/level1.tar --listed-incremental=/dev/null"
check "restore: every file identical to the state run 2 saved" 'same_tree /tmp/state2.sha /tmp/restore'

# ---- the end state ----------------------------------------------------------------------------------------------
check "amtape reset/eject: both drives empty, the three tapes back in their slots" \
  "amtape $CONF eject 0 >/dev/null 2>&1; amtape $CONF eject 1 >/dev/null 2>&1; mtx -f $CH status; drives_empty && for t in $T1 $T2 $T3; do mtx -f $CH status | grep -Eq \"^ *Storage Element [0-9]+:Full *:VolumeTag=\$t *\\\$\" || exit 1; done"
check "Amanda logs: no error" "! grep -E '^(FAIL|ERROR)|error' $ST/log/log.* 2>/dev/null | grep -v 'no error'"
check "kernel log: no st/ch errors" '! dmesg | grep -E "st[0-9]+:.*(Error|error)|ch[0-9]+:.*(error)|I/O error"'
show "Amanda debug logs (errors)" 'grep -rhiE "error|fail" /var/log/amanda 2>/dev/null | grep -v CONFIGURE_ARGS | head -40; for f in /var/log/amanda/client/$CONF/amgtar.*.debug; do echo "== $f"; tail -25 "$f"; done 2>/dev/null | head -120'
finish
