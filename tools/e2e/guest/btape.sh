#!/bin/bash
# Guest scenario "btape": Bacula 9.6's tape self-test ("btape test") and autochanger test ("btape auto") against
# drive 0 and the changer, through Bacula's own mtx-changer script, as a Bacula storage daemon would use them.
# btape writes 2 x 10000 blocks of 64 KiB (about 1.3 GB): the tapes must hold at least that.
. /e2e/lib.sh
scsi_devices
CH=$CHANGER_SG; D0=${TAPES_NST[0]:-}
set -- ${E2E_BARCODES:-HRN001L4}; T1=$1
[ -n "$CH" ] && [ -n "$D0" ] || { echo "need a changer and a tape drive"; echo "RESULT: 0 passed, 1 failed"; exit 1; }
[ -x /usr/sbin/btape ] || { echo "btape is not in the guest image (bacula-sd missing on the host)"; echo "RESULT: 0 passed, 1 failed"; exit 1; }
CHG=/etc/bacula/scripts/mtx-changer
mkdir -p /etc/bacula /var/lib/bacula /run/bacula
cat > /etc/bacula/bacula-sd.conf <<CONF
Storage {
  Name = e2e-sd
  WorkingDirectory = /var/lib/bacula
  Pid Directory = /run/bacula
  SDAddress = 127.0.0.1
}
Director {
  Name = e2e-dir
  Password = "e2e"
}
Messages {
  Name = Standard
  director = e2e-dir = all
}
Autochanger {
  Name = Library
  Device = Drive0
  Changer Device = $CH
  Changer Command = "$CHG %c %o %S %a %d"
}
Device {
  Name = Drive0
  Media Type = LTO
  Archive Device = $D0
  Drive Index = 0
  Autochanger = yes
  AutomaticMount = yes
  AlwaysOpen = yes
  RemovableMedia = yes
  RandomAccess = no
}
CONF
show "bacula-sd.conf" 'cat /etc/bacula/bacula-sd.conf'
S1=$(mtx -f $CH status | sed -nE "s/^ *Storage Element ([0-9]+):Full *:VolumeTag=$T1 *\$/\1/p")

check "mtx-changer slots" '$CHG $CH slots 0 $D0 0 | tee /dev/stderr | grep -Eq "^[0-9]+$"'
check "mtx-changer list: $S1:$T1" '$CHG $CH list 0 $D0 0 | tee /dev/stderr | grep -q "^$S1:$T1"'
check "mtx-changer listall" '$CHG $CH listall 0 $D0 0 | tee /dev/stderr | grep -q "^S:$S1:F:$T1"'
check "mtx-changer load $S1 into drive 0 (waits until the drive is ONLINE)" '$CHG $CH load $S1 $D0 0'
check "mtx-changer loaded says slot $S1" '[ "$($CHG $CH loaded 0 $D0 0)" = "$S1" ]'
check "mt rewind" 'mt -f $D0 rewind'

btape_run() {   # btape_run LOG 'stdin lines' [CONF]: btape reads its commands and its y/n answers from stdin
  printf "$2" > /tmp/btape.in
  local t0=$SECONDS
  timeout 1500 btape -c "${3:-/etc/bacula/bacula-sd.conf}" Drive0 < /tmp/btape.in > "$1" 2>&1
  BTAPE_RC=$?
  echo "btape exit status $BTAPE_RC after $((SECONDS - t0)) s; log:"; sed 's/^/  btape| /' "$1"
}
btape_run /tmp/btape-test.log 'test\nn\nquit\n'      # "n": skip the autochanger part; "auto" runs it below
check "btape test: write, rewind, re-read 2 x 10000 blocks" 'grep -c "10000 blocks re-read correctly" /tmp/btape-test.log | grep -qx 2 && grep -q "Test Succeeded. End Write, rewind, and re-read test" /tmp/btape-test.log'
check "btape test: block positioning (file:block) re-read" 'grep -q "Block 20000 re-read correctly" /tmp/btape-test.log'
check "btape test: append test passes with the default device settings" '! grep -q "Append test failed" /tmp/btape-test.log && grep -q "End Append files test\|Done appending" /tmp/btape-test.log'
check "btape test: forward space files test" 'grep -q "End Forward space files test" /tmp/btape-test.log'
check "btape test: no ERR= and no 'NOT correct'" '! grep -E "ERR=|NOT correct|Unable to correct" /tmp/btape-test.log'
check "btape test: exit status 0" '[ "$BTAPE_RC" = 0 ]'
btape_run /tmp/btape-auto.log 'auto\ny\nquit\n'
check "btape auto: the autochanger test worked" 'grep -q "The test autochanger worked" /tmp/btape-auto.log'
check "mtx-changer unload drive 0 -> slot $S1" '$CHG $CH unload $S1 $D0 0 && mtx -f $CH status | grep -Eq "^ *Storage Element $S1:Full *:VolumeTag=$T1"'

# "btape fill", simple (one tape): Bacula's own end-of-medium test. It labels the tape, writes fixed-size blocks until
# the drive reports early warning (st: ENOSPC), writes an EOF, rewinds, positions to the last block it wrote
# (forward space file, forward space record) and compares it. A 256 MiB tape (E2E_FILL_BARCODE) keeps it short. Its
# simple mode needs more than 10000 records on the tape (it re-reads the first 10000 before it positions to the last
# block; with fewer it asks for a second volume), and the drive compresses btape's data about 2:1. With an autochanger configured, fill always starts from slot 1, so this run uses the drive as a
# standalone device (the same configuration without the Autochanger resource).
TF=${E2E_FILL_BARCODE:-}
SF=$(mtx -f $CH status | sed -nE "s/^ *Storage Element ([0-9]+):Full *:VolumeTag=$TF *\$/\1/p")
if [ -n "$TF" ] && [ -n "$SF" ]; then
  check "mtx-changer load $SF ($TF, 256 MiB) into drive 0" '$CHG $CH load $SF $D0 0 && mt -f $D0 rewind'
  sed -e '/^Autochanger {/,/^}/d' -e '/^ *Autochanger = yes/d' /etc/bacula/bacula-sd.conf > /etc/bacula/bacula-sd-standalone.conf
  btape_run /tmp/btape-fill.log 'fill\ns\nquit\n' /etc/bacula/bacula-sd-standalone.conf
  check "btape fill (simple): wrote $TF to its end and re-read the last block" 'grep -q "The last block on the tape matches. Test succeeded." /tmp/btape-fill.log'
  check "btape fill: one end of tape, after more than 252 MiB (the drive compresses)" 'grep "End of tape" /tmp/btape-fill.log; [ "$(grep -c "End of tape" /tmp/btape-fill.log)" = 1 ] && b=$(sed -nE "s/.*End of tape .*Volume Bytes=([0-9,]+).*/\1/p" /tmp/btape-fill.log | tr -d ,) && [ "${b:-0}" -gt $((252 * 1048576)) ]'
  check "btape fill: exit status 0, no ERR=, no error or warning" '[ "$BTAPE_RC" = 0 ] && ! grep -E "ERR=|Fatal error|Error:|Warning:" /tmp/btape-fill.log'
  check "mtx-changer unload drive 0 -> slot $SF" '$CHG $CH unload $SF $D0 0 && mtx -f $CH status | grep -Eq "^ *Storage Element $SF:Full *:VolumeTag=$TF"'
fi
finish
