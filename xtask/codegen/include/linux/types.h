/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Stand-in for <linux/types.h>, seen only by bindgen in `cargo xtask codegen`
 * (xtask/src/codegen.rs).
 *
 * The codegen parses mymap.h with -nostdinc, so no header of the machine that
 * runs it leaks into the bindings. The kernel defines these types in
 * <asm-generic/int-ll64.h> the same way for every architecture we build for.
 */
#ifndef _MYMAP_SHIM_LINUX_TYPES_H
#define _MYMAP_SHIM_LINUX_TYPES_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;

#endif
