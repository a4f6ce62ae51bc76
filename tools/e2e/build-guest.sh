#!/usr/bin/env bash
# tools/e2e/build-guest.sh - build (or reuse) the guest kernel + initramfs of the VM end-to-end test.
#
#   tools/e2e/build-guest.sh            prints the directory that holds vmlinuz and initramfs.gz
#   tools/e2e/build-guest.sh --bacula   the same image plus a whole Bacula installation (bacula-dir with an empty
#                                       SQLite catalog, bacula-fd, bacula-sd, bconsole, sqlite3) for the scenario
#                                       "bacula": a second image with its own cache key (guest-bacula-<hash>)
#   tools/e2e/build-guest.sh --amanda   the base image plus Amanda 3.5 (server and client: amdump, amlabel, amtape,
#                                       amrecover's amfetchdump, chg-robot, amgtar; the whole Perl they run on) for
#                                       the scenario "amanda" (guest-amanda-<hash>)
#
# The initramfs is assembled from files of the Debian packages in tools/e2e/apt-packages.txt (installed on this
# machine): busybox for /init and the small utilities, the kernel's SCSI/virtio/iSCSI/ext4 modules, and the real
# tools a Linux backup server uses (mke2fs, GNU tar and dd, mt-st, mtx, sg3-utils, lsscsi, stenc, iscsid/iscsiadm,
# btape). The result is cached under $E2E_BUILD (default ${TMPDIR:-/tmp}/tapegw-e2e) in a folder named after a
# hash of this script, tools/e2e/guest/init and the versions of the packages used, so it is rebuilt only when one
# of those changes. Guest test scripts are NOT part of it: vm.sh adds them per run.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_BUILD=${E2E_BUILD:-${TMPDIR:-/tmp}/tapegw-e2e}
FLAVOR=base
case "${1:-}" in --bacula) FLAVOR=bacula ;; --amanda) FLAVOR=amanda ;; "") ;; *) echo "build-guest: unknown argument $1" >&2; exit 2 ;; esac

# the kernel: the one linux-image-amd64 (apt-packages.txt) depends on, else the newest generic -amd64 kernel that
# has an image and modules (not -cloud-amd64 or -rt-amd64: the cloud flavour has no st/ch), unless E2E_KVER says
usable() { [ -r "/boot/vmlinuz-$1" ] && [ -f "/lib/modules/$1/modules.dep" ] && modprobe -S "$1" -n st 2>/dev/null && modprobe -S "$1" -n ch 2>/dev/null; }
KVER=${E2E_KVER:-}
if [ -z "$KVER" ]; then
  v=$(dpkg-query -W -f='${Depends}' linux-image-amd64 2>/dev/null | grep -o 'linux-image-[0-9][^ ,]*-amd64' | head -1)
  v=${v#linux-image-}
  if [ -n "$v" ] && usable "$v"; then KVER=$v; else
    for v in $(ls /lib/modules 2>/dev/null | grep -E -- '-amd64$' | grep -v -E -- '-(cloud|rt)-amd64$' | sort -V -r); do
      usable "$v" && { KVER=$v; break; }
    done
  fi
fi
[ -n "$KVER" ] || { echo "build-guest: no usable kernel (image in /boot, modules incl. st and ch): run tools/e2e/install-deps.sh" >&2; exit 1; }

PKGS="busybox-static e2fsprogs tar coreutils diffutils mt-st mtx sg3-utils lsscsi stenc open-iscsi bacula-sd bacula-common perl-base bash"
BACULA_PKGS="bacula-director bacula-director-sqlite3 bacula-common-sqlite3 bacula-fd bacula-console sqlite3 libsqlite3-0"
AMANDA_PKGS="amanda-common amanda-server amanda-client perl perl-modules-5.36 libperl5.36 libencode-locale-perl gzip procps"
[ $FLAVOR = bacula ] && PKGS="$PKGS $BACULA_PKGS"
[ $FLAVOR = amanda ] && PKGS="$PKGS $AMANDA_PKGS"
versions=$(dpkg-query -W -f='${Package}=${Version}\n' $PKGS 2>/dev/null || true)
KEY=$( { echo "$KVER"; echo "$versions"; cat "$HERE/build-guest.sh" "$HERE/guest/init"; } | sha256sum | cut -c1-16)
OUT=$E2E_BUILD/guest-$KEY
[ $FLAVOR = bacula ] && OUT=$E2E_BUILD/guest-bacula-$KEY
[ $FLAVOR = amanda ] && OUT=$E2E_BUILD/guest-amanda-$KEY
if [ -f "$OUT/initramfs.gz" ] && [ -f "$OUT/vmlinuz" ]; then echo "$OUT"; exit 0; fi

t0=$(date +%s.%N)
mkdir -p "$E2E_BUILD"
STAGE=$(mktemp -d "$E2E_BUILD/stage.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
R=$STAGE/root
mkdir -p "$R"/{usr/bin,usr/sbin,usr/lib,usr/lib64,bb,proc,sys,dev,tmp,run,mnt,root,etc/e2e,e2e,var/lib/bacula,var/lib/iscsi,var/lock}
ln -s usr/bin "$R/bin"; ln -s usr/sbin "$R/sbin"; ln -s usr/lib "$R/lib"; ln -s usr/lib64 "$R/lib64"

# busybox applets live in /bb, after the real tools in PATH
cp -L /bin/busybox "$R/bb/busybox"       # busybox-static: no libraries needed
for a in $("$R/bb/busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$R/bb/$a"; done

put() {   # put FILE...: copy files (dereferenced) to the same path in the guest
  local f
  for f in "$@"; do
    [ -e "$R$f" ] && continue
    mkdir -p "$R$(dirname "$f")"
    cp -L "$f" "$R$f"
  done
}
bin() {   # bin PATH...: an executable plus the shared libraries ldd reports for it
  local b lib
  for b in "$@"; do
    [ -x "$b" ] || { echo "build-guest: missing $b" >&2; return 1; }
    put "$b"
    ldd "$b" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' |
      while read -r lib; do put "$lib"; done
  done
}

bin /bin/bash /usr/bin/timeout /usr/bin/env /bin/tar /bin/dd /usr/bin/sha256sum /usr/bin/cmp /usr/bin/stat \
    /usr/bin/sync /usr/bin/head /usr/bin/truncate /usr/bin/split /usr/bin/md5sum
ln -s bash "$R/usr/bin/sh"            # /bin/sh = bash: Bacula's mtx-changer must get mt-st, not busybox's mt
bin /sbin/mke2fs /sbin/e2fsck /sbin/dumpe2fs; put /etc/mke2fs.conf
ln -s mke2fs "$R/usr/sbin/mkfs.ext4"
bin /bin/mt-st; ln -s mt-st "$R/usr/bin/mt"
bin /usr/sbin/mtx /usr/sbin/tapeinfo /usr/sbin/loaderinfo
bin /usr/bin/lsscsi
for b in /usr/bin/sg_*; do bin "$b"; done
bin /usr/bin/stenc                    # stenc 1.0.7: tape data encryption (SPIN/SPOUT 20h over SG_IO on /dev/nstN)
bin /usr/sbin/iscsid /usr/sbin/iscsiadm
mkdir -p "$R/etc/iscsi" "$R"/var/lib/iscsi/{nodes,send_targets,ifaces,isns,static,fw} "$R/run/lock/iscsi"
put /etc/iscsi/iscsid.conf
echo "InitiatorName=iqn.2026-11.org.tapegateway:e2e-guest-kernel" > "$R/etc/iscsi/initiatorname.iscsi"
if [ -x /usr/sbin/btape ]; then
  bin /usr/sbin/btape /usr/sbin/bls /usr/bin/perl
  put /etc/bacula/scripts/mtx-changer /etc/bacula/scripts/mtx-changer.conf
  cp -a /usr/lib/x86_64-linux-gnu/perl-base "$R/usr/lib/x86_64-linux-gnu/"
fi
if [ $FLAVOR = bacula ]; then
  # the whole Bacula 9.6 installation for the scenario "bacula": director (SQLite catalog), file daemon, storage
  # daemon, bconsole; the catalog backend is dlopen()ed (libbaccats-9.6.7.so -> libbaccats-sqlite3.so), so it is
  # copied by name with its own libraries. The empty catalog is made here with Bacula's SQL (what
  # make_sqlite3_tables / the Debian dbconfig install script run), without debconf, into /var/lib/bacula/bacula.db.
  for b in /usr/sbin/bacula-dir /usr/sbin/bacula-fd /usr/sbin/bacula-sd /usr/sbin/bconsole /usr/bin/sqlite3; do
    bin "$b" || exit 1
  done
  for l in /usr/lib/bacula/libbaccats-9.6.7.so /usr/lib/bacula/libbaccats-sqlite3.so /usr/lib/bacula/libbaccats-sqlite3-9.6.7.so /usr/lib/bacula/libbaccats.so; do
    [ -e "$l" ] || continue
    put "$l"
    ldd "$l" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | while read -r lib; do put "$lib"; done
  done
  put /etc/bacula/scripts/query.sql
  sql=/usr/share/dbconfig-common/data/bacula-director-sqlite3/install/sqlite3
  [ -r "$sql" ] || { echo "build-guest: missing $sql (bacula-director-sqlite3)" >&2; exit 1; }
  sqlite3 "$R/var/lib/bacula/bacula.db" < "$sql"
  [ "$(sqlite3 "$R/var/lib/bacula/bacula.db" 'SELECT VersionId FROM Version')" -gt 0 ] || { echo "build-guest: catalog creation failed" >&2; exit 1; }
fi
if [ $FLAVOR = amanda ]; then
  # Amanda 3.5: most server commands are Perl scripts on Amanda's XS modules, so the whole Perl library goes in
  # (core, vendor and Amanda's own), every ELF file of Amanda with its shared libraries, and Amanda's state
  # directories. The scenario writes its configuration itself.
  for d in /usr/share/perl/5.36.0 /usr/lib/x86_64-linux-gnu/perl/5.36.0 /usr/lib/x86_64-linux-gnu/perl5/5.36 /usr/share/perl5 \
           /usr/lib/x86_64-linux-gnu/amanda /usr/lib/amanda /usr/share/amanda-common; do
    [ -d "$d" ] || { echo "build-guest: missing $d (apt-packages.txt: amanda-server, amanda-client)" >&2; exit 1; }
    mkdir -p "$R$(dirname "$d")"; cp -a "$d" "$R$d"
  done
  ln -sfn 5.36.0 "$R/usr/share/perl/5.36"; ln -sfn 5.36.0 "$R/usr/lib/x86_64-linux-gnu/perl/5.36"
  # Amanda::Message loads Encode::Locale, which amanda-common does not depend on (Debian 12): without it every Amanda
  # command dies at compile time.
  [ -f "$R/usr/share/perl5/Encode/Locale.pm" ] || { echo "build-guest: Encode::Locale missing (apt-packages.txt: libencode-locale-perl)" >&2; exit 1; }
  # what only a compiler or an Asian-language encoder would use
  rm -rf "$R/usr/lib/x86_64-linux-gnu/perl/5.36.0/CORE" "$R"/usr/lib/x86_64-linux-gnu/perl/5.36.0/auto/Encode/{TW,CN,KR,JP}
  find "$R/usr/lib/x86_64-linux-gnu/amanda" \( -name '*.a' -o -name '*.la' \) -delete
  for b in /usr/sbin/am* /usr/bin/gzip /usr/bin/gunzip /usr/bin/zcat /usr/bin/perl; do [ -x "$b" ] && put "$b"; done
  bin /bin/ps     # procps: Amanda::Process runs "ps -eo pid,ppid,command", which busybox's ps does not take
  bin /bin/uname  # the planner execs /bin/uname
  put /etc/amanda-security.conf
  find "$R/usr/lib/amanda" "$R/usr/lib/x86_64-linux-gnu/amanda" "$R/usr/lib/x86_64-linux-gnu/perl5" "$R/usr/lib/x86_64-linux-gnu/perl/5.36.0" \
       /usr/sbin/am* /usr/bin/perl -type f 2>/dev/null |
    while read -r f; do
      ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3}' || true
    done | sort -u | while read -r lib; do put "$lib"; done
  mkdir -p "$R"/etc/amanda "$R"/var/lib/amanda/gnutar-lists "$R"/var/log/amanda "$R"/var/lib/amanda/e2e
  : > "$R/var/lib/amanda/amandates"
fi
for l in /lib/x86_64-linux-gnu/libnss_files.so.2; do [ -e "$l" ] && put "$l"; done
put /lib64/ld-linux-x86-64.so.2
# bacula and backup (Amanda's dump user) are uid 0: the daemons and Amanda's "running as the dump user" check pass
# in a guest where everything runs as root
printf 'root:x:0:0:root:/root:/bin/sh\nbacula:x:0:0:bacula:/var/lib/bacula:/bin/sh\nbackup:x:0:0:backup:/var/lib/amanda:/bin/sh\n' > "$R/etc/passwd"
printf 'root:x:0:\nbacula:x:0:\nbackup:x:0:\ntape:x:26:\ndisk:x:6:\n' > "$R/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files\n' > "$R/etc/nsswitch.conf"
echo "127.0.0.1 localhost" > "$R/etc/hosts"

# kernel modules (decompressed) in load order
MODS="virtio_pci virtio_scsi virtio_net scsi_mod sd_mod sg st ch crc32c_generic ext4 iscsi_tcp"
for m in $MODS; do modprobe -S "$KVER" --show-depends "$m"; done | awk '$1 == "insmod" && !seen[$2]++ {print $2}' |
  while read -r ko; do
    rel=${ko#/lib/modules/$KVER/}; rel=${rel%.xz}; rel=${rel%.zst}
    mkdir -p "$R/usr/lib/modules/$KVER/$(dirname "$rel")"
    case "$ko" in
      *.xz)  xz -dc "$ko" > "$R/usr/lib/modules/$KVER/$rel" ;;
      *.zst) zstd -qdc "$ko" > "$R/usr/lib/modules/$KVER/$rel" ;;
      *)     cp "$ko" "$R/usr/lib/modules/$KVER/$rel" ;;
    esac
    echo "/lib/modules/$KVER/$rel"
  done > "$R/etc/e2e/modules"
echo "$KVER" > "$R/etc/e2e/kver"
cp "$HERE/guest/init" "$R/init"; chmod 755 "$R/init"

mkdir -p "$STAGE/out"
cp "/boot/vmlinuz-$KVER" "$STAGE/out/vmlinuz"
( cd "$R" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0 ) | gzip -1 > "$STAGE/out/initramfs.gz"
echo "$versions" > "$STAGE/out/packages"
rm -rf "$OUT"; mv "$STAGE/out" "$OUT"
t1=$(date +%s.%N)
echo "build-guest: $FLAVOR image, kernel $KVER, $(wc -l < "$R/etc/e2e/modules") modules, initramfs $(du -h "$OUT/initramfs.gz" | cut -f1), $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s -> $OUT" >&2
echo "$OUT"
