/*
 * tape-ctl: the few library/drive commands tools/bench/tape-vs-tgt.sh needs around the unmodified tapeperf,
 * on libiscsi's synchronous API (written from the headers in /usr/include/iscsi).
 *
 *   tape-ctl move  CHANGER_URL SRC DST     MOVE MEDIUM (SMC-3 A5h) from element SRC to element DST
 *   tape-ctl ready DRIVE_URL               TEST UNIT READY until GOOD (UNIT ATTENTION / NOT READY retried, 30 s)
 *   tape-ctl dce   DRIVE_URL [0|1]         print the Data Compression mode page's DCE/DCC (SSC-4, page 0Fh);
 *                                          with 0|1: MODE SELECT(6) the page with DCE set or cleared, then print it
 *                                          again. DCE is reset at every load, so set it after loading.
 *   tape-ctl unload DRIVE_URL              REWIND, then LOAD UNLOAD with LOAD=0
 *   tape-ctl read  DRIVE_URL BYTES COUNT   REWIND, then COUNT variable-length READ(6) of BYTES, one at a time, no
 *                                          verification; prints MB/s (a read-only load for profiling the read path)
 *   tape-ctl stream DRIVE_URL BYTES COUNT  REWIND, COUNT variable-length WRITE(6) of BYTES of compressible text (words
 *                                          and numbers from a PRNG, ~3:1 with zstd), WRITE FILEMARKS(1), REWIND, then
 *                                          COUNT READ(6) of BYTES, each compared with the regenerated record; one
 *                                          command at a time. Prints write_MBps= read_MBps= verified=yes|NO in
 *                                          tapeperf's form (a restore of backup-like data, which the drive compresses)
 *   tape-ctl crypt DRIVE_URL on|off        SECURITY PROTOCOL OUT (SPC-4 B5h), tape data encryption (20h), Set Data
 *                                          Encryption page: scope ALL I_T NEXUS, ENCRYPT + MIXED, algorithm 01h, a
 *                                          fixed 32-byte benchmark key ("on"), or both modes DISABLE ("off"), as
 *                                          Bareos' scsicrypto sends it. The drive keeps it across loads.
 *
 * Exit status 0 ok, 1 SCSI/iSCSI failure, 2 usage. Prints one line per command on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

static const char *initiator = "iqn.2026-11.org.tapegateway:tape-ctl";

static struct iscsi_context *connect_url(const char *url, int *lun)
{
	struct iscsi_context *c = iscsi_create_context(initiator);
	struct iscsi_url *u;
	if (!c) {
		fprintf(stderr, "iscsi_create_context failed\n");
		return NULL;
	}
	u = iscsi_parse_full_url(c, url);
	if (!u) {
		fprintf(stderr, "bad URL %s: %s\n", url, iscsi_get_error(c));
		iscsi_destroy_context(c);
		return NULL;
	}
	iscsi_set_session_type(c, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(c, ISCSI_HEADER_DIGEST_NONE);
	iscsi_set_targetname(c, u->target);
	if (iscsi_full_connect_sync(c, u->portal, u->lun) != 0) {
		fprintf(stderr, "login to %s: %s\n", url, iscsi_get_error(c));
		iscsi_destroy_url(u);
		iscsi_destroy_context(c);
		return NULL;
	}
	*lun = u->lun;
	iscsi_destroy_url(u);
	return c;
}

static void disconnect(struct iscsi_context *c)
{
	iscsi_logout_sync(c);
	iscsi_destroy_context(c);
}

/* One command; UNIT ATTENTION is retried. Returns the task (caller frees) or NULL on transport failure. */
static struct scsi_task *command(struct iscsi_context *c, int lun, unsigned char *cdb, int cdb_len, int dir,
				 int xfer, unsigned char *out, size_t out_len)
{
	for (int tries = 0; tries < 5; tries++) {
		struct scsi_task *t = scsi_create_task(cdb_len, cdb, dir, xfer);
		struct iscsi_data d = { .size = out_len, .data = out };
		if (!t)
			return NULL;
		t = iscsi_scsi_command_sync(c, lun, t, out ? &d : NULL);
		if (!t) {
			fprintf(stderr, "command 0x%02x: %s\n", cdb[0], iscsi_get_error(c));
			return NULL;
		}
		if (t->status == SCSI_STATUS_CHECK_CONDITION && t->sense.key == SCSI_SENSE_UNIT_ATTENTION && tries < 4) {
			scsi_free_scsi_task(t);
			continue;
		}
		return t;
	}
	return NULL;
}

static int good(struct scsi_task *t, const char *what)
{
	int ok;
	if (!t)
		return 0;
	ok = t->status == SCSI_STATUS_GOOD;
	if (!ok)
		fprintf(stderr, "%s: status 0x%x sense key 0x%x asc/ascq 0x%04x\n", what, t->status, t->sense.key,
			t->sense.ascq);
	scsi_free_scsi_task(t);
	return ok;
}

static int do_ready(struct iscsi_context *c, int lun)
{
	for (int i = 0; i < 150; i++) {
		unsigned char tur[6] = { 0 };
		struct scsi_task *t = command(c, lun, tur, 6, SCSI_XFER_NONE, 0, NULL, 0);
		int st, key;
		if (!t)
			return 1;
		st = t->status;
		key = t->sense.key;
		scsi_free_scsi_task(t);
		if (st == SCSI_STATUS_GOOD)
			return 0;
		if (st != SCSI_STATUS_CHECK_CONDITION ||
		    (key != SCSI_SENSE_NOT_READY && key != SCSI_SENSE_UNIT_ATTENTION)) {
			fprintf(stderr, "TEST UNIT READY: status 0x%x sense key 0x%x\n", st, key);
			return 1;
		}
		usleep(200000);
	}
	fprintf(stderr, "TEST UNIT READY: not ready after 30 s\n");
	return 1;
}

/* MODE SENSE(6), DBD=1, page 0Fh current values into buf (header + page). Returns the page offset or -1. */
static int sense_dc(struct iscsi_context *c, int lun, unsigned char *buf, int len)
{
	unsigned char cdb[6] = { 0x1A, 0x08, 0x0F, 0x00, (unsigned char)len, 0x00 };
	struct scsi_task *t = command(c, lun, cdb, 6, SCSI_XFER_READ, len, NULL, 0);
	int n, off;
	if (!t)
		return -1;
	if (t->status != SCSI_STATUS_GOOD) {
		good(t, "MODE SENSE(6) page 0Fh");
		return -1;
	}
	n = t->datain.size < len ? t->datain.size : len;
	memset(buf, 0, len);
	memcpy(buf, t->datain.data, n);
	scsi_free_scsi_task(t);
	off = 4 + buf[3];
	if (n < off + 4 || (buf[off] & 0x3F) != 0x0F) {
		fprintf(stderr, "MODE SENSE(6): no Data Compression page in %d bytes\n", n);
		return -1;
	}
	return off;
}

static int do_dce(struct iscsi_context *c, int lun, int set)
{
	unsigned char buf[64], sel[64];
	int off = sense_dc(c, lun, buf, sizeof buf), plen;
	if (off < 0)
		return 1;
	printf("before: DCE=%d DCC=%d DDE=%d\n", !!(buf[off + 2] & 0x80), !!(buf[off + 2] & 0x40),
	       !!(buf[off + 3] & 0x80));
	if (set < 0)
		return 0;
	plen = buf[off + 1] + 2;
	memset(sel, 0, sizeof sel);
	sel[2] = buf[2] & 0x70;          /* device-specific parameter: keep BUFFERED MODE, WP is reserved here */
	memcpy(sel + 4, buf + off, plen);
	sel[4] &= 0x3F;                  /* PS is reserved in MODE SELECT */
	sel[4 + 2] = (unsigned char)((sel[4 + 2] & ~0x80) | (set ? 0x80 : 0));
	{
		unsigned char cdb[6] = { 0x15, 0x10, 0, 0, (unsigned char)(4 + plen), 0 };
		struct scsi_task *t = command(c, lun, cdb, 6, SCSI_XFER_WRITE, 4 + plen, sel, 4 + plen);
		if (!good(t, "MODE SELECT(6) page 0Fh"))
			return 1;
	}
	off = sense_dc(c, lun, buf, sizeof buf);
	if (off < 0)
		return 1;
	printf("after: DCE=%d DCC=%d DDE=%d\n", !!(buf[off + 2] & 0x80), !!(buf[off + 2] & 0x40),
	       !!(buf[off + 3] & 0x80));
	return (!!(buf[off + 2] & 0x80)) == set ? 0 : 1;
}

static int do_crypt(struct iscsi_context *c, int lun, int on)
{
	unsigned char page[52] = { 0x00, 0x10, 0x00, 48, 2 << 5 };
	unsigned char cdb[12] = { 0xB5, 0x20, 0x00, 0x10, 0, 0, 0, 0, 0, sizeof page, 0, 0 };
	page[6] = on ? 0x02 : 0x00;      /* ENCRYPTION MODE: ENCRYPT */
	page[7] = on ? 0x03 : 0x00;      /* DECRYPTION MODE: MIXED */
	page[8] = 0x01;                  /* ALGORITHM INDEX */
	page[19] = 32;                   /* KEY LENGTH */
	for (int i = 0; i < 32; i++)
		page[20 + i] = on ? (unsigned char)(0xA0 + i) : 0;
	if (!good(command(c, lun, cdb, 12, SCSI_XFER_WRITE, sizeof page, page, sizeof page), "SECURITY PROTOCOL OUT"))
		return 1;
	printf("encryption %s\n", on ? "on (ENCRYPT, MIXED)" : "off");
	return 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One variable-length READ(6) of BYTES that must return GOOD and exactly BYTES; the task (caller frees) or NULL. */
static struct scsi_task *read_record(struct iscsi_context *c, int lun, int bytes, long i)
{
	unsigned char cdb[6] = { 0x08, 0, (bytes >> 16) & 0xFF, (bytes >> 8) & 0xFF, bytes & 0xFF, 0 };
	struct scsi_task *t = command(c, lun, cdb, 6, SCSI_XFER_READ, bytes, NULL, 0);
	if (t && (t->status != SCSI_STATUS_GOOD || t->datain.size != bytes)) {
		fprintf(stderr, "READ(6) %ld: status 0x%x sense key 0x%x asc/ascq 0x%04x, %d bytes\n", i, t->status,
			t->sense.key, t->sense.ascq, t->datain.size);
		scsi_free_scsi_task(t);
		return NULL;
	}
	return t;
}

/*
 * REWIND, then COUNT READ(6)s of BYTES one at a time; with CHECK, each compared with CHECK(BYTES, i) (mismatches
 * clear *verified). Returns the seconds the reads took, or -1 on a SCSI/iSCSI failure.
 */
static double read_all(struct iscsi_context *c, int lun, int bytes, long count,
		       const unsigned char *(*check)(int, long), int *verified)
{
	unsigned char rew[6] = { 0x01, 0, 0, 0, 0, 0 };
	double t0;
	long i;
	if (!good(command(c, lun, rew, 6, SCSI_XFER_NONE, 0, NULL, 0), "REWIND"))
		return -1;
	t0 = now();
	for (i = 0; i < count; i++) {
		struct scsi_task *t = read_record(c, lun, bytes, i);
		if (!t)
			return -1;
		if (check && memcmp(check(bytes, i), t->datain.data, bytes) != 0) {
			fprintf(stderr, "READ(6) %ld: data differs\n", i);
			*verified = 0;
		}
		scsi_free_scsi_task(t);
	}
	return now() - t0;
}

static int do_read(struct iscsi_context *c, int lun, int bytes, long count)
{
	double secs = do_ready(c, lun) ? -1 : read_all(c, lun, bytes, count, NULL, NULL);
	if (secs < 0)
		return 1;
	printf("read_MBps=%.1f blocks=%ld block_bytes=%d\n", (double)bytes * count / 1e6 / secs, count, bytes);
	return 0;
}

/*
 * The text stream: 16 MiB of words and numbers chosen by xorshift64 (lines of ~10 words), made once; record i is the
 * slice at a pseudo-random offset, so producing and checking a record costs a memcpy/memcmp, not the generator.
 */
#define TEXT_POOL (16 << 20)
static unsigned char *text_pool;

static int make_text_pool(void)
{
	static const char *words[32] = {
		"the", "backup", "tape", "file", "data", "of", "and", "to", "in", "volume", "block", "job", "client",
		"restore", "catalog", "drive", "slot", "library", "is", "for", "with", "full", "incremental", "error",
		"status", "size", "bytes", "time", "user", "home", "var", "log"
	};
	unsigned long long x = 0x9E3779B97F4A7C15ULL;
	int pos = 0;
	text_pool = malloc(TEXT_POOL);
	if (!text_pool)
		return -1;
	while (pos < TEXT_POOL) {
		char w[32];
		int n, i;
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		if ((x >> 40) % 5 == 0)
			n = snprintf(w, sizeof w, "%llu", (x >> 8) % 100000);
		else
			n = snprintf(w, sizeof w, "%s", words[x & 31]);
		w[n++] = (x >> 20) % 10 == 0 ? '\n' : ' ';
		for (i = 0; i < n && pos < TEXT_POOL; i++)
			text_pool[pos++] = (unsigned char)w[i];
	}
	return 0;
}

static const unsigned char *text_record(int len, long record)
{
	unsigned long long span = (unsigned long long)(TEXT_POOL - len) + 1;
	return text_pool + ((unsigned long long)record * 2654435761ULL) % span;
}

static int do_stream(struct iscsi_context *c, int lun, int bytes, long count)
{
	unsigned char rew[6] = { 0x01, 0, 0, 0, 0, 0 }, wfm[6] = { 0x10, 0, 0, 0, 1, 0 };
	double t0, tw, tr;
	long i;
	int verified = 1;
	if (bytes > TEXT_POOL || make_text_pool() || do_ready(c, lun) || !good(command(c, lun, rew, 6, SCSI_XFER_NONE, 0, NULL, 0), "REWIND"))
		return 1;
	t0 = now();
	for (i = 0; i < count; i++) {
		unsigned char cdb[6] = { 0x0A, 0, (bytes >> 16) & 0xFF, (bytes >> 8) & 0xFF, bytes & 0xFF, 0 };
		if (!good(command(c, lun, cdb, 6, SCSI_XFER_WRITE, bytes, (unsigned char *)text_record(bytes, i), bytes), "WRITE(6)"))
			return 1;
	}
	if (!good(command(c, lun, wfm, 6, SCSI_XFER_NONE, 0, NULL, 0), "WRITE FILEMARKS"))
		return 1;
	tw = now() - t0;
	tr = read_all(c, lun, bytes, count, text_record, &verified);
	if (tr < 0)
		return 1;
	free(text_pool);
	printf("write_MBps=%.1f read_MBps=%.1f verified=%s blocks=%ld block_bytes=%d\n", (double)bytes * count / 1e6 / tw,
	       (double)bytes * count / 1e6 / tr, verified ? "yes" : "NO", count, bytes);
	return verified ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct iscsi_context *c;
	int lun, rc;
	if (argc < 3)
		goto usage;
	c = connect_url(argv[2], &lun);
	if (!c)
		return 1;
	if (!strcmp(argv[1], "move") && argc == 5) {
		int src = atoi(argv[3]), dst = atoi(argv[4]);
		unsigned char cdb[12] = { 0xA5, 0, 0, 0, src >> 8, src & 0xFF, dst >> 8, dst & 0xFF, 0, 0, 0, 0 };
		rc = good(command(c, lun, cdb, 12, SCSI_XFER_NONE, 0, NULL, 0), "MOVE MEDIUM") ? 0 : 1;
		if (!rc)
			printf("moved %d -> %d\n", src, dst);
	} else if (!strcmp(argv[1], "ready") && argc == 3) {
		rc = do_ready(c, lun);
		if (!rc)
			printf("ready\n");
	} else if (!strcmp(argv[1], "dce") && (argc == 3 || argc == 4)) {
		rc = do_ready(c, lun) || do_dce(c, lun, argc == 4 ? atoi(argv[3]) : -1);
	} else if (!strcmp(argv[1], "read") && argc == 5) {
		rc = do_read(c, lun, atoi(argv[3]), atol(argv[4]));
	} else if (!strcmp(argv[1], "stream") && argc == 5) {
		rc = do_stream(c, lun, atoi(argv[3]), atol(argv[4]));
	} else if (!strcmp(argv[1], "crypt") && argc == 4 && (!strcmp(argv[3], "on") || !strcmp(argv[3], "off"))) {
		rc = do_crypt(c, lun, !strcmp(argv[3], "on"));
	} else if (!strcmp(argv[1], "unload") && argc == 3) {
		unsigned char rew[6] = { 0x01, 0, 0, 0, 0, 0 }, unload[6] = { 0x1B, 0, 0, 0, 0, 0 };
		rc = good(command(c, lun, rew, 6, SCSI_XFER_NONE, 0, NULL, 0), "REWIND") &&
		     good(command(c, lun, unload, 6, SCSI_XFER_NONE, 0, NULL, 0), "LOAD UNLOAD") ? 0 : 1;
		if (!rc)
			printf("unloaded\n");
	} else {
		disconnect(c);
		goto usage;
	}
	disconnect(c);
	return rc;
usage:
	fprintf(stderr, "usage: tape-ctl move CHANGER_URL SRC DST | ready DRIVE_URL | dce DRIVE_URL [0|1] | unload DRIVE_URL | read DRIVE_URL BYTES COUNT | stream DRIVE_URL BYTES COUNT | crypt DRIVE_URL on|off\n");
	return 2;
}
