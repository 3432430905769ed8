################################################################################
#
# mymap-read
#
################################################################################

# The Cargo workspace, of which only what the build reads is copied: the
# root manifest and Cargo.lock (which pins every crate), the member crates
# (xtask and driver/model, the ring's loom model, are members too, so cargo
# wants them), the UAPI header mymap-uapi generates its bindings from, and
# the licence texts. Buildroot or its output directory inside the
# checkout, a common layout, are not copied.
MYMAP_READ_SITE = $(BR2_EXTERNAL_MYMAP_PATH)/..
MYMAP_READ_SITE_METHOD = local
# A version, so that make legal-info treats it as a package with sources
# (Buildroot gives overridden packages the same one).
MYMAP_READ_VERSION = custom
MYMAP_READ_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude=/target/ \
	--include=/Cargo.toml \
	--include=/Cargo.lock \
	--include=/userspace/*** \
	--include=/xtask/*** \
	--include=/driver/ \
	--include=/driver/include/*** \
	--include=/driver/model/*** \
	--include=/COPYING \
	--include=/LICENSES/*** \
	--exclude=*

# make legal-info archives a local package's sources with an rsync of its
# own, which knows only RSYNC_VCS_EXCLUSIONS: give it the same filters.
mymap-read-legal-info: RSYNC_VCS_EXCLUSIONS += \
	$(MYMAP_READ_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS)

MYMAP_READ_LICENSE = GPL-2.0 or MIT
MYMAP_READ_LICENSE_FILES = \
	COPYING \
	LICENSES/preferred/GPL-2.0 \
	LICENSES/preferred/MIT

# Both are binaries of the userspace/mymap-read crate.
MYMAP_READ_BINS = mymap-read mymapctl

# mymap-uapi's build script runs bindgen on the UAPI header (against
# its own stand-in kernel headers) and loads libclang from LIBCLANG_PATH.
MYMAP_READ_DEPENDENCIES = host-clang
MYMAP_READ_CARGO_ENV = LIBCLANG_PATH=$(HOST_DIR)/lib

# The workspace's release profile optimises the tools for size, with LTO
# and one codegen unit (Cargo.toml). The cargo infrastructure replaces
# those with BR2_OPTIMIZE_* and BR2_ENABLE_LTO (-O2, no LTO, 16 units by
# default), which made the binary on the SD card larger than the one the
# project measures; these come after them in the environment of the
# build command, and win.
MYMAP_READ_CARGO_ENV += \
	CARGO_PROFILE_RELEASE_OPT_LEVEL=z \
	CARGO_PROFILE_RELEASE_LTO=true \
	CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1

# The cargo-package infrastructure vendors crates when it downloads a
# package, which a local one never is, and then builds with --offline.
# So vendor here, the same way: crates are fetched once into
# $(BR_CARGO_HOME) (under $(DL_DIR)) and later builds need no network.
# This runs before every build, so a changed Cargo.lock is picked up by
# mymap-read-rebuild. The workspace's own .cargo/config.toml (aliases,
# host cross linkers) is replaced: Buildroot sets the linker itself.
define MYMAP_READ_VENDOR_CRATES
	mkdir -p $(@D)/.cargo $(BR_CARGO_HOME)
	cd $(@D) && $(HOST_MAKE_ENV) $(PKG_COMMON_CARGO_ENV) \
		flock $(BR_CARGO_HOME)/.br-lock \
		cargo vendor --locked VENDOR > $(@D)/.cargo/config.toml
endef
MYMAP_READ_PRE_BUILD_HOOKS += MYMAP_READ_VENDOR_CRATES

# The workspace root is a virtual manifest, which `cargo install` (the
# infrastructure's install step) refuses: build the two binaries by name
# and install them from cargo's output directory.
MYMAP_READ_CARGO_BUILD_OPTS = $(addprefix --bin ,$(MYMAP_READ_BINS))

MYMAP_READ_BIN_DIR = \
	$(@D)/target/$(RUSTC_TARGET_NAME)/$(if $(BR2_ENABLE_DEBUG),debug,release)

define MYMAP_READ_INSTALL_TARGET_CMDS
	$(foreach bin,$(MYMAP_READ_BINS),
		$(INSTALL) -D -m 0755 $(MYMAP_READ_BIN_DIR)/$(bin) $(TARGET_DIR)/usr/bin/$(bin)
	)
endef

$(eval $(cargo-package))
