// SPDX-License-Identifier: GPL-2.0
/*
 * mymap_vfault: the classic vmalloc_user() + .fault driver, kept as a
 * reference for mymap's benchmark (`cargo xtask bench`); never installed
 * anywhere else.
 *
 * A zeroed buffer from vmalloc_user() behind the misc device
 * /dev/mymap-vfault. read() and write() are one copy_to_user() or
 * copy_from_user() each, from and to the buffer's contiguous vmalloc address.
 * mmap() only checks the range and installs the VMA's operations: each page
 * is mapped when userspace first touches it, by the .fault handler, which
 * finds the page with vmalloc_to_page(), takes a reference for the page
 * table (get_page()) and hands it to the core through vmf->page. This is the
 * shape of many drivers' mmap (the ALSA PCM core's fault handler for vmalloc
 * buffers is one), and the mapping survives the kernel zapping its entries:
 * the next access faults the page in again.
 *
 * No lock: the buffer is fixed from load to unload (an open file or a mapping
 * pins the module), so concurrent readers and writers race only on the bytes,
 * as they would through a mapping.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

/* The same limit as mymap's (MYMAP_MAX_SIZE), so a typo cannot take the board's memory. */
#define VFAULT_MAX_SIZE (64UL << 20)

static unsigned long size = 65536;
module_param(size, ulong, 0444);
MODULE_PARM_DESC(size, "Buffer bytes, rounded up to pages (default 65536, at most 64 MiB)");

/* vmalloc_user(): zeroed, page aligned, virtually contiguous. */
static char *buf;
/* @size rounded up to whole pages: the file's size. */
static size_t buf_size;

/* read(): one copy, up to the end of the buffer, from the file position. */
static ssize_t vfault_read(struct file *file, char __user *ubuf, size_t count, loff_t *ppos)
{
	size_t left;

	if (*ppos >= buf_size)
		return 0;
	count = min_t(size_t, count, buf_size - *ppos);
	left = copy_to_user(ubuf, buf + *ppos, count);
	if (left == count && count)
		return -EFAULT;
	*ppos += count - left;
	return count - left;
}

/* write(): one copy, up to the end of the buffer, then ENOSPC, as a full device does. */
static ssize_t vfault_write(struct file *file, const char __user *ubuf, size_t count,
			    loff_t *ppos)
{
	size_t left;

	if (!count)
		return 0;
	if (*ppos >= buf_size)
		return -ENOSPC;
	count = min_t(size_t, count, buf_size - *ppos);
	left = copy_from_user(buf + *ppos, ubuf, count);
	if (left == count)
		return -EFAULT;
	*ppos += count - left;
	return count - left;
}

/* lseek(): SEEK_SET, SEEK_CUR and SEEK_END within the buffer. */
static loff_t vfault_llseek(struct file *file, loff_t offset, int whence)
{
	return fixed_size_llseek(file, offset, whence, buf_size);
}

/*
 * The page fault handler: vmf->pgoff is the page's index in the file (the
 * VMA's vm_pgoff plus its place in the VMA). The reference taken here is the
 * page table's; the core drops it when the entry is zapped.
 */
static vm_fault_t vfault_fault(struct vm_fault *vmf)
{
	struct page *page;

	/* mmap() checked the range and the VMA cannot grow: this is a safety net. */
	if (vmf->pgoff >= buf_size >> PAGE_SHIFT)
		return VM_FAULT_SIGBUS;
	page = vmalloc_to_page(buf + (vmf->pgoff << PAGE_SHIFT));
	get_page(page);
	vmf->page = page;
	return 0;
}

static const struct vm_operations_struct vfault_vm_ops = {
	.fault = vfault_fault,
};

/*
 * mmap(): pages [vm_pgoff, vm_pgoff + length) of the buffer, mapped later by
 * vfault_fault(). VM_DONTEXPAND keeps mremap() from growing the mapping past
 * the range checked here; VM_DONTDUMP keeps the buffer out of core dumps.
 */
static int vfault_mmap(struct file *file, struct vm_area_struct *vma)
{
	unsigned long npages = buf_size >> PAGE_SHIFT;

	if (vma->vm_pgoff >= npages || vma_pages(vma) > npages - vma->vm_pgoff)
		return -EINVAL;
	vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_ops = &vfault_vm_ops;
	return 0;
}

static const struct file_operations vfault_fops = {
	.owner = THIS_MODULE,
	.llseek = vfault_llseek,
	.read = vfault_read,
	.write = vfault_write,
	.mmap = vfault_mmap,
};

static struct miscdevice vfault_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "mymap-vfault",
	.fops = &vfault_fops,
};

/* Checks @size, allocates the buffer, registers /dev/mymap-vfault. */
static int __init vfault_init(void)
{
	int ret;

	if (!size || size > VFAULT_MAX_SIZE) {
		pr_err("size=%lu refused: 1 to %lu bytes\n", size, VFAULT_MAX_SIZE);
		return -EINVAL;
	}
	buf_size = PAGE_ALIGN(size);
	buf = vmalloc_user(buf_size);
	if (!buf)
		return -ENOMEM;
	ret = misc_register(&vfault_misc);
	if (ret) {
		vfree(buf);
		return ret;
	}
	pr_info("%zu bytes of vmalloc memory: /dev/%s\n", buf_size, vfault_misc.name);
	return 0;
}

/* Unregisters the device, then frees the buffer: no file or mapping is left. */
static void __exit vfault_exit(void)
{
	misc_deregister(&vfault_misc);
	vfree(buf);
}

module_init(vfault_init);
module_exit(vfault_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Reference driver for mymap's benchmark: vmalloc_user() buffer mapped by .fault");
