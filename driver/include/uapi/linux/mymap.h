/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * mymap: a kernel buffer shared with userspace through /dev/mymap.
 *
 * This header is the one definition of the mymap ABI. The driver's Rust
 * constants (driver/uapi_generated.rs, `cargo xtask codegen`) and the
 * userspace library (userspace/mymap-uapi/build.rs) are both generated from it
 * by bindgen, so the three can never disagree.
 *
 * bindgen does not expand function-like macros such as _IOR(), so the magic
 * and command numbers are also given as plain integers; each side builds the
 * request codes from them with its own _IOC helpers.
 */
#ifndef _UAPI_LINUX_MYMAP_H
#define _UAPI_LINUX_MYMAP_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Bumped on any incompatible change to this file. */
#define MYMAP_ABI_VERSION 1

/* Default buffer size in bytes, and the largest one the module accepts. */
#define MYMAP_DEFAULT_SIZE 65536
#define MYMAP_MAX_SIZE 67108864
/* Most devices one module instance registers (/dev/mymap, /dev/mymap1...). */
#define MYMAP_MAX_DEVICES 8

#define MYMAP_IOC_MAGIC 0xB7
#define MYMAP_IOC_NR_CLEAR 0x01
#define MYMAP_IOC_NR_INFO 0x02

/*
 * Answer of MYMAP_IOC_INFO. Every field has a fixed width and natural
 * alignment, with no padding, so 32-bit and 64-bit processes see the same
 * 40-byte layout.
 */
struct mymap_info {
	__u32 abi_version;	/* MYMAP_ABI_VERSION of the driver. */
	__u32 page_size;	/* Kernel page size; mmap offsets are multiples. */
	__u64 size;		/* Buffer size in bytes, a multiple of page_size. */
	__u32 index;		/* Device index: 0 is /dev/mymap, N is /dev/mymapN. */
	__u32 devices;		/* Number of devices the module registered. */
	__u64 max_size;		/* MYMAP_MAX_SIZE of the driver. */
	__u64 clears;		/* MYMAP_IOC_CLEAR calls since load. */
};

/* Zero the whole buffer. No argument. */
#define MYMAP_IOC_CLEAR _IO(MYMAP_IOC_MAGIC, MYMAP_IOC_NR_CLEAR)
/* Fill a struct mymap_info. */
#define MYMAP_IOC_INFO _IOR(MYMAP_IOC_MAGIC, MYMAP_IOC_NR_INFO, struct mymap_info)

/*
 * Rings: records streamed from kernel producers to one consumer.
 *
 * The module registers rings= ring devices (a module parameter, default 1,
 * at most MYMAP_MAX_RINGS), /dev/mymap-ring0 to /dev/mymap-ringN-1, each with
 * ring_size= bytes of data (default MYMAP_RING_DEFAULT_SIZE).
 * A ring is (2 + D) pages at fixed mmap offsets, D = data_size / page_size:
 *
 *   page 0       struct mymap_ring_consumer  written by the consumer only
 *   page 1       struct mymap_ring_producer  written by the kernel only
 *   pages 2..    the data area, data_size bytes (a power of two), records
 *
 * mmap rules. Page 0 may be mapped MAP_SHARED and writable, alone (offset 0,
 * length one page), by the file that holds the consumer claim (the one open
 * for writing, see below). Every other mapping is read-only and can never be
 * made writable (mprotect fails with EACCES); a writable mapping that covers
 * page 1 or the data area fails with EPERM. Nothing is executable, nothing
 * grows with mremap, and a mapping beyond the last page fails with EINVAL.
 * Mappings survive the kernel dropping their entries (MADV_DONTNEED).
 *
 * One consumer per ring: opening a ring for writing (O_RDWR or O_WRONLY)
 * claims it, and a second such open fails with EBUSY until the first file is
 * released (closed and unmapped). Read-only opens are unlimited: they may
 * read statistics, control the producers and map pages 1.. read-only.
 *
 * Positions are free-running byte counts (__u32, wrapping modulo 2^32). The
 * byte of position P is at data offset P & (data_size - 1).
 *
 * Records. Every record starts on an 8-byte boundary with a struct
 * mymap_ring_record; its payload follows, and the next record starts
 * MYMAP_RING_RECORD_SIZE(len) bytes later. A record never wraps: when the next
 * record would cross the end of the data area, the kernel writes a 32-bit
 * word MYMAP_RING_WRAP at the current position and the record starts at the
 * beginning of the data area.
 *
 * The ordering contract. The kernel, for each record, under a lock shared by
 * all producers of the ring: reads the consumer position with acquire
 * ordering; drops the record (no byte of the ring changes, dropped and the
 * sequence counter are incremented) if it does not fit in data_size -
 * (producer position - consumer position), or if it would end more than
 * data_size bytes after the oldest record still BUSY; else writes the WRAP
 * word if needed, writes the header with MYMAP_RING_BUSY set in len, and
 * stores the new producer position with release ordering. The bytes skipped
 * before a WRAP word count as used until the consumer passes the word.
 * Outside the lock it writes the payload, then replaces len with len without
 * BUSY (with MYMAP_RING_DISCARD if the producer discarded it) by a fully
 * ordered atomic exchange, and only then reads the consumer position to
 * decide on a wakeup.
 *
 * A consumer, starting from its own copy C of the consumer position:
 *   1. P = load-acquire(producer->pos).
 *   2. While C != P: H = data + (C & (data_size - 1));
 *      L = load-acquire(H->len);
 *      - L & MYMAP_RING_BUSY: stop, the record is still being written;
 *      - L == MYMAP_RING_WRAP: C = C + (data_size - (C & (data_size - 1)));
 *      - else check (L & MYMAP_RING_LEN_MASK) <= info.max_payload, use the
 *        record unless L & MYMAP_RING_DISCARD, C += MYMAP_RING_RECORD_SIZE(L).
 *   3. store-release(consumer->pos, C), once per batch or per record: the
 *      kernel may overwrite the bytes before C as soon as it sees C.
 *   4. To sleep, poll()/epoll_wait() after step 3. The kernel's poll() has a
 *      full barrier between that store and its look at the record at C, and
 *      the producer one between its exchange of len and its look at C, so
 *      one of the two sees the other: a consumer never sleeps through a
 *      record committed at its position.
 * A consumer must not read a record's bytes after releasing its position.
 * A new consumer starts from the position the last one left in page 0 (0
 * after load): the records it had not released are still there for it.
 *
 * Every value the kernel reads from page 0 is untrusted: a consumer that
 * writes garbage there (a position behind or ahead of the producer's) can
 * only lose or corrupt its own records, never kernel memory, and never a
 * record still being written: space is also counted from the oldest BUSY
 * record, so producers never overwrite one whatever page 0 says. read()
 * fails with EIO and poll() reports EPOLLERR at a position that is
 * unaligned, ahead of the producer's, more than data_size behind it, or not
 * at a record or WRAP word.
 *
 * Sequence numbers: the ring numbers every record a producer attempts, from
 * 0, in reservation order. A dropped record consumes a number, so a gap of K
 * in the consumer's sequence is exactly K records dropped; a discarded
 * record keeps its number. With no record reserved, the next sequence number
 * is produced + discarded + dropped (struct mymap_ring_stats).
 *
 * Timestamps: records whose producer lets the ring take the time (the
 * injector, the timer, mymap_ring_reserve()) are stamped under the lock, so
 * their timestamps never decrease in sequence order. A producer that passes
 * its own (a GPIO interrupt's time, mymap_ring_reserve_at()) stamps the time
 * of its event, which may be earlier than the record before it.
 *
 * read() on the consumer's file is the classic interface, for scripts and
 * for comparison: each call moves exactly one record (header and payload,
 * MYMAP_RING_HEADER_SIZE + len bytes, DISCARD and WRAP skipped) to the user
 * buffer and advances the consumer position; EMSGSIZE if the buffer is
 * smaller than that record (nothing consumed), EAGAIN with O_NONBLOCK when
 * no record waits, else it blocks. read() on a file without the consumer
 * claim fails with EBADF. Do not mix read() and a mapped consumer.
 *
 * Wakeups. poll()/epoll report EPOLLIN | EPOLLRDNORM while a committed
 * record, a discarded one or a WRAP word waits at the consumer position
 * (not while the record there is still BUSY: its commit wakes the
 * consumer), and EPOLLERR at a corrupted position (see above). How often a
 * waiting consumer is woken is the ring's wakeup policy
 * (MYMAP_RING_IOC_SET_WAKEUP). Wakeups are always deferred to an irq_work,
 * so producers may run in any context. A wakeup the policy asks for is
 * queued only while someone waits: a poll() in progress, a file in an epoll
 * set (for as long as it is there), or a blocking read(). A consumer that
 * spins on the mapping costs the producers no wakeups; one that sleeps
 * registers first and then looks (poll() and epoll do this), so that a
 * record committed in between is seen either by its look or by the
 * producer's check.
 */

/* Most rings one module instance registers; default and largest data sizes. */
#define MYMAP_MAX_RINGS 8
#define MYMAP_RING_DEFAULT_SIZE 262144
#define MYMAP_RING_MAX_SIZE 67108864

/* Page indexes of the regions; the mmap offset is index * page_size. */
#define MYMAP_RING_PGOFF_CONSUMER 0
#define MYMAP_RING_PGOFF_PRODUCER 1
#define MYMAP_RING_PGOFF_DATA 2

/* Page 0: the consumer's position. */
struct mymap_ring_consumer {
	__u32 pos;		/* Consumer position: store-release only. */
};

/* Page 1: the kernel's view, read-only to userspace. */
struct mymap_ring_producer {
	__u32 pos;		/* Producer position: load-acquire. */
	__u32 dropped;		/* Records dropped since load (wrapping). */
	__u32 data_size;	/* Bytes in the data area, a power of two. */
	__u32 max_payload;	/* Largest payload a record may carry. */
};

/* Bits of mymap_ring_record.len. */
#define MYMAP_RING_BUSY 0x80000000u
#define MYMAP_RING_DISCARD 0x40000000u
#define MYMAP_RING_WRAP 0x20000000u
#define MYMAP_RING_LEN_MASK 0x0fffffffu

/* The record header: 24 bytes, 8-byte aligned, the same for every ABI. */
struct mymap_ring_record {
	__u32 len;		/* Payload bytes | BUSY | DISCARD, or WRAP. */
	__u16 source;		/* Producer: MYMAP_SOURCE_* or a driver's id. */
	__u16 flags;		/* Producer-defined (GPIO: edge and value). */
	__u64 seq;		/* Sequence number, see above. */
	__u64 timestamp_ns;	/* CLOCK_MONOTONIC when the record was made. */
};

#define MYMAP_RING_HEADER_SIZE 24
/* Bytes a record with payload length len occupies, header included. */
#define MYMAP_RING_RECORD_SIZE(len) \
	((MYMAP_RING_HEADER_SIZE + ((len) & MYMAP_RING_LEN_MASK) + 7) & ~7u)

/* Producer ids (mymap_ring_record.source). Other drivers use 256 and up. */
#define MYMAP_SOURCE_INJECT 1	/* MYMAP_RING_IOC_INJECT */
#define MYMAP_SOURCE_TIMER 2	/* the ring's timer producer */
#define MYMAP_SOURCE_GPIO 3	/* a GPIO interrupt */
#define MYMAP_SOURCE_DRIVER_FIRST 256

/*
 * Payload of the built-in producers (inject, timer): byte i is byte i of the
 * record's sequence number in little-endian order for i < 8, and the low
 * byte of the sequence number after that.
 */

/*
 * Payload of MYMAP_SOURCE_GPIO records: one per interrupt of the configured
 * line (module parameter gpio=, or a device-tree node). The header's
 * timestamp is taken first thing in the interrupt's handler: the hard
 * interrupt handler, or for a nested-threaded interrupt (an I2C or SPI
 * expander's line) the handler run in the expander's interrupt thread. Its
 * flags field holds the edge, as here: with one edge configured (rising or
 * falling), that edge; with both, the edge the value shows.
 */
struct mymap_ring_gpio_event {
	__u32 offset;		/* Line offset on its chip; ~0 from a device tree. */
	__u8 edge;		/* MYMAP_GPIO_EDGE_RISING or _FALLING. */
	__u8 value;		/* Line value after the edge, 0 or 1. */
	__u8 flags;		/* MYMAP_GPIO_INFERRED */
	__u8 reserved;
};

#define MYMAP_GPIO_EDGE_RISING 1
#define MYMAP_GPIO_EDGE_FALLING 2
/*
 * The value was not read but inferred, and with both edges configured the
 * edge with it: from the edge filter, or for both edges by alternating from
 * the value read when the producer started. So it is when the chip sleeps
 * and its interrupt is handled in hard interrupt context, where it cannot be
 * read (gpio-sim), or when the read failed. Clear when the value was read:
 * a chip readable in interrupt context (the Raspberry Pi's GPIO block), or a
 * nested-threaded interrupt (I2C and SPI expanders), whose handler runs in a
 * thread where the chip can be read.
 */
#define MYMAP_GPIO_INFERRED 0x1

/* Wakeup policies (struct mymap_ring_wakeup.policy). */
#define MYMAP_WAKEUP_EVERY 0	 /* after every record */
#define MYMAP_WAKEUP_CAUGHT_UP 1 /* when the consumer had read all (default) */
#define MYMAP_WAKEUP_WATERMARK 2 /* when watermark bytes wait, or after
				  * max_latency_ns from the first waiting one */

struct mymap_ring_wakeup {
	__u32 policy;		/* MYMAP_WAKEUP_* */
	__u32 watermark;	/* Bytes, 1 to data_size (WATERMARK only). */
	__u64 max_latency_ns;	/* 0: none; else 1000 to 1000000000. */
};

/* Answer of MYMAP_RING_IOC_INFO. */
struct mymap_ring_info {
	__u32 abi_version;	/* MYMAP_ABI_VERSION of the driver. */
	__u32 page_size;	/* Kernel page size. */
	__u32 index;		/* N of /dev/mymap-ringN. */
	__u32 rings;		/* Rings the module registered. */
	__u32 data_size;	/* Bytes in the data area, a power of two. */
	__u32 max_payload;	/* Largest payload: data_size / 4 - header. */
	__u32 header_size;	/* MYMAP_RING_HEADER_SIZE. */
	__u32 consumer_claimed;	/* 1 while a file holds the consumer claim. */
};

/* Answer of MYMAP_RING_IOC_STATS: counters since load. */
struct mymap_ring_stats {
	__u64 produced;		/* Records committed (discarded ones not). */
	__u64 discarded;	/* Records discarded by their producer. */
	__u64 dropped;		/* Records refused because the ring was full. */
	__u64 wakeups;		/* Wakeups of the ring's wait queue the policy
				 * asked for while a waiter was registered
				 * (see "Wakeups"). */
	__u64 bytes;		/* Payload bytes committed. */
	__u64 timer_period_ns;	/* The timer producer's period, 0 if stopped. */
	__u32 timer_len;	/* The timer producer's payload bytes. */
	__u32 producer_pos;	/* The producer position. */
};

/* Timer producer: one record of len bytes every period_ns; period_ns 0 stops. */
struct mymap_ring_timer {
	__u64 period_ns;	/* 0 stops; else 10000 (100 kHz) to 10^10. */
	__u32 len;		/* Payload bytes, 0 to max_payload. */
	__u32 reserved;		/* Must be 0. */
};

/* Injector: count records of len bytes now, from the calling process. */
struct mymap_ring_inject {
	__u32 count;		/* Records to attempt, at most 16777216. */
	__u32 len;		/* Payload bytes, 0 to max_payload. */
	__u32 produced;		/* Out: records committed. */
	__u32 dropped;		/* Out: records dropped, the ring being full. */
};

#define MYMAP_IOC_NR_RING_INFO 0x10
#define MYMAP_IOC_NR_RING_STATS 0x11
#define MYMAP_IOC_NR_RING_SET_WAKEUP 0x12
#define MYMAP_IOC_NR_RING_GET_WAKEUP 0x13
#define MYMAP_IOC_NR_RING_TIMER 0x14
#define MYMAP_IOC_NR_RING_INJECT 0x15

/* Fill a struct mymap_ring_info. */
#define MYMAP_RING_IOC_INFO \
	_IOR(MYMAP_IOC_MAGIC, MYMAP_IOC_NR_RING_INFO, struct mymap_ring_info)
/* Fill a struct mymap_ring_stats. */
#define MYMAP_RING_IOC_STATS \
	_IOR(MYMAP_IOC_MAGIC, MYMAP_IOC_NR_RING_STATS, struct mymap_ring_stats)
/* Set the wakeup policy; EINVAL for an unknown policy or a value out of range. */
#define MYMAP_RING_IOC_SET_WAKEUP \
	_IOW(MYMAP_IOC_MAGIC, MYMAP_IOC_NR_RING_SET_WAKEUP, struct mymap_ring_wakeup)
/* Read the wakeup policy. */
#define MYMAP_RING_IOC_GET_WAKEUP \
	_IOR(MYMAP_IOC_MAGIC, MYMAP_IOC_NR_RING_GET_WAKEUP, struct mymap_ring_wakeup)
/* Start, restart with new settings, or stop (period_ns 0) the timer producer. */
#define MYMAP_RING_IOC_TIMER \
	_IOW(MYMAP_IOC_MAGIC, MYMAP_IOC_NR_RING_TIMER, struct mymap_ring_timer)
/* Produce records from process context; fills the out fields. */
#define MYMAP_RING_IOC_INJECT \
	_IOWR(MYMAP_IOC_MAGIC, MYMAP_IOC_NR_RING_INJECT, struct mymap_ring_inject)

/*
 * Tx rings: records streamed from one userspace producer to a kernel
 * consumer, the mirror image of the rings above (the idea of the BPF user
 * ring buffer, BPF_MAP_TYPE_USER_RINGBUF, kernel/bpf/ringbuf.c).
 *
 * The module registers tx_rings= tx devices (a module parameter, default 1,
 * at most MYMAP_MAX_RINGS), /dev/mymap-tx0 to /dev/mymap-txN-1, each with
 * tx_size= bytes of data (default MYMAP_RING_DEFAULT_SIZE). A tx ring is
 * (2 + D) pages at fixed mmap offsets, D = data_size / page_size:
 *
 *   page 0       struct mymap_tx_producer  written by the producer only
 *   page 1       struct mymap_tx_consumer  written by the kernel only
 *   pages 2..    the data area, data_size bytes, written by the producer
 *
 * mmap rules. The file that holds the producer claim (the one open for
 * writing: a second such open fails with EBUSY until the first is released)
 * may map page 0 and the data area MAP_SHARED and writable, in any mappings
 * that do not cover page 1. Page 1 is read-only for everyone: a writable
 * mapping that covers it fails with EPERM, as does a private writable mapping
 * (its copy would never reach the kernel), and a mapping that covers page 1,
 * or is private, can never be made writable (mprotect fails with EACCES).
 * Nothing is executable, nothing grows with mremap, a mapping beyond the last
 * page fails with EINVAL.
 *
 * Positions and records are those of the rings above: free-running __u32
 * byte counts, struct mymap_ring_record headers 8-byte aligned, a record never
 * wrapping (a MYMAP_RING_WRAP word where the next record would cross the end
 * of the data area), MYMAP_RING_RECORD_SIZE(len) bytes per record, len at most
 * max_payload (struct mymap_tx_consumer). The header's other fields (source,
 * flags, seq, timestamp_ns) are the producer's and mean what the kernel
 * consumer of the ring says (the built-in echo: see below).
 *
 * The ordering contract. The producer, starting from its own copy P of the
 * producer position (the kernel's consumer position when it takes the claim):
 *   1. C = load-acquire(consumer->pos): the kernel has finished with every
 *      byte before C, which the producer may now overwrite.
 *   2. If the record (and the WRAP word before it, if one is needed) does
 *      not fit in data_size - (P - C) bytes, wait (poll() for EPOLLOUT, then
 *      go back to 1). Else write the WRAP word if needed, the header and the
 *      payload, with len last: a plain store, or store-release of len with
 *      MYMAP_RING_BUSY set if another thread of the producer may publish the
 *      position before the record is complete (then store-release len
 *      without BUSY when it is).
 *   3. store-release(producer->pos, P), once per record or per batch.
 *   4. MYMAP_TX_IOC_KICK to have the kernel consumer look at the ring (the
 *      kick policy, below).
 * The kernel, as the consumer, under a lock of its own:
 *   1. P = load-acquire(producer->pos).
 *   2. While its own position C != P: L = load-acquire(len at C), then copy
 *      the header's other fields and the payload once into kernel memory;
 *      nothing is read from the ring twice, and only the copy is used.
 *      L & MYMAP_RING_BUSY: stop, and look again at the next kick;
 *      L == MYMAP_RING_WRAP: C moves to the start of the data area;
 *      L & MYMAP_RING_DISCARD: C moves past the record, which is skipped;
 *      else the consumer takes the record (or leaves it for later, at C).
 *   3. store-release(consumer->pos, C) after the batch: the bytes before C
 *      are the producer's again. Then the writers waiting in poll() are
 *      woken (deferred to an irq_work), unconditionally when C moved, so a
 *      producer never sleeps through freed space.
 *
 * Everything the kernel reads from page 0 and the data area is hostile.
 * Its own consumer position C is never taken from shared memory and never
 * goes backwards, so no record is taken twice. A producer position that is
 * unaligned, behind C, or more than data_size ahead of it is refused: the
 * kernel takes nothing, counts bad_position (struct mymap_tx_stats) and
 * waits for a valid one (a producer that lost its place starts again from
 * consumer->pos). A header that is malformed (unknown bits in len, a length
 * above max_payload, a record or WRAP gap that crosses the end of the data
 * area or ends after P) cannot be trusted to say where the next record is:
 * the kernel counts it in malformed, skips every byte up to P (counted in
 * skipped_bytes) and goes on from there. A record the consumer refuses (a
 * payload it cannot use) is counted in rejected and skipped. So a producer
 * that lies loses only its own records.
 *
 * The kick policy. The kernel looks at the ring on MYMAP_TX_IOC_KICK, one
 * system call per batch of records, never per record; a consumer with a
 * clock of its own (a player that runs records at their time) also looks at
 * the ring when its timer fires. poll()/epoll on a tx file reports EPOLLOUT |
 * EPOLLWRNORM while at least 2 * MYMAP_RING_RECORD_SIZE(max_payload) bytes
 * are free (any record fits, with its WRAP word), and EPOLLERR while the
 * producer position is refused (see above). A drain that frees space wakes
 * writers only while one waits (a poll() in progress, a file in an epoll
 * set), as a ring's producers do (see "Wakeups").
 *
 * The built-in consumer of /dev/mymap-txN, the echo: on each kick it takes
 * every complete record and produces it into /dev/mymap-ringN (if the module
 * has that ring) as a record of source MYMAP_SOURCE_TX with the same flags
 * and payload; the tx record's seq is not kept (the echoed record has the
 * ring's own). A record the ring drops (full) counts in echo_dropped. Without
 * that ring the records are only counted. It lets a program, and the tests,
 * see exactly which records the kernel took, once each, in order.
 */

/* Page 0 of a tx ring: the producer's position. */
struct mymap_tx_producer {
	__u32 pos;		/* Producer position: store-release only. */
};

/* Page 1 of a tx ring: the kernel's view, read-only to userspace. */
struct mymap_tx_consumer {
	__u32 pos;		/* Consumer position: load-acquire. */
	__u32 data_size;	/* Bytes in the data area, a power of two. */
	__u32 max_payload;	/* Largest payload a record may carry. */
	__u32 reserved;
};

/* Largest payload of a tx record, whatever the ring's size. */
#define MYMAP_TX_MAX_PAYLOAD 1000

#define MYMAP_SOURCE_TX 4	/* a record echoed from a tx ring */

/* Answer of MYMAP_TX_IOC_INFO. */
struct mymap_tx_info {
	__u32 abi_version;	/* MYMAP_ABI_VERSION of the driver. */
	__u32 page_size;	/* Kernel page size. */
	__u32 index;		/* N of /dev/mymap-txN. */
	__u32 rings;		/* Tx rings the module registered. */
	__u32 data_size;	/* Bytes in the data area, a power of two. */
	__u32 max_payload;	/* min(data_size / 4 - header, MYMAP_TX_MAX_PAYLOAD). */
	__u32 producer_claimed;	/* 1 while a file holds the producer claim. */
	__u32 echo_ring;	/* N of the echo's /dev/mymap-ringN, ~0 if none. */
};

/* Answer of MYMAP_TX_IOC_STATS: counters since load. */
struct mymap_tx_stats {
	__u64 consumed;		/* Records the kernel consumer took. */
	__u64 discarded;	/* Records skipped because of DISCARD. */
	__u64 malformed;	/* Malformed headers, each skipping to P. */
	__u64 skipped_bytes;	/* Bytes skipped after malformed headers. */
	__u64 bad_position;	/* Looks that found a refused producer position. */
	__u64 rejected;		/* Records the kernel consumer refused. */
	__u64 kicks;		/* MYMAP_TX_IOC_KICK calls. */
	__u64 echo_dropped;	/* Records the echo's ring dropped (full). */
	__u32 consumer_pos;	/* The kernel's consumer position. */
	__u32 reserved;
};

#define MYMAP_IOC_NR_TX_INFO 0x20
#define MYMAP_IOC_NR_TX_STATS 0x21
#define MYMAP_IOC_NR_TX_KICK 0x22

/* Fill a struct mymap_tx_info. */
#define MYMAP_TX_IOC_INFO \
	_IOR(MYMAP_IOC_MAGIC, MYMAP_IOC_NR_TX_INFO, struct mymap_tx_info)
/* Fill a struct mymap_tx_stats. */
#define MYMAP_TX_IOC_STATS \
	_IOR(MYMAP_IOC_MAGIC, MYMAP_IOC_NR_TX_STATS, struct mymap_tx_stats)
/*
 * Have the kernel consumer look at the ring now; no argument. Answers the
 * number of records it took: every complete one for the echo, those it
 * played or holds for the GPIO player, 0 for another driver's consumer
 * (which drains when it is called back). EBADF on a file without the
 * producer claim.
 */
#define MYMAP_TX_IOC_KICK _IO(MYMAP_IOC_MAGIC, MYMAP_IOC_NR_TX_KICK)

/*
 * The GPIO player: a kernel consumer of a tx ring that sets GPIO output
 * lines at the times its records name.
 *
 * The module parameter player= gives tx ring N a set of output lines, by
 * chip label and offsets (LABEL:OFFSET[+OFFSET...] for tx ring 0, then
 * ;-separated for tx rings 1, 2, ...); line i of the set is bit i of the
 * masks below (at most MYMAP_PLAY_MAX_LINES lines). The lines are requested
 * as outputs, driven low, at load. A tx ring with a player has no echo: the
 * player puts one completion record per played record into /dev/mymap-ringN
 * (the module must have that ring).
 *
 * Each tx record's payload is a struct mymap_play; the tx header's seq is
 * the producer's sequence number, copied into the completion; its source,
 * flags and timestamp_ns are ignored. A record whose length is not
 * sizeof(struct mymap_play), or whose mask is 0 or names a line beyond the
 * set, is refused (counted in rejected, see struct mymap_tx_stats).
 *
 * While started, the player takes the next record from the ring when it has
 * none (on MYMAP_TX_IOC_KICK, and after each record it played), and sets
 * its lines when CLOCK_MONOTONIC reaches time_ns, from an hrtimer (hard
 * interrupt context; softirq on PREEMPT_RT), or, when a line's chip sleeps (an I2C or SPI expander,
 * gpio-sim), from a work item on the high-priority workqueue that the timer
 * queues (the load line says which). A record is never played before its
 * time; one whose time had already passed when the player took it is
 * played at once and its completion has MYMAP_PLAY_LATE. Records are played
 * one at a time, in ring order, none skipped and none twice; a completion
 * that does not fit in the ring is dropped there (counted, a sequence gap),
 * the record is still played.
 */
#define MYMAP_PLAY_MAX_LINES 32
#define MYMAP_SOURCE_PLAYED 5	/* a completion of the GPIO player */
#define MYMAP_PLAY_LATE 0x1	/* completion flag: the time had passed */

/* Payload of a tx record for the player: 16 bytes. */
struct mymap_play {
	__u64 time_ns;		/* CLOCK_MONOTONIC, absolute. */
	__u32 mask;		/* Lines to set: bit i is line i of the set. */
	__u32 values;		/* Their values: bit i for line i. */
};

/*
 * Payload of a completion (source MYMAP_SOURCE_PLAYED, the header's flags
 * and timestamp_ns are those below): 32 bytes.
 */
struct mymap_played {
	__u64 seq;		/* The tx record's seq. */
	__u64 requested_ns;	/* Its time_ns. */
	__u64 actual_ns;	/* CLOCK_MONOTONIC right after the lines were set. */
	__u32 values;		/* The values set (bits of mask only). */
	__u32 flags;		/* MYMAP_PLAY_LATE */
};

#define MYMAP_IOC_NR_TX_PLAY 0x23

/* Operations of MYMAP_TX_IOC_PLAY. */
#define MYMAP_PLAY_START 1	/* play records as they come (kicks) */
#define MYMAP_PLAY_STOP 2	/* stop after the record being set; the
				 * next one stays for a later start */
#define MYMAP_PLAY_FLUSH 3	/* stop, and throw away every record not
				 * yet played (counted in consumed);
				 * answers how many */

/*
 * Control the player: the argument is an operation, not a pointer. On the
 * producer's file only (EBADF otherwise); ENODEV on a tx ring without a
 * player, EINVAL for an unknown operation.
 */
#define MYMAP_TX_IOC_PLAY _IO(MYMAP_IOC_MAGIC, MYMAP_IOC_NR_TX_PLAY)

#endif /* _UAPI_LINUX_MYMAP_H */
