// SPDX-License-Identifier: GPL-2.0
/*
 * mymap_sample_producer: another driver producing into a mymap ring, through
 * the producer API of <linux/mymap_ring.h> and nothing else. Copy it.
 *
 * At load it takes ring @ring (/dev/mymap-ringN), starts an hrtimer that
 * makes @timer_count records from hard interrupt context, one a millisecond,
 * and meanwhile makes @count records from process context; once the timer's
 * last record is made it logs one line of counts and returns. At unload it
 * stops the timer and drops its reference to the ring. While it is loaded,
 * mymap cannot be unloaded: this module uses its symbols.
 *
 * The records, as a consumer of /dev/mymap-ringN sees them:
 *
 *   source   @source (default MYMAP_SOURCE_DRIVER_FIRST, 256)
 *   flags    MYMAP_SAMPLE_PROCESS (0) from process context,
 *            MYMAP_SAMPLE_HARDIRQ (1) from the hrtimer
 *   len      @len payload bytes (default 64)
 *   payload  n, the record's number within its context (0, 1, 2, ...;
 *            a dropped or discarded record uses its number too):
 *            byte i is byte i of n in little-endian order for i < 4,
 *            and (n + i) & 0xff after that
 *   time     process records: when reserved; hrtimer records: the timer's
 *            expiry time (mymap_ring_reserve_at())
 *
 * How each record is made, to show every call of the API:
 *   - process record 0: mymap_ring_output() from a buffer. Unlike
 *     mymap_ring_reserve(), it tells a payload too large for the ring
 *     (-EMSGSIZE) from a full ring (-ENOSPC), so a @len above the ring's
 *     max_payload fails the load instead of dropping every record;
 *   - process records 1..@count-1: mymap_ring_reserve(), the payload written
 *     in place, mymap_ring_commit(); with @discard_every=K, records K, 2K, ...
 *     are written and then mymap_ring_discard()ed: the consumer skips them,
 *     their sequence numbers stay used;
 *   - hrtimer records: mymap_ring_reserve_at() with the expiry time, the
 *     payload written in place, mymap_ring_commit().
 * A NULL reservation means the ring was full: the record is dropped, and
 * counted by mymap and here.
 *
 * Build against the kernel and mymap's Module.symvers (Makefile, Kbuild):
 *   make KDIR=<kernel build> MYMAP_BUILD=<where mymap.ko was built>
 * then: modprobe mymap; insmod mymap_sample_producer.ko count=1000
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/err.h>
#include <linux/hardirq.h>
#include <linux/hrtimer.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mymap_ring.h>
#include <linux/sched.h>
#include <linux/slab.h>

/* mymap_ring_record.flags of the records, by the context that made them. */
#define MYMAP_SAMPLE_PROCESS 0
#define MYMAP_SAMPLE_HARDIRQ 1

/* Time between two hrtimer records. */
#define SAMPLE_TIMER_PERIOD_NS (1000 * 1000)
/* Most hrtimer records, so that a load never waits more than about 10 s. */
#define SAMPLE_MAX_TIMER_COUNT 10000
/*
 * No ring has a larger max_payload (it is data_size / 4 - header): checked
 * before the buffer of record 0 is allocated.
 */
#define SAMPLE_MAX_LEN (MYMAP_RING_MAX_SIZE / 4U - MYMAP_RING_HEADER_SIZE)

static unsigned int ring;
module_param(ring, uint, 0444);
MODULE_PARM_DESC(ring, "Ring index, the N of /dev/mymap-ringN (default 0)");

static unsigned int count = 1000;
module_param(count, uint, 0444);
MODULE_PARM_DESC(count, "Records to make from process context at load (default 1000)");

static unsigned int len = 64;
module_param(len, uint, 0444);
MODULE_PARM_DESC(len, "Payload bytes of every record (default 64, at most the ring's max_payload)");

static ushort source = MYMAP_SOURCE_DRIVER_FIRST;
module_param(source, ushort, 0444);
MODULE_PARM_DESC(source, "Source id of the records (default 256, MYMAP_SOURCE_DRIVER_FIRST; 256 and up)");

static unsigned int timer_count = 8;
module_param(timer_count, uint, 0444);
MODULE_PARM_DESC(timer_count, "Records to make from an hrtimer in hard interrupt context, one a millisecond (default 8, at most 10000)");

static unsigned int discard_every;
module_param(discard_every, uint, 0444);
MODULE_PARM_DESC(discard_every, "Discard process records K, 2K, ... instead of committing them (default 0: none)");

/* The ring, from load to unload. */
static struct mymap_ring *sample_ring;

/* Counts of the process records, written and read by the loading task only. */
static struct {
	unsigned int produced;
	unsigned int discarded;
	unsigned int dropped;
} proc;

/*
 * The hrtimer and its counts: written by the callback only; read by the
 * loading task after timer_done, which orders the reads after the writes.
 */
static struct hrtimer timer;
static DECLARE_COMPLETION(timer_done);
static struct {
	unsigned int made;
	unsigned int produced;
	unsigned int dropped;
	/* Callbacks that ran in hard interrupt context: all of them, unless on PREEMPT_RT. */
	unsigned int in_hardirq;
} tim;

/* Writes record @n's payload pattern (see the top of the file). */
static void sample_fill(u8 *payload, u32 n)
{
	u32 i;

	for (i = 0; i < len; i++)
		payload[i] = i < 4 ? (u8)(n >> (8 * i)) : (u8)(n + i);
}

/* Makes one record a millisecond from hard interrupt context, @timer_count in all. */
static enum hrtimer_restart sample_timer_fn(struct hrtimer *t)
{
	u64 expires = ktime_to_ns(hrtimer_get_expires(t));
	void *payload;

	if (in_hardirq())
		tim.in_hardirq++;
	payload = mymap_ring_reserve_at(sample_ring, len, source, MYMAP_SAMPLE_HARDIRQ, expires);
	if (payload) {
		sample_fill(payload, tim.made);
		mymap_ring_commit(sample_ring, payload, 0);
		tim.produced++;
	} else {
		tim.dropped++;
	}
	if (++tim.made == timer_count) {
		complete(&timer_done);
		return HRTIMER_NORESTART;
	}
	hrtimer_forward_now(t, ns_to_ktime(SAMPLE_TIMER_PERIOD_NS));
	return HRTIMER_RESTART;
}

/*
 * Process record 0, through mymap_ring_output(): 0 if it was committed or
 * dropped (the ring being full), -EMSGSIZE if @len is above max_payload.
 */
static int sample_output_first(void)
{
	u8 *buf;
	int err;

	buf = kmalloc(max(len, 1U), GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	sample_fill(buf, 0);
	err = mymap_ring_output(sample_ring, source, buf, len, 0);
	kfree(buf);
	if (err == -ENOSPC) {
		proc.dropped++;
		return 0;
	}
	if (!err)
		proc.produced++;
	return err;
}

/* Process records 1..@count-1, reserved and committed (or discarded) in place. */
static void sample_produce_rest(void)
{
	u32 n;

	for (n = 1; n < count; n++) {
		void *payload = mymap_ring_reserve(sample_ring, len, source);

		if (!payload) {
			proc.dropped++;
			continue;
		}
		sample_fill(payload, n);
		if (discard_every && n % discard_every == 0) {
			mymap_ring_discard(sample_ring, payload, 0);
			proc.discarded++;
		} else {
			mymap_ring_commit(sample_ring, payload, 0);
			proc.produced++;
		}
		if (n % 256 == 0)
			cond_resched();
	}
}

static int __init sample_init(void)
{
	int err;

	if (source < MYMAP_SOURCE_DRIVER_FIRST) {
		pr_err("source=%u: below %u; ids under MYMAP_SOURCE_DRIVER_FIRST are mymap's own\n",
		       source, MYMAP_SOURCE_DRIVER_FIRST);
		return -EINVAL;
	}
	if (len > SAMPLE_MAX_LEN) {
		pr_err("len=%u: above %u, the max_payload of the largest ring\n", len,
		       SAMPLE_MAX_LEN);
		return -EMSGSIZE;
	}
	if (timer_count > SAMPLE_MAX_TIMER_COUNT) {
		pr_err("timer_count=%u: above %u\n", timer_count, SAMPLE_MAX_TIMER_COUNT);
		return -EINVAL;
	}

	sample_ring = mymap_ring_get(ring);
	if (IS_ERR(sample_ring)) {
		err = PTR_ERR(sample_ring);
		pr_err("ring=%u: no such ring (%pe); mymap's rings= parameter sets how many there are\n",
		       ring, sample_ring);
		return err;
	}

	if (count) {
		err = sample_output_first();
		if (err == -EMSGSIZE)
			pr_err("len=%u: above ring %u's max_payload (MYMAP_RING_IOC_INFO tells it)\n",
			       len, ring);
		if (err)
			goto put;
	}

	/*
	 * HRTIMER_MODE_REL: the callback runs in hard interrupt context (except on
	 * PREEMPT_RT, which moves it to a softirq), as a device interrupt handler
	 * does. Not HRTIMER_MODE_REL_HARD, which stays in hard interrupt context
	 * even on PREEMPT_RT: the ring's lock is a spinlock_t, which sleeps there,
	 * and lockdep reports "Invalid wait context" for it under such a timer.
	 */
	hrtimer_setup(&timer, sample_timer_fn, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	if (timer_count)
		hrtimer_start(&timer, ns_to_ktime(SAMPLE_TIMER_PERIOD_NS), HRTIMER_MODE_REL);
	else
		complete(&timer_done);

	sample_produce_rest();

	/* Ten times the timer's schedule and a second, for a loaded emulator. */
	if (!wait_for_completion_timeout(&timer_done,
					 nsecs_to_jiffies(10ULL * timer_count *
							  SAMPLE_TIMER_PERIOD_NS) + HZ)) {
		hrtimer_cancel(&timer);
		pr_err("the hrtimer made %u of %u records in time\n", tim.made, timer_count);
		err = -ETIMEDOUT;
		goto put;
	}

	pr_info("ring=%u source=%u len=%u process_produced=%u process_discarded=%u process_dropped=%u timer_produced=%u timer_dropped=%u timer_in_hardirq=%u\n",
		ring, source, len, proc.produced, proc.discarded, proc.dropped,
		tim.produced, tim.dropped, tim.in_hardirq);
	return 0;

put:
	mymap_ring_put(sample_ring);
	return err;
}

static void __exit sample_exit(void)
{
	/* Stopped already (the load waited for its last record); cancelling is cheap. */
	hrtimer_cancel(&timer);
	mymap_ring_put(sample_ring);
}

module_init(sample_init);
module_exit(sample_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Sample producer into a mymap ring, through <linux/mymap_ring.h>");
