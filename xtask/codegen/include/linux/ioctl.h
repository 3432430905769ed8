/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Stand-in for <linux/ioctl.h>, seen only by bindgen in `cargo xtask codegen`
 * (xtask/src/codegen.rs).
 *
 * It is empty on purpose: bindgen cannot expand function-like macros such as
 * _IOR() anyway, so the request codes are built in
 * userspace/mymap-uapi/src/ioctl.rs from the header's plain-integer magic and
 * command numbers (the driver takes them from the kernel's own macros).
 */
#ifndef _MYMAP_SHIM_LINUX_IOCTL_H
#define _MYMAP_SHIM_LINUX_IOCTL_H
#endif
