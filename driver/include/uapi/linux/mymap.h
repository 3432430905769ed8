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
 * so producers may run in any context.
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
				 * asked for, whether or not a consumer
				 * was waiting then. */
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

#endif /* _UAPI_LINUX_MYMAP_H */
