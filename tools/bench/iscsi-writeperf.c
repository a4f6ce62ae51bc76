/*
 * iscsi-writeperf — queue-depth driven READ/WRITE throughput tool on libiscsi's
 * asynchronous API. Part of the TapeGateway benchmark tooling (tools/bench).
 *
 * Written from the public libiscsi headers (/usr/include/iscsi/iscsi.h,
 * scsi-lowlevel.h); it is not derived from libiscsi's iscsi-perf example.
 *
 * Build:  gcc -O2 -Wall -o iscsi-writeperf iscsi-writeperf.c -liscsi
 *
 * Usage:  iscsi-writeperf [options] iscsi://<host>[:<port>]/<target-iqn>/<lun>
 *
 *   -o read|write   operation (default write)
 *   -m N            outstanding requests / queue depth (default 32)
 *   -b N            logical blocks per request (default 8)
 *   -r              random offsets (aligned to the request size); default sequential
 *   -t SEC          run for SEC seconds (default 10)
 *   -n BYTES        stop after BYTES transferred instead (suffix K/M/G allowed)
 *   -W SEC          warm-up seconds before measuring (default 0)
 *   -L MIB          only touch the first MIB MiB of the LUN (default: whole LUN)
 *   -c 10|16        CDB size (default 10, 16 is used automatically past 2^32 blocks)
 *   -F              set FUA on writes
 *   -s SEED         PRNG seed for random offsets / write payload (default 1)
 *   -i IQN          initiator name (default iqn.2026-11.org.tapegateway:bench)
 *   -v              print per-second progress to stderr
 *   -D LEVEL        libiscsi debug log level to stderr (e.g. 2 shows login negotiation)
 *   -q              only print the machine-readable RESULT line
 *
 * Output (last line, stdout), for scripts:
 *   RESULT op=write pattern=rand bs=4096 qd=32 secs=15.001 ios=123456 bytes=...
 *          iops=8230.1 mibps=32.15 mbps=33.71 lat_avg_us=3887.2 lat_max_us=...
 *          client_cpu_s=... ios_all=...
 * client_cpu_s is this process's user+sys CPU and ios_all every completed I/O, both including login and warm-up
 * (so an outside observer can compute CPU per I/O of the target over the whole invocation).
 * mibps = 2^20 bytes/s, mbps = 10^6 bytes/s. Exit status is non-zero on any
 * SCSI/iSCSI error (a benchmark that silently drops failures is worthless).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <sys/resource.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

enum op { OP_READ, OP_WRITE };

struct slot {
	struct bench *b;
	unsigned char *buf;          /* read destination */
	struct scsi_iovec iov;
	uint64_t lba;
	double t_submit;
	int retries;
};

struct bench {
	struct iscsi_context *iscsi;
	int lun;
	enum op op;
	int random;
	int cdb16;
	int fua;
	uint32_t block_size;
	uint64_t nblocks;             /* usable blocks (after -L) */
	uint32_t blocks_per_req;
	uint64_t nreqs_span;          /* number of request-sized chunks in the span */
	unsigned char *wbuf;          /* shared write payload (read-only) */
	uint64_t seq_next;            /* next chunk index for sequential */
	uint64_t rng;

	int inflight;
	int stopping;                 /* no new submissions */
	int failed;

	/* measurement window */
	int measuring;
	double t_start;
	uint64_t ios, bytes;
	uint64_t ios_all;             /* every completed I/O, warm-up included */
	double lat_sum, lat_max;

	/* stop conditions */
	double t_end;                 /* absolute time to stop submitting (0 = none) */
	uint64_t byte_limit;          /* stop after this many bytes submitted (0 = none) */
	uint64_t bytes_submitted;

	/* progress */
	int verbose;
	double t_last_report;
	uint64_t ios_last_report;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static uint64_t parse_size(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	switch (*end) {
	case 'k': case 'K': v *= 1024.0; break;
	case 'm': case 'M': v *= 1024.0 * 1024; break;
	case 'g': case 'G': v *= 1024.0 * 1024 * 1024; break;
	case 't': case 'T': v *= 1024.0 * 1024 * 1024 * 1024; break;
	default: break;
	}
	return (uint64_t)v;
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [-o read|write] [-m qd] [-b blocks] [-r] [-t secs | -n bytes]\n"
		"          [-W warmup] [-L span_mib] [-c 10|16] [-F] [-s seed] [-i iqn] [-v] [-q] [-D level]\n"
		"          iscsi://<host>[:<port>]/<target-iqn>/<lun>\n", argv0);
	exit(2);
}

static void cb(struct iscsi_context *iscsi, int status, void *command_data, void *private_data);

static int submit(struct slot *s)
{
	struct bench *b = s->b;
	uint64_t chunk;
	uint32_t len = b->blocks_per_req * b->block_size;
	struct scsi_task *t;

	if (b->random) {
		chunk = xorshift64(&b->rng) % b->nreqs_span;
	} else {
		chunk = b->seq_next++;
		if (b->seq_next >= b->nreqs_span)
			b->seq_next = 0;
	}
	s->lba = chunk * b->blocks_per_req;
	s->t_submit = now();

	if (b->op == OP_WRITE) {
		if (b->cdb16)
			t = iscsi_write16_task(b->iscsi, b->lun, s->lba, b->wbuf, len, b->block_size,
					       0, 0, b->fua, 0, 0, cb, s);
		else
			t = iscsi_write10_task(b->iscsi, b->lun, (uint32_t)s->lba, b->wbuf, len,
					       b->block_size, 0, 0, b->fua, 0, 0, cb, s);
	} else {
		s->iov.iov_base = s->buf;
		s->iov.iov_len = len;
		if (b->cdb16)
			t = iscsi_read16_iov_task(b->iscsi, b->lun, s->lba, len, b->block_size,
						  0, 0, 0, 0, 0, cb, s, &s->iov, 1);
		else
			t = iscsi_read10_iov_task(b->iscsi, b->lun, (uint32_t)s->lba, len,
						  b->block_size, 0, 0, 0, 0, 0, cb, s, &s->iov, 1);
	}
	if (t == NULL) {
		fprintf(stderr, "failed to queue %s at lba %" PRIu64 ": %s\n",
			b->op == OP_WRITE ? "WRITE" : "READ", s->lba, iscsi_get_error(b->iscsi));
		b->failed = 1;
		return -1;
	}
	b->inflight++;
	b->bytes_submitted += len;
	return 0;
}

static int should_submit(struct bench *b)
{
	if (b->stopping || b->failed)
		return 0;
	if (b->byte_limit && b->measuring && b->bytes_submitted >= b->byte_limit)
		return 0;
	return 1;
}

static void cb(struct iscsi_context *iscsi, int status, void *command_data, void *private_data)
{
	struct slot *s = private_data;
	struct bench *b = s->b;
	struct scsi_task *task = command_data;
	double t = now();
	uint32_t len = b->blocks_per_req * b->block_size;

	(void)iscsi;
	b->inflight--;

	if (status != SCSI_STATUS_GOOD) {
		if (status == SCSI_STATUS_CHECK_CONDITION && task &&
		    task->sense.key == SCSI_SENSE_UNIT_ATTENTION && s->retries < 3) {
			/* e.g. power-on / capacity-changed UA: just reissue */
			s->retries++;
			if (task)
				scsi_free_scsi_task(task);
			b->bytes_submitted -= len;
			if (!b->failed)
				submit(s);
			return;
		}
		if (status == SCSI_STATUS_CHECK_CONDITION && task)
			fprintf(stderr, "%s lba %" PRIu64 " failed: CHECK CONDITION %s(0x%x) ascq 0x%04x %s\n",
				b->op == OP_WRITE ? "WRITE" : "READ", s->lba,
				scsi_sense_key_str(task->sense.key), task->sense.key,
				task->sense.ascq, scsi_sense_ascq_str(task->sense.ascq));
		else
			fprintf(stderr, "%s lba %" PRIu64 " failed: status 0x%x: %s\n",
				b->op == OP_WRITE ? "WRITE" : "READ", s->lba, status,
				iscsi_get_error(b->iscsi));
		b->failed = 1;
		if (task)
			scsi_free_scsi_task(task);
		return;
	}
	if (task)
		scsi_free_scsi_task(task);
	s->retries = 0;
	b->ios_all++;

	if (b->measuring) {
		double lat = t - s->t_submit;
		b->ios++;
		b->bytes += len;
		b->lat_sum += lat;
		if (lat > b->lat_max)
			b->lat_max = lat;
	}
	if (should_submit(b))
		submit(s);
}

static int get_capacity(struct bench *b)
{
	struct scsi_task *t = iscsi_readcapacity16_sync(b->iscsi, b->lun);
	if (t && t->status == SCSI_STATUS_GOOD) {
		struct scsi_readcapacity16 *rc16 = scsi_datain_unmarshall(t);
		if (rc16) {
			b->block_size = rc16->block_length;
			b->nblocks = rc16->returned_lba + 1;
			scsi_free_scsi_task(t);
			return 0;
		}
	}
	if (t)
		scsi_free_scsi_task(t);
	t = iscsi_readcapacity10_sync(b->iscsi, b->lun, 0, 0);
	if (t && t->status == SCSI_STATUS_GOOD) {
		struct scsi_readcapacity10 *rc10 = scsi_datain_unmarshall(t);
		if (rc10) {
			b->block_size = rc10->block_size;
			b->nblocks = (uint64_t)rc10->lba + 1;
			scsi_free_scsi_task(t);
			return 0;
		}
	}
	fprintf(stderr, "READ CAPACITY failed: %s\n", iscsi_get_error(b->iscsi));
	if (t)
		scsi_free_scsi_task(t);
	return -1;
}

static void report_progress(struct bench *b, double t)
{
	double dt = t - b->t_last_report;
	uint64_t dios = b->ios - b->ios_last_report;
	fprintf(stderr, "  %6.1fs  %10.1f IOPS  %9.2f MiB/s  inflight %d\n",
		t - b->t_start, dios / dt,
		dios * (double)b->blocks_per_req * b->block_size / dt / 1048576.0, b->inflight);
	b->t_last_report = t;
	b->ios_last_report = b->ios;
}

int main(int argc, char **argv)
{
	struct bench B;
	struct bench *b = &B;
	struct iscsi_url *url;
	const char *initiator = "iqn.2026-11.org.tapegateway:bench";
	int qd = 32, cdb = 10, quiet = 0, loglevel = 0, opt, i;
	double secs = 10.0, warmup = 0.0;
	uint64_t span_mib = 0, seed = 1;
	struct slot *slots;
	double t_end_drain;

	memset(b, 0, sizeof(*b));
	b->op = OP_WRITE;
	b->blocks_per_req = 8;

	while ((opt = getopt(argc, argv, "o:m:b:rt:n:W:L:c:Fs:i:vqD:h")) != -1) {
		switch (opt) {
		case 'o':
			if (!strcmp(optarg, "read")) b->op = OP_READ;
			else if (!strcmp(optarg, "write")) b->op = OP_WRITE;
			else usage(argv[0]);
			break;
		case 'm': qd = atoi(optarg); break;
		case 'b': b->blocks_per_req = (uint32_t)atoi(optarg); break;
		case 'r': b->random = 1; break;
		case 't': secs = atof(optarg); break;
		case 'n': b->byte_limit = parse_size(optarg); break;
		case 'W': warmup = atof(optarg); break;
		case 'L': span_mib = strtoull(optarg, NULL, 0); break;
		case 'c': cdb = atoi(optarg); break;
		case 'F': b->fua = 1; break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'i': initiator = optarg; break;
		case 'v': b->verbose = 1; break;
		case 'q': quiet = 1; break;
		case 'D': loglevel = atoi(optarg); break;
		default: usage(argv[0]);
		}
	}
	if (optind != argc - 1 || qd < 1 || b->blocks_per_req < 1 || (cdb != 10 && cdb != 16))
		usage(argv[0]);

	b->iscsi = iscsi_create_context(initiator);
	if (!b->iscsi) {
		fprintf(stderr, "iscsi_create_context failed\n");
		return 1;
	}
	if (loglevel > 0) {
		iscsi_set_log_fn(b->iscsi, iscsi_log_to_stderr);
		iscsi_set_log_level(b->iscsi, loglevel);
	}
	url = iscsi_parse_full_url(b->iscsi, argv[optind]);
	if (!url) {
		fprintf(stderr, "bad URL %s: %s\n", argv[optind], iscsi_get_error(b->iscsi));
		return 2;
	}
	iscsi_set_targetname(b->iscsi, url->target);
	iscsi_set_session_type(b->iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(b->iscsi, ISCSI_HEADER_DIGEST_NONE);
	b->lun = url->lun;
	if (iscsi_full_connect_sync(b->iscsi, url->portal, url->lun) != 0) {
		fprintf(stderr, "login to %s failed: %s\n", argv[optind], iscsi_get_error(b->iscsi));
		iscsi_destroy_url(url);
		iscsi_destroy_context(b->iscsi);
		return 1;
	}
	iscsi_destroy_url(url);

	if (get_capacity(b) != 0)
		return 1;
	if (span_mib) {
		uint64_t span_blocks = span_mib * 1048576ULL / b->block_size;
		if (span_blocks < b->nblocks)
			b->nblocks = span_blocks;
	}
	b->nreqs_span = b->nblocks / b->blocks_per_req;
	if (b->nreqs_span == 0) {
		fprintf(stderr, "LUN too small for %u blocks per request\n", b->blocks_per_req);
		return 1;
	}
	b->cdb16 = (cdb == 16) || (b->nblocks > 0xffffffffULL);
	b->rng = seed ? seed * 0x9E3779B97F4A7C15ULL : 0x9E3779B97F4A7C15ULL;

	{
		size_t len = (size_t)b->blocks_per_req * b->block_size;
		uint64_t r = b->rng ^ 0xD1B54A32D192ED03ULL;
		b->wbuf = malloc(len);
		if (!b->wbuf) { perror("malloc"); return 1; }
		/* incompressible, non-zero payload so no target can short-cut zero writes */
		for (size_t off = 0; off + 8 <= len; off += 8) {
			uint64_t v = xorshift64(&r);
			memcpy(b->wbuf + off, &v, 8);
		}
	}
	slots = calloc((size_t)qd, sizeof(*slots));
	if (!slots) { perror("calloc"); return 1; }
	for (i = 0; i < qd; i++) {
		slots[i].b = b;
		if (b->op == OP_READ) {
			slots[i].buf = malloc((size_t)b->blocks_per_req * b->block_size);
			if (!slots[i].buf) { perror("malloc"); return 1; }
		}
	}

	if (!quiet)
		fprintf(stderr, "%s: %s %s, %u x %u-byte blocks per request (%u bytes), qd %d, "
			"LUN %" PRIu64 " blocks (%.1f MiB span), CDB%d%s\n",
			argv[optind], b->random ? "random" : "sequential",
			b->op == OP_WRITE ? "WRITE" : "READ", b->blocks_per_req, b->block_size,
			b->blocks_per_req * b->block_size, qd, b->nblocks,
			b->nblocks * (double)b->block_size / 1048576.0, b->cdb16 ? 16 : 10,
			b->fua ? " FUA" : "");

	{
		double t0 = now();
		b->measuring = (warmup <= 0.0);
		b->t_start = t0;
		b->t_last_report = t0;
		if (b->measuring && !b->byte_limit)
			b->t_end = t0 + secs;
		else if (!b->measuring)
			b->t_end = 0;
		for (i = 0; i < qd; i++)
			if (submit(&slots[i]) != 0)
				break;

		while (b->inflight > 0 || (!b->stopping && !b->failed && should_submit(b))) {
			struct pollfd pfd;
			double t;
			int ev = iscsi_which_events(b->iscsi);

			if (ev == 0) {
				usleep(100000);
				continue;
			}
			pfd.fd = iscsi_get_fd(b->iscsi);
			pfd.events = ev;
			pfd.revents = 0;
			if (poll(&pfd, 1, 1000) < 0) {
				if (errno == EINTR)
					continue;
				perror("poll");
				return 1;
			}
			if (iscsi_service(b->iscsi, pfd.revents) < 0) {
				fprintf(stderr, "iscsi_service failed: %s\n", iscsi_get_error(b->iscsi));
				return 1;
			}
			t = now();
			if (!b->measuring && t - t0 >= warmup) {
				b->measuring = 1;
				b->t_start = t;
				b->t_last_report = t;
				b->bytes_submitted = 0;
				if (!b->byte_limit)
					b->t_end = t + secs;
			}
			if (b->measuring && b->t_end > 0 && t >= b->t_end)
				b->stopping = 1;
			if (b->measuring && b->byte_limit && b->bytes_submitted >= b->byte_limit)
				b->stopping = 1;
			if (b->verbose && b->measuring && t - b->t_last_report >= 1.0)
				report_progress(b, t);
			/* with -n and a QD larger than remaining work nothing else to do */
			if (b->inflight == 0 && !should_submit(b))
				break;
		}
		t_end_drain = now();
	}

	if (b->failed) {
		fprintf(stderr, "aborted after an I/O error\n");
		iscsi_logout_sync(b->iscsi);
		iscsi_destroy_context(b->iscsi);
		return 1;
	}

	{
		double el = t_end_drain - b->t_start;
		double iops = b->ios / el;
		double mib = b->bytes / el / 1048576.0;
		double mb = b->bytes / el / 1e6;
		double lat_avg = b->ios ? b->lat_sum / b->ios * 1e6 : 0;
		struct rusage ru;
		double cpu;
		getrusage(RUSAGE_SELF, &ru);
		cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		      ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
		if (!quiet)
			fprintf(stderr, "%" PRIu64 " I/Os, %" PRIu64 " bytes in %.3f s: "
				"%.1f IOPS, %.2f MiB/s (%.2f MB/s), avg latency %.1f us\n",
				b->ios, b->bytes, el, iops, mib, mb, lat_avg);
		printf("RESULT op=%s pattern=%s bs=%u qd=%d secs=%.3f ios=%" PRIu64 " bytes=%" PRIu64
		       " iops=%.1f mibps=%.2f mbps=%.2f lat_avg_us=%.1f lat_max_us=%.1f client_cpu_s=%.2f ios_all=%" PRIu64 "\n",
		       b->op == OP_WRITE ? "write" : "read", b->random ? "rand" : "seq",
		       b->blocks_per_req * b->block_size, qd, el, b->ios, b->bytes,
		       iops, mib, mb, lat_avg, b->lat_max * 1e6, cpu, b->ios_all);
		fflush(stdout);
	}

	iscsi_logout_sync(b->iscsi);
	iscsi_destroy_context(b->iscsi);
	for (i = 0; i < qd; i++)
		free(slots[i].buf);
	free(slots);
	free(b->wbuf);
	return 0;
}
