// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * ring-consumer: consume a mymap ring (/dev/mymap-ringN) in C, with nothing
 * but the UAPI header <linux/mymap.h> and libc; an example to copy.
 *
 * It follows the header's contract: open the ring for reading and writing
 * (the consumer claim), MYMAP_RING_IOC_INFO for the geometry, page 0 mapped
 * read-write (the consumer position, ours), pages 1.. mapped read-only (the
 * producer position and the data area), then the consumer loop of the header
 * (the shape of libbpf's ringbuf_process_ring()), sleeping in poll() while
 * nothing is waiting.
 *
 * Every record is checked: its length against max_payload, its place in the
 * data area, its sequence number (a jump is a gap: that many records were
 * dropped; a repeat or a step back is a bad record), and the payload pattern
 * of mymap's own producers (inject and timer) as the header defines it; with
 * --sample, also the pattern of driver/samples/mymap_sample_producer.c.
 *
 * It prints one summary line and exits 0 if every record was good and
 * --count records came in time, 1 on a bad record or a device error, 2 on a
 * usage error, 3 on a timeout.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/mymap.h>

#define EXIT_BAD 1
#define EXIT_USAGE 2
#define EXIT_TIMEOUT 3

/* Bad records described on stderr; the rest are only counted. */
#define MAX_REPORTED 10

/* The sample producer's record flags, by the context that made the record. */
#define SAMPLE_CONTEXTS 2

struct options {
	const char *device;
	uint64_t count;		/* 0: until the timeout */
	int timeout_ms;
	int source;		/* -1: any */
	bool sample;
	bool no_gaps;
};

struct ring {
	int fd;
	struct mymap_ring_info info;
	/* Page 0, read-write: only this process stores to it. */
	struct mymap_ring_consumer *consumer;
	/* Pages 1.., read-only: the producer page, then the data area. */
	void *ro;
	size_t ro_len;
	const struct mymap_ring_producer *producer;
	const unsigned char *data;
};

struct stats {
	uint64_t records;	/* used: committed and not discarded */
	uint64_t discarded;
	uint64_t gaps;		/* sequence jumps */
	uint64_t lost;		/* records the jumps skipped: dropped by the kernel */
	uint64_t bad;
	uint64_t polls;
	bool have_seq;
	uint64_t first_seq;
	uint64_t next_seq;
	uint64_t max_latency_ns;
	/* --sample: the last record number seen per context, plus one (0: none yet). */
	uint64_t sample_next[SAMPLE_CONTEXTS];
};

static const char *progname = "ring-consumer";

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: %s [OPTION]...\n"
		"Consume a mymap ring and check every record.\n"
		"\n"
		"  -d, --device PATH   the ring (default /dev/mymap-ring0)\n"
		"  -n, --count N       stop after N records, discarded ones not counted\n"
		"                      (default 0: run until the timeout)\n"
		"  -t, --timeout MS    give up after MS milliseconds (default 10000); with --count,\n"
		"                      fewer than N records by then is a failure (exit 3)\n"
		"  -s, --source ID     every record must come from source ID\n"
		"      --sample        check the payload pattern of mymap_sample_producer\n"
		"                      (driver/samples/) on records from sources 256 and up\n"
		"  -G, --no-gaps       a sequence gap (a dropped record) is a failure\n"
		"  -h, --help          this help\n"
		"\n"
		"Exit status: 0 every record good, 1 a bad record or a device error,\n"
		"2 usage, 3 timeout.\n",
		progname);
}

/* Parses a decimal option value in [0, max], or exits with a usage error. */
static uint64_t parse_number(const char *opt, const char *text, uint64_t max)
{
	char *end;
	unsigned long long value;

	errno = 0;
	value = strtoull(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || value > max) {
		fprintf(stderr, "%s: %s: '%s' is not a number from 0 to %" PRIu64 "\n",
			progname, opt, text, max);
		exit(EXIT_USAGE);
	}
	return value;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_SAMPLE = 256 };
	static const struct option longopts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "source", required_argument, NULL, 's' },
		{ "sample", no_argument, NULL, OPT_SAMPLE },
		{ "no-gaps", no_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct options){
		.device = "/dev/mymap-ring0",
		.timeout_ms = 10000,
		.source = -1,
	};
	while ((c = getopt_long(argc, argv, "d:n:t:s:Gh", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o->device = optarg;
			break;
		case 'n':
			o->count = parse_number("--count", optarg, UINT64_MAX);
			break;
		case 't':
			o->timeout_ms = (int)parse_number("--timeout", optarg, INT32_MAX);
			break;
		case 's':
			o->source = (int)parse_number("--source", optarg, UINT16_MAX);
			break;
		case OPT_SAMPLE:
			o->sample = true;
			break;
		case 'G':
			o->no_gaps = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			fprintf(stderr, "Try '%s --help'.\n", progname);
			exit(EXIT_USAGE);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument '%s'; try '%s --help'\n", progname,
			argv[optind], progname);
		exit(EXIT_USAGE);
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Prints why the device cannot be used, with the fix where there is one; exits 1. */
static void fail_device(const char *device, const char *call, int err)
{
	const char *hint = "";

	if (call[0] == 'o' && err == ENOENT)
		hint = ": no such ring; load mymap with rings=N for /dev/mymap-ring0..N-1";
	else if (call[0] == 'o' && err == EBUSY)
		hint = ": another process is the ring's consumer; stop it first";
	else if (call[0] == 'o' && err == EACCES)
		hint = ": add your user to group 'mymap' and log in again";
	else if (err == ENOTTY)
		hint = ": not a mymap ring";
	fprintf(stderr, "%s: %s: %s: %s%s\n", progname, device, call, strerror(err), hint);
	exit(EXIT_BAD);
}

/* Opens and maps the ring as the header's mmap rules say; exits on failure. */
static void ring_open(struct ring *r, const char *device)
{
	void *page0, *ro;
	size_t page, data_size;

	r->fd = open(device, O_RDWR | O_CLOEXEC);
	if (r->fd < 0)
		fail_device(device, "open", errno);
	if (ioctl(r->fd, MYMAP_RING_IOC_INFO, &r->info) < 0)
		fail_device(device, "MYMAP_RING_IOC_INFO", errno);
	if (r->info.abi_version != MYMAP_ABI_VERSION ||
	    r->info.header_size != MYMAP_RING_HEADER_SIZE) {
		fprintf(stderr, "%s: %s: ABI %u with %u-byte headers; this program knows ABI %u (%u)\n",
			progname, device, r->info.abi_version, r->info.header_size,
			MYMAP_ABI_VERSION, MYMAP_RING_HEADER_SIZE);
		exit(EXIT_BAD);
	}
	page = r->info.page_size;
	data_size = r->info.data_size;
	if (!page || !data_size || (data_size & (data_size - 1)) || data_size % page) {
		fprintf(stderr, "%s: %s: bad geometry: page %zu, data %zu bytes\n", progname,
			device, page, data_size);
		exit(EXIT_BAD);
	}

	page0 = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd,
		     (off_t)(MYMAP_RING_PGOFF_CONSUMER * page));
	if (page0 == MAP_FAILED)
		fail_device(device, "mmap of the consumer page", errno);
	r->consumer = page0;

	r->ro_len = page + data_size;
	ro = mmap(NULL, r->ro_len, PROT_READ, MAP_SHARED, r->fd,
		  (off_t)(MYMAP_RING_PGOFF_PRODUCER * page));
	if (ro == MAP_FAILED)
		fail_device(device, "mmap of the producer page and data area", errno);
	r->ro = ro;
	r->producer = ro;
	r->data = (const unsigned char *)ro +
		  (MYMAP_RING_PGOFF_DATA - MYMAP_RING_PGOFF_PRODUCER) * page;
	if (r->producer->data_size != r->info.data_size) {
		fprintf(stderr, "%s: %s: the producer page says %u data bytes, the info %u\n",
			progname, device, r->producer->data_size, r->info.data_size);
		exit(EXIT_BAD);
	}
}

static void ring_close(struct ring *r)
{
	munmap(r->ro, r->ro_len);
	munmap(r->consumer, r->info.page_size);
	close(r->fd);
}

/* A bad record's sequence number when the header itself cannot be trusted. */
#define NO_SEQ UINT64_MAX

/* Counts a bad record, and describes it while few have been. */
static void bad(struct stats *st, uint64_t seq, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void bad(struct stats *st, uint64_t seq, const char *fmt, ...)
{
	va_list ap;

	if (st->bad++ >= MAX_REPORTED)
		return;
	if (seq == NO_SEQ)
		fprintf(stderr, "%s: bad record: ", progname);
	else
		fprintf(stderr, "%s: bad record (seq %" PRIu64 "): ", progname, seq);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Checks sequence continuity; a discarded record keeps its number, so it counts here too. */
static void check_seq(struct stats *st, const struct options *o, uint64_t seq)
{
	if (!st->have_seq) {
		st->have_seq = true;
		st->first_seq = seq;
	} else if (seq > st->next_seq) {
		st->gaps++;
		st->lost += seq - st->next_seq;
		if (o->no_gaps)
			bad(st, seq, "gap: %" PRIu64 " record(s) dropped before it (--no-gaps)",
			    seq - st->next_seq);
	} else if (seq < st->next_seq) {
		bad(st, seq, "sequence went back: %" PRIu64 " expected", st->next_seq);
		return;
	}
	st->next_seq = seq + 1;
}

/*
 * The payload of mymap's inject and timer producers (mymap.h): byte i is
 * byte i of the sequence number, little-endian, for i < 8, then its low byte.
 */
static void check_builtin(struct stats *st, uint64_t seq, const unsigned char *p, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++) {
		unsigned char want = (unsigned char)(i < 8 ? seq >> (8 * i) : seq);

		if (p[i] != want) {
			bad(st, seq, "payload byte %u is 0x%02x, not 0x%02x", i, p[i], want);
			return;
		}
	}
}

/*
 * The payload of mymap_sample_producer: n, the record's number in its
 * context (flags 0: process, 1: hard interrupt), as bytes 0..3
 * little-endian, then byte i = (n + i) & 0xff. n only grows per context.
 */
static void check_sample(struct stats *st, uint64_t seq, uint16_t flags,
			 const unsigned char *p, uint32_t len)
{
	uint32_t n = 0;

	if (flags >= SAMPLE_CONTEXTS) {
		bad(st, seq, "sample flags %u, not 0 (process) or 1 (hard interrupt)", flags);
		return;
	}
	if (len < 4)
		return; /* n is not all there: nothing to check. */
	for (uint32_t i = 0; i < 4; i++)
		n |= (uint32_t)p[i] << (8 * i);
	if (n < st->sample_next[flags]) {
		bad(st, seq, "sample record %u of context %u after record %" PRIu64, n, flags,
		    st->sample_next[flags] - 1);
		return;
	}
	st->sample_next[flags] = (uint64_t)n + 1;
	for (uint32_t i = 4; i < len; i++) {
		unsigned char want = (unsigned char)(n + i);

		if (p[i] != want) {
			bad(st, seq, "sample payload byte %u is 0x%02x, not 0x%02x", i, p[i], want);
			return;
		}
	}
}

/*
 * Checks one committed record whose len word (BUSY clear) is @len; returns
 * whether it is a record to use (not discarded).
 */
static bool check_record(struct stats *st, const struct options *o,
			 const struct mymap_ring_record *h, uint32_t len, uint64_t now)
{
	/* __u64 is unsigned long long on some ABIs, uint64_t unsigned long. */
	uint64_t seq = h->seq, timestamp = h->timestamp_ns;
	const unsigned char *payload = (const unsigned char *)h + MYMAP_RING_HEADER_SIZE;

	check_seq(st, o, seq);
	if (len & MYMAP_RING_DISCARD) {
		st->discarded++;
		return false;
	}
	st->records++;
	if (o->source >= 0 && h->source != o->source)
		bad(st, seq, "source %u, not %d", h->source, o->source);
	if (timestamp > now)
		bad(st, seq, "timestamp %" PRIu64 " ns is after now, %" PRIu64 " ns", timestamp,
		    now);
	else if (now - timestamp > st->max_latency_ns)
		st->max_latency_ns = now - timestamp;
	if (h->source == MYMAP_SOURCE_INJECT || h->source == MYMAP_SOURCE_TIMER)
		check_builtin(st, seq, payload, len & MYMAP_RING_LEN_MASK);
	else if (o->sample && h->source >= MYMAP_SOURCE_DRIVER_FIRST)
		check_sample(st, seq, h->flags, payload, len & MYMAP_RING_LEN_MASK);
	return true;
}

/*
 * The consumer loop of mymap.h, over what is waiting now: returns the records
 * it used (discarded ones are skipped, not counted), at most @budget; -1 if the ring is
 * corrupt (the position can no longer be trusted); sets *busy if it stopped
 * at a record still being written.
 */
static int64_t consume(struct ring *r, struct stats *st, const struct options *o,
		       uint64_t budget, bool *busy)
{
	const uint32_t size = r->info.data_size, mask = size - 1;
	/* Our own copy: no one else stores to page 0. */
	uint32_t c = __atomic_load_n(&r->consumer->pos, __ATOMIC_RELAXED);
	uint32_t p = __atomic_load_n(&r->producer->pos, __ATOMIC_ACQUIRE);
	uint64_t now = now_ns();
	int64_t done = 0;

	*busy = false;
	while (c != p && (uint64_t)done < budget) {
		uint32_t off = c & mask;
		const struct mymap_ring_record *h = (const void *)(r->data + off);
		uint32_t len, size_of;

		if (off % 8 || off + sizeof(uint32_t) > size) {
			bad(st, NO_SEQ, "consumer position %u is not a record's", c);
			return -1;
		}
		len = __atomic_load_n(&h->len, __ATOMIC_ACQUIRE);
		if (len & MYMAP_RING_BUSY) {
			*busy = true;
			break;
		}
		if (len == MYMAP_RING_WRAP) {
			c += size - off;
			continue;
		}
		size_of = MYMAP_RING_RECORD_SIZE(len);
		if ((len & MYMAP_RING_LEN_MASK) > r->info.max_payload || off + size_of > size ||
		    (len & ~(MYMAP_RING_LEN_MASK | MYMAP_RING_DISCARD))) {
			bad(st, NO_SEQ, "len word 0x%08x at data offset %u", len, off);
			return -1;
		}
		if (check_record(st, o, h, len, now))
			done++;
		c += size_of;
	}
	/* The kernel may reuse everything before c from now on: read nothing there after. */
	__atomic_store_n(&r->consumer->pos, c, __ATOMIC_RELEASE);
	return done;
}

int main(int argc, char **argv)
{
	struct options o;
	struct ring r;
	struct stats st = { 0 };
	uint64_t start, deadline, consumed = 0;
	bool timed_out = false, corrupt = false;

	if (argv[0] && strrchr(argv[0], '/'))
		progname = strrchr(argv[0], '/') + 1;
	else if (argv[0])
		progname = argv[0];
	parse_options(argc, argv, &o);
	ring_open(&r, o.device);

	start = now_ns();
	deadline = start + (uint64_t)o.timeout_ms * 1000000u;
	while (!o.count || consumed < o.count) {
		uint64_t budget = o.count ? o.count - consumed : UINT64_MAX;
		struct pollfd pfd = { .fd = r.fd, .events = POLLIN };
		bool busy;
		int64_t got = consume(&r, &st, &o, budget, &busy);
		uint64_t now;

		if (got < 0) {
			corrupt = true;
			break;
		}
		consumed += (uint64_t)got;
		if (got || (o.count && consumed >= o.count))
			continue;
		now = now_ns();
		if (now >= deadline) {
			timed_out = true;
			break;
		}
		if (busy) {
			/* A producer is between reserve and commit: that is short. */
			sched_yield();
			continue;
		}
		st.polls++;
		if (poll(&pfd, 1, (int)((deadline - now + 999999) / 1000000)) < 0 && errno != EINTR)
			fail_device(o.device, "poll", errno);
	}

	printf("%s: %s: records=%" PRIu64 " discarded=%" PRIu64 " gaps=%" PRIu64
	       " lost=%" PRIu64 " bad=%" PRIu64 " polls=%" PRIu64 " first_seq=%" PRIu64
	       " next_seq=%" PRIu64 " ring_dropped=%u max_latency_us=%" PRIu64 " time_ms=%" PRIu64
	       "%s\n",
	       progname, o.device, st.records, st.discarded, st.gaps, st.lost, st.bad, st.polls,
	       st.first_seq, st.next_seq, __atomic_load_n(&r.producer->dropped, __ATOMIC_RELAXED),
	       st.max_latency_ns / 1000, (now_ns() - start) / 1000000,
	       timed_out && o.count ? " timeout" : "");
	ring_close(&r);
	if (st.bad || corrupt)
		return EXIT_BAD;
	if (timed_out && o.count) {
		fprintf(stderr, "%s: %s: %" PRIu64 " of %" PRIu64 " records within %d ms\n",
			progname, o.device, consumed, o.count, o.timeout_ms);
		return EXIT_TIMEOUT;
	}
	return 0;
}
