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

#endif /* _UAPI_LINUX_MYMAP_H */
