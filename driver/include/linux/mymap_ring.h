/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mymap rings: the producer API for other kernel code, and (below) the
 * consumer API of tx rings.
 *
 * A driver that streams records to an application (a sensor sample, an
 * interrupt timestamp, a frame from an FPGA) produces into a mymap ring with
 * these functions, exported GPL-only by the mymap module; the application
 * consumes /dev/mymap-ringN as include/uapi/linux/mymap.h describes. Build the
 * driver against mymap's Module.symvers (KBUILD_EXTRA_SYMBOLS) and load it
 * after mymap; `samples/mymap_sample_producer.c` beside the driver shows the whole use.
 *
 * Contexts: every function but mymap_ring_get() and mymap_ring_put() may be
 * called from process, softirq and hard interrupt context (an interrupt
 * handler, an hrtimer callback): none sleeps or allocates, and wakeups of the
 * consumer are deferred to an irq_work. The ring's lock is a spinlock_t taken
 * with interrupts disabled, so the one exception is code that already holds
 * a raw_spinlock_t or runs where only raw locks are allowed (an hrtimer in
 * HRTIMER_MODE_*_HARD, an IRQF_NO_THREAD handler): PREEMPT_RT makes a
 * spinlock_t sleep, and lockdep reports such nesting on any kernel.
 */
#ifndef _LINUX_MYMAP_RING_H
#define _LINUX_MYMAP_RING_H

#include <linux/types.h>
#include <uapi/linux/mymap.h>

struct mymap_ring;

/* Flags for mymap_ring_commit(), mymap_ring_discard() and mymap_ring_output(). */
#define MYMAP_RING_F_NO_WAKEUP 0x1	/* never wake the consumer for this record */
#define MYMAP_RING_F_FORCE_WAKEUP 0x2	/* wake it whatever the ring's policy */

/*
 * Takes a reference to ring @index (the N of /dev/mymap-ringN). Returns the
 * ring, or ERR_PTR(-ENODEV) if the module has no such ring. Process context.
 */
struct mymap_ring *mymap_ring_get(unsigned int index);

/* Drops a reference taken by mymap_ring_get(). Process context. */
void mymap_ring_put(struct mymap_ring *ring);

/* The largest payload a record of @ring may carry (data_size / 4 - header). */
u32 mymap_ring_max_payload(struct mymap_ring *ring);

/*
 * Reserves a record of @len payload bytes from producer @source (use
 * MYMAP_SOURCE_DRIVER_FIRST and up) and returns a pointer to its payload,
 * 8-byte aligned, or NULL: when the ring is full (the drop is counted and the
 * sequence number consumed) or @len is above the ring's max_payload. The
 * record's timestamp is taken now. Every reservation must be followed by
 * exactly one mymap_ring_commit() or mymap_ring_discard() of the same
 * pointer, soon: the consumer cannot read past a reserved record.
 */
void *mymap_ring_reserve(struct mymap_ring *ring, u32 len, u16 source);

/* As mymap_ring_reserve(), with the record's timestamp and flags given. */
void *mymap_ring_reserve_at(struct mymap_ring *ring, u32 len, u16 source,
			    u16 flags, u64 timestamp_ns);

/* Publishes the record whose payload is @data, and wakes as the policy says. */
void mymap_ring_commit(struct mymap_ring *ring, void *data, u32 flags);

/* Publishes the record as discarded: the consumer skips it. */
void mymap_ring_discard(struct mymap_ring *ring, void *data, u32 flags);

/*
 * Reserves, copies @len bytes from @data and commits. Returns 0, -ENOSPC
 * when the ring is full (counted as dropped), -EMSGSIZE above max_payload,
 * -EINVAL when @data is NULL and @len is not 0 (nothing is reserved then).
 * With @len 0 the record is empty and @data is not read (it may be NULL).
 */
int mymap_ring_output(struct mymap_ring *ring, u16 source, const void *data,
		      u32 len, u32 flags);

/*
 * Tx rings: the consumer API.
 *
 * A driver that takes commands from an application (a DAC's samples, a
 * stepper controller's moves) becomes the kernel consumer of /dev/mymap-txN,
 * in place of the built-in echo: the application writes records into the
 * mapped ring as include/uapi/linux/mymap.h ("Tx rings") describes and kicks
 * with MYMAP_TX_IOC_KICK; the driver is called back and drains them.
 * `samples/mymap_sample_tx.c` beside the driver shows the whole use.
 *
 * What the drain hands over is a kernel copy of each record, made once and
 * checked (lengths, positions: see the header's "Everything the kernel reads
 * ... is hostile"); a malformed record never reaches the callback. The
 * payload is still the application's: check it before use, and refuse it
 * with MYMAP_TX_DRAIN_REJECT (counted in rejected) rather than trust it.
 */
struct mymap_tx;

/* One record, as mymap_tx_drain() hands it over: valid during the callback only. */
struct mymap_tx_record {
	const void *payload;	/* A kernel copy of the payload, len bytes. */
	u32 len;
	u16 source;		/* The header's fields, as the application wrote them. */
	u16 flags;
	u64 seq;
	u64 timestamp_ns;
};

/* What a drain callback answers for a record. */
#define MYMAP_TX_DRAIN_TAKE 0	/* taken: the ring moves past it */
#define MYMAP_TX_DRAIN_REJECT 1	/* refused: counted, and skipped */
#define MYMAP_TX_DRAIN_STOP 2	/* not now: the drain ends before it */

/* A drain callback; runs under the tx ring's spinlock, interrupts off: never sleeps. */
typedef int (*mymap_tx_drain_fn)(void *ctx, const struct mymap_tx_record *rec);
/* A kick callback: the application asked the consumer to look. Process context. */
typedef void (*mymap_tx_kick_fn)(void *ctx);

/*
 * Becomes the consumer of tx ring @index (the N of /dev/mymap-txN):
 * @kick(@ctx) is called, in process context, for each MYMAP_TX_IOC_KICK on
 * it (which then answers 0). Returns the tx ring, ERR_PTR(-ENODEV) if the
 * module has no such tx ring, ERR_PTR(-EBUSY) if it has a consumer already
 * (a GPIO player, another driver). Process context.
 */
struct mymap_tx *mymap_tx_attach(unsigned int index, mymap_tx_kick_fn kick,
				 void *ctx);

/*
 * Gives the tx ring back to the echo. Waits for a running @kick; no kick
 * starts after it returns, but a drain of the caller's own (a timer, an
 * interrupt) must be stopped by the caller first. Process context.
 */
void mymap_tx_detach(struct mymap_tx *tx);

/*
 * Hands up to @max records, in order, to @fn(@ctx, record), each once, and
 * returns how many it took (MYMAP_TX_DRAIN_TAKE). Process, softirq or hard
 * interrupt context (the PREEMPT_RT exception of the producer API above
 * applies); drains of one tx ring are serialised.
 */
u32 mymap_tx_drain(struct mymap_tx *tx, u32 max, mymap_tx_drain_fn fn,
		   void *ctx);

#endif /* _LINUX_MYMAP_RING_H */
