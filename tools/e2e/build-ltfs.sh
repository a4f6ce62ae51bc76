#!/usr/bin/env bash
# tools/e2e/build-ltfs.sh - build IBM's LTFS (github.com/LinearTapeFileSystem/ltfs) for the opt-in e2e scenario
# "ltfs" and pack what the guest needs (mkltfs, ltfsck, ltfs, the sg tape backend, ltfs.conf, the shared libraries
# the guest image lacks, fuse.ko of the guest kernel) into one tarball. Prints the tarball's path.
#
#   build-ltfs.sh [SOURCE]    SOURCE: an LTFS source tree, or a git URL/path to clone (default: GitHub at $LTFS_COMMIT)
#
# LTFS is not packaged in Debian 12, so this compiles it (about 3 minutes on 2 cores) and needs network access to
# GitHub unless SOURCE is local. Cached in $E2E_BUILD/ltfs-<commit>/ltfs.tgz. Debian 12 needs two adjustments
# of the build, made in the build copy only: LTFS's configure looks for ICU through icu-config or an "icu"
# pkg-config module, neither of which Debian 12 ships (a small icu.pc that requires icu-uc and icu-i18n stands in,
# with -DICU6x for ICU >= 60), and the uthash git submodule is taken from Debian's uthash-dev.
set -euo pipefail
E2E_BUILD=${E2E_BUILD:-${TMPDIR:-/tmp}/tapegw-e2e}
LTFS_COMMIT=${LTFS_COMMIT:-7c014793014d3a975a67a6f15ad64750a34fa727}   # 2026-07-29, LTFS 2.4.8.4 (the one tested)
SRC=${1:-https://github.com/LinearTapeFileSystem/ltfs.git}
OUT=$E2E_BUILD/ltfs-${LTFS_COMMIT:0:12}
[ -f "$OUT/ltfs.tgz" ] && { echo "$OUT/ltfs.tgz"; exit 0; }

SUDO=(); [ "$(id -u)" = 0 ] || SUDO=(sudo -n)
PKGS=(automake autoconf libtool pkg-config make gcc g++ libfuse-dev libxml2-dev libicu-dev uuid-dev icu-devtools uthash-dev git)
missing=(); for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

rm -rf "$OUT.tmp" && mkdir -p "$OUT.tmp" && cd "$OUT.tmp"
if [ -f "$SRC/configure.ac" ]; then cp -a "$SRC" src; else
  git init -q src && git -C src fetch -q --depth 1 "$SRC" "$LTFS_COMMIT" && git -C src checkout -q FETCH_HEAD
fi
cd src
mkdir -p src/libltfs/uthash_submodule/src && cp /usr/include/uthash.h src/libltfs/uthash_submodule/src/
mkdir -p ../pc && printf 'Name: icu\nDescription: ICU for LTFS configure\nVersion: 72\nRequires: icu-uc icu-i18n\n' > ../pc/icu.pc
PREFIX=/tmp/ltfs-inst   # the guest unpacks to the same path
rm -rf "$PREFIX"
(./autogen.sh && PKG_CONFIG_PATH=$PWD/../pc CPPFLAGS=-DICU6x ./configure --prefix=$PREFIX --disable-snmp &&
  make -j"$(nproc)" && make install) > ../build.log 2>&1 || { tail -40 ../build.log >&2; exit 1; }

# the guest gets the install tree plus every non-libc library it links (the base image has bash/coreutils/sg3-utils only)
PKG=$OUT.tmp/pkg; mkdir -p "$PKG/tmp/ltfs-deps" && cp -a "$PREFIX" "$PKG/tmp/" && rm -f "$PKG$PREFIX"/lib/*.a "$PKG$PREFIX"/lib/ltfs/*.a
for b in "$PREFIX"/bin/mkltfs "$PREFIX"/bin/ltfs "$PREFIX"/bin/ltfsck "$PREFIX"/lib/ltfs/*.so "$PREFIX"/lib/libltfs.so.0; do
  LD_LIBRARY_PATH=$PREFIX/lib ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// {print $3}'
done | sort -u | grep -v -E 'ltfs-inst|/libc\.so|/libm\.so' | while read -r l; do cp -L "$l" "$PKG/tmp/ltfs-deps/"; done
# fuse.ko of every kernel here: the guest loads the one of its own `uname -r` (build-guest.sh picks the kernel)
for m in /lib/modules/*/kernel/fs/fuse/fuse.ko*; do
  [ -f "$m" ] || continue
  k=${m#/lib/modules/}; k=${k%%/*}; mkdir -p "$PKG/tmp/ltfs-deps/$k" && cp "$m" "$PKG/tmp/ltfs-deps/$k/"
done
tar -C "$PKG" -czf "$OUT.tmp/ltfs.tgz" tmp
rm -rf "$OUT" && mkdir -p "$OUT" && mv "$OUT.tmp/ltfs.tgz" "$OUT/" && rm -rf "$OUT.tmp" "$PREFIX"
echo "$OUT/ltfs.tgz"
