#!/bin/bash
# Guest scenario "ltfs" (opt-in): IBM's LTFS on a partitioned tape, through the Linux sg driver, the way an archive
# user runs it: mkltfs formats the cartridge (MODE SELECT page 11h + FORMAT MEDIUM: index partition 0, data partition
# 1; MAM attributes per partition; LOCATE across partitions), ltfsck checks it, ltfs mounts it with FUSE, files are
# copied in, the volume is unmounted (LTFS writes its index to both partitions), mounted again and the files read back;
# then LTFS mounts it with logical block protection (SSC-4 LBP, Control Data Protection page), writes and reads again.
# Needs /e2e/files/ltfs.tgz from tools/e2e/build-ltfs.sh and E2E_LTFS_BARCODE, an LTO-5 or later tape in a storage
# slot (LTO-4 media cannot be partitioned). Kernel mode: the transport residual of a short READ must reach sg (QEMU's
# scsi-generic passthrough reports resid 0 there, and LTFS compares it with the sense INFORMATION).
. /e2e/lib.sh
session_info
scsi_devices
CH=$CHANGER_SG; D0SG=${TAPES_SG[0]:-}; B=${E2E_LTFS_BARCODE:-}
[ -n "$CH" ] && [ -n "$D0SG" ] && [ -n "$B" ] && [ -f /e2e/files/ltfs.tgz ] ||
  { echo "need a changer, a drive, E2E_LTFS_BARCODE and /e2e/files/ltfs.tgz"; echo "RESULT: 0 passed, 1 failed"; exit 1; }
(cd / && tar -xzf /e2e/files/ltfs.tgz)
export LD_LIBRARY_PATH=/tmp/ltfs-inst/lib:/tmp/ltfs-deps PATH=/tmp/ltfs-inst/bin:$PATH
slot_of() { mtx -f $CH status | sed -nE "s/^ *Storage Element ([0-9]+):Full *:VolumeTag=$1 *\$/\1/p"; }
S=$(slot_of $B)
mkdir -p /tmp/in/dir /mnt/ltfs
head -c 3000000 /dev/urandom > /tmp/in/payload.bin; head -c 3001 /dev/urandom > /tmp/in/dir/small.txt
head -c 20000000 /dev/urandom > /tmp/in/big.bin
(cd /tmp/in && find . -type f | sort | xargs sha256sum) > /tmp/in.sha256

check "mtx load $S ($B) into drive 0; the drive is ready" 'mtx -f $CH load $S 0 && for i in 1 2 3 4; do sg_turs $D0SG && break; sleep 1; done'
check "mkltfs -d $D0SG -n E2EVOL -f: two partitions (page 11h says 1 additional partition defined)" '
  mkltfs -d $D0SG -n E2EVOL -f 2>&1 | tail -15; [ ${PIPESTATUS[0]} = 0 ] &&
  rm -f /tmp/p11 && sg_raw -r 64 -o /tmp/p11 $D0SG 1a 08 11 00 40 00 >/dev/null 2>&1 && [ "$(od -An -tu1 -j 7 -N1 /tmp/p11 | tr -d " ")" = 1 ]'
check "ltfsck: the new volume is consistent" 'ltfsck $D0SG 2>&1 | tee /tmp/ck1 | tail -8; grep -q "Volume is consistent" /tmp/ck1'
check "ltfs mounts it (FUSE); three files copied in, one in a subdirectory; unmount writes the index" '
  insmod /tmp/ltfs-deps/$(uname -r)/fuse.ko 2>/dev/null; [ -c /dev/fuse ] || mknod /dev/fuse c 10 229
  ltfs -o devname=$D0SG /mnt/ltfs 2>&1 | tail -5; grep -q " /mnt/ltfs " /proc/mounts &&
  cp -r /tmp/in/. /mnt/ltfs/ && sync && ls -laR /mnt/ltfs && umount /mnt/ltfs && for i in $(seq 1 30); do grep -q " /mnt/ltfs " /proc/mounts || break; sleep 1; done
  ! grep -q " /mnt/ltfs " /proc/mounts'
check "ltfsck after the writes: consistent" 'ltfsck $D0SG 2>&1 | tee /tmp/ck2 | tail -8; grep -q "Volume is consistent" /tmp/ck2'
check "unload and reload $B, mount again: every file reads back identical" '
  mtx -f $CH unload $S 0 && mtx -f $CH load $S 0 && for i in 1 2 3 4; do sg_turs $D0SG && break; sleep 1; done
  ltfs -o devname=$D0SG /mnt/ltfs 2>&1 | tail -5; grep -q " /mnt/ltfs " /proc/mounts && (cd /mnt/ltfs && sha256sum -c /tmp/in.sha256)'
check "logical block protection: ltfs -o scsi_lbprotect=on (LTO-5: a Reed-Solomon CRC on every block, both ways) writes a file, mounts again protected, everything reads back" '
  umount /mnt/ltfs; for i in $(seq 1 30); do grep -q " /mnt/ltfs " /proc/mounts || break; sleep 1; done
  ltfs -o devname=$D0SG -o scsi_lbprotect=on /mnt/ltfs >/tmp/lbp1 2>&1; tail -5 /tmp/lbp1; grep -q 30251I /tmp/lbp1 && grep -q " /mnt/ltfs " /proc/mounts &&
  head -c 5000000 /dev/urandom > /tmp/in/lbp.bin && cp /tmp/in/lbp.bin /mnt/ltfs/ && (cd /tmp/in && sha256sum ./lbp.bin >> /tmp/in.sha256) &&
  umount /mnt/ltfs && for i in $(seq 1 30); do grep -q " /mnt/ltfs " /proc/mounts || break; sleep 1; done
  ! grep -q " /mnt/ltfs " /proc/mounts &&
  ltfs -o devname=$D0SG -o scsi_lbprotect=on /mnt/ltfs >/tmp/lbp2 2>&1; tail -5 /tmp/lbp2; grep -q 30251I /tmp/lbp2 && (cd /mnt/ltfs && sha256sum -c /tmp/in.sha256)'
check "unmount; unload $B to slot $S" '
  umount /mnt/ltfs; for i in $(seq 1 30); do grep -q " /mnt/ltfs " /proc/mounts || break; sleep 1; done
  mtx -f $CH unload $S 0 && [ "$(slot_of $B)" = "$S" ]'
finish
