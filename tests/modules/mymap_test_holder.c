// SPDX-License-Identifier: GPL-2.0
/*
 * mymap_test_holder: TEST-ONLY. A producer that reserves one record in a
 * mymap ring and holds it, not committed, until it is told to commit, so
 * that the target test `ring-hostile-pending-reservation`
 * (userspace/mymap-target-tests) can check what a hostile consumer can make
 * other producers do to a record still being written. It is built into the
 * test image only: it is not an example (that is driver/samples/), and no
 * product image or Buildroot package contains it.
 *
 * It uses the producer API of <linux/mymap_ring.h> and nothing else. Its
 * interface is its parameters, under /sys/module/mymap_test_holder/parameters/:
 *
 *   ring      (at load) the N of /dev/mymap-ringN, default 0
 *   source    (at load) the source of its records, default 300
 *   hold_ms   0 (default): a held record waits for `release`; else it is
 *             committed from a workqueue that many milliseconds after it was
 *             reserved, unless released before
 *   hold      write LEN: reserve a record of LEN payload bytes, fill its
 *             payload with the pattern below and hold it. EBUSY while a
 *             record is held, EMSGSIZE above the ring's max_payload, ENOSPC
 *             when the ring refused it (mymap counted the drop). Read: the
 *             held record's length, or -1 when none is held
 *   release   write "commit" or "discard": publish the held record as
 *             mymap_ring_commit() or mymap_ring_discard() does; ENOENT when
 *             none is held
 *   holds, releases  records reserved and released (read-only)
 *
 * Payload byte i of a held record is (0xc3 + 13 * i) & 0xff.
 *
 * At unload a record still held is discarded, so the ring's consumer is
 * never left before a record that stays BUSY.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/err.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/mymap_ring.h>
#include <linux/string.h>
#include <linux/workqueue.h>

static unsigned int ring;
module_param(ring, uint, 0444);
MODULE_PARM_DESC(ring, "Ring index, the N of /dev/mymap-ringN (default 0)");

static unsigned short source = 300;
module_param(source, ushort, 0444);
MODULE_PARM_DESC(source, "Source of the records, 256 and up (default 300)");

static unsigned int hold_ms;
module_param(hold_ms, uint, 0644);
MODULE_PARM_DESC(hold_ms, "Commit a held record after this many ms (0: only on release)");

static unsigned int holds;
module_param(holds, uint, 0444);
MODULE_PARM_DESC(holds, "Records reserved and held");

static unsigned int releases;
module_param(releases, uint, 0444);
MODULE_PARM_DESC(releases, "Held records committed or discarded");

/* Serialises the parameter writes and the delayed commit; guards what follows. */
static DEFINE_MUTEX(holder_lock);
static struct mymap_ring *holder_ring;
/* The payload of the held record, NULL when none is held. */
static void *held;
static u32 held_len;
/* Which hold the delayed commit belongs to: a later hold is not its to commit. */
static unsigned int held_gen;
static unsigned int work_gen;
/* Set at unload: no more holds. */
static bool holder_gone;

static void holder_commit_late(struct work_struct *work);
static DECLARE_DELAYED_WORK(holder_work, holder_commit_late);

/* Publishes the held record; the caller holds holder_lock and a record is held. */
static void holder_release(bool discard)
{
	if (discard)
		mymap_ring_discard(holder_ring, held, 0);
	else
		mymap_ring_commit(holder_ring, held, 0);
	held = NULL;
	releases++;
}

static void holder_commit_late(struct work_struct *work)
{
	mutex_lock(&holder_lock);
	if (held && held_gen == work_gen)
		holder_release(false);
	mutex_unlock(&holder_lock);
}

static int hold_set(const char *val, const struct kernel_param *kp)
{
	u8 *payload;
	u32 len, i;
	int ret;

	ret = kstrtou32(val, 0, &len);
	if (ret)
		return ret;
	if (len > mymap_ring_max_payload(holder_ring))
		return -EMSGSIZE;
	mutex_lock(&holder_lock);
	if (holder_gone) {
		ret = -ENODEV;
		goto out;
	}
	if (held) {
		ret = -EBUSY;
		goto out;
	}
	payload = mymap_ring_reserve(holder_ring, len, source);
	if (!payload) {
		ret = -ENOSPC;
		goto out;
	}
	for (i = 0; i < len; i++)
		payload[i] = 0xc3 + 13 * i;
	held = payload;
	held_len = len;
	held_gen++;
	holds++;
	if (hold_ms) {
		work_gen = held_gen;
		mod_delayed_work(system_wq, &holder_work, msecs_to_jiffies(hold_ms));
	}
out:
	mutex_unlock(&holder_lock);
	return ret;
}

static int hold_get(char *buffer, const struct kernel_param *kp)
{
	int ret;

	mutex_lock(&holder_lock);
	if (held)
		ret = scnprintf(buffer, PAGE_SIZE, "%u\n", held_len);
	else
		ret = scnprintf(buffer, PAGE_SIZE, "-1\n");
	mutex_unlock(&holder_lock);
	return ret;
}

static const struct kernel_param_ops hold_ops = {
	.set = hold_set,
	.get = hold_get,
};
module_param_cb(hold, &hold_ops, NULL, 0644);
MODULE_PARM_DESC(hold, "Write LEN: reserve a record of LEN bytes and hold it");

static int release_set(const char *val, const struct kernel_param *kp)
{
	bool discard;
	int ret = 0;

	if (sysfs_streq(val, "commit"))
		discard = false;
	else if (sysfs_streq(val, "discard"))
		discard = true;
	else
		return -EINVAL;
	mutex_lock(&holder_lock);
	if (held)
		holder_release(discard);
	else
		ret = -ENOENT;
	mutex_unlock(&holder_lock);
	return ret;
}

static const struct kernel_param_ops release_ops = {
	.set = release_set,
};
module_param_cb(release, &release_ops, NULL, 0200);
MODULE_PARM_DESC(release, "Write \"commit\" or \"discard\": publish the held record");

static int __init holder_init(void)
{
	if (source < MYMAP_SOURCE_DRIVER_FIRST) {
		pr_err("source=%u is a built-in producer's id; use %u and up\n",
		       source, MYMAP_SOURCE_DRIVER_FIRST);
		return -EINVAL;
	}
	holder_ring = mymap_ring_get(ring);
	if (IS_ERR(holder_ring))
		return PTR_ERR(holder_ring);
	return 0;
}

static void __exit holder_exit(void)
{
	mutex_lock(&holder_lock);
	holder_gone = true;
	mutex_unlock(&holder_lock);
	cancel_delayed_work_sync(&holder_work);
	mutex_lock(&holder_lock);
	if (held)
		holder_release(true);
	mutex_unlock(&holder_lock);
	mymap_ring_put(holder_ring);
}

module_init(holder_init);
module_exit(holder_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Test-only producer into a mymap ring that holds a reserved record");
