// SPDX-License-Identifier: GPL-2.0
/*
 * mymap_pfn: the classic remap_pfn_range() driver, kept as a reference for
 * mymap's benchmark (`cargo xtask bench`); never installed anywhere else.
 *
 * A zeroed, physically contiguous kernel buffer behind the misc device
 * /dev/mymap-pfn. read() and write() copy from and to its linear-map address
 * with copy_to_user()/copy_from_user(); mmap() maps any page range of it with
 * remap_pfn_range(), which writes every page-table entry before mmap()
 * returns, so no page fault of a shared mapping ever reaches the driver.
 *
 * Contiguity: the buddy allocator's largest block is MAX_PAGE_ORDER (order
 * 10: 4 MiB with 4 KiB pages), smaller than the 16 and 64 MiB buffers the
 * bench uses. The buffer is therefore a short list of blocks, each taken with
 * alloc_pages() at the highest order still available (4 MiB when memory
 * allows, smaller orders when it is fragmented), each physically contiguous.
 * mmap() makes one remap_pfn_range() call per block and read()/write() one
 * user copy per block, so a copy that stays inside a 4 MiB block (every
 * 64 KiB or 1 MiB chunk of the bench) is a single copy, as in drivers with a
 * single block. The other classic ways to get one contiguous range, a CMA
 * area with dma_alloc_coherent() or memory reserved at boot, need kernel
 * options or device-tree changes that the boards do not have.
 *
 * No lock: the buffer is fixed from load to unload (an open file or a mapping
 * pins the module), so concurrent readers and writers race only on the bytes,
 * as they would through a mapping.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/log2.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

/* The same limit as mymap's (MYMAP_MAX_SIZE), so a typo cannot take the board's memory. */
#define PFN_MAX_SIZE (64UL << 20)

static unsigned long size = 65536;
module_param(size, ulong, 0444);
MODULE_PARM_DESC(size, "Buffer bytes, rounded up to pages (default 65536, at most 64 MiB)");

/* One physically contiguous block of the buffer: 2^order pages from byte @start. */
struct pfn_block {
	struct page *page;
	unsigned int order;
	size_t start;
};

static struct pfn_block *blocks;
static unsigned int nr_blocks;
/* @size rounded up to whole pages: the file's size. */
static size_t buf_size;

/* The block's length in bytes. */
static size_t block_len(const struct pfn_block *b)
{
	return PAGE_SIZE << b->order;
}

/* The block holding byte @pos of the buffer; @pos must be below buf_size. */
static const struct pfn_block *block_at(size_t pos)
{
	unsigned int i = 0;

	/* Blocks are in buffer order; the list is short (4 for 16 MiB). */
	while (pos >= blocks[i].start + block_len(&blocks[i]))
		i++;
	return &blocks[i];
}

/*
 * Allocates the buffer as blocks of the highest order available, zeroed.
 * An order that fails once is not tried again for the rest of the buffer.
 */
static int pfn_alloc(void)
{
	unsigned long left = buf_size >> PAGE_SHIFT;
	unsigned int order = MAX_PAGE_ORDER;
	struct page *page;
	gfp_t gfp;

	/* At worst one block per page. */
	blocks = kvcalloc(left, sizeof(*blocks), GFP_KERNEL);
	if (!blocks)
		return -ENOMEM;
	while (left) {
		order = min_t(unsigned int, order, ilog2(left));
		/* A high order may fail quietly: a smaller one is tried next. */
		gfp = GFP_KERNEL | __GFP_ZERO;
		if (order)
			gfp |= __GFP_NOWARN | __GFP_NORETRY;
		page = alloc_pages(gfp, order);
		if (!page) {
			if (!order)
				return -ENOMEM;
			order--;
			continue;
		}
		blocks[nr_blocks] = (struct pfn_block){
			.page = page,
			.order = order,
			.start = buf_size - (left << PAGE_SHIFT),
		};
		nr_blocks++;
		left -= 1UL << order;
	}
	return 0;
}

/* Frees what pfn_alloc() allocated, all of it or the part it got to. */
static void pfn_free(void)
{
	unsigned int i;

	for (i = 0; i < nr_blocks; i++)
		__free_pages(blocks[i].page, blocks[i].order);
	kvfree(blocks);
}

/*
 * Copies @count bytes at @pos between the buffer and @ubuf, one user copy per
 * block crossed. Returns the bytes copied, or -EFAULT if none could be.
 */
static ssize_t pfn_copy(char __user *ubuf, size_t pos, size_t count, bool to_user)
{
	size_t done = 0;

	while (done < count) {
		const struct pfn_block *b = block_at(pos + done);
		size_t off = pos + done - b->start;
		size_t n = min(count - done, block_len(b) - off);
		void *kaddr = page_address(b->page) + off;
		unsigned long left;

		if (to_user)
			left = copy_to_user(ubuf + done, kaddr, n);
		else
			left = copy_from_user(kaddr, ubuf + done, n);
		done += n - left;
		if (left)
			break;
	}
	return done ? done : -EFAULT;
}

/* read(): up to the end of the buffer, from the file position. */
static ssize_t pfn_read(struct file *file, char __user *ubuf, size_t count, loff_t *ppos)
{
	ssize_t ret;

	if (*ppos >= buf_size)
		return 0;
	count = min_t(size_t, count, buf_size - *ppos);
	if (!count)
		return 0;
	ret = pfn_copy(ubuf, *ppos, count, true);
	if (ret > 0)
		*ppos += ret;
	return ret;
}

/* write(): up to the end of the buffer, then ENOSPC, as a full device does. */
static ssize_t pfn_write(struct file *file, const char __user *ubuf, size_t count,
			 loff_t *ppos)
{
	ssize_t ret;

	if (!count)
		return 0;
	if (*ppos >= buf_size)
		return -ENOSPC;
	count = min_t(size_t, count, buf_size - *ppos);
	ret = pfn_copy((char __user *)ubuf, *ppos, count, false);
	if (ret > 0)
		*ppos += ret;
	return ret;
}

/* lseek(): SEEK_SET, SEEK_CUR and SEEK_END within the buffer. */
static loff_t pfn_llseek(struct file *file, loff_t offset, int whence)
{
	return fixed_size_llseek(file, offset, whence, buf_size);
}

/*
 * mmap(): pages [vm_pgoff, vm_pgoff + length) of the buffer, one
 * remap_pfn_range() per block crossed. remap_pfn_range() marks the VMA
 * VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP itself. A private writable
 * mapping (copy-on-write) must be mapped by one call covering the whole VMA,
 * so the kernel refuses one that spans two blocks with EINVAL.
 */
static int pfn_mmap(struct file *file, struct vm_area_struct *vma)
{
	unsigned long npages = buf_size >> PAGE_SHIFT;
	size_t len = vma->vm_end - vma->vm_start;
	unsigned long addr = vma->vm_start;
	size_t pos;
	int ret;

	if (vma->vm_pgoff >= npages || vma_pages(vma) > npages - vma->vm_pgoff)
		return -EINVAL;
	/* Read before the first call: remap_pfn_range() rewrites vm_pgoff of a COW mapping. */
	pos = (size_t)vma->vm_pgoff << PAGE_SHIFT;
	while (len) {
		const struct pfn_block *b = block_at(pos);
		size_t off = pos - b->start;
		size_t n = min(len, block_len(b) - off);

		ret = remap_pfn_range(vma, addr, page_to_pfn(b->page) + (off >> PAGE_SHIFT), n,
				      vma->vm_page_prot);
		if (ret)
			return ret;
		addr += n;
		pos += n;
		len -= n;
	}
	return 0;
}

static const struct file_operations pfn_fops = {
	.owner = THIS_MODULE,
	.llseek = pfn_llseek,
	.read = pfn_read,
	.write = pfn_write,
	.mmap = pfn_mmap,
};

static struct miscdevice pfn_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "mymap-pfn",
	.fops = &pfn_fops,
};

/* Checks @size, allocates the buffer, registers /dev/mymap-pfn. */
static int __init pfn_init(void)
{
	int ret;

	if (!size || size > PFN_MAX_SIZE) {
		pr_err("size=%lu refused: 1 to %lu bytes\n", size, PFN_MAX_SIZE);
		return -EINVAL;
	}
	buf_size = PAGE_ALIGN(size);
	ret = pfn_alloc();
	if (!ret)
		ret = misc_register(&pfn_misc);
	if (ret) {
		pfn_free();
		return ret;
	}
	pr_info("%zu bytes in %u contiguous block(s): /dev/%s\n", buf_size, nr_blocks,
		pfn_misc.name);
	return 0;
}

/* Unregisters the device, then frees the buffer: no file or mapping is left. */
static void __exit pfn_exit(void)
{
	misc_deregister(&pfn_misc);
	pfn_free();
}

module_init(pfn_init);
module_exit(pfn_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Reference driver for mymap's benchmark: remap_pfn_range() of a contiguous buffer");
