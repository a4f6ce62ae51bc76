#!/bin/bash
# Guest scenario "bacula": a whole Bacula 9.6 backup cycle as an admin runs it, through the changer. bacula-dir
# (SQLite catalog), bacula-fd and bacula-sd all run in the guest on 127.0.0.1; the library is an Autochanger with
# both drives (mtx-changer, Archive Device = /dev/nstN, Drive Index N, Maximum Block Size = 256 KiB):
#   label barcodes: the slots of the 5th and 6th tape of E2E_BARCODES -> pool Weekly, 7th and 8th -> pool Offsite
#   (HRN005L4..HRN008L4: tape and btape, which may run before on the same gateway, use HRN001L4..HRN004L4)
#   Full (Weekly, tape A) -> umount (the changer unloads) -> files changed and added -> Incremental: must APPEND to
#   tape A after the Full -> restore "current" (Full + Incremental, both from tape A) -> Full with pool=Offsite
#   (tape B, loaded through the changer) -> files changed and added -> Incremental (Weekly: appends to tape A
#   again) -> restore "current" (Full from B + Incremental from A)
# Checks: every backup "Backup OK", every restore "Restore OK" (no warnings), JobErrors 0, and every restored file
# sha256-identical to the source state it restores (the same file set, nothing missing, nothing extra).
# Needs the "bacula" guest image (vm.sh --image bacula).
. /e2e/lib.sh
scsi_devices
CH=$CHANGER_SG; D0=${TAPES_NST[0]:-}; D1=${TAPES_NST[1]:-}
if [ -z "$CH" ] || [ -z "$D0" ] || [ -z "$D1" ]; then echo "need a changer and two tape drives"; echo "RESULT: 0 passed, 1 failed"; exit 1; fi
for b in bacula-dir bacula-fd bacula-sd bconsole sqlite3; do
  command -v $b >/dev/null || { echo "$b is not in the guest image (vm.sh --image bacula)"; echo "RESULT: 0 passed, 1 failed"; exit 1; }
done
CHG=/etc/bacula/scripts/mtx-changer
DB=/var/lib/bacula/bacula.db
DATA=/tmp/data
SPAN=/tmp/span
hostname e2e-guest
echo "127.0.0.1 localhost e2e-guest" > /etc/hosts
mkdir -p /etc/bacula /var/lib/bacula /run/bacula

# ---- configuration ----------------------------------------------------------------------------------------------
cat > /etc/bacula/bacula-sd.conf <<CONF
Storage {
  Name = e2e-sd
  SDPort = 9103
  SDAddress = 127.0.0.1
  WorkingDirectory = /var/lib/bacula
  Pid Directory = /run/bacula
  Maximum Concurrent Jobs = 10
}
Director {
  Name = e2e-dir
  Password = "e2e-sd-pw"
}
Messages {
  Name = Standard
  director = e2e-dir = all
}
Autochanger {
  Name = Library
  Device = Drive0, Drive1
  Changer Device = $CH
  Changer Command = "$CHG %c %o %S %a %d"
}
Device {
  Name = Drive0
  Device Type = Tape
  Media Type = LTO
  Archive Device = $D0
  Drive Index = 0
  Autochanger = yes
  AutomaticMount = yes
  AlwaysOpen = yes
  RemovableMedia = yes
  RandomAccess = no
  Maximum Block Size = 262144
}
Device {
  Name = Drive1
  Device Type = Tape
  Media Type = LTO
  Archive Device = $D1
  Drive Index = 1
  Autochanger = yes
  AutomaticMount = yes
  AlwaysOpen = yes
  RemovableMedia = yes
  RandomAccess = no
  Maximum Block Size = 262144
}
CONF
cat > /etc/bacula/bacula-fd.conf <<CONF
FileDaemon {
  Name = e2e-fd
  FDport = 9102
  FDAddress = 127.0.0.1
  WorkingDirectory = /var/lib/bacula
  Pid Directory = /run/bacula
  Maximum Concurrent Jobs = 10
}
Director {
  Name = e2e-dir
  Password = "e2e-fd-pw"
}
Messages {
  Name = Standard
  director = e2e-dir = all, !skipped, !restored
}
CONF
cat > /etc/bacula/bacula-dir.conf <<CONF
Director {
  Name = e2e-dir
  DIRport = 9101
  DirAddress = 127.0.0.1
  QueryFile = "/etc/bacula/scripts/query.sql"
  WorkingDirectory = /var/lib/bacula
  PidDirectory = /run/bacula
  Maximum Concurrent Jobs = 2
  Password = "e2e-dir-pw"
  Messages = Daemon
}
Catalog {
  Name = MyCatalog
  dbname = "bacula"; dbuser = ""; dbpassword = ""
}
Client {
  Name = e2e-fd
  Address = 127.0.0.1
  FDPort = 9102
  Catalog = MyCatalog
  Password = "e2e-fd-pw"
  AutoPrune = no
  Maximum Concurrent Jobs = 2
}
Storage {
  Name = Library
  Address = 127.0.0.1
  SDPort = 9103
  Password = "e2e-sd-pw"
  Device = Library
  Media Type = LTO
  Autochanger = yes
  Maximum Concurrent Jobs = 10
}
FileSet {
  Name = DataSet
  Include {
    Options {
      signature = SHA1
    }
    File = $DATA
  }
}
FileSet {
  Name = SpanSet
  Include {
    Options {
      signature = SHA1
    }
    File = $SPAN
  }
}
Job {
  Name = BackupData
  Type = Backup
  Level = Incremental
  Client = e2e-fd
  FileSet = DataSet
  Storage = Library
  Pool = Weekly
  Messages = Standard
  Write Bootstrap = "/var/lib/bacula/%n.bsr"
}
Job {
  Name = BackupSpan
  Type = Backup
  Level = Full
  Client = e2e-fd
  FileSet = SpanSet
  Storage = Library
  Pool = Small
  Messages = Standard
  Write Bootstrap = "/var/lib/bacula/%n.bsr"
}
Job {
  Name = ConcurrentWeekly
  Type = Backup
  Level = Full
  Client = e2e-fd
  FileSet = SpanSet
  Storage = Library
  Pool = Weekly
  Prefer Mounted Volumes = no
  Messages = Standard
  Write Bootstrap = "/var/lib/bacula/%n.bsr"
}
Job {
  Name = ConcurrentOffsite
  Type = Backup
  Level = Full
  Client = e2e-fd
  FileSet = SpanSet
  Storage = Library
  Pool = Offsite
  Prefer Mounted Volumes = no
  Messages = Standard
  Write Bootstrap = "/var/lib/bacula/%n.bsr"
}
Job {
  Name = RestoreData
  Type = Restore
  Client = e2e-fd
  FileSet = DataSet
  Storage = Library
  Pool = Weekly
  Messages = Standard
  Where = /tmp/bacula-restores
}
Pool {
  Name = Default
  Pool Type = Backup
}
Pool {
  Name = Weekly
  Pool Type = Backup
  Recycle = no
  AutoPrune = no
  Volume Retention = 365 days
}
Pool {
  Name = Offsite
  Pool Type = Backup
  Recycle = no
  AutoPrune = no
  Volume Retention = 365 days
}
Pool {
  Name = Small
  Pool Type = Backup
  Recycle = no
  AutoPrune = no
  Volume Retention = 365 days
}
Messages {
  Name = Standard
  console = all, !skipped, !saved
  append = "/var/lib/bacula/bacula.log" = all, !skipped
  catalog = all
}
Messages {
  Name = Daemon
  console = all, !skipped, !saved
  append = "/var/lib/bacula/bacula.log" = all, !skipped
}
CONF
cat > /etc/bacula/bconsole.conf <<CONF
Director {
  Name = e2e-dir
  DIRport = 9101
  address = 127.0.0.1
  Password = "e2e-dir-pw"
}
CONF

# ---- helpers ----------------------------------------------------------------------------------------------------
q() { sqlite3 -cmd '.timeout 10000' "$DB" "$1"; }          # a catalog query
bcon() {   # bcon LOG: bconsole with the commands on stdin; its output goes to LOG and stdout
  timeout "${BCON_TMO:-300}" bconsole -c /etc/bacula/bconsole.conf > "$1" 2>&1
  local rc=$?
  cat "$1"; return $rc
}
listening() { awk -v p="$(printf ':%04X' "$1")" '$2 ~ p"$" && $4 == "0A" {f=1} END {exit !f}' /proc/net/tcp; }
wait_port() { local i; for i in $(seq 1 300); do listening "$1" && return 0; sleep 0.1; done; return 1; }
# run_job LOG 'run ... yes': runs one job, waits for it and prints its messages; JOBID = its JobId
run_job() {
  printf '%s\nwait\nmessages\n' "$2" | bcon "$1"
  JOBID=$(sed -nE 's/.*Job queued\. JobId=([0-9]+).*/\1/p' "$1" | tail -1)
  echo "JobId=$JOBID"
  [ -n "$JOBID" ]
}
job_ok() {   # job_ok JOBID LOG "Backup OK"|"Restore OK": catalog status T, no errors, the report's termination
  local st
  st=$(q "SELECT JobStatus || ' errors=' || JobErrors || ' files=' || JobFiles || ' bytes=' || JobBytes || ' level=' || Level FROM Job WHERE JobId=$1")
  echo "catalog: JobId $1 status $st"
  grep -E "^ *Termination: " "$2"
  [ "${st%% *}" = T ] && case "$st" in *" errors=0 "*) ;; *) false ;; esac && grep -Eq "^ *Termination: +$3\$" "$2"
}
job_volumes() { q "SELECT DISTINCT m.VolumeName FROM JobMedia j JOIN Media m ON m.MediaId = j.MediaId WHERE j.JobId = $1 ORDER BY 1" | tr '\n' ' ' | sed 's/ $//'; }
snapshot() { (cd "${2:-$DATA}" && find . -type f | LC_ALL=C sort | xargs sha256sum) > "$1"; }
same_tree() {   # same_tree SHAFILE DIR: DIR holds exactly the files of SHAFILE with those contents
  [ -d "$2" ] || { echo "no $2"; return 1; }
  (cd "$2" && find . -type f | LC_ALL=C sort) > /tmp/restored.list
  awk '{print $2}' "$1" > /tmp/expected.list
  diff /tmp/expected.list /tmp/restored.list || { echo "file lists differ (< expected, > restored)"; return 1; }
  (cd "$2" && sha256sum -c --quiet "$1") && echo "$(wc -l < "$1") files identical"
}
drives_empty() { local s; s=$(mtx -f $CH status) || return 1; echo "$s"; ! echo "$s" | grep -q '^Data Transfer Element.*:Full'; }
unload_both() {   # the admin's "umount": Bacula unloads the drive through the changer; "mount" then unblocks it
  printf 'umount storage=Library drive=0\numount storage=Library drive=1\nmount storage=Library slot=0 drive=0\nmount storage=Library slot=0 drive=1\nmessages\n' | bcon /tmp/bcon-umount.log
  true
}
mkfile() { dd if=/dev/urandom of="$1" bs=$2 count=1 2>/dev/null; }

# ---- the data: about 4 MB in 60 files ---------------------------------------------------------------------------
mkdir -p $DATA/docs $DATA/img/raw $DATA/db
for i in $(seq 1 40); do mkfile $DATA/docs/file$i.txt $((1000 + i * 1531)); done
for i in $(seq 1 12); do mkfile $DATA/img/raw/pic$i.bin $((64 * 1024 + i * 777)); done
mkfile $DATA/db/big1.dat 1500000; mkfile $DATA/db/big2.dat 700001
for i in 1 2 3 4 5; do seq 1 20000 > $DATA/docs/seq$i.log; done
snapshot /tmp/state1.sha
show "source data (state 1)" 'du -sk $DATA; wc -l < /tmp/state1.sha'

# ---- the daemons ------------------------------------------------------------------------------------------------
check "bacula-dir -t: the configuration parses" 'bacula-dir -t -c /etc/bacula/bacula-dir.conf'
check "bacula-sd -t: the configuration parses" 'bacula-sd -t -c /etc/bacula/bacula-sd.conf'
check "bacula-fd -t: the configuration parses" 'bacula-fd -t -c /etc/bacula/bacula-fd.conf'
bacula-sd -f -c /etc/bacula/bacula-sd.conf > /tmp/bacula-sd.out 2>&1 & SD_PID=$!
bacula-fd -f -c /etc/bacula/bacula-fd.conf > /tmp/bacula-fd.out 2>&1 & FD_PID=$!
bacula-dir -f -c /etc/bacula/bacula-dir.conf > /tmp/bacula-dir.out 2>&1 & DIR_PID=$!
check "bacula-sd, bacula-fd, bacula-dir listen on 127.0.0.1:9103, 9102, 9101" 'wait_port 9103 && wait_port 9102 && wait_port 9101'
check "bconsole: status of the director, the client and the storage" \
  'printf "status dir\nstatus client=e2e-fd\nstatus storage=Library\n" | bcon /tmp/bcon-status.log && grep -q "Daemon started" /tmp/bcon-status.log && grep -q "e2e-fd Version" /tmp/bcon-status.log && grep -q "e2e-sd Version" /tmp/bcon-status.log'

# ---- label barcodes ---------------------------------------------------------------------------------------------
set -- ${E2E_BARCODES:-HRN001L4 HRN002L4 HRN003L4 HRN004L4 HRN005L4 HRN006L4 HRN007L4 HRN008L4}; shift 4
slot_of() { mtx -f $CH status | sed -nE "s/^ *Storage Element ([0-9]+):Full *:VolumeTag=$1 *\$/\1/p"; }
WEEKLY_SLOTS="$(slot_of $1),$(slot_of $2)"; OFFSITE_SLOTS="$(slot_of $3),$(slot_of $4)"; BACULA_TAPES="$1 $2 $3 $4"
check "inventory: the drives are empty; $1 $2 (Weekly) in slots $WEEKLY_SLOTS, $3 $4 (Offsite) in slots $OFFSITE_SLOTS" \
  'drives_empty && [[ "$WEEKLY_SLOTS,$OFFSITE_SLOTS" =~ ^[0-9]+,[0-9]+,[0-9]+,[0-9]+$ ]]'
check "label barcodes slots=$WEEKLY_SLOTS pool=Weekly" 'printf "label storage=Library pool=Weekly slots=$WEEKLY_SLOTS barcodes drive=0\nyes\n" | bcon /tmp/bcon-label1.log; [ "$(grep -c "^3000 OK label" /tmp/bcon-label1.log)" = 2 ]'
check "label barcodes slots=$OFFSITE_SLOTS pool=Offsite" 'printf "label storage=Library pool=Offsite slots=$OFFSITE_SLOTS barcodes drive=0\nyes\n" | bcon /tmp/bcon-label2.log; [ "$(grep -c "^3000 OK label" /tmp/bcon-label2.log)" = 2 ]'
check "catalog: 4 volumes in the changer with their slots and pools" \
  'q "SELECT m.VolumeName, p.Name, m.Slot, m.InChanger, m.VolStatus FROM Media m JOIN Pool p ON p.PoolId = m.PoolId ORDER BY m.Slot" | tee /tmp/media.txt; [ "$(grep -c "|1|Append$" /tmp/media.txt)" = 4 ] && [ "$(grep -c "|Weekly|" /tmp/media.txt)" = 2 ] && [ "$(grep -c "|Offsite|" /tmp/media.txt)" = 2 ]'
unload_both

# ---- Full -> tape A ---------------------------------------------------------------------------------------------
check "Full backup (pool Weekly): Backup OK" 'run_job /tmp/job-full1.log "run job=BackupData level=Full yes" && echo $JOBID > /tmp/full1.id && job_ok $JOBID /tmp/job-full1.log "Backup OK"'
FULL1=$(cat /tmp/full1.id 2>/dev/null); VOLA=$(job_volumes "${FULL1:-0}")
check "Full backup wrote one Weekly volume (tape A = $VOLA)" 'echo "$VOLA"; q "SELECT p.Name FROM Media m JOIN Pool p ON p.PoolId = m.PoolId WHERE m.VolumeName = '\''$VOLA'\''" | grep -qx Weekly'
check "umount: Bacula unloads tape A through the changer (both drives empty)" 'unload_both >/dev/null; grep "Issuing autochanger" /tmp/bcon-umount.log; grep -q "Issuing autochanger \"unload Volume $VOLA" /tmp/bcon-umount.log && drives_empty'
check "Maximum Block Size = 256 KiB is used: tape A holds blocks of more than 192 KiB on average" \
  'q "SELECT VolumeName, VolBlocks, VolBytes FROM Media WHERE VolumeName='\''$VOLA'\''"; [ "$(q "SELECT VolBytes / VolBlocks FROM Media WHERE VolumeName='\''$VOLA'\''")" -gt 196608 ]'

# ---- changes, Incremental appends to tape A ---------------------------------------------------------------------
sleep 1
for i in 3 7 11; do echo "changed after the Full $i" >> $DATA/docs/file$i.txt; done
mkfile $DATA/img/raw/pic5.bin 90001; mkfile $DATA/db/big2.dat 800003
mkdir -p $DATA/new; for i in 1 2 3 4 5; do mkfile $DATA/new/added$i.bin $((20000 * i)); done
snapshot /tmp/state2.sha
check "Incremental backup: Backup OK" 'run_job /tmp/job-inc1.log "run job=BackupData level=Incremental yes" && echo $JOBID > /tmp/inc1.id && job_ok $JOBID /tmp/job-inc1.log "Backup OK" && grep -E "^ *Backup Level: +Incremental" /tmp/job-inc1.log'
INC1=$(cat /tmp/inc1.id 2>/dev/null)
check "Incremental saved only the changes: the 10 changed and added files and their directories (not all 64)" 'n=$(q "SELECT JobFiles FROM Job WHERE JobId=${INC1:-0}"); echo "JobFiles=$n"; [ "$n" -ge 10 ] && [ "$n" -le 14 ]'
check "Incremental: the SD mounted tape A and positioned at its end of data" 'grep -E "previously written, moving to end of data|Ready to append to end of Volume" /tmp/job-inc1.log; grep -q "Volume \"$VOLA\" previously written, moving to end of data" /tmp/job-inc1.log && grep -q "Ready to append to end of Volume \"$VOLA\" at file=1" /tmp/job-inc1.log'
check "Incremental appended to tape A ($VOLA) after the Full (JobMedia: later file on the same volume)" \
  'q "SELECT j.JobId, m.VolumeName, j.StartFile, j.EndFile, j.StartBlock, j.EndBlock FROM JobMedia j JOIN Media m ON m.MediaId = j.MediaId ORDER BY j.JobMediaId"; [ "$(job_volumes ${INC1:-0})" = "$VOLA" ] && [ "$(q "SELECT min(StartFile) FROM JobMedia WHERE JobId=${INC1:-0}")" -gt "$(q "SELECT max(EndFile) FROM JobMedia WHERE JobId=${FULL1:-0}")" ]'
check "catalog: tape A holds 2 jobs" 'q "SELECT VolumeName, VolJobs, VolFiles, VolBlocks, VolBytes FROM Media WHERE VolumeName='\''$VOLA'\''"; [ "$(q "SELECT VolJobs FROM Media WHERE VolumeName='\''$VOLA'\''")" = 2 ]'

# ---- restore Full + Incremental (tape A) -------------------------------------------------------------------------
check "umount (tape A unloaded)" 'unload_both; drives_empty'
check "restore current (Full + Incremental from tape A): Restore OK" 'run_job /tmp/job-restore1.log "restore client=e2e-fd fileset=DataSet where=/tmp/restore1 select current all done yes" && job_ok $JOBID /tmp/job-restore1.log "Restore OK"'
check "restore 1: every file identical to the state the Incremental saved" 'same_tree /tmp/state2.sha /tmp/restore1$DATA'

# ---- Full on another tape (pool Offsite, tape B) ----------------------------------------------------------------
check "Full backup with pool=Offsite: Backup OK" 'run_job /tmp/job-full2.log "run job=BackupData level=Full pool=Offsite yes" && echo $JOBID > /tmp/full2.id && job_ok $JOBID /tmp/job-full2.log "Backup OK"'
FULL2=$(cat /tmp/full2.id 2>/dev/null); VOLB=$(job_volumes "${FULL2:-0}")
check "second Full went to another tape, an Offsite volume (tape B = $VOLB)" '[ -n "$VOLB" ] && [ "$VOLB" != "$VOLA" ] && q "SELECT p.Name FROM Media m JOIN Pool p ON p.PoolId = m.PoolId WHERE m.VolumeName = '\''$VOLB'\''" | grep -qx Offsite'
check "umount (both drives empty)" 'unload_both; drives_empty'

# ---- changes, Incremental (Weekly: appends to tape A again) -----------------------------------------------------
sleep 1
for i in 1 20 40; do echo "changed after the second Full $i" >> $DATA/docs/file$i.txt; done
mkfile $DATA/new/added2.bin 33333; mkfile $DATA/db/big1.dat 1600000
mkdir -p $DATA/new2; for i in 1 2 3; do mkfile $DATA/new2/more$i.bin $((5000 * i)); done
snapshot /tmp/state3.sha
check "second Incremental: Backup OK" 'run_job /tmp/job-inc2.log "run job=BackupData level=Incremental yes" && echo $JOBID > /tmp/inc2.id && job_ok $JOBID /tmp/job-inc2.log "Backup OK" && grep -E "^ *Backup Level: +Incremental" /tmp/job-inc2.log'
INC2=$(cat /tmp/inc2.id 2>/dev/null)
check "second Incremental appended to tape A ($VOLA) after the first Incremental" \
  '[ "$(job_volumes ${INC2:-0})" = "$VOLA" ] && [ "$(q "SELECT min(StartFile) FROM JobMedia WHERE JobId=${INC2:-0}")" -gt "$(q "SELECT max(EndFile) FROM JobMedia WHERE JobId=${INC1:-0}")" ] && q "SELECT VolJobs FROM Media WHERE VolumeName='\''$VOLA'\''" | grep -qx 3'
check "umount (both drives empty)" 'unload_both; drives_empty'

# ---- restore the newest state: Full (tape B) + Incremental (tape A) ---------------------------------------------
check "restore current (Full from tape B + Incremental from tape A): Restore OK" 'run_job /tmp/job-restore2.log "restore client=e2e-fd fileset=DataSet where=/tmp/restore2 select current all done yes" && job_ok $JOBID /tmp/job-restore2.log "Restore OK"'
check "restore 2: every file identical to the newest source state" 'same_tree /tmp/state3.sha /tmp/restore2$DATA'
check "restore 2 read both tapes ($VOLB and $VOLA)" 'grep -E "Ready to read from volume|Forward spacing Volume" /tmp/job-restore2.log; grep -q "\"$VOLB\"" /tmp/job-restore2.log && grep -q "\"$VOLA\"" /tmp/job-restore2.log'

# ---- a Full larger than one tape: early warning, the next volume through the changer, a restore across both -------
# Two 32 MiB tapes (early warning 4 MiB before the end) and ~44 MB of incompressible data: the SD writes SML001
# until st reports early warning (ENOSPC), writes its end-of-volume filemark, re-reads the last block (a backspace
# and a read right at the end of the written data), marks the volume Full, has the changer swap in SML002 and goes on.
set -- ${E2E_SMALL_BARCODES:-SML001L4 SML002L4}
SMALL1=$1; SMALL2=$2; SMALL_SLOTS="$(slot_of $1),$(slot_of $2)"; BACULA_TAPES="$BACULA_TAPES $1 $2"
mkdir -p $SPAN; for i in $(seq 1 11); do mkfile $SPAN/part$i.bin $((4000000 + i * 1001)); done
snapshot /tmp/span.sha $SPAN
check "label barcodes slots=$SMALL_SLOTS pool=Small (two 32 MiB tapes)" '[[ "$SMALL_SLOTS" =~ ^[0-9]+,[0-9]+$ ]] && printf "label storage=Library pool=Small slots=$SMALL_SLOTS barcodes drive=0\nyes\n" | bcon /tmp/bcon-label3.log; [ "$(grep -c "^3000 OK label" /tmp/bcon-label3.log)" = 2 ]'
unload_both
check "Full of 44 MB into pool Small (32 MiB tapes): Backup OK" 'run_job /tmp/job-span.log "run job=BackupSpan yes" && echo $JOBID > /tmp/span.id && job_ok $JOBID /tmp/job-span.log "Backup OK"'
SPANJOB=$(cat /tmp/span.id 2>/dev/null)
check "the job spans both small tapes; the first is Full, the second Append" \
  'q "SELECT m.VolumeName, m.VolStatus, m.VolFiles, m.VolBlocks, m.VolBytes FROM Media m WHERE m.VolumeName IN ('\''$SMALL1'\'','\''$SMALL2'\'')"; [ "$(job_volumes ${SPANJOB:-0})" = "$SMALL1 $SMALL2" ] && q "SELECT VolStatus FROM Media WHERE VolumeName='\''$SMALL1'\''" | grep -qx Full && q "SELECT VolStatus FROM Media WHERE VolumeName='\''$SMALL2'\''" | grep -qx Append'
check "the SD met the end of $SMALL1 near its capacity and re-read its last block" \
  'grep -E "End of medium|End of Volume|Re-read|New volume|autochanger" /tmp/job-span.log; grep -q "End of medium on Volume \"$SMALL1\"" /tmp/job-span.log && grep -q "Re-read of last block succeeded" /tmp/job-span.log && b=$(q "SELECT VolBytes FROM Media WHERE VolumeName='\''$SMALL1'\''") && [ "$b" -gt $((26 * 1048576)) ] && [ "$b" -le $((32 * 1048576)) ]'
check "umount (both drives empty)" 'unload_both; drives_empty'
check "restore the spanning Full: Restore OK" 'run_job /tmp/job-restore3.log "restore client=e2e-fd fileset=SpanSet jobid=${SPANJOB:-0} where=/tmp/restore3 all done yes" && job_ok $JOBID /tmp/job-restore3.log "Restore OK"'
check "restore 3: every file identical, read from both tapes" 'same_tree /tmp/span.sha /tmp/restore3$SPAN && grep -q "\"$SMALL1\"" /tmp/job-restore3.log && grep -q "\"$SMALL2\"" /tmp/job-restore3.log'

# ---- two jobs queued together, one drive each -------------------------------------------------------------------
# Maximum Concurrent Jobs 2 (director and client), Prefer Mounted Volumes = no: a Full to pool Weekly and a Full to
# pool Offsite, 44 MB each, queued in one bconsole call. The SD reserves a different drive for each and has the
# changer load the second job's tape while the first job's tape stays loaded in the other drive. (With the SQLite
# catalog this director started the second job when the first ended; simultaneous streaming on several drives is
# covered by the integration tests and the benchmark, not here.) Both back up, and both restore identical.
check "two Fulls queued together (ConcurrentWeekly -> pool Weekly, ConcurrentOffsite -> pool Offsite): both Backup OK" '
  printf "run job=ConcurrentWeekly yes\nrun job=ConcurrentOffsite yes\nwait\nmessages\n" | bcon /tmp/job-conc.log >/dev/null
  sed -nE "s/.*Job queued\. JobId=([0-9]+).*/\1/p" /tmp/job-conc.log > /tmp/conc.ids; cat /tmp/conc.ids
  [ "$(wc -l < /tmp/conc.ids)" = 2 ] && for j in $(cat /tmp/conc.ids); do job_ok $j /tmp/job-conc.log "Backup OK" || exit 1; done'
C1=$(sed -n 1p /tmp/conc.ids 2>/dev/null); C2=$(sed -n 2p /tmp/conc.ids 2>/dev/null)
check "each wrote one tape of its own pool, in a drive of its own; the first job's tape stayed loaded in the other drive" '
  q "SELECT JobId, Name, StartTime, EndTime FROM Job WHERE JobId IN (${C1:-0}, ${C2:-0})"; v1=$(job_volumes ${C1:-0}); v2=$(job_volumes ${C2:-0}); echo "volumes: $v1 / $v2"
  [ -n "$v1" ] && [ -n "$v2" ] && [ "$v1" != "$v2" ] &&
  q "SELECT p.Name FROM Media m JOIN Pool p ON p.PoolId = m.PoolId WHERE m.VolumeName = '\''$v1'\''" | grep -qx Weekly &&
  q "SELECT p.Name FROM Media m JOIN Pool p ON p.PoolId = m.PoolId WHERE m.VolumeName = '\''$v2'\''" | grep -qx Offsite &&
  d1=$(sed -nE "s/.*JobId ${C1:-0}: Using Device \"(Drive[01])\".*/\1/p" /tmp/job-conc.log) && d2=$(sed -nE "s/.*JobId ${C2:-0}: Using Device \"(Drive[01])\".*/\1/p" /tmp/job-conc.log) &&
  echo "devices: $d1 / $d2" && [ -n "$d1" ] && [ -n "$d2" ] && [ "$d1" != "$d2" ] &&
  mtx -f $CH status | grep -E "Data Transfer Element" | tee /dev/stderr | grep -q "VolumeTag *= *$v1"'
check "umount (both drives empty)" 'unload_both; drives_empty'
check "restore each concurrent job: Restore OK, every file identical" '
  run_job /tmp/job-restore4.log "restore client=e2e-fd fileset=SpanSet jobid=${C1:-0} where=/tmp/restore4 all done yes" && job_ok $JOBID /tmp/job-restore4.log "Restore OK" && same_tree /tmp/span.sha /tmp/restore4$SPAN &&
  run_job /tmp/job-restore5.log "restore client=e2e-fd fileset=SpanSet jobid=${C2:-0} where=/tmp/restore5 all done yes" && job_ok $JOBID /tmp/job-restore5.log "Restore OK" && same_tree /tmp/span.sha /tmp/restore5$SPAN'

check "end state: umount, both drives empty, every tape back in its slot" 'unload_both >/dev/null; drives_empty && for t in $BACULA_TAPES; do mtx -f $CH status | grep -Eq "^ *Storage Element [0-9]+:Full *:VolumeTag=$t *\$" || exit 1; done'

# ---- the logs ---------------------------------------------------------------------------------------------------
check "Bacula log: no errors, fatal errors or warnings" '! grep -E "(ERR=|Fatal error|Error:|Warning:|Termination:.*(warning|Error|Fatal))" /var/lib/bacula/bacula.log'
check "kernel log: no st/ch errors" '! dmesg | grep -E "st[0-9]+:.*(Error|error)|ch[0-9]+:.*(error)|I/O error"'
show "Bacula log" 'cat /var/lib/bacula/bacula.log'
show "daemon output" 'tail -20 /tmp/bacula-sd.out /tmp/bacula-fd.out /tmp/bacula-dir.out'
echo quit | timeout 30 bconsole -c /etc/bacula/bconsole.conf >/dev/null 2>&1
kill $DIR_PID $FD_PID $SD_PID 2>/dev/null
finish
