################################################################################
#
# rust-src
#
################################################################################

# The source of Rust's standard library, from which the kernel builds its
# own `core`. It must be the exact version of host-rustc: Buildroot's
# package/rust-bin and package/rust. The check below stops the build
# when a Buildroot update moves them on.
RUST_SRC_VERSION = 1.97.1
RUST_SRC_SITE = $(RUST_BIN_SITE)
RUST_SRC_SOURCE = rust-src-$(RUST_SRC_VERSION).tar.xz
RUST_SRC_LICENSE = Apache-2.0 or MIT
RUST_SRC_LICENSE_FILES = LICENSE-APACHE LICENSE-MIT

# Installed next to the rustc it belongs to, so that
# `rustc --print sysroot` finds it too.
HOST_RUST_SRC_DEPENDENCIES = host-rustc

define HOST_RUST_SRC_INSTALL_CMDS
	cd $(@D) && ./install.sh \
		--prefix=$(HOST_DIR) \
		--disable-ldconfig \
		--components=rust-src
endef

ifeq ($(BR_BUILDING)$(BR2_PACKAGE_MYMAP_LINUX_RUST),yy)
HOST_RUST_SRC_RUSTC_VERSION = \
	$(if $(BR2_PACKAGE_HOST_RUST),$(RUST_VERSION),$(RUST_BIN_VERSION))
ifneq ($(HOST_RUST_SRC_RUSTC_VERSION),$(RUST_SRC_VERSION))
$(error rust-src is $(RUST_SRC_VERSION) but host-rustc is \
	$(HOST_RUST_SRC_RUSTC_VERSION): update RUST_SRC_VERSION and \
	rust-src.hash in $(BR2_EXTERNAL_MYMAP_PATH)/package/rust-src)
endif
endif

$(eval $(host-generic-package))
