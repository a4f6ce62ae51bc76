#!/usr/bin/env bash
# tools/e2e/install-deps.sh - install the Debian packages of the VM end-to-end test (tools/e2e/apt-packages.txt).
# Run as root (or with password-less sudo). Idempotent: does nothing when everything is installed.
#
# The packages are only used as a source of files for the guest (kernel, modules, tools) and for QEMU itself, so
# the install is made side-effect free on the host:
#   - INITRD=No: the kernel package does not build a host initramfs (saves ~30 s; the test builds its own);
#   - a temporary /usr/sbin/policy-rc.d (only if none exists) stops the postinst scripts from starting daemons
#     (iscsid, bacula-sd) on hosts with an init system.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mapfile -t PKGS < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$HERE/apt-packages.txt")

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "e2e install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

SUDO=()
if [ "$(id -u)" != 0 ]; then
  if sudo -n true 2>/dev/null; then SUDO=(sudo -n); else
    echo "e2e install-deps: need root to install: ${missing[*]}" >&2
    echo "  run: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

POLICY=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\n# temporary, from tapegateway tools/e2e/install-deps.sh: no daemon starts during the install\nexit 101\n' |
    "${SUDO[@]}" tee "$POLICY" >/dev/null
  "${SUDO[@]}" chmod 755 "$POLICY"
  made_policy=1
fi
cleanup() { [ "$made_policy" = 1 ] && "${SUDO[@]}" rm -f "$POLICY"; }
trap cleanup EXIT

echo "e2e install-deps: installing ${missing[*]}"
t0=$SECONDS
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive INITRD=No \
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "e2e install-deps: done in $((SECONDS - t0)) s"
