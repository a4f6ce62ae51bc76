#!/bin/bash
# Guest scenario "archive": the AWS tape life of issue 5 with real Linux initiators. A backup is written with GNU tar
# through st, the tape is exported with `mtx transfer` into the mailslot, the gateway's archive job archives it
# (IN TRANSIT TO VTS -> ARCHIVING -> ARCHIVED: it leaves the library), it is retrieved through the management API
# (RETRIEVING -> RETRIEVED: back in the I/E slot, read-only), loaded again and read back: identical bytes.
# The guest drives the API itself, between its SCSI steps, so the changer's unit attentions and the inventory are
# seen by ch/mtx exactly when a backup server would see them. That needs a network: run.sh runs this scenario with the
# kernel initiator (QEMU user networking; 10.0.2.2 is the host's loopback, where the gateway's HTTP endpoint listens).
# Env: E2E_API (http://10.0.2.2:PORT), E2E_BARCODES (the first one is used). The gateway must archive quickly:
# run.sh's configuration "archive" (job every 2 s, 5 s grace after the export, the default filesystem object store,
# whose restores are immediate).
. /e2e/lib.sh
session_info
scsi_devices
CH=$CHANGER_SG; D0=${TAPES_NST[0]:-}; D0SG=${TAPES_SG[0]:-}
set -- ${E2E_BARCODES:-HRN001L4}; T=$1
[ -n "$CH" ] && [ -n "$D0" ] || { echo "need a changer and a tape drive"; echo "RESULT: 0 passed, 1 failed"; exit 1; }
[ -n "${E2E_API:-}" ] || { echo "E2E_API is not set (run.sh sets it)"; echo "RESULT: 0 passed, 1 failed"; exit 1; }

api() {   # api METHOD PATH: one HTTP/1.0 request to the gateway's API through bash's /dev/tcp (the guest has no
          # curl, and busybox wget hides the problem+json body of an error); prints the body, returns 0 only for a
          # 2xx status. The whole response (status line, headers, body) is left in /tmp/api.out.
  local hp=${E2E_API#http://}
  hp=${hp%/}
  : > /tmp/api.out
  exec 3<>"/dev/tcp/${hp%:*}/${hp##*:}" || { echo "api: cannot connect to $hp" >&2; return 1; }
  printf '%s %s HTTP/1.0\r\nHost: %s\r\nContent-Length: 0\r\n\r\n' "$1" "$2" "$hp" >&3
  timeout 20 tr -d '\r' <&3 > /tmp/api.out   # a gateway that accepts but never answers fails the check, not the VM
  exec 3<&-
  sed '1,/^$/d' /tmp/api.out; echo
  head -1 /tmp/api.out | grep -q '^HTTP/1\.[01] 2' || { echo "api: $1 $2 -> $(head -1 /tmp/api.out)" >&2; return 1; }
}
json() {  # json FIELD < body: the value of a top-level string or number field ("null" for null)
  sed -nE "s/.*\"$1\":(\"([^\"]*)\"|([^,}]*)).*/\2\3/p" | head -1
}
state_of() { api GET "/api/tapes/$1" > /tmp/tape.json && json state < /tmp/tape.json; }
wait_state() {   # wait_state BARCODE TIMEOUT STATE...: polls GET /api/tapes/BARCODE every 0.5 s until its state is the
                 # last STATE given; prints every state seen with the time. Fails at the timeout or on a state that
                 # is not in the list (e.g. AVAILABLE after a cancelled export, IRRECOVERABLE).
  local b=$1 tmo=$2; shift 2
  local allowed=("$@") want=${*: -1} s last="" t0 now a ok
  t0=$(_uptime)
  while :; do
    s=$(state_of "$b") || { cat /tmp/tape.json; return 1; }
    now=$(awk -v a="$t0" -v b="$(_uptime)" 'BEGIN{printf "%.1f", b-a}')
    if [ "$s" != "$last" ]; then
      echo "$now s: $s"; last=$s
      ok=1; for a in "${allowed[@]}"; do [ "$s" = "$a" ] && ok=0; done
      [ $ok = 0 ] || { echo "unexpected state '$s' (expected one of: ${allowed[*]})"; cat /tmp/tape.json; return 1; }
    fi
    [ "$s" = "$want" ] && { cat /tmp/tape.json; return 0; }
    awk -v n="$now" -v t="$tmo" 'BEGIN{exit !(n >= t)}' && { echo "still $s after $tmo s"; cat /tmp/tape.json; return 1; }
    sleep 0.5
  done
}
inventory_changed() {   # TEST UNIT READY on the changer until no UNIT ATTENTION is left; succeeds when one of them
                        # was 28/00 (not ready to ready change, medium may have changed): the gateway tells the
                        # initiator that the inventory changed behind its back, so a backup server reads it again
  local i seen=1
  for i in 1 2 3 4 5; do
    sg_turs -v $CH > /tmp/tur 2>&1; cat /tmp/tur
    grep -qi "unit attention" /tmp/tur || break
    grep -qi "not ready to ready change" /tmp/tur && seen=0
  done
  [ $seen = 0 ] || echo "the changer reported no UNIT ATTENTION 28/00"
  return $seen
}

# the backup: known files (with a sha256 fixed here, so the comparison cannot pass on a wrong source list) and a few
# MiB of random data, some of it in odd sizes; a second, smaller tar goes into file 1
mkdir -p /tmp/backup/etc /tmp/backup/data/small /tmp/extra
cp /etc/passwd /etc/group /etc/mke2fs.conf /tmp/backup/etc/
head -c 1048576 /dev/zero > /tmp/backup/zeros-1m
printf 'TapeGateway e2e archive scenario\n' > /tmp/backup/README
head -c 3145728 /dev/urandom > /tmp/backup/data/random-3m; head -c 1000003 /dev/urandom > /tmp/backup/data/odd
head -c 200000 /dev/urandom > /tmp/s && (cd /tmp/backup/data/small && split -b 4001 /tmp/s f-) && rm /tmp/s
head -c 777777 /dev/urandom > /tmp/extra/second
for s in backup extra; do (cd /tmp && find $s -type f | sort | xargs sha256sum) > /tmp/$s.sha256; done
NFILES=$(cat /tmp/backup.sha256 /tmp/extra.sha256 | wc -l); BYTES=$(find /tmp/backup /tmp/extra -type f -exec cat {} + | wc -c)
RANDOM_BYTES=$(find /tmp/backup/data /tmp/extra -type f -exec cat {} + | wc -c)

echo "=== the library before"
check "mtx status: $T full in a storage slot, an empty I/E slot (mailslot); the API says $T is AVAILABLE" '
  mtx -f $CH status | tee /tmp/inv0 && grep -Eq "^ *Storage Element [0-9]+:Full *:VolumeTag=$T *\$" /tmp/inv0 &&
  grep -Eq "^ *Storage Element [0-9]+ IMPORT/EXPORT:Empty" /tmp/inv0 && s=$(state_of $T) && cat /tmp/tape.json && [ "$s" = AVAILABLE ]'
S=$(slot_of $T)
MAILSLOT=$(sed -nE 's/^ *Storage Element ([0-9]+) IMPORT\/EXPORT:Empty.*/\1/p' /tmp/inv0 | head -1)
echo "$T in slot ${S:-?}, mailslot ${MAILSLOT:-?}; backup: $NFILES files, $BYTES bytes ($RANDOM_BYTES random)"
[ -n "$S" ] && [ -n "$MAILSLOT" ] || { echo "no slot for $T or no empty mailslot: nothing more to test"; finish; exit 1; }
check "known test data: sha256 of 1 MiB of zeros is the well-known value" '
  grep -q "^30e14955ebf1352266dc2ff8067e68104607e750abb9d3b36582b8af909fcb58  backup/zeros-1m\$" /tmp/backup.sha256'

echo "=== write the backup"
check "mtx load $S 0: drive 0 holds $T, ONLINE at BOT, not write-protected" '
  mtx -f $CH load $S 0 && online $D0 && grep -q BOT /tmp/mt.st && ! grep -q WR_PROT /tmp/mt.st'
check "tar -cf file 0 (the backup, 64 KiB records) and file 1 (a second tar) onto $T" '
  mt -f $D0 setblk 0 && tar -cf $D0 -b 128 -C /tmp backup && tar -cf $D0 -b 128 -C /tmp extra &&
  mt -f $D0 status | tee /dev/stderr | grep -q "File number=2, block number=0,"'
check "mt offline (UNLOAD through st), mtx unload $S 0: $T back in slot $S, drive 0 empty" '
  mt -f $D0 offline && mtx -f $CH unload $S 0 && [ "$(slot_of $T)" = "$S" ] && ! mtx -f $CH status | grep -q "Data Transfer Element 0:Full"'
# the drive compresses by default (DCE on) and usedBytes counts what is stored: the zeros and the text shrink, the
# random data does not
check "the API counts the data written: usedBytes of $T >= the $RANDOM_BYTES bytes of random data" '
  api GET /api/tapes/$T > /tmp/tape.json; cat /tmp/tape.json; u=$(json usedBytes < /tmp/tape.json); echo "usedBytes=$u"
  [ "${u:-0}" -ge $RANDOM_BYTES ]'

echo "=== export and archive"
check "mtx transfer $S $MAILSLOT (export): $T in the I/E slot, the API says IN TRANSIT TO VTS" '
  mtx -f $CH transfer $S $MAILSLOT && mtx -f $CH status | tee /dev/stderr | grep -Eq "Storage Element $MAILSLOT IMPORT/EXPORT:Full *:VolumeTag=$T *\$" &&
  s=$(state_of $T) && cat /tmp/tape.json && [ "$s" = "IN TRANSIT TO VTS" ]'
# ARCHIVING lasts only as long as the server-side copy, usually less than one poll: run.sh checks the whole history in
# the gateway's catalog after this scenario
check "the archive job: IN TRANSIT TO VTS -> (ARCHIVING) -> ARCHIVED within 120 s, no other state on the way" '
  wait_state $T 120 "IN TRANSIT TO VTS" ARCHIVING ARCHIVED'
check "GET /api/archive/status: $T ARCHIVED in GLACIER, progress 100, in no element, library copy deleted" '
  api GET "/api/archive/status?barcode=$T" > /tmp/st.json; cat /tmp/st.json
  [ "$(json state < /tmp/st.json)" = ARCHIVED ] && [ "$(json archiveClass < /tmp/st.json)" = GLACIER ] &&
  [ "$(json progress < /tmp/st.json)" = 100 ] && [ "$(json element < /tmp/st.json)" = null ] &&
  [ "$(json libraryCopyPendingDeletion < /tmp/st.json)" = false ]'
check "the changer reports UNIT ATTENTION 28/00: the inventory changed without a SCSI command" 'inventory_changed'
check "mtx status after the unit attention: $T is gone (no slot, no drive), the I/E slot is empty again" '
  mtx -f $CH status | tee /tmp/inv1 && ! grep -q "VolumeTag *= *$T" /tmp/inv1 &&
  grep -Eq "^ *Storage Element $MAILSLOT IMPORT/EXPORT:Empty" /tmp/inv1 && grep -Eq "^ *Storage Element $S:Empty" /tmp/inv1'

if [ "$(state_of $T)" != ARCHIVED ]; then   # nothing to retrieve: the rest would only fail for the same reason
  echo "$T is $(json state < /tmp/tape.json) instead of ARCHIVED: the retrieval and read-back steps are not run"; finish; exit 1
fi

echo "=== retrieve"
check "POST /api/tapes/$T/retrieve: 202 Accepted, RETRIEVING" '
  api POST /api/tapes/$T/retrieve > /tmp/rt.json; cat /tmp/rt.json; head -1 /tmp/api.out
  head -1 /tmp/api.out | grep -q " 202 " && [ "$(json state < /tmp/rt.json)" = RETRIEVING ]'
check "the retrieval job: RETRIEVING -> RETRIEVED within 120 s; read-only, in I/E element $MAILSLOT" '
  wait_state $T 120 RETRIEVING RETRIEVED && [ "$(json readOnly < /tmp/tape.json)" = true ] &&
  [ "$(json element < /tmp/tape.json)" = "$MAILSLOT" ] && [ "$(json elementType < /tmp/tape.json)" = import-export ]'
check "the changer reports UNIT ATTENTION 28/00 for the tape that appeared" 'inventory_changed'
check "mtx status: $T in I/E slot $MAILSLOT (IMPORT/EXPORT)" '
  mtx -f $CH status | tee /dev/stderr | grep -Eq "^ *Storage Element $MAILSLOT IMPORT/EXPORT:Full *:VolumeTag=$T *\$"'

echo "=== load and read back"
check "mtx load $MAILSLOT 0: drive 0 holds $T, ONLINE at BOT, st sees it write-protected (WR_PROT)" '
  mtx -f $CH load $MAILSLOT 0 && mtx -f $CH status | grep -Eq "Data Transfer Element 0:Full .*:VolumeTag *= *$T" &&
  online $D0 && grep -q BOT /tmp/mt.st && grep -q WR_PROT /tmp/mt.st'
check "st refuses to open it for writing: dd of=$D0 fails with EROFS (Read-only file system)" '
  dd if=/tmp/backup/README of=$D0 bs=64k 2> /tmp/dd.err; rc=$?; cat /tmp/dd.err; [ $rc != 0 ] && grep -qi "read-only file system" /tmp/dd.err'
check "the drive refuses a WRITE(6) at BOT itself: DATA PROTECT, write protected (sg_raw, past st)" '
  mt -f $D0 rewind && head -c 512 /dev/urandom > /tmp/w512 && sg_raw -v -s 512 -i /tmp/w512 $D0SG 0a 00 00 02 00 00 > /tmp/raw 2>&1
  rc=$?; cat /tmp/raw; [ $rc != 0 ] && grep -qi "data protect" /tmp/raw && grep -qi "write protected" /tmp/raw'
# (tar stops at its end-of-archive blocks, before the filemark: file 1 is reached with rewind + fsf 1)
check "rewind, tar -xf file 0; fsf 1, tar -xf file 1: the same $NFILES files, every sha256 identical to the backup" '
  mt -f $D0 rewind && mkdir -p /tmp/r && tar -xf $D0 -b 128 -C /tmp/r &&
  mt -f $D0 rewind && mt -f $D0 fsf 1 && tar -xf $D0 -b 128 -C /tmp/r &&
  for s in backup extra; do (cd /tmp/r && find $s -type f | sort | xargs sha256sum) > /tmp/r-$s.sha256; diff /tmp/$s.sha256 /tmp/r-$s.sha256 || exit 1; done &&
  echo "$(cat /tmp/r-backup.sha256 /tmp/r-extra.sha256 | wc -l) files identical"'
check "mt eod: the retrieved tape ends after file 1, as written" '
  mt -f $D0 rewind && mt -f $D0 eod && mt -f $D0 status | tee /dev/stderr | grep -q "File number=2,"'

echo "=== eject again"
check "mt offline, mtx unload $MAILSLOT 0 (export of the RETRIEVED tape): the API says ARCHIVED at once" '
  mt -f $D0 offline && mtx -f $CH unload $MAILSLOT 0 && s=$(state_of $T) && cat /tmp/tape.json && [ "$s" = ARCHIVED ]'
check "after the unit attention $T is gone from mtx status again, the I/E slot and drive 0 empty" '
  inventory_changed && mtx -f $CH status | tee /tmp/inv2 && ! grep -q "VolumeTag *= *$T" /tmp/inv2 &&
  grep -Eq "^ *Storage Element $MAILSLOT IMPORT/EXPORT:Empty" /tmp/inv2 && ! grep -q "Data Transfer Element 0:Full" /tmp/inv2'
check "the archive job deletes the retrieval's library copy: libraryCopyPendingDeletion false within 60 s" '
  for i in $(seq 1 120); do
    api GET "/api/archive/status?barcode=$T" > /tmp/st.json || break
    [ "$(json libraryCopyPendingDeletion < /tmp/st.json)" = false ] && break
    sleep 0.5
  done; cat /tmp/st.json
  [ "$(json state < /tmp/st.json)" = ARCHIVED ] && [ "$(json libraryCopyPendingDeletion < /tmp/st.json)" = false ]'
show "kernel messages from st/ch" 'dmesg | grep -E "st[0-9]+:|ch[0-9]+|\[ch|scsi" | tail -30'
finish
