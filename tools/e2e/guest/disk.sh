#!/bin/bash
# Guest scenario "disk": SBC LUNs through the Linux sd driver, as a server uses an iSCSI volume. Every disk the
# guest sees is tested in turn (tools/e2e/run.sh attaches a 512-byte and a 4096-byte block LUN).
# Env: E2E_DISK_BYTES (optional) the sizes the gateway was configured with, in the disks' SCSI address order.
. /e2e/lib.sh
session_info
scsi_devices
[ ${#DISKS_SD[@]} -gt 0 ] || { echo "no disk device"; echo "RESULT: 0 passed, 1 failed"; exit 1; }
set -- ${E2E_DISK_BYTES:-}
SIZES=("$@")

check "test data: a tree of small, odd-sized and large random files with their sha256" '
  mkdir -p /tmp/tree/a/b /tmp/tree/c && head -c 400000 /dev/urandom > /tmp/smalls &&
  (cd /tmp/tree/a && split -b 1999 /tmp/smalls small-) && rm /tmp/smalls &&
  head -c 33554432 /dev/urandom > /tmp/tree/c/big-32m && head -c 5000011 /dev/urandom > /tmp/tree/a/b/odd &&
  (cd /tmp/tree && find . -type f | sort | xargs sha256sum) > /tmp/tree.sha256 && [ $(wc -l < /tmp/tree.sha256) -gt 200 ]'
NFILES=$(find /tmp/tree -type f | wc -l); MIB=$(du -sm /tmp/tree | cut -f1)
head -c 16777216 /dev/urandom > /tmp/r16m

test_disk() {   # test_disk INDEX
  local i=$1
  SD=${DISKS_SD[$i]}; SG=${DISKS_SG[$i]}; NAME=${SD#/dev/}; E2E_SIZE=${SIZES[$i]:-}
  BS=$(cat /sys/block/$NAME/queue/logical_block_size)
  echo "=== $SD ($SG), $BS-byte logical blocks"
  local P="[$NAME/$BS]"
  check "$P sd bound the LUN: INQUIRY says direct-access (PDT 0)" 'lsscsi -g; sg_inq $SG | tee /tmp/inq; grep -q "PDT=0 " /tmp/inq'
  check "$P VPD 0x80 serial and 0x83 device identification" 'sg_vpd -p sn $SG && sg_vpd -p di $SG | grep -Eiq "NAA|designator"'
  show  "$P VPD block limits (0xb0) and logical block provisioning (0xb2)" 'sg_vpd -p bl $SG; sg_vpd -p lbpv $SG'

  check "$P READ CAPACITY(10) and (16) agree with each other and with the kernel's size" '
    sg_readcap $SG | tee /tmp/rc10; sg_readcap -l $SG | tee /tmp/rc16
    last10=$(sed -nE "s/.*Last LBA=([0-9]+).*/\1/p" /tmp/rc10); bs10=$(sed -nE "s/.*Logical block length=([0-9]+).*/\1/p" /tmp/rc10)
    last16=$(sed -nE "s/.*Last LBA=([0-9]+).*/\1/p" /tmp/rc16); bs16=$(sed -nE "s/.*Logical block length=([0-9]+).*/\1/p" /tmp/rc16)
    bytes=$(( (last16 + 1) * bs16 )); kern=$(( $(cat /sys/block/$NAME/size) * 512 ))
    echo "rc10: last=$last10 bs=$bs10  rc16: last=$last16 bs=$bs16  -> $bytes bytes; kernel: $kern bytes; gateway config: ${E2E_SIZE:-?}"
    [ -n "$last10" ] && [ "$last10" = "$last16" ] && [ "$bs10" = "$bs16" ] && [ "$bytes" = "$kern" ] &&
    [ "$bs16" = "$(cat /sys/block/$NAME/queue/logical_block_size)" ] && [ -z "$E2E_SIZE" -o "$bytes" = "$E2E_SIZE" ]'

  check "$P O_DIRECT: 16 MiB written at 64 MiB in 1 MiB requests, read back and compared" '
    dd if=/tmp/r16m of=$SD bs=1M seek=64 oflag=direct conv=notrunc status=none &&
    dd if=$SD of=/tmp/back bs=1M skip=64 count=16 iflag=direct status=none && cmp /tmp/r16m /tmp/back'
  check "$P O_DIRECT: 4 KiB requests at an odd 4 KiB offset, read back in 64 KiB requests" '
    head -c 1048576 /tmp/r16m > /tmp/r1m &&
    dd if=/tmp/r1m of=$SD bs=4k seek=50001 oflag=direct conv=notrunc status=none &&
    dd if=$SD of=/tmp/back1 bs=64k skip=$((50001 * 4096)) count=16 iflag=direct,skip_bytes status=none && cmp /tmp/r1m /tmp/back1'
  check "$P O_DIRECT: 4 concurrent writers on separate regions (several commands in flight), then verify" '
    for i in 0 1 2 3; do dd if=/tmp/r16m of=$SD bs=256k seek=$((1024 + i * 64)) count=64 oflag=direct conv=notrunc status=none & done; wait &&
    for i in 0 1 2 3; do dd if=$SD of=/tmp/c$i bs=256k skip=$((1024 + i * 64)) count=64 iflag=direct status=none & done; wait &&
    for i in 0 1 2 3; do cmp /tmp/r16m /tmp/c$i || exit 1; done'
  check "$P SYNCHRONIZE CACHE (sg_sync)" 'sg_sync $SG'

  check "$P mkfs.ext4, mount, copy a file tree ($NFILES files, $MIB MiB), umount" '
    mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 $SD && mount -t ext4 $SD /mnt && cp -a /tmp/tree/. /mnt/ && sync && umount /mnt'
  check "$P drop caches, remount, every checksum matches" '
    echo 3 > /proc/sys/vm/drop_caches && mount -t ext4 -o ro $SD /mnt && (cd /mnt && sha256sum -c --quiet /tmp/tree.sha256); rc=$?; umount /mnt; exit $rc'
  check "$P e2fsck -fn finds the file system clean" 'e2fsck -fn $SD'
  if [ "$(cat /sys/block/$NAME/queue/discard_max_bytes 2>/dev/null || echo 0)" != 0 ]; then
    check "$P discard (UNMAP / WRITE SAME via sd) of 8 MiB at 64 MiB; reads back zeros when the LUN says LBPRZ" '
      cat /sys/block/$NAME/device/scsi_disk/*/provisioning_mode; blkdiscard -o $((64 << 20)) -l $((8 << 20)) $SD &&
      dd if=$SD of=/tmp/z bs=1M skip=64 count=8 iflag=direct status=none &&
      if sg_vpd -p lbpv $SG | grep -q "(LBPRZ): *1"; then cmp /tmp/z <(head -c 8388608 /dev/zero); else echo "LBPRZ=0: contents not checked"; fi'
  else
    show "$P discard not offered by sd (no LBP VPD / UNMAP)" 'cat /sys/block/$NAME/device/scsi_disk/*/provisioning_mode'
  fi
}
for i in "${!DISKS_SD[@]}"; do test_disk $i; done
show "kernel messages about the disk" 'dmesg | grep -E "sd [0-9:]+|I/O error|blk_update_request|critical" | tail -20'
check "no I/O errors in the kernel log" '! dmesg | grep -Ei "I/O error|blk_update_request|critical medium|timing out command|abort"'
finish
