// SPDX-License-Identifier: GPL-2.0
/*
 * mymap_sample_tx: another driver taking commands from an application through
 * a mymap tx ring, with the consumer API of <linux/mymap_ring.h> and nothing
 * else. Copy it.
 *
 * The device it stands for is a DAC with a small queue of samples: each
 * record an application writes into /dev/mymap-txN carries a batch of 16-bit
 * samples. At load the module becomes the consumer of tx ring @tx (in place
 * of mymap's echo) and takes ring @ring (/dev/mymap-ringN), where it reports
 * each batch it takes, as the DAC would report what it played. On each
 * MYMAP_TX_IOC_KICK of the application it drains the tx ring:
 *
 *   - a batch it cannot use (no samples, an odd length, more than
 *     MYMAP_SAMPLE_TX_MAX bytes) is refused (MYMAP_TX_DRAIN_REJECT: counted in
 *     the tx ring's rejected, and skipped);
 *   - a good batch is copied into a record of ring @ring (source @source,
 *     default MYMAP_SOURCE_DRIVER_FIRST + 1, 257; flags and payload the
 *     batch's) and taken (MYMAP_TX_DRAIN_TAKE);
 *   - when that ring is full, the drain stops (MYMAP_TX_DRAIN_STOP): the
 *     batch stays in the tx ring for the next kick, so the application's
 *     queue backs up instead of losing samples.
 *
 * The drain callback runs under the tx ring's spinlock with interrupts off,
 * so it only copies; what it is handed is a kernel copy of the record, made
 * and bounds-checked by mymap, but its content is the application's and is
 * checked here before use. At unload the module detaches (waiting for a
 * running kick), and the tx ring goes back to mymap's echo. While it is
 * loaded, mymap cannot be unloaded: this module uses its symbols.
 *
 * Build as mymap_sample_producer.c (Makefile, Kbuild), then:
 *   modprobe mymap; insmod mymap_sample_tx.ko tx=0 ring=0
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/err.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mymap_ring.h>
#include <linux/sched.h>

/* The largest batch the "DAC" takes, in bytes: 32 samples. */
#define MYMAP_SAMPLE_TX_MAX 64

static unsigned int tx;
module_param(tx, uint, 0444);
MODULE_PARM_DESC(tx, "The tx ring to consume, /dev/mymap-txN (default 0)");

static unsigned int ring;
module_param(ring, uint, 0444);
MODULE_PARM_DESC(ring, "The ring to report into, /dev/mymap-ringN (default 0)");

static ushort source = MYMAP_SOURCE_DRIVER_FIRST + 1;
module_param(source, ushort, 0444);
MODULE_PARM_DESC(source, "Producer id of the reports (default 257)");

struct sample_tx {
	struct mymap_tx *tx;
	struct mymap_ring *ring;
	/* Batches taken and refused, and drains stopped by a full ring. */
	u64 taken, refused, stopped;
};

static struct sample_tx state;

/* One record: refuse it, report and take it, or stop on a full ring. */
static int sample_tx_record(void *ctx, const struct mymap_tx_record *rec)
{
	struct sample_tx *s = ctx;
	int ret;

	if (rec->len == 0 || rec->len % 2 || rec->len > MYMAP_SAMPLE_TX_MAX) {
		s->refused++;
		return MYMAP_TX_DRAIN_REJECT;
	}
	ret = mymap_ring_output(s->ring, source, rec->payload, rec->len, 0);
	if (ret == -ENOSPC) {
		s->stopped++;
		return MYMAP_TX_DRAIN_STOP;
	}
	if (ret) {
		/* Cannot happen for a batch within MYMAP_SAMPLE_TX_MAX; refuse it. */
		s->refused++;
		return MYMAP_TX_DRAIN_REJECT;
	}
	s->taken++;
	return MYMAP_TX_DRAIN_TAKE;
}

/* The application kicked: drain, a bounded batch at a time. Process context. */
static void sample_tx_kick(void *ctx)
{
	struct sample_tx *s = ctx;

	while (mymap_tx_drain(s->tx, 64, sample_tx_record, s) == 64)
		cond_resched();
}

static int __init sample_tx_init(void)
{
	state.ring = mymap_ring_get(ring);
	if (IS_ERR(state.ring)) {
		pr_err("no ring %u\n", ring);
		return PTR_ERR(state.ring);
	}
	state.tx = mymap_tx_attach(tx, sample_tx_kick, &state);
	if (IS_ERR(state.tx)) {
		pr_err("cannot consume tx ring %u (%ld)\n", tx, PTR_ERR(state.tx));
		mymap_ring_put(state.ring);
		return PTR_ERR(state.tx);
	}
	pr_info("consuming tx ring %u, reporting into ring %u\n", tx, ring);
	return 0;
}

static void __exit sample_tx_exit(void)
{
	mymap_tx_detach(state.tx);
	pr_info("%llu batches taken, %llu refused, %llu drains stopped by a full ring\n",
		state.taken, state.refused, state.stopped);
	mymap_ring_put(state.ring);
}

module_init(sample_tx_init);
module_exit(sample_tx_exit);

MODULE_DESCRIPTION("mymap sample: a tx ring consumer, through the consumer API");
MODULE_LICENSE("GPL");
