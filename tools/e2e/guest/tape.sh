#!/bin/bash
# Guest scenario "tape": the gateway's tape library through the Linux st, ch and sg drivers, driven the way a
# backup server drives a library: mtx (changer), mt (st ioctls), GNU tar and dd on /dev/nstX, sg3-utils.
# Needs a changer and >= 1 drive (2 for the second-drive checks); E2E_BARCODES = the tapes in the storage slots
# (the first four are used: #1 for data, #2 slot-to-slot, #3 second drive, #4 mailslot).
# Data transfer element N is assumed to be the Nth tape device in SCSI address order (checked by the load step).
. /e2e/lib.sh
session_info
scsi_devices
CH=$CHANGER_SG; D0=${TAPES_NST[0]:-}; D0SG=${TAPES_SG[0]:-}; D1=${TAPES_NST[1]:-}; D1SG=${TAPES_SG[1]:-}
set -- ${E2E_BARCODES:-HRN001L4 HRN002L4 HRN003L4 HRN004L4}; T1=$1; T2=$2; T3=$3; T4=$4
[ -n "$CH" ] && [ -n "$D0" ] || { echo "need a changer and a tape drive"; echo "RESULT: 0 passed, 1 failed"; exit 1; }

at() {   # at /dev/nstX FILE BLOCK: st's position is file FILE, block BLOCK
  mt -f "$1" status | tee /tmp/mt.at | grep -q "File number=$2, block number=$3,"
}
export -f slot_of online at; export CH

# test data: tar trees, and a blob of 3 odd-sized variable records
mkdir -p /tmp/src1/d /tmp/src2 /tmp/src3
head -c 300000 /dev/urandom > /tmp/s && (cd /tmp/src1/d && split -b 3001 /tmp/s f-) && rm /tmp/s
head -c 4194304 /dev/urandom > /tmp/src1/big; head -c 1234567 /dev/urandom > /tmp/src1/odd
head -c 3000001 /dev/urandom > /tmp/src2/second; head -c 777777 /dev/urandom > /tmp/src3/appended
head -c $((3 * 166466)) /dev/urandom > /tmp/blob
for s in src1 src2 src3; do (cd /tmp && find $s -type f | sort | xargs sha256sum) > /tmp/$s.sha256; done

echo "=== devices and inventory"
check "kernel drivers: ch bound to the changer, st to every drive" '
  lsscsi -g; ls -l $CHANGER_CH ${TAPES_NST[*]} && [ -c "$CHANGER_CH" ] && dmesg | grep -E "Attached scsi (changer|tape)"'
check "INQUIRY: changer PDT 8, drive PDT 1; VPD 0x80 and 0x83 on both" '
  sg_inq $CH | grep -E "PDT=8 " && sg_inq $D0SG | grep -E "PDT=1 " && sg_vpd -p sn $D0SG && sg_vpd -p di $D0SG && sg_vpd -p sn $CH && sg_vpd -p di $CH'
check "mtx status: drives empty, every barcode full in a storage slot, an empty mailslot" '
  mtx -f $CH status | tee /tmp/inv0
  ! grep -q "Data Transfer Element [0-9]*:Full" /tmp/inv0 || exit 1
  for b in $E2E_BARCODES; do grep -Eq "^ *Storage Element [0-9]+:Full *:VolumeTag=$b *\$" /tmp/inv0 || { echo "missing $b"; exit 1; }; done
  grep -q "IMPORT/EXPORT:Empty" /tmp/inv0'
EMPTY_SLOT=$(sed -nE 's/^ *Storage Element ([0-9]+):Empty.*/\1/p' /tmp/inv0 | head -1)
MAILSLOT=$(sed -nE 's/^ *Storage Element ([0-9]+) IMPORT\/EXPORT:Empty.*/\1/p' /tmp/inv0 | head -1)
S1=$(slot_of $T1); S2=$(slot_of $T2); S3=$(slot_of $T3); S4=$(slot_of $T4)
echo "slots: $T1=$S1 $T2=$S2 $T3=$S3 $T4=$S4, first empty $EMPTY_SLOT, mailslot $MAILSLOT"
show "loaderinfo; sg_modes -p 0x1d (element address assignment)" 'loaderinfo -f $CH; sg_modes -p 0x1d $CH'
tur_settled() {   # tur_settled /dev/sgX: TEST UNIT READY until no UNIT ATTENTION is left (the power-on 29/00 of a new
                  # I_T nexus comes first); the last answer is in /tmp/tur
  local i
  for i in 1 2 3 4; do
    sg_turs -v "$1" > /tmp/tur 2>&1; cat /tmp/tur
    grep -qi "unit attention" /tmp/tur || return 0
  done
  return 1
}
check "empty drive: TEST UNIT READY says NOT READY, medium not present (after the power-on UNIT ATTENTION)" '
  tur_settled $D0SG && grep -qi "not present" /tmp/tur'
check_fails "mtx load from an empty slot is refused" 'mtx -f $CH load $EMPTY_SLOT 0'
check "mtx inventory (INITIALIZE ELEMENT STATUS) and mtx position $S1 (POSITION TO ELEMENT)" '
  mtx -f $CH inventory && mtx -f $CH position $S1'
check "mtx exchange $S1 $S2 swaps $T1 and $T2 (EXCHANGE MEDIUM), a second exchange swaps them back" '
  mtx -f $CH exchange $S1 $S2 && mtx -f $CH status | tee /tmp/invx &&
  grep -Eq "^ *Storage Element $S1:Full *:VolumeTag=$T2 *\$" /tmp/invx && grep -Eq "^ *Storage Element $S2:Full *:VolumeTag=$T1 *\$" /tmp/invx &&
  mtx -f $CH exchange $S1 $S2 && mtx -f $CH status | tee /tmp/invy &&
  grep -Eq "^ *Storage Element $S1:Full *:VolumeTag=$T1 *\$" /tmp/invy && grep -Eq "^ *Storage Element $S2:Full *:VolumeTag=$T2 *\$" /tmp/invy'

echo "=== load"
check "mtx load $S1 0: drive 0 holds $T1, slot $S1 is empty" '
  mtx -f $CH load $S1 0 && mtx -f $CH status | tee /tmp/inv1 | grep -Eq "Data Transfer Element 0:Full \(Storage Element $S1 Loaded\):VolumeTag *= *$T1" &&
  grep -Eq "^ *Storage Element $S1:Empty" /tmp/inv1'
check "st: drive 0 ONLINE and at BOT right after the load, no rewind needed (UNIT ATTENTION 28/00 on load)" '
  online $D0 && grep -q BOT /tmp/mt.st && grep -q "File number=0, block number=0," /tmp/mt.st'
check_fails "mtx load into the occupied drive 0 is refused" 'mtx -f $CH load $S2 0'
show "tapeinfo; sg_modes (all pages)" 'tapeinfo -f $D0SG; sg_modes -a $D0SG'
check "st read the drive's mode at open (MODE SENSE(6) page 0, header + block descriptor): mt status shows its density code" '
  mt -f $D0 status | tee /dev/stderr | grep -Eq "Density code 0x([1-9a-f][0-9a-f]?|[0-9a-f][1-9a-f])"'
check "fixed-block mode through st: mt setblk 512 survives the next open; 2 x 32 KiB writes make 128 blocks, 4 KiB reads return them" '
  mt -f $D0 rewind && mt -f $D0 setblk 512 && mt -f $D0 status | tee /dev/stderr | grep -q "Tape block size 512 bytes" &&
  head -c 65536 /tmp/blob > /tmp/fx && dd if=/tmp/fx of=$D0 bs=32k && mt -f $D0 rewind &&
  dd if=$D0 of=/dev/null bs=32k count=1 && mt -f $D0 tell | tee /dev/stderr | grep -q "At block 64\." &&
  mt -f $D0 rewind && dd if=$D0 of=/tmp/fx.r bs=4k 2>&1 | tee /dev/stderr | grep -q "^16+0 records in" && cmp /tmp/fx /tmp/fx.r'
check "READ BLOCK LIMITS; mt setblk 0 (variable blocks, MODE SELECT)" '
  sg_raw -r 6 $D0SG 05 00 00 00 00 00 && mt -f $D0 rewind && mt -f $D0 setblk 0 && mt -f $D0 status | grep -q "Tape block size 0 bytes"'

echo "=== write three files"
check "tar -cf file 0 (10 KiB records)" 'tar -cf $D0 -b 20 -C /tmp src1 && at $D0 1 0'
check "tar -cf file 1 (64 KiB records)" 'tar -cf $D0 -b 128 -C /tmp src2 && at $D0 2 0'
check "dd file 2: three 166466-byte variable records" 'dd if=/tmp/blob of=$D0 bs=166466 2>&1 | tee /dev/stderr | grep -q "^3+0 records out" && at $D0 3 0'

echo "=== read back"
check "rewind, tar -xf file 0, checksums match" 'mt -f $D0 rewind && at $D0 0 0 && mkdir -p /tmp/r1 && tar -xf $D0 -b 20 -C /tmp/r1 && cd /tmp/r1 && sha256sum -c --quiet /tmp/src1.sha256'
check "rewind, fsf 1 -> file 1 block 0, tar -xf, checksums match" 'mt -f $D0 rewind && mt -f $D0 fsf 1 && at $D0 1 0 && mkdir -p /tmp/r2 && tar -xf $D0 -b 128 -C /tmp/r2 && cd /tmp/r2 && sha256sum -c --quiet /tmp/src2.sha256'
check "short reads: 256 KiB reads of the 166466-byte records return 3 records, data intact (ILI + residual)" '
  mt -f $D0 rewind && mt -f $D0 fsf 2 && dd if=$D0 of=/tmp/blob.r bs=256k 2>&1 | tee /tmp/dd.r; grep -q "^0+3 records in" /tmp/dd.r && cmp /tmp/blob /tmp/blob.r'
check_fails "overlength: reading a 166466-byte record into a 64 KiB buffer fails" 'mt -f $D0 rewind && mt -f $D0 fsf 2 && dd if=$D0 of=/dev/null bs=64k count=1'

echo "=== positioning"
check "mt eod -> file 3 (SPACE to end-of-data)" 'mt -f $D0 rewind && mt -f $D0 eod && mt -f $D0 status | tee /dev/stderr | grep -q "File number=3,"'
check "rewind, fsf 5 fails at EOD and st says file 3 (BLANK CHECK with residue)" 'mt -f $D0 rewind; ! mt -f $D0 fsf 5 && mt -f $D0 status | tee /dev/stderr | grep -q "File number=3,"'
check "mt bsf 1 from the start of file 2 -> file 1" 'mt -f $D0 rewind && mt -f $D0 fsf 2 && mt -f $D0 bsf 1 && mt -f $D0 status | tee /dev/stderr | grep -q "File number=1,"'
check "mt bsfm 2 from the start of file 3 -> start of file 2; its records match" '
  mt -f $D0 rewind && mt -f $D0 fsf 3 && mt -f $D0 bsfm 2 && at $D0 2 0 && dd if=$D0 of=/tmp/blob.b bs=256k 2>/dev/null; cmp /tmp/blob /tmp/blob.b'
check "mt tell at BOT is block 0" 'mt -f $D0 rewind && mt -f $D0 tell | tee /dev/stderr | grep -q "At block 0\."'
check "mt tell at file 1, rewind, mt seek there (LOCATE), tar -xf file 1 matches" '
  mt -f $D0 rewind && mt -f $D0 fsf 1 && B=$(mt -f $D0 tell | sed -nE "s/At block ([0-9]+)\./\1/p") && echo "file 1 starts at block $B" &&
  [ "${B:-0}" -gt 0 ] && mt -f $D0 rewind && mt -f $D0 seek $B && mt -f $D0 tell | grep -q "At block $B\." &&
  mkdir -p /tmp/r2b && tar -xf $D0 -b 128 -C /tmp/r2b && cd /tmp/r2b && sha256sum -c --quiet /tmp/src2.sha256'
check "append after mt eod: tar -cf file 3, read it back; file 0 still intact" '
  mt -f $D0 eod && tar -cf $D0 -C /tmp src3 && mt -f $D0 rewind && mt -f $D0 fsf 3 && mkdir -p /tmp/r3 && tar -xf $D0 -C /tmp/r3 &&
  (cd /tmp/r3 && sha256sum -c --quiet /tmp/src3.sha256) && mt -f $D0 rewind && mkdir -p /tmp/r1b && tar -xf $D0 -b 20 -C /tmp/r1b &&
  cd /tmp/r1b && sha256sum -c --quiet /tmp/src1.sha256'
check "mt eod now says file 4" 'mt -f $D0 rewind && mt -f $D0 eod && mt -f $D0 status | grep -q "File number=4,"'
check "VERIFY(6) through sg: VTE verifies every block to end-of-data, VBF=2 two files" '
  mt -f $D0 rewind && sg_raw $D0SG 13 20 00 00 00 00 && sg_raw -r 20 $D0SG 34 00 00 00 00 00 00 00 00 00 2>/dev/null | tee /tmp/rp &&
  mt -f $D0 rewind && sg_raw $D0SG 13 08 00 00 02 00 && mt -f $D0 rewind'
check "SEND DIAGNOSTIC default self-test on the drive and the changer (sg_senddiag -t)" 'sg_senddiag -t $D0SG && sg_senddiag -t $CH'

echo "=== log pages and medium attributes"
check "sg_logs: the drive lists pages 0x2e (TapeAlert) and 0x31 (tape capacity)" 'sg_logs $D0SG | tee /dev/stderr | grep -Eq "0x2e" && sg_logs $D0SG | grep -Eq "0x31"'
check "sg_logs -p 0x2e: TapeAlert page, no flag set" 'sg_logs -p 0x2e $D0SG | tee /dev/stderr | grep -qi "tape alert\|tapealert" && ! sg_logs -p 0x2e $D0SG | grep -E ": *1$"'
check "sg_logs -p 0x31: tape capacity page with main partition remaining/maximum" 'sg_logs -p 0x31 $D0SG | tee /dev/stderr | grep -qi "capacity"'
check "sg_logs -p 0x1b: data compression page, this mount: more than 5 MB from the host, ratio x100 at least 100" '
  sg_logs -p 0x1b $D0SG | tee /tmp/dc && r=$(sed -nE "s/^ *Write compression ratio x100: ([0-9]+)$/\1/p" /tmp/dc) &&
  m=$(sed -nE "s/^ *Megabytes transferred from server: ([0-9]+)$/\1/p" /tmp/dc) && [ "${r:-0}" -ge 100 ] && [ "${m:-0}" -ge 5 ]'
check "sg_logs -p 0x17: volume statistics of $T1: barcode, manufacturer, personality Ultrium-N, and the last load's write compression ratio as page 0x1b reports it" '
  sg_logs -p 0x17 $D0SG | tee /tmp/vs && grep -Eq "^ *Volume barcode: $T1 *$" /tmp/vs && grep -Eq "^ *Volume manufacturer: TAPEGW *$" /tmp/vs &&
  grep -Eq "^ *Volume personality: Ultrium-[0-9]+ *$" /tmp/vs && v=$(sed -nE "s/^ *Last load write compression ratio: ([0-9]+)$/\1/p" /tmp/vs) &&
  echo "last load write compression ratio $v" && [ -n "$v" ] && [ "$v" = "$(sed -nE "s/^ *Write compression ratio x100: ([0-9]+)$/\1/p" /tmp/dc)" ]'
check "sg_read_attr: MAM attributes of the loaded tape (medium serial number, load count)" '
  sg_read_attr $D0SG | tee /dev/stderr | grep -qi "medium serial number" && sg_read_attr $D0SG | grep -qi "load count"'

echo "=== unload, transfers, mailslot"
check "mt offline (UNLOAD through st), mtx unload $S1 0: $T1 back in slot $S1" '
  mt -f $D0 offline && mtx -f $CH unload $S1 0 && [ "$(slot_of $T1)" = "$S1" ] && ! mtx -f $CH status | grep -q "Data Transfer Element 0:Full"'
check "mtx transfer $S2 -> $EMPTY_SLOT and back" '
  mtx -f $CH transfer $S2 $EMPTY_SLOT && [ "$(slot_of $T2)" = "$EMPTY_SLOT" ] && mtx -f $CH transfer $EMPTY_SLOT $S2 && [ "$(slot_of $T2)" = "$S2" ]'
if [ -n "$MAILSLOT" ]; then
  check "mtx transfer $S4 -> mailslot $MAILSLOT (export) and back (import)" '
    mtx -f $CH transfer $S4 $MAILSLOT && mtx -f $CH status | grep -Eq "Storage Element $MAILSLOT IMPORT/EXPORT:Full *:VolumeTag=$T4" &&
    mtx -f $CH transfer $MAILSLOT $S4 && [ "$(slot_of $T4)" = "$S4" ]'
fi

# ---- Randomized positioning through st --------------------------------------------------------------------------
# Backup software spaces, locates and reads in every order; a wrong sense key, INFORMATION residue or end position
# often shows only in a sequence. $T2 (otherwise only moved between slots) gets a known layout, then a reproducible
# pseudo-random sequence of mt fsf/bsf/fsr/bsr/fsfm/bsfm/eod/rewind/seek/asf and one-record dd reads runs against a
# model, which after every operation must agree with: mt's exit status, the drive's position (mt tell: READ
# POSITION), st's file and block numbers (mt status; st derives them from our sense data, so a wrong INFORMATION
# residue shows there and not in mt tell), and the data a read returns.
# The layout: PL[i] is logical object i, B a 4 KiB record (contents /tmp/pos/rec.i) or F a filemark; EOD is
# object PEOD. SSC-4 as st uses it, in variable-block mode:
#  - SPACE filemarks N (fsf): just after the Nth filemark; EOD first: BLANK CHECK (fails), at EOD. Reverse (bsf):
#    on the BOP side of the Nth filemark; BOP first: NO SENSE + EOM (fails), at BOP.
#  - SPACE blocks N (fsr): a filemark stops it after the filemark (NO SENSE + FILEMARK, fails); EOD: BLANK CHECK,
#    at EOD. Reverse (bsr): a filemark stops it on its BOP side; BOP: NO SENSE + EOM, at BOP.
#  - LOCATE (seek K, st sends the block address form, BT=1, which our drive maps to logical object numbers): beyond
#    EOD BLANK CHECK, positioned at EOD (SSC-4 LOCATE); at EOD itself GOOD.
# st's own behaviour, modelled (drivers/scsi/st.c, Linux 6.1; each mt/dd opens and closes /dev/nstX, which resets
# st's read/write state but not its end-of-file state, STps->eof, nor its file/block counters):
#  - eod (MTEOM) is SPACE filemarks 0x7FFFFF: the BLANK CHECK at EOD counts as success, and the file number is the old
#    one plus 0x7FFFFF minus the residue.
#  - fsfm N is fsf N then bsf 1 (on the BOP side of the last filemark crossed); bsfm N is bsf N then fsf 1; asf N
#    is rewind then fsf N.
#  - st's file/block counters (what mt status prints; -1 is unknown, and unknown stays unknown when spacing): fsf
#    file += N, block 0, and at EOD file += N - residue, block unknown; bsf file -= N, block unknown, and at BOP
#    file -= N - |residue|, block 0; fsr block += N, stopped by a filemark file + 1, block 0, at EOD block += N -
#    residue; bsr block -= N, stopped by a filemark file - 1 (even from unknown: -1 becomes -2), block unknown, at
#    BOP block = old - N + |residue| (also from unknown); seek: both unknown (0/0 for block 0); rewind 0/0; mt tell
#    at BOP sets both to 0 (READ POSITION's BOP bit), so the model reads mt status before mt tell; a read counts a
#    block, a filemark read is file + 1, block 0; a read at EOD makes the block unknown.
#  - end-of-file state: fsf (and bsfm, which ends with an fsf) leave "after a filemark" (ST_FM), as does a read that
#    returns a filemark (0 bytes) or an fsr stopped by one; a BLANK CHECK leaves "at EOD" (ST_EOD), as does eod;
#    everything else clears it. A read in state ST_EOD fails with EIO without a command; a read that hits EOD
#    (BLANK CHECK) returns 0 bytes right after a filemark (and st goes to ST_EOD), else fails with EIO. A read of a
#    filemark returns 0 bytes (dd succeeds); st repositions nothing at close in variable-block mode.
#  Nothing here is refused by st itself: after every failure above st still passes the next operation to the drive.
# One seed and one operation count per layout (E2E_POS_SEEDS, E2E_POS_OPS override them, e.g. for a longer soak);
# the op log a mismatch prints is the reproduction.
POS_SEEDS=${E2E_POS_SEEDS:-199 119}
POS_OPS=${E2E_POS_OPS:-150 100}
pos_fsf() {   # pos_fsf N: the model of mt fsf N
  local n=$1 i=$MP c=0
  while [ $i -lt $PEOD ]; do
    if [ "${PL[i]}" = F ]; then c=$((c + 1)); [ $c -eq $n ] && break; fi
    i=$((i + 1))
  done
  if [ $i -lt $PEOD ]; then MP=$((i + 1)); XR=0; ME=F; MB=0; [ $MF -ge 0 ] && MF=$((MF + n))
  else MP=$PEOD; XR=1; ME=E; MB=-1; [ $MF -ge 0 ] && MF=$((MF + c)); fi   # BLANK CHECK, residue N - c
  return 0
}
pos_bsf() {   # pos_bsf N: mt bsf N
  local n=$1 i=$((MP - 1)) c=0
  while [ $i -ge 0 ]; do
    if [ "${PL[i]}" = F ]; then c=$((c + 1)); [ $c -eq $n ] && break; fi
    i=$((i - 1))
  done
  ME=N
  if [ $i -ge 0 ]; then MP=$i; XR=0; MB=-1; [ $MF -ge 0 ] && MF=$((MF - n))
  else MP=0; XR=1; MB=0; [ $MF -ge 0 ] && MF=$((MF - c)); fi   # BOP (EOM), residue -(N - c)
  return 0
}
pos_fsr() {   # pos_fsr N: mt fsr N
  local n=$1 i=$MP k=0
  while [ $k -lt $n ]; do
    if [ $i -ge $PEOD ]; then   # BLANK CHECK, residue N - k
      MP=$PEOD; XR=1; ME=E; if [ $MB -ge 0 ]; then MB=$((MB + k)); fi; return 0
    fi
    if [ "${PL[i]}" = F ]; then   # FILEMARK: after it
      MP=$((i + 1)); XR=1; ME=F; MB=0; [ $MF -ge 0 ] && MF=$((MF + 1)); return 0
    fi
    i=$((i + 1)); k=$((k + 1))
  done
  MP=$i; XR=0; ME=N; [ $MB -ge 0 ] && MB=$((MB + n))
  return 0
}
pos_bsr() {   # pos_bsr N: mt bsr N
  local n=$1 i=$((MP - 1)) k=0
  ME=N
  while [ $k -lt $n ]; do
    if [ $i -lt 0 ]; then   # BOP (EOM), residue -(N - k); st: block = (old - N) + (N - k), old taken as is if unknown
      MP=0; XR=1; if [ $MB -ge 0 ]; then MB=$((MB - k)); else MB=$((MB + n - k)); fi; return 0
    fi
    if [ "${PL[i]}" = F ]; then   # FILEMARK: on its BOP side
      MP=$i; XR=1; MF=$((MF - 1)); MB=-1; return 0
    fi
    i=$((i - 1)); k=$((k + 1))
  done
  MP=$((MP - n)); XR=0; [ $MB -ge 0 ] && MB=$((MB - n))
  return 0
}
pos_eod() {   # mt eod
  local i c=0
  for ((i = MP; i < PEOD; i++)); do if [ "${PL[i]}" = F ]; then c=$((c + 1)); fi; done
  MP=$PEOD; XR=0; ME=E; MB=-1; [ $MF -ge 0 ] && MF=$((MF + c))
  return 0
}
pos_rewind() { MP=0; XR=0; ME=N; MF=0; MB=0; }
pos_seek() {   # pos_seek K: mt seek K
  ME=N; MF=-1; MB=-1
  if [ $1 -gt $PEOD ]; then MP=$PEOD; XR=1; else MP=$1; XR=0; [ $1 -eq 0 ] && MF=0 && MB=0; fi
  return 0
}
pos_fsfm() {   # fsf N, then bsf 1 back over the filemark just crossed
  pos_fsf $1
  if [ $XR = 0 ]; then MP=$((MP - 1)); ME=N; MB=-1; [ $MF -ge 0 ] && MF=$((MF - 1)); fi
  return 0
}
pos_bsfm() {   # bsf N, then fsf 1 over the filemark it stopped at
  pos_bsf $1
  if [ $XR = 0 ]; then MP=$((MP + 1)); ME=F; MB=0; [ $MF -ge 0 ] && MF=$((MF + 1)); fi
  return 0
}
pos_asf() { pos_rewind; if [ $1 -gt 0 ]; then pos_fsf $1; fi; return 0; }
pos_read() {   # dd bs=64k count=1; XD: the record's object number, "-" for 0 bytes, empty when the read fails
  XD=""
  if [ $ME = E ]; then XR=1; return 0; fi
  if [ $MP -ge $PEOD ]; then
    MB=-1
    if [ $ME = F ]; then XR=0; XD=-; ME=E; else XR=1; fi
    return 0
  fi
  XR=0
  if [ "${PL[MP]}" = F ]; then XD=-; ME=F; MB=0; [ $MF -ge 0 ] && MF=$((MF + 1))
  else XD=$MP; ME=N; [ $MB -ge 0 ] && MB=$((MB + 1)); fi
  MP=$((MP + 1))
  return 0
}
pos_step() {   # pos_step INDEX OP [N]: one operation on $D0 and the model; appends a line to $POS_LOG; 1 on a mismatch
  local j=$1 op=$2 n=${3:-} rc pos st line data=ok why="" raw=""
  XD=""; pos_$op $n
  if [ $op = read ]; then
    dd if=$D0 of=/tmp/pos/rd bs=64k count=1 2>/dev/null; rc=$?   # dd truncates rd before it reads
    if [ "$XD" = - ]; then [ -s /tmp/pos/rd ] && data="$(stat -c %s /tmp/pos/rd) bytes, want 0"
    elif [ -n "$XD" ]; then cmp -s /tmp/pos/rd /tmp/pos/rec.$XD || data="not record $XD ($(head -c 40 /tmp/pos/rd | tr -d '\0'))"; fi
  else
    mt -f $D0 $op $n 2>/dev/null; rc=$?
  fi
  [ $rc = 0 ] || rc=1
  # st's counters first: mt tell at BOP resets them (below), which would hide the residue of a space that hit BOP
  # (bash regexes rather than sed: every process counts under TCG)
  st=$(mt -f $D0 status 2>&1)
  if [[ $st =~ File\ number=(-?[0-9]+),\ block\ number=(-?[0-9]+), ]]; then st=${BASH_REMATCH[1]}/${BASH_REMATCH[2]}
  else raw="     mt status: $st"; st="?"; fi
  [ "$st" = $MF/$MB ] || why="$why st-counters"
  printf -v line '%4s %-7s rc %s (want %s)  st file/block %-6s (want %-6s)' "$j" "$op${n:+ $n}" $rc $XR "$st" $MF/$MB
  pos=$(mt -f $D0 tell 2>&1)
  if [[ $pos =~ ^At\ block\ ([0-9]+)\.$ ]]; then pos=${BASH_REMATCH[1]}; else raw="$raw${raw:+$'\n'}     mt tell: $pos"; pos="?"; fi
  if [ $MP -eq 0 ]; then MF=0; MB=0; fi   # mt tell at BOP: st takes file 0, block 0 from READ POSITION's BOP bit
  [ $rc = $XR ] || why="$why exit"
  [ "$pos" = $MP ] || why="$why position"
  [ "$data" = ok ] || why="$why data"
  printf '%s  tell %-3s (want %-3s)  eof %s%s%s\n' "$line" "$pos" $MP $ME "${XD:+  read ${XD/-/0 bytes}}" "${why:+  MISMATCH:$why}" >> $POS_LOG
  [ "$data" = ok ] || echo "     data: $data" >> $POS_LOG
  [ -z "$raw" ] || echo "$raw" >> $POS_LOG
  [ -z "$why" ]
}
pos_start() {   # pos_start LOGNAME: rewind, model at BOP (st's counters and eof state as mt rewind leaves them)
  POS_LOG=/tmp/pos/$1.log; : > $POS_LOG
  mt -f $D0 rewind && pos_rewind
}
pos_fail() { echo "op log ($POS_LOG):"; cat $POS_LOG; return 1; }
pos_random() {   # pos_random SEED N: N pseudo-random operations (bash RANDOM, seeded)
  local seed=$1 nops=$2 j r op n
  declare -A count=()
  pos_start seed-$seed || return 1
  RANDOM=$seed
  for ((j = 1; j <= nops; j++)); do
    r=$((RANDOM % 100)); n=""
    if   [ $r -lt 14 ]; then op=fsr; n=$((1 + RANDOM % 4))   # 1-4 records, one in four 5-8
      [ $((RANDOM % 4)) = 0 ] && n=$((n + 4))
    elif [ $r -lt 28 ]; then op=bsr; n=$((1 + RANDOM % 4))
      [ $((RANDOM % 4)) = 0 ] && n=$((n + 4))
    elif [ $r -lt 40 ]; then op=fsf; n=$((1 + RANDOM % 3))
    elif [ $r -lt 51 ]; then op=bsf; n=$((1 + RANDOM % 3))
    elif [ $r -lt 56 ]; then op=fsfm; n=$((1 + RANDOM % 3))
    elif [ $r -lt 61 ]; then op=bsfm; n=$((1 + RANDOM % 3))
    elif [ $r -lt 70 ]; then op=seek; n=$((RANDOM % (PEOD + 1)))     # up to EOD itself; one in four beyond it
      [ $((RANDOM % 4)) = 0 ] && n=$((PEOD + 1 + RANDOM % 3))
    elif [ $r -lt 74 ]; then op=eod
    elif [ $r -lt 77 ]; then op=rewind
    elif [ $r -lt 80 ]; then op=asf; n=$((RANDOM % 6))
    else op=read; fi
    pos_step $j $op $n || { pos_fail; return 1; }
    count[$op]=$((${count[$op]:-0} + 1))
    [ $XR = 1 ] && count[failed]=$((${count[failed]:-0} + 1))
  done
  echo "seed $seed: $nops operations matched the model (failed as expected: ${count[failed]:-0}):"
  for op in fsf bsf fsr bsr fsfm bsfm seek eod rewind asf read; do printf ' %s %s' $op ${count[$op]:-0}; done; echo
  tail -3 $POS_LOG
}
echo "=== randomized positioning through st ($T2 in drive 0)"
mkdir -p /tmp/pos
PL=(B B B B B F F B B B F B B B B B B B F); PEOD=${#PL[@]}
for i in "${!PL[@]}"; do [ ${PL[i]} = B ] && yes "$T2 logical object $i" | head -c 4096 > /tmp/pos/rec.$i; done
cat /tmp/pos/rec.{0..4} > /tmp/pos/file0; cat /tmp/pos/rec.{7..9} > /tmp/pos/file2; cat /tmp/pos/rec.{11..17} > /tmp/pos/file3
check "positioning: mtx load $S2 0 ($T2), setblk 0, files of 5, 0, 3, 7 records each ended by a filemark (EOD at $PEOD); every object reads back in order, then 0 bytes at EOD, then EIO" '
  mtx -f $CH load $S2 0 && online $D0 >/dev/null && mt -f $D0 rewind && mt -f $D0 setblk 0 &&
  dd if=/tmp/pos/file0 of=$D0 bs=4k 2>/dev/null && mt -f $D0 weof 1 && dd if=/tmp/pos/file2 of=$D0 bs=4k 2>/dev/null &&
  dd if=/tmp/pos/file3 of=$D0 bs=4k 2>/dev/null && mt -f $D0 tell | tee /dev/stderr | grep -q "^At block $PEOD\.$" &&
  pos_start layout && for ((j = 1; j <= PEOD + 2; j++)); do pos_step $j read || { pos_fail; exit 1; }; done && cat $POS_LOG'
set -- $POS_SEEDS; POS_SEED1=$1; POS_SEED2=${2:-$(($1 + 1))}; set -- $POS_OPS; POS_N1=$1; POS_N2=${2:-$1}
check "positioning: seed $POS_SEED1, $POS_N1 random fsf/bsf/fsr/bsr/fsfm/bsfm/seek/eod/rewind/asf/dd reads match the model (exit status, mt tell, st file/block, data)" '
  pos_random $POS_SEED1 $POS_N1'
# The same tape without the trailing filemark: a short erase (mt erase 0, ERASE LONG=0) on the BOP side of the last
# filemark writes EOD there, so file 3 runs into EOD after its last record (fsr and reads meet EOD after a record).
PL=(B B B B B F F B B B F B B B B B B B); PEOD=${#PL[@]}
check "positioning: mt seek $PEOD, mt erase 0 (short erase) leaves EOD after the last record; seed $POS_SEED2, $POS_N2 random operations match the model" '
  mt -f $D0 seek $PEOD && mt -f $D0 erase 0 && mt -f $D0 rewind && mt -f $D0 eod && mt -f $D0 tell | tee /dev/stderr | grep -q "^At block $PEOD\.$" &&
  pos_random $POS_SEED2 $POS_N2'
# ---- mt positioning commands through st -------------------------------------------------------------------------
# The mt-st commands the sequences above do not use, each on the known layout $T2 now holds (the second layout):
# file 0 records 0-4, filemark 5, file 1 empty (filemark 6), file 2 records 7-9, filemark 10, file 3 records
# 11-17, EOD 18 (15 records + 3 filemarks). mt-st 1.7 has no "eom": its MTEOM commands are eod and seod. What st
# sends (drivers/scsi/st.c): seod SPACE 0x7FFFFF filemarks (BLANK CHECK counts as success); fsfm N SPACE N
# filemarks then SPACE -1 filemark; bsfm N SPACE -N then SPACE 1 filemark; asf N REWIND then SPACE N filemarks;
# retension LOAD UNLOAD with LOAD+RETEN (1B, byte 4 = 03h); load LOAD UNLOAD with LOAD (byte 4 = 01h); wset N WRITE
# FILEMARKS with WSMK (10 02 ..); fss/bss N SPACE setmarks (11 04 ..). LTO drives have no setmarks: wset, fss and
# bss are ILLEGAL REQUEST, INVALID FIELD IN CDB (st logs the sense, mt says EIO), nothing moves or is written. A
# SPACE blocks stopped by a filemark fails (NO SENSE + FILEMARK: EIO) after the mark going forward, on its BOP side
# going back (SSC-4). mt load on a loaded tape rewinds without telling st (no unit attention): st's counters stay
# until mt tell reads READ POSITION's BOP bit, so the load check reads mt tell before mt status. mt-st 1.7 adds
# "mt: The tape is write-protected." to a failed wset on a writable tape (its test is inverted; fixed in 1.8), so
# the wset check also shows that mt status has no WR_PROT.
echo "=== mt positioning commands ($T2 in drive 0)"
mo_tell() { mt -f $D0 tell | tee /dev/stderr | grep -q "^At block $1\.$"; }   # mo_tell N: READ POSITION says N
mo_at() { at $D0 $1 $2 || { echo "st: $(grep -E "File number" /tmp/mt.at), want file $1, block $2"; return 1; }; }
mo_read() {   # mo_read OBJECT|fm: one 64 KiB dd read through st returns that record of the layout, or 0 bytes (a filemark)
  rm -f /tmp/pos/rd; dd if=$D0 of=/tmp/pos/rd bs=64k count=1 2>/dev/null || { echo "read failed (want ${1/fm/a filemark})"; return 1; }
  if [ $1 = fm ]; then [ ! -s /tmp/pos/rd ] || { echo "read $(stat -c %s /tmp/pos/rd) bytes, want 0 (a filemark)"; return 1; }
  else cmp -s /tmp/pos/rd /tmp/pos/rec.$1 || { echo "read \"$(head -c 40 /tmp/pos/rd | tr -d '\0')\", want record $1"; return 1; }; fi
  echo "read: ${1/fm/filemark (0 bytes)}"
}
mo_eio() {   # mo_eio ARGS: mt -f $D0 ARGS fails the way mt-st reports an ioctl's EIO: "<device>: Input/output error", exit 2
  local rc; mt -f $D0 "$@" > /tmp/mo.err 2>&1; rc=$?; cat /tmp/mo.err; echo "mt $*: exit $rc"
  [ $rc = 2 ] && grep -qxF "$D0: Input/output error" /tmp/mo.err
}
mo_mark() { dmesg | wc -l > /tmp/mo.dm; }   # then mo_illegal: the kernel log since has st's ILLEGAL REQUEST 24/00
mo_illegal() {
  dmesg | tail -n +$(($(cat /tmp/mo.dm) + 1)) | tee /tmp/mo.dmsg
  grep -q "Sense Key : Illegal Request" /tmp/mo.dmsg && grep -q "Add. Sense: Invalid field in cdb" /tmp/mo.dmsg
}
check "mt seod (MTEOM) from BOT and from file 2 block 1: at EOD, mt tell 18 (15 records + 3 filemarks), st file 3, block -1 (unknown), EOD status bit" '
  mt -f $D0 rewind && mt -f $D0 seod && mo_at 3 -1 && grep -q " EOD" /tmp/mt.at && mo_tell 18 &&
  mt -f $D0 rewind && mt -f $D0 fsf 2 && mt -f $D0 fsr 1 && mo_at 2 1 && mt -f $D0 seod && mo_at 3 -1 && mo_tell 18'
check "after mt eod: bsf 1 stops on the BOP side of filemark 10 (tell 10, st file 2), a read returns it (0 bytes), then record 11; eod, bsfm 2: start of file 2 (tell 7, st 2/0), record 7" '
  mt -f $D0 eod && mt -f $D0 bsf 1 && mo_at 2 -1 && mo_tell 10 && mo_read fm && mo_tell 11 && mo_read 11 &&
  mt -f $D0 eod && mo_tell 18 && mt -f $D0 bsfm 2 && mo_at 2 0 && mo_tell 7 && mo_read 7'
check "mt fsfm 3 from BOT: on the BOP side of the 3rd filemark, the end of file 2 (tell 10, st file 2); the read returns the filemark (0 bytes), the next record 11; fsfm 1: tell 5, then filemarks 5 and 6, then record 7" '
  mt -f $D0 rewind && mt -f $D0 fsfm 3 && mo_at 2 -1 && mo_tell 10 && mo_read fm && mo_at 3 0 && mo_read 11 && mo_tell 12 &&
  mt -f $D0 rewind && mt -f $D0 fsfm 1 && mo_at 0 -1 && mo_tell 5 && mo_read fm && mo_read fm && mo_at 2 0 && mo_read 7'
check "mt asf 2 from EOD: file 2 block 0 (tell 7), record 7; asf 3: tell 11, record 11; asf 0: BOT (tell 0), record 0" '
  mt -f $D0 eod && mt -f $D0 asf 2 && mo_at 2 0 && mo_tell 7 && mo_read 7 && mt -f $D0 asf 3 && mo_at 3 0 && mo_tell 11 && mo_read 11 &&
  mt -f $D0 asf 0 && mo_at 0 0 && mt -f $D0 status | grep -q " BOT" && mo_tell 0 && mo_read 0'
check "mt fsr 4 from file 0 block 3 stops after filemark 5: mt fails (EIO), tell 6, st file 1 block 0; the next read is filemark 6 (0 bytes), then record 7" '
  mt -f $D0 rewind && mt -f $D0 fsr 3 && mo_at 0 3 && mo_tell 3 && mo_eio fsr 4 && mo_tell 6 && mo_at 1 0 && mo_read fm && mo_read 7'
check "mt bsr 4 from file 2 block 2 stops on the BOP side of filemark 6: mt fails (EIO), tell 6, st file 1; the next read is that filemark (0 bytes), then record 7" '
  mt -f $D0 asf 2 && mt -f $D0 fsr 2 && mo_at 2 2 && mo_tell 9 && mo_eio bsr 4 && mo_tell 6 && mo_at 1 -1 && mo_read fm && mo_at 2 0 && mo_read 7'
check "mt retension (LOAD UNLOAD, LOAD+RETEN) from file 3 block 2: BOT, st 0/0, tell 0; file 0 (five 4 KiB records) and file 2 read back, EOD still at 18" '
  mt -f $D0 asf 3 && mt -f $D0 fsr 2 && mo_tell 13 && mt -f $D0 retension && mo_at 0 0 && grep -q " BOT" /tmp/mt.at && mo_tell 0 &&
  dd if=$D0 of=/tmp/pos/f0 bs=64k 2>&1 | tee /dev/stderr | grep -x "0+5 records in" >/dev/null && cmp /tmp/pos/f0 /tmp/pos/file0 && mo_tell 6 &&
  mt -f $D0 asf 2 && dd if=$D0 of=/tmp/pos/f2 bs=64k count=3 2>/dev/null && cmp /tmp/pos/f2 /tmp/pos/file2 && mt -f $D0 eod && mo_tell 18'
check "mt load (LOAD UNLOAD, LOAD) on the loaded tape from file 2 block 1: tell 0, then st 0/0 at BOT; file 0 and file 3 read back, EOD still at 18" '
  mt -f $D0 asf 2 && mt -f $D0 fsr 1 && mo_tell 8 && mt -f $D0 load && mo_tell 0 && mo_at 0 0 && grep -q " BOT" /tmp/mt.at &&
  dd if=$D0 of=/tmp/pos/f0 bs=64k 2>/dev/null && cmp /tmp/pos/f0 /tmp/pos/file0 &&
  mt -f $D0 asf 3 && dd if=$D0 of=/tmp/pos/f3 bs=64k count=7 2>/dev/null && cmp /tmp/pos/f3 /tmp/pos/file3 && mt -f $D0 eod && mo_tell 18'
check "mt wset 1 (WRITE FILEMARKS, WSMK=1) at file 2 block 1: EIO, st logs ILLEGAL REQUEST 24/00 (LTO has no setmarks); tell 8, st 2/1 and no WR_PROT, record 8 still there, EOD still at 18" '
  mt -f $D0 asf 2 && mt -f $D0 fsr 1 && mo_tell 8 && mo_mark && mo_eio wset 1 && mo_illegal && mo_tell 8 && mo_at 2 1 &&
  ! grep -q WR_PROT /tmp/mt.at && mo_read 8 && mt -f $D0 eod && mo_tell 18 && mo_at 3 -1'
check "mt fss 1 and mt bss 1 (SPACE setmarks) at file 2 block 1: each EIO with ILLEGAL REQUEST 24/00 logged; tell 8 and st 2/1 after both, record 8 next; rewind" '
  mt -f $D0 asf 2 && mt -f $D0 fsr 1 && mo_tell 8 && mo_mark && mo_eio fss 1 && mo_illegal && mo_tell 8 && mo_at 2 1 &&
  mo_mark && mo_eio bss 1 && mo_illegal && mo_tell 8 && mo_at 2 1 && mo_read 8 && mt -f $D0 rewind && mo_tell 0'
# ---- Fixed-block mode through st ------------------------------------------------------------------------------
# Backup software that runs the drive in fixed-block mode (mt setblk N: MODE SELECT block descriptor) reads and
# spaces in blocks of N bytes; every block is still one logical object (SSC-4 4.2.5), so LOCATE/READ POSITION count
# blocks and filemarks alike. A fixed READ of K blocks that meets a filemark returns the blocks before it (NO SENSE
# + FILEMARK, INFORMATION = K minus the blocks read; st hands the bytes to the reader and reports the filemark on the
# next read); a block of another length is ILI with INFORMATION = K minus the whole blocks read, positioned after it
# (SSC-4 READ(6) with FIXED=1). Layout on $T2: file 0 = blocks 0-39 (1 KiB), filemark 40, file 1 = blocks 41-50,
# filemark 51, EOD 52.
echo "=== fixed-block mode through st ($T2 in drive 0)"
mkdir -p /tmp/fixd && head -c 40960 /dev/urandom > /tmp/fixd/a && head -c 10240 /dev/urandom > /tmp/fixd/b && head -c 3000 /dev/urandom > /tmp/fixd/v
fx_block() { tail -c +$(($2 * 1024 + 1)) /tmp/fixd/$1 | head -c $((${3:-1} * 1024)); }   # fx_block FILE FIRST [COUNT]
fx_tell() { mt -f $D0 tell | tee /dev/stderr | grep -q "^At block $1\.$"; }
export -f fx_block fx_tell
check "fixed 1 KiB blocks: mt setblk 1024, dd 40 KiB (bs=8k) and 10 KiB (bs=2k): two files of 40 and 10 blocks, mt tell 52 at EOD, st file 2" '
  mt -f $D0 rewind && mt -f $D0 setblk 1024 && dd if=/tmp/fixd/a of=$D0 bs=8k && dd if=/tmp/fixd/b of=$D0 bs=2k &&
  fx_tell 52 && mt -f $D0 status | tee /dev/stderr | grep -q "Tape block size 1024 bytes" && at $D0 2 0'
check "fixed: rewind, three 4 KiB reads return blocks 0-11; mt tell 12, st file 0 block 12" '
  mt -f $D0 rewind && dd if=$D0 of=/tmp/fixd/r bs=4k count=3 2>/dev/null && cmp /tmp/fixd/r <(fx_block a 0 12) && fx_tell 12 && at $D0 0 12'
check "fixed: fsr 5, fsr 12, bsr 2 count 1 KiB blocks (tell 5, 17, 15); a 1 KiB read then returns block 15" '
  mt -f $D0 rewind && mt -f $D0 fsr 5 && fx_tell 5 && mt -f $D0 fsr 12 && fx_tell 17 && mt -f $D0 bsr 2 && fx_tell 15 && at $D0 0 15 &&
  dd if=$D0 of=/tmp/fixd/r bs=1k count=1 2>/dev/null && cmp /tmp/fixd/r <(fx_block a 15) && fx_tell 16'
check "fixed: a 64 KiB read at block 30 returns the 10 blocks before the filemark, the next read 0 bytes, the next file 1 blocks 0-7" '
  mt -f $D0 seek 30 && dd if=$D0 of=/tmp/fixd/r1 bs=64k count=1 2>/dev/null && cmp /tmp/fixd/r1 <(fx_block a 30 10) &&
  dd if=$D0 of=/tmp/fixd/r2 bs=64k count=1 2>/dev/null && [ ! -s /tmp/fixd/r2 ] &&
  dd if=$D0 of=/tmp/fixd/r3 bs=8k count=1 2>/dev/null && cmp /tmp/fixd/r3 <(fx_block b 0 8)'
check "fixed: fsr 10 from block 35 stops after the filemark (fails, tell 41); bsr 5 from block 43 stops on its BOP side (fails, tell 40)" '
  mt -f $D0 seek 35 && ! mt -f $D0 fsr 10 && fx_tell 41 && mt -f $D0 seek 43 && ! mt -f $D0 bsr 5 && fx_tell 40'
check "fixed: fsf 1, bsf 1, eod keep counting blocks: tell 41, 40, 52" '
  mt -f $D0 rewind && mt -f $D0 fsf 1 && fx_tell 41 && at $D0 1 0 && mt -f $D0 bsf 1 && fx_tell 40 && mt -f $D0 eod && fx_tell 52'
check "fixed: a 3000-byte record (written in variable mode at EOD) read as one 1 KiB block: ILI, INFORMATION 1, positioned after it (sg_raw); st fails the read" '
  mt -f $D0 setblk 0 && mt -f $D0 eod && dd if=/tmp/fixd/v of=$D0 bs=3000 2>/dev/null && mt -f $D0 setblk 1024 && mt -f $D0 seek 52 &&
  sg_raw -r 1024 $D0SG 08 01 00 00 01 00 2>&1 | tee /tmp/fixd/ili; grep -Eq "ILI|[Ii]ncorrect length" /tmp/fixd/ili && grep -Eq "Info fld=0x0*1 " /tmp/fixd/ili &&
  fx_tell 53 && mt -f $D0 seek 52 && ! dd if=$D0 of=/dev/null bs=1k count=1'
check "fixed: mt setblk 0 (variable again): the 3000-byte record reads back whole at block 52" '
  mt -f $D0 setblk 0 && mt -f $D0 seek 52 && dd if=$D0 of=/tmp/fixd/r bs=3000 count=1 2>/dev/null && cmp /tmp/fixd/r /tmp/fixd/v'
# SSC-4 logical block protection through sg (what LTFS's scsi_lbprotect=on and IBM Storage Protect's LBPROTECT send):
# MODE SELECT(10) of the Control Data Protection page (0Ah/F0h) with the Reed-Solomon CRC (method 01h, 4 bytes,
# LBP_W + LBP_R); 82F5BED0h is the ECMA-319 CRC of 1000 "A" bytes (tests/TapeGateway.Scsi.Tests, ControlDataProtectionTests).
check "logical block protection (sg_raw): a block with its Reed-Solomon CRC is taken, one with a wrong CRC is HARDWARE ERROR 10/01; read back with the CRC appended, and without it once protection is off" '
  mkdir -p /tmp/lbp && head -c 1000 /dev/zero | tr "\0" A > /tmp/lbp/data &&
  { cat /tmp/lbp/data; printf "\x82\xf5\xbe\xd0"; } > /tmp/lbp/blk && { cat /tmp/lbp/data; printf "\x82\xf5\xbe\xd1"; } > /tmp/lbp/bad &&
  { head -c 8 /dev/zero; printf "\x4a\xf0\x00\x1c\x01\x04\xc0"; head -c 25 /dev/zero; } > /tmp/lbp/on &&
  { head -c 8 /dev/zero; printf "\x4a\xf0\x00\x1c"; head -c 28 /dev/zero; } > /tmp/lbp/off &&
  mt -f $D0 eod && sg_raw -s 40 -i /tmp/lbp/on $D0SG 55 10 00 00 00 00 00 00 28 00 &&
  sg_raw -s 1004 -i /tmp/lbp/blk $D0SG 0a 00 00 03 ec 00 &&
  { sg_raw -s 1004 -i /tmp/lbp/bad $D0SG 0a 00 00 03 ec 00 2>&1; true; } | tee /tmp/lbp/sense; grep -qi "hardware error" /tmp/lbp/sense && grep -qi "guard check" /tmp/lbp/sense &&
  sg_raw $D0SG 11 00 ff ff ff 00 && sg_raw -r 1004 -o /tmp/lbp/rd $D0SG 08 00 00 03 ec 00 && cmp /tmp/lbp/rd /tmp/lbp/blk &&
  sg_raw -s 40 -i /tmp/lbp/off $D0SG 55 10 00 00 00 00 00 00 28 00 &&
  sg_raw $D0SG 11 00 ff ff ff 00 && sg_raw -r 1000 -o /tmp/lbp/rd0 $D0SG 08 00 00 03 e8 00 && cmp /tmp/lbp/rd0 /tmp/lbp/data'
# ---- Hardware encryption through stenc ------------------------------------------------------------------------
# SSC-4 application-managed tape data encryption the way a Linux administrator sets it: stenc 1.0.7 (Debian 12)
# sends SECURITY PROTOCOL OUT 20h page 0010h (scope ALL I_T NEXUS, algorithm index 1, a 32-byte key, the key file's
# second line as U-KAD) and reads SECURITY PROTOCOL IN 20h pages 0020h (the drive's status) and, with --detail, 0021h
# (the next block's status), all by SG_IO on /dev/nstN. "-e on" is ENCRYPT + DECRYPT (only encrypted blocks are
# read), "-e mixed" ENCRYPT + MIXED, "-e off" both DISABLE (clears the key). $T2 is written again from BOP: file 0
# one plain 166466-byte record, file 1 tar of src3 (10 KiB records) and file 2 the three blob records, both encrypted
# with key A. A READ the drive cannot serve is DATA PROTECT 74/01 (no key), 74/03 (another key) or 74/02 (a plain
# block in DECRYPT mode), and the drive passes the block over.
echo "=== hardware encryption through stenc 1.0.7 ($T2 in drive 0)"
mkdir -p /tmp/enc /var/log   # /var/log/stenc: stenc's key change audit log
enc_key() { head -c 32 /dev/urandom | od -An -tx1 -v | tr -d " \n"; echo; echo "$1"; }   # a key file: hex key, U-KAD
enc_key e2e-tape-key-A > /tmp/enc/keyA; enc_key e2e-tape-key-B > /tmp/enc/keyB
head -c 166466 /tmp/blob > /tmp/enc/plain
enc_st() { stenc -f $D0 "$@" > /tmp/enc/st 2>&1; cat /tmp/enc/st; grep -q "^Drive Encryption:" /tmp/enc/st; }   # status -> /tmp/enc/st
enc_has() { grep -Eq "$1" /tmp/enc/st || { echo "stenc printed no line matching: $1"; return 1; }; }
enc_set() { stenc -f $D0 "$@" > /tmp/enc/set 2>&1; cat /tmp/enc/set; grep -q "^Success!" /tmp/enc/set; }   # stenc -e ...
enc_tell() { mt -f $D0 tell | sed -nE "s/^At block ([0-9]+)\.$/\1/p"; }
enc_eio() {   # enc_eio BS: one dd read through st fails with EIO
  { dd if=$D0 of=/dev/null bs=$1 count=1; echo "dd exit $?"; } > /tmp/enc/dd 2>&1; cat /tmp/enc/dd
  grep -q "Input/output error" /tmp/enc/dd && grep -q "^dd exit 1$" /tmp/enc/dd
}
enc_protect() {   # enc_protect LEN TEXT: READ(6) of a LEN-byte variable block through sg is DATA PROTECT, TEXT (sg3-utils' ASC/ASCQ text)
  { sg_raw -r $1 $D0SG 08 00 $(printf "%02x %02x %02x" $(($1 >> 16)) $((($1 >> 8) & 255)) $(($1 & 255))) 00; echo "sg_raw exit $?"; } > /tmp/enc/raw 2>&1
  cat /tmp/enc/raw; grep -q "Sense key: Data Protect" /tmp/enc/raw && grep -q "^Additional sense: $2$" /tmp/enc/raw
}
check "stenc --detail (SPIN 20h pages 0020h, 0021h): encryption off, not encrypting; the block at BOP of $T2 is not encrypted; the tape does not move" '
  stenc --version | grep "^stenc v1.0.7 " && mt -f $D0 rewind && enc_st --detail && enc_has "^Product ID: +ULT3580-TD5" && enc_has "^Drive Encryption: +off$" &&
  enc_has "^Drive Input: +Not encrypting$" && enc_has "^Volume Encryption: +Not encrypted$" && ! grep -q "Key Desc" /tmp/enc/st && [ "$(enc_tell)" = 0 ]'
check "plain file 0 (dd); stenc -e on -k KEYFILE -a 1 (SPOUT 20h page 0010h, key A, U-KAD e2e-tape-key-A): status on (encrypting, decrypting), the key description shown" '
  mt -f $D0 rewind && dd if=/tmp/enc/plain of=$D0 bs=166466 2>&1 | tee /dev/stderr | grep -q "^1+0 records out" &&
  head -1 /tmp/enc/keyA | grep -Eq "^[0-9a-f]{64}$" && enc_set -e on -k /tmp/enc/keyA -a 1 &&
  enc_st && enc_has "^Drive Encryption: +on$" && enc_has "^Drive Key Desc\.\(uKAD\): +e2e-tape-key-A$" &&
  mt -f $D0 rewind && enc_st --detail && enc_has "^Drive Output: +Decrypting$" && enc_has "^ +Unencrypted data not outputted$" &&
  enc_has "^Drive Input: +Encrypting$" && enc_has "^Encryption Algorithm: *1$" && enc_has "^Volume Encryption: +Not encrypted$" &&
  sed -nE "s/^Key Instance Counter: *([0-9]+)$/\1/p" /tmp/enc/st > /tmp/enc/kA && [ -s /tmp/enc/kA ]'
check "encrypted with key A after mt eod: tar src3 (file 1), three dd records (file 2); stenc --detail before file 1: Encrypted and able to decrypt, algorithm 1" '
  mt -f $D0 eod && tar -cf $D0 -b 20 -C /tmp src3 && dd if=/tmp/blob of=$D0 bs=166466 2>&1 | tee /dev/stderr | grep -q "^3+0 records out" && at $D0 3 0 &&
  mt -f $D0 rewind && mt -f $D0 fsf 1 && B=$(enc_tell) && enc_st --detail && enc_has "^Volume Encryption: +Encrypted and able to decrypt$" &&
  enc_has "^Volume Algorithm: +1$" && [ "$(enc_tell)" = "$B" ]'
check "mode on, key A: files 1 and 2 read back identical; the plain file 0 is refused: dd EIO, READ(6) through sg DATA PROTECT 74/02, the block passed over" '
  mt -f $D0 rewind && mt -f $D0 fsf 1 && mkdir -p /tmp/enc/x1 && tar -xf $D0 -b 20 -C /tmp/enc/x1 && (cd /tmp/enc/x1 && sha256sum -c --quiet /tmp/src3.sha256) &&
  mt -f $D0 rewind && mt -f $D0 fsf 2 && dd if=$D0 of=/tmp/enc/blob.1 bs=256k 2>/dev/null && cmp /tmp/blob /tmp/enc/blob.1 &&
  mt -f $D0 rewind && enc_eio 256k && [ "$(enc_tell)" = 1 ] &&
  mt -f $D0 rewind && enc_protect 166466 "Unencrypted data encountered while decrypting" && [ "$(enc_tell)" = 1 ]'
check "stenc -e off: status off, no key; file 0 reads; before file 1 stenc --detail says encrypted, unable to decrypt, volume key e2e-tape-key-A; dd EIO, READ(6) DATA PROTECT 74/01, passed over" '
  enc_set -e off && enc_st && enc_has "^Drive Encryption: +off$" && ! grep -q "Key Desc" /tmp/enc/st &&
  mt -f $D0 rewind && dd if=$D0 of=/tmp/enc/plain.0 bs=256k count=1 2>/dev/null && cmp /tmp/enc/plain /tmp/enc/plain.0 &&
  mt -f $D0 rewind && mt -f $D0 fsf 1 && B=$(enc_tell) && enc_st --detail &&
  enc_has "^Volume Encryption: +Encrypted, but unable to decrypt due to invalid key" && enc_has "^Volume Key Desc\.\(uKAD\): +e2e-tape-key-A$" &&
  [ "$(enc_tell)" = "$B" ] && enc_eio 10k && [ "$(enc_tell)" = $((B + 1)) ] &&
  mt -f $D0 rewind && mt -f $D0 fsf 1 && enc_protect 10240 "Unable to decrypt data" && [ "$(enc_tell)" = $((B + 1)) ]'
check "stenc -e on with key B: key instance counter up; drive key e2e-tape-key-B, volume key e2e-tape-key-A; dd EIO, READ(6) DATA PROTECT 74/03, passed over" '
  head -1 /tmp/enc/keyB | grep -Eq "^[0-9a-f]{64}$" && ! cmp -s /tmp/enc/keyA /tmp/enc/keyB && enc_set -e on -k /tmp/enc/keyB -a 1 &&
  mt -f $D0 rewind && mt -f $D0 fsf 1 && B=$(enc_tell) && enc_st --detail && enc_has "^Drive Encryption: +on$" &&
  enc_has "^Drive Key Desc\.\(uKAD\): +e2e-tape-key-B$" && enc_has "^Volume Encryption: +Encrypted, but unable to decrypt due to invalid key" &&
  enc_has "^Volume Key Desc\.\(uKAD\): +e2e-tape-key-A$" && k=$(sed -nE "s/^Key Instance Counter: *([0-9]+)$/\1/p" /tmp/enc/st) &&
  echo "key instance counter: key A $(cat /tmp/enc/kA), key B $k" && [ "$k" -gt "$(cat /tmp/enc/kA)" ] &&
  enc_eio 10k && mt -f $D0 rewind && mt -f $D0 fsf 1 && enc_protect 10240 "Incorrect data encryption key" && [ "$(enc_tell)" = $((B + 1)) ]'
check "stenc -e mixed with key A: status mixed; before file 1 Encrypted and able to decrypt; the plain file 0 and the encrypted files 1 and 2 read back identical" '
  enc_set -e mixed -k /tmp/enc/keyA -a 1 && mt -f $D0 rewind && mt -f $D0 fsf 1 && B=$(enc_tell) && enc_st --detail &&
  enc_has "^Drive Encryption: +mixed$" && enc_has "^ +Unencrypted data outputted$" && enc_has "^Drive Key Desc\.\(uKAD\): +e2e-tape-key-A$" &&
  enc_has "^Volume Encryption: +Encrypted and able to decrypt$" && [ "$(enc_tell)" = "$B" ] &&
  mt -f $D0 rewind && dd if=$D0 of=/tmp/enc/plain.m bs=256k count=1 2>/dev/null && cmp /tmp/enc/plain /tmp/enc/plain.m &&
  mt -f $D0 rewind && mt -f $D0 fsf 1 && mkdir -p /tmp/enc/x2 && tar -xf $D0 -b 20 -C /tmp/enc/x2 && (cd /tmp/enc/x2 && sha256sum -c --quiet /tmp/src3.sha256) &&
  mt -f $D0 rewind && mt -f $D0 fsf 2 && dd if=$D0 of=/tmp/enc/blob.m bs=256k 2>/dev/null && cmp /tmp/blob /tmp/enc/blob.m'
check "stenc -e on --ckod (clear key on demount): after mt offline, mtx unload and load of $T2 the drive says off, and file 1 is DATA PROTECT 74/01" '
  enc_set -e on -k /tmp/enc/keyA -a 1 --ckod && enc_st && enc_has "^Drive Encryption: +on$" &&
  mt -f $D0 offline && mtx -f $CH unload $S2 0 && mtx -f $CH load $S2 0 && online $D0 >/dev/null &&
  enc_st && enc_has "^Drive Encryption: +off$" && ! grep -q "Key Desc" /tmp/enc/st && mt -f $D0 fsf 1 && enc_protect 10240 "Unable to decrypt data"'
check "stenc -e off at the end: no encryption on drive 0, $T2 rewound" '
  enc_set -e off && enc_st && enc_has "^Drive Encryption: +off$" && ! grep -q "Key Desc" /tmp/enc/st && mt -f $D0 rewind && [ "$(enc_tell)" = 0 ]'
check "positioning: mt offline, mtx unload $S2 0: $T2 back in slot $S2" '
  mt -f $D0 offline && mtx -f $CH unload $S2 0 && [ "$(slot_of $T2)" = "$S2" ]'

if [ -n "$D1" ]; then
  echo "=== second drive"
  check "mtx load $S3 1 into the empty drive 1: it holds $T3; its next TEST UNIT READY reports UNIT ATTENTION 28/00" '
    tur_settled $D1SG && grep -qi "not present" /tmp/tur &&
    mtx -f $CH load $S3 1 && mtx -f $CH status | grep -Eq "Data Transfer Element 1:Full \(Storage Element $S3 Loaded\):VolumeTag *= *$T3" &&
    sg_turs -v $D1SG 2>&1 | tee /dev/stderr | grep -qi "not ready to ready change"'
  check "drive 1: dd write, rewind, read back matches" '
    online $D1 >/dev/null && mt -f $D1 setblk 0 && dd if=/tmp/blob of=$D1 bs=166466 && mt -f $D1 rewind && dd if=$D1 of=/tmp/blob.d1 bs=166466 && cmp /tmp/blob /tmp/blob.d1'
  check "drive 1: mt fsr / bsr move by records inside a file; fsr across a filemark stops after it" '
    head -c 65536 /tmp/blob > /tmp/r64 && mt -f $D1 rewind && dd if=/tmp/r64 of=$D1 bs=4k && dd if=/tmp/r64 of=$D1 bs=4k &&
    mt -f $D1 rewind && mt -f $D1 fsr 5 && at $D1 0 5 && mt -f $D1 bsr 2 && at $D1 0 3 &&
    dd if=$D1 of=/tmp/r4 bs=4k count=1 && cmp <(tail -c +$((3 * 4096 + 1)) /tmp/r64 | head -c 4096) /tmp/r4 &&
    mt -f $D1 rewind && ! mt -f $D1 fsr 20 && at $D1 1 0'
  check "drive 1: mt lock (PREVENT MEDIUM REMOVAL) makes mtx unload fail; mt unlock lets it through" '
    mt -f $D1 lock && ! mtx -f $CH unload $S3 1 && mt -f $D1 unlock && mtx -f $CH unload $S3 1 && mtx -f $CH load $S3 1 && online $D1 >/dev/null'
  check "drive 1: mt compression 1 / 0 (MODE SELECT data compression page 0x0f)" '
    mt -f $D1 compression 1 && sg_modes -p 0x0f $D1SG && mt -f $D1 compression 0 && sg_modes -p 0x0f $D1SG'
  check "drive 1: mt erase at BOT, then a read at BOT finds no data" '
    mt -f $D1 rewind && mt -f $D1 erase && mt -f $D1 rewind && ! dd if=$D1 of=/dev/null bs=64k count=1 && mt -f $D1 rewind'
  # SSC-4 SET CAPACITY (0Bh): the proportion/65535 of the native capacity becomes the tape's capacity (data lost, at
  # BOP); the tape capacity log page reports it; 0xFFFF gives the whole tape back.
  check "drive 1: SET CAPACITY 0x8000 at BOT (sg_raw 0B): log page 0x31 maximum capacity halves; 0xFFFF restores it" '
    mcap() { sg_logs -p 0x31 $D1SG | sed -nE "s/^ *Main partition maximum capacity \(in MiB\): ([0-9]+).*/\1/p"; }
    mt -f $D1 rewind && m0=$(mcap) && sg_raw $D1SG 0b 00 00 80 00 00 && m1=$(mcap) && echo "maximum capacity $m0 MiB -> $m1 MiB" &&
    [ -n "$m1" ] && [ $m1 -ge $((m0 / 2 - 1)) ] && [ $m1 -le $((m0 / 2 + 1)) ] && sg_raw $D1SG 0b 00 00 ff ff 00 && [ "$(mcap)" = "$m0" ]'
  # SPC-4 READ/WRITE BUFFER (a memory-only data buffer; no firmware to download) and REPORT/SET TIMESTAMP (the
  # device clock starts from the host's clock at power on). sg_read_buffer of Debian 12 (sg3-utils 1.46) sent an
  # allocation length of 0 for "-l 4096" here, so the read-back goes through sg_raw.
  check "drive 1: WRITE BUFFER data mode (sg_write_buffer -m 2) then READ BUFFER (sg_raw 3C 02, 4 KiB): the same bytes; download microcode (mode 5) refused" '
    head -c 4096 /dev/urandom > /tmp/wb && sg_write_buffer -m 2 -I /tmp/wb $D1SG && rm -f /tmp/rb &&
    sg_raw -r 4096 -o /tmp/rb $D1SG 3c 02 00 00 00 00 00 10 00 00 && cmp /tmp/wb /tmp/rb && ! sg_write_buffer -m 5 -I /tmp/wb $D1SG'
  check "drive 1: sg_timestamp (REPORT TIMESTAMP) within 120 s of the guest clock; after SET TIMESTAMP (-s 1000000000) it reports that time" '
    t0=$(sg_timestamp -S $D1SG | grep -Eo "[0-9]+" | head -1) && now=$(date +%s) && echo "device $t0 s, guest $now s" &&
    [ $((t0 - now)) -le 120 ] && [ $((now - t0)) -le 120 ] && sg_timestamp -s 1000000000 $D1SG &&
    t1=$(sg_timestamp -S $D1SG | grep -Eo "[0-9]+" | head -1) && echo "after SET TIMESTAMP: $t1 s" && [ $t1 -ge 1000000000 ] && [ $t1 -le 1000000300 ]'
  check "both drives loaded at once; unload both" '
    mtx -f $CH load $S1 0 && online $D0 >/dev/null && [ $(mtx -f $CH status | grep -c "Data Transfer Element [01]:Full") = 2 ] &&
    mt -f $D0 offline && mtx -f $CH unload $S1 0 && mt -f $D1 offline && mtx -f $CH unload $S3 1'
fi

# GNU tar's multi-volume mode over two 32 MiB tapes (E2E_TAR_BARCODES): tar writes until st reports early warning
# (ENOSPC on the write after the one that crossed it), its new-volume script (-F) unloads the full tape and loads the
# next through the changer, tar goes on there; reading back, the filemark st wrote at close ends volume 1 and the
# script loads volume 2 again.
set -- ${E2E_TAR_BARCODES:-}
if [ $# -ge 2 ]; then
  echo "=== multi-volume tar over two small tapes"
  M1=$1; M2=$2; MS1=$(slot_of $1); MS2=$(slot_of $2)
  mkdir -p /tmp/mv; for i in $(seq 1 9); do head -c $((5000000 + i * 777)) /dev/urandom > /tmp/mv/part$i; done
  (cd /tmp && find mv -type f | sort | xargs sha256sum) > /tmp/mv.sha256
  cat > /tmp/newvol.sh <<SCRIPT
#!/bin/bash
# tar -F: volume \$TAR_VOLUME of \$TAR_ARCHIVE is next; volume 1 is $M1 (slot $MS1), volume 2 $M2 (slot $MS2)
echo "new-volume script: \$TAR_SUBCOMMAND volume \$TAR_VOLUME" >&2
mt -f $D0 offline
if mtx -f $CH status | grep -Eq "Data Transfer Element 0:Full.*VolumeTag *= *$M1"; then mtx -f $CH unload $MS1 0 || exit 1; fi
if mtx -f $CH status | grep -Eq "Data Transfer Element 0:Full.*VolumeTag *= *$M2"; then mtx -f $CH unload $MS2 0 || exit 1; fi
case \$TAR_VOLUME in 1) mtx -f $CH load $MS1 0 ;; 2) mtx -f $CH load $MS2 0 ;; *) exit 1 ;; esac || exit 1
online $D0 >/dev/null
SCRIPT
  chmod +x /tmp/newvol.sh
  check "tar -c -M: 45 MB onto $M1 (slot $MS1), continued on $M2 (slot $MS2) by the new-volume script" '
    mtx -f $CH load $MS1 0 && online $D0 >/dev/null && mt -f $D0 setblk 0 &&
    tar -c -M -b 128 -F /tmp/newvol.sh -f $D0 -C /tmp mv 2>&1 | tee /tmp/tarmv.log; [ ${PIPESTATUS[0]} = 0 ] &&
    grep -q "volume 2" /tmp/tarmv.log && mtx -f $CH status | grep -Eq "Data Transfer Element 0:Full.*VolumeTag *= *$M2"'
  check "the first tape ended at early warning: st reports more than 26 MiB of records on $M1" '
    mt -f $D0 offline && mtx -f $CH unload $MS2 0 && mtx -f $CH load $MS1 0 && online $D0 >/dev/null &&
    mt -f $D0 eod && mt -f $D0 status | tee /tmp/mvst && mt -f $D0 rewind && n=$(dd if=$D0 of=/dev/null bs=64k 2>&1 | sed -nE "s/^([0-9]+)\+0 records in.*/\1/p") && echo "records: $n" && [ "$n" -gt 416 ]'
  check "tar -x -M: read back across both tapes (the script loads $M2 again), every file identical" '
    mt -f $D0 rewind && mkdir -p /tmp/mvx && tar -x -M -b 128 -F /tmp/newvol.sh -f $D0 -C /tmp/mvx 2>&1 | tee /tmp/tarmvx.log; [ ${PIPESTATUS[0]} = 0 ] &&
    (cd /tmp/mvx && sha256sum -c --quiet /tmp/mv.sha256) && echo "$(wc -l < /tmp/mv.sha256) files identical"'
  check "both small tapes back in their slots" '
    mt -f $D0 offline; mtx -f $CH unload $MS2 0 2>/dev/null || mtx -f $CH unload $MS1 0; [ "$(slot_of $M1)" = "$MS1" ] && [ "$(slot_of $M2)" = "$MS2" ]'
fi

# A WORM cartridge (E2E_WORM_BARCODE, LTO-5 WORM media ID LV) the way an application using WORM sees it: files
# append; rewriting from BOP or in the middle is refused by the drive with DATA PROTECT 30/0C (st: the write fails);
# ERASE is refused; everything written stays readable.
if [ -n "${E2E_WORM_BARCODE:-}" ]; then
  echo "=== WORM cartridge"
  W=$E2E_WORM_BARCODE; WS=$(slot_of $W)
  check "mtx load $WS ($W, WORM) into drive 0; tar two files" '
    mtx -f $CH load $WS 0 && online $D0 >/dev/null && mt -f $D0 setblk 0 &&
    tar -cf $D0 -b 20 -C /tmp src1 && tar -cf $D0 -b 20 -C /tmp src2 && mt -f $D0 status | grep -q "File number=2,"'
  check "WORM: MODE SENSE page 1Dh (Medium Configuration) reports WORMM=1" '
    sg_raw -r 36 $D0SG 1a 08 1d 00 24 00 2>&1 | tee /tmp/p1d; grep -Eq "1d 1e 01 00" /tmp/p1d'
  check_fails "WORM: a write at BOT fails (st)" 'mt -f $D0 rewind && dd if=/tmp/blob of=$D0 bs=166466 count=1'
  check "WORM: WRITE(6) at BOT through sg: DATA PROTECT, 30/0C (overwrite attempted)" '
    mt -f $D0 rewind; sg_raw -s 512 -i /tmp/blob $D0SG 0a 00 00 02 00 00 2>&1 | tee /tmp/worm.raw; grep -qi "data protect" /tmp/worm.raw && grep -qi "worm" /tmp/worm.raw'
  check_fails "WORM: mt erase at BOT fails" 'mt -f $D0 rewind && mt -f $D0 erase'
  check "WORM: an append after mt eod works; all three files read back intact" '
    mt -f $D0 rewind && mt -f $D0 eod && tar -cf $D0 -C /tmp src3 && mt -f $D0 rewind && mkdir -p /tmp/w1 /tmp/w2 /tmp/w3 &&
    tar -xf $D0 -b 20 -C /tmp/w1 && (cd /tmp/w1 && sha256sum -c --quiet /tmp/src1.sha256) &&
    mt -f $D0 fsf 1 && tar -xf $D0 -b 20 -C /tmp/w2 && (cd /tmp/w2 && sha256sum -c --quiet /tmp/src2.sha256) &&
    mt -f $D0 fsf 1 && tar -xf $D0 -C /tmp/w3 && (cd /tmp/w3 && sha256sum -c --quiet /tmp/src3.sha256)'
  check "WORM: unload $W to slot $WS" 'mt -f $D0 offline; mtx -f $CH unload $WS 0 && [ "$(slot_of $W)" = "$WS" ]'
fi

# Tape partitions the way Linux st makes and uses them (mt mkpartition / setpartition / partseek; LTFS uses the same
# SCSI commands through sg; mt-st 1.7 takes "partseek PARTITION BLOCK"): an LTO-5 cartridge (E2E_PART_BARCODE; LTO-4 media cannot be partitioned) gets a second
# partition by MODE SELECT of the Medium Partition page (11h) and FORMAT MEDIUM; each partition keeps its own files,
# end of data and positions; LOCATE with CHANGE PARTITION moves between them; the layout survives unload and reload.
if [ -n "${E2E_PART_BARCODE:-}" ]; then
  echo "=== partitions (LTO-5 cartridge)"
  PB=$E2E_PART_BARCODE; PS=$(slot_of $PB)
  p11() {   # p11 BYTE: byte BYTE of the Medium Partition mode page (MODE SENSE(6), DBD) as a decimal number
    rm -f /tmp/p11; sg_raw -r 64 -o /tmp/p11 $D0SG 1a 08 11 00 40 00 >/dev/null 2>&1 && od -An -tu1 -v -j $((4 + $1)) -N1 /tmp/p11 | tr -d " "
  }
  rpart() {   # the PARTITION field of READ POSITION, long form
    rm -f /tmp/rp; sg_raw -r 32 -o /tmp/rp $D0SG 34 06 00 00 00 00 00 00 00 00 >/dev/null 2>&1 && od -An -tu1 -v -j 7 -N1 /tmp/rp | tr -d " "
  }
  alt_max() { sg_logs -p 0x31 $D0SG | sed -nE "s/^ *Alternate partition maximum capacity \(in MiB\): ([0-9]+).*/\1/p"; }
  check "mtx load $PS ($PB, LTO-5) into drive 0: page 11h allows 1 additional partition, none defined" '
    mtx -f $CH load $PS 0 && online $D0 >/dev/null && mt -f $D0 setblk 0 && [ "$(p11 2)" = 1 ] && od -An -tx1 /tmp/p11 && [ "$(p11 3)" = 0 ]'
  check "mt stsetoptions can-partitions; mt mkpartition 100: 2 partitions (MODE SELECT page 11h, FORMAT MEDIUM); log page 0x31: partition 1 holds ~95 MiB" '
    mt -f $D0 stsetoptions can-partitions && mt -f $D0 mkpartition 100 && [ "$(p11 3)" = 1 ] && a=$(alt_max) && echo "alternate partition maximum $a MiB" &&
    [ -n "$a" ] && [ $a -ge 90 ] && [ $a -le 100 ]'
  check "tar src1 into partition 0; mt setpartition 1, tar src2 and src3 there: mt status says file 2 of partition 1, READ POSITION partition 1" '
    tar -cf $D0 -b 20 -C /tmp src1 && mt -f $D0 setpartition 1 && tar -cf $D0 -b 20 -C /tmp src2 && tar -cf $D0 -b 20 -C /tmp src3 &&
    mt -f $D0 status | tee /dev/stderr | grep -Eq "File number=2, block number=0, partition=1" && [ "$(rpart)" = 1 ]'
  check "mt setpartition 0, rewind: src1 reads back, and partition 0 ends after it (the files of partition 1 are not there)" '
    mt -f $D0 setpartition 0 && mt -f $D0 rewind && [ "$(rpart)" = 0 ] && rm -rf /tmp/pa && mkdir -p /tmp/pa &&
    tar -xf $D0 -b 20 -C /tmp/pa && (cd /tmp/pa && sha256sum -c --quiet /tmp/src1.sha256) && mt -f $D0 fsf 1 && ! mt -f $D0 fsf 1'
  check "mt setpartition 1, rewind (BOP of partition 1): src2 and src3 read back; mt eod there: file 2" '
    mt -f $D0 setpartition 1 && mt -f $D0 rewind && [ "$(rpart)" = 1 ] && rm -rf /tmp/pb /tmp/pc && mkdir -p /tmp/pb /tmp/pc &&
    tar -xf $D0 -b 20 -C /tmp/pb && (cd /tmp/pb && sha256sum -c --quiet /tmp/src2.sha256) &&
    mt -f $D0 fsf 1 && tar -xf $D0 -b 20 -C /tmp/pc && (cd /tmp/pc && sha256sum -c --quiet /tmp/src3.sha256) &&
    mt -f $D0 eod && mt -f $D0 status | tee /tmp/pst && grep -q "File number=2," /tmp/pst && grep -q "partition=1\." /tmp/pst'
  check "overwriting partition 0 from BOP (tar src3) leaves partition 1 intact" '
    mt -f $D0 setpartition 0 && mt -f $D0 rewind && tar -cf $D0 -b 20 -C /tmp src3 && [ "$(rpart)" = 0 ] &&
    mt -f $D0 partseek 1 0 && mt -f $D0 status | tee /dev/stderr | grep -q "partition=1\." && [ "$(rpart)" = 1 ] &&
    rm -rf /tmp/pd && mkdir -p /tmp/pd && tar -xf $D0 -b 20 -C /tmp/pd && (cd /tmp/pd && sha256sum -c --quiet /tmp/src2.sha256)'
  check "unload and reload $PB: two partitions still defined, partition 0 holds src3, partition 1 src2 and src3" '
    mt -f $D0 offline && mtx -f $CH unload $PS 0 && mtx -f $CH load $PS 0 && online $D0 >/dev/null && [ "$(p11 3)" = 1 ] && [ "$(rpart)" = 0 ] &&
    rm -rf /tmp/pe /tmp/pf && mkdir -p /tmp/pe /tmp/pf && tar -xf $D0 -b 20 -C /tmp/pe && (cd /tmp/pe && sha256sum -c --quiet /tmp/src3.sha256) &&
    mt -f $D0 setpartition 1 && mt -f $D0 rewind && mt -f $D0 fsf 1 && tar -xf $D0 -b 20 -C /tmp/pf && (cd /tmp/pf && sha256sum -c --quiet /tmp/src3.sha256)'
  check "mt mkpartition 0 (FORMAT MEDIUM 00h): one partition again, empty; unload $PB to slot $PS" '
    mt -f $D0 setpartition 0 && mt -f $D0 rewind && mt -f $D0 mkpartition 0 && [ "$(p11 3)" = 0 ] && ! dd if=$D0 of=/dev/null bs=64k count=1 &&
    mt -f $D0 stclearoptions can-partitions && mt -f $D0 offline && mtx -f $CH unload $PS 0 && [ "$(slot_of $PB)" = "$PS" ]'
fi

echo "=== persistence"
check "reload $T1: all four files still there and intact" '
  mtx -f $CH load $S1 0 && online $D0 >/dev/null && mt -f $D0 rewind && mkdir -p /tmp/p1 /tmp/p2 /tmp/p3 &&
  tar -xf $D0 -b 20 -C /tmp/p1 && (cd /tmp/p1 && sha256sum -c --quiet /tmp/src1.sha256) &&
  mt -f $D0 rewind && mt -f $D0 fsf 1 && tar -xf $D0 -b 128 -C /tmp/p2 && (cd /tmp/p2 && sha256sum -c --quiet /tmp/src2.sha256) &&
  mt -f $D0 rewind && mt -f $D0 fsf 3 && tar -xf $D0 -C /tmp/p3 && (cd /tmp/p3 && sha256sum -c --quiet /tmp/src3.sha256)'
check "rewinding device /dev/stN rewinds on close" 'ST=${TAPES_ST[0]}; mt -f $D0 rewind; mt -f $D0 fsf 1; dd if=$ST of=/dev/null bs=128k count=1 2>/dev/null; mt -f $D0 status | grep -q BOT'
check "final unload: the inventory is back to the start" '
  mt -f $D0 offline; mtx -f $CH unload $S1 0 && mtx -f $CH status > /tmp/inv9 && diff /tmp/inv0 /tmp/inv9'
show "kernel messages from st/ch" 'dmesg | grep -E "st[0-9]+:|ch[0-9]+|\[ch|scsi" | tail -30'
finish
