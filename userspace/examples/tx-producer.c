// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * tx-producer: produce into a mymap tx ring (/dev/mymap-txN) in C, with
 * nothing but the UAPI header <linux/mymap.h> and libc; an example to copy.
 *
 * It follows the header's contract ("Tx rings"): open the tx ring for
 * reading and writing (the producer claim), MYMAP_TX_IOC_INFO for the
 * geometry, page 0 (our position) and the data area mapped read-write, page 1
 * (the kernel's position) read-only; start from the kernel's position; for
 * each record, load-acquire the kernel's position for the free space, write
 * a WRAP word if the record would cross the end, the header and the payload,
 * then store-release the producer position; kick once per batch, and sleep in
 * poll() for EPOLLOUT when the ring is full.
 *
 * Record n (n = 0, 1, ...) has --len payload bytes: byte i is byte i of n in
 * little-endian order for i < 8, and n & 0xff after that, the pattern of
 * mymap's own producers, so the echo (/dev/mymap-ringN) can be checked.
 *
 * Usage: tx-producer [--tx N] [--count N] [--len BYTES] [--batch N]
 * It prints one summary line and exits 0, 1 on a device error, 2 on a usage
 * error.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/mymap.h>

static int fail(const char *what)
{
	fprintf(stderr, "tx-producer: %s: %s\n", what, strerror(errno));
	return 1;
}

static unsigned long number(const char *arg, const char *name)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 0);
	if (errno || *end || !*arg) {
		fprintf(stderr, "tx-producer: %s: not a number: %s\n", name, arg);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "tx", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'c' },
		{ "len", required_argument, NULL, 'l' },
		{ "batch", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long tx = 0, count = 1000, len = 16, batch = 64;
	struct mymap_tx_info info;
	struct mymap_tx_producer *prod;
	const struct mymap_tx_consumer *cons;
	unsigned char *data;
	unsigned long n, kicks = 0, waits = 0, pending = 0;
	uint32_t pos, mask, size;
	char path[64];
	int opt, fd;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 't': tx = number(optarg, "--tx"); break;
		case 'c': count = number(optarg, "--count"); break;
		case 'l': len = number(optarg, "--len"); break;
		case 'b': batch = number(optarg, "--batch"); break;
		default:
			fprintf(stderr, "usage: tx-producer [--tx N] [--count N] [--len BYTES] [--batch N]\n");
			return 2;
		}
	}
	if (batch == 0) {
		fprintf(stderr, "tx-producer: --batch must be at least 1\n");
		return 2;
	}

	snprintf(path, sizeof(path), "/dev/mymap-tx%lu", tx);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fail(path);
	if (ioctl(fd, MYMAP_TX_IOC_INFO, &info) < 0)
		return fail("MYMAP_TX_IOC_INFO");
	if (len > info.max_payload) {
		fprintf(stderr, "tx-producer: --len %lu above max_payload %u\n",
			len, info.max_payload);
		return 2;
	}
	prod = mmap(NULL, info.page_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    (off_t)MYMAP_RING_PGOFF_CONSUMER * info.page_size);
	cons = mmap(NULL, info.page_size, PROT_READ, MAP_SHARED, fd,
		    (off_t)MYMAP_RING_PGOFF_PRODUCER * info.page_size);
	data = mmap(NULL, info.data_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    (off_t)MYMAP_RING_PGOFF_DATA * info.page_size);
	if (prod == MAP_FAILED || cons == MAP_FAILED || data == MAP_FAILED)
		return fail("mmap");

	size = info.data_size;
	mask = size - 1;
	/* Start from the kernel's position: what is before it is ours again. */
	pos = __atomic_load_n(&cons->pos, __ATOMIC_ACQUIRE);
	for (n = 0; n < count;) {
		uint32_t rsize = MYMAP_RING_RECORD_SIZE(len);
		uint32_t off = pos & mask;
		uint32_t gap = off + rsize > size ? size - off : 0;
		/* Step 1: the kernel's position, acquire: it is done with the bytes before it. */
		uint32_t used = pos - __atomic_load_n(&cons->pos, __ATOMIC_ACQUIRE);
		struct mymap_ring_record *h;
		unsigned long i;

		if (gap + rsize > size - used) {
			/* Full: publish and kick what we have, then wait for room. */
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			__atomic_store_n(&prod->pos, pos, __ATOMIC_RELEASE);
			if (pending) {
				if (ioctl(fd, MYMAP_TX_IOC_KICK) < 0)
					return fail("MYMAP_TX_IOC_KICK");
				kicks++;
				pending = 0;
			}
			if (poll(&pfd, 1, 1000) < 0)
				return fail("poll");
			waits++;
			continue;
		}
		/* Step 2: the WRAP word, the header, the payload, len last. */
		if (gap) {
			__atomic_store_n((uint32_t *)(data + off), MYMAP_RING_WRAP,
					 __ATOMIC_RELEASE);
			pos += gap;
			off = 0;
		}
		h = (struct mymap_ring_record *)(data + off);
		h->source = 0;
		h->flags = 0;
		h->seq = n;
		h->timestamp_ns = 0;
		for (i = 0; i < len; i++)
			data[off + MYMAP_RING_HEADER_SIZE + i] =
				i < 8 ? (unsigned char)(n >> (8 * i)) : (unsigned char)n;
		__atomic_store_n(&h->len, (uint32_t)len, __ATOMIC_RELEASE);
		pos += rsize;
		n++;
		pending++;
		/* Step 3 and the kick, once per batch. */
		if (pending == batch || n == count) {
			__atomic_store_n(&prod->pos, pos, __ATOMIC_RELEASE);
			if (ioctl(fd, MYMAP_TX_IOC_KICK) < 0)
				return fail("MYMAP_TX_IOC_KICK");
			kicks++;
			pending = 0;
		}
	}
	printf("tx-producer: %lu records of %lu bytes into %s, %lu kicks, %lu waits\n",
	       count, len, path, kicks, waits);
	return 0;
}
