################################################################################
#
# Rust support in the Linux kernel build
#
################################################################################

# linux/linux.mk includes this file before it evaluates the kernel
# package, so what is appended here applies to the kernel and, through
# LINUX_MAKE_FLAGS, to every kernel-module package. An external.mk is
# read too late for that.

ifeq ($(BR2_PACKAGE_MYMAP_LINUX_RUST),y)

MYMAP_RUST_TOOLS = host-rustc host-rust-src host-rust-bindgen

# The kernel's Kconfig runs scripts/rust_is_available.sh: without these
# tools at configuration time, CONFIG_RUST is silently dropped.
# check-package TypoInPackageVariable
LINUX_KCONFIG_DEPENDENCIES += $(MYMAP_RUST_TOOLS)
# check-package TypoInPackageVariable
LINUX_DEPENDENCIES += $(MYMAP_RUST_TOOLS)

# bindgen loads libclang (from host-clang, a dependency of
# host-rust-bindgen) at run time, from LIBCLANG_PATH. Command-line
# variables reach the environment of every command make runs, Kconfig's
# included.
# check-package TypoInPackageVariable
LINUX_MAKE_FLAGS += \
	RUSTC=$(HOST_DIR)/bin/rustc \
	HOSTRUSTC=$(HOST_DIR)/bin/rustc \
	BINDGEN=$(HOST_DIR)/bin/bindgen \
	LIBCLANG_PATH=$(HOST_DIR)/lib \
	RUST_LIB_SRC=$(HOST_DIR)/lib/rustlib/src/rust/library

# The kernel links its Rust procedural macros (host code) with
# `rustc -Clinker=$(HOSTCC)`, so HOSTCC must be one word. Buildroot's
# LINUX_MAKE_FLAGS gives it several, `HOSTCC="/usr/bin/gcc -O2 -isystem
# .../host/include -L.../host/lib -Wl,-rpath,..."`, and the first Rust
# procedural macro then fails to build:
#   RUSTC P rust/libpin_init_internal.so
#   error: Unrecognized option: '2'
# (rustc reads `-O2` as options of its own). So HOSTCC becomes a script
# that runs that same command line, flags included, with its arguments:
# the kernel's C host tools are built exactly as before. It is written
# right before the kernel is built, not after it is patched: with
# LINUX_OVERRIDE_SRCDIR (a local kernel tree) Buildroot rsyncs the source
# and has no patch step, so a post-patch hook never ran and the build
# stopped at its first host program:
#   HOSTCC  scripts/basic/fixdep
#   /bin/sh: 1: .../host/bin/mymap-linux-hostcc: not found
# (Kconfig is not affected: linux.mk configures with its own HOSTCC.)
MYMAP_RUST_HOSTCC = $(HOST_DIR)/bin/mymap-linux-hostcc
# The value linux/linux.mk gives HOSTCC in LINUX_MAKE_FLAGS.
MYMAP_RUST_HOSTCC_COMMAND = $(HOSTCC) \
	$(subst -I/,-isystem /,$(subst -I /,-isystem /,$(HOST_CFLAGS))) \
	$(HOST_LDFLAGS)

define MYMAP_RUST_INSTALL_HOSTCC
	mkdir -p $(HOST_DIR)/bin
	printf '#!/bin/sh\nexec %s "$$@"\n' \
		'$(strip $(MYMAP_RUST_HOSTCC_COMMAND))' \
		> $(MYMAP_RUST_HOSTCC)
	chmod 0755 $(MYMAP_RUST_HOSTCC)
endef
# check-package TypoInPackageVariable
LINUX_PRE_BUILD_HOOKS += MYMAP_RUST_INSTALL_HOSTCC

# A later assignment on make's command line wins over the earlier one.
# check-package TypoInPackageVariable
LINUX_MAKE_FLAGS += HOSTCC=$(MYMAP_RUST_HOSTCC)

# Fail now rather than after a full kernel build if CONFIG_RUST did not
# survive olddefconfig (missing tool, MODVERSIONS, an architecture
# without HAVE_RUST...).
define MYMAP_RUST_CHECK_KERNEL_CONFIG
	$(Q)if ! grep -q '^CONFIG_RUST=y$$' $(LINUX_DIR)/.config; then \
		echo "CONFIG_RUST is not set in $(LINUX_DIR)/.config." >&2; \
		echo "Ask the kernel why with: make linux-rustavailable" >&2; \
		exit 1; \
	fi
endef
# check-package TypoInPackageVariable
LINUX_POST_CONFIGURE_HOOKS += MYMAP_RUST_CHECK_KERNEL_CONFIG

# The kernel's own diagnosis of the Rust toolchain (scripts/
# rust_is_available.sh -v), run with the tools the kernel build uses.
.PHONY: linux-rustavailable
linux-rustavailable: linux-patch $(MYMAP_RUST_TOOLS)
	$(LINUX_MAKE_ENV) $(BR2_MAKE) $(LINUX_MAKE_FLAGS) -C $(LINUX_DIR) rustavailable

endif
