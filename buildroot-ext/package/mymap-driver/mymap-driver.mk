################################################################################
#
# mymap-driver
#
################################################################################

# The repository, of which only driver/ and the licence texts are copied;
# the module is built in driver/.
MYMAP_DRIVER_SITE = $(BR2_EXTERNAL_MYMAP_PATH)/..
MYMAP_DRIVER_SITE_METHOD = local
# A version, so that make legal-info treats it as a package with sources
# (Buildroot gives overridden packages the same one).
MYMAP_DRIVER_VERSION = custom
MYMAP_DRIVER_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--include=/driver/*** \
	--include=/COPYING \
	--include=/LICENSES/*** \
	--exclude=*
MYMAP_DRIVER_MODULE_SUBDIRS = driver

# make legal-info archives a local package's sources with an rsync of its
# own, which knows only RSYNC_VCS_EXCLUSIONS: give it the same filters.
mymap-driver-legal-info: RSYNC_VCS_EXCLUSIONS += \
	$(MYMAP_DRIVER_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS)

MYMAP_DRIVER_LICENSE = GPL-2.0, GPL-2.0 WITH Linux-syscall-note (UAPI header)
MYMAP_DRIVER_LICENSE_FILES = \
	COPYING \
	LICENSES/preferred/GPL-2.0 \
	LICENSES/exceptions/Linux-syscall-note

# What a Rust module needs from the kernel. Rust modules cannot be built
# against a kernel with MODVERSIONS unless it also has GENDWARFKSYMS, so
# turn it off rather than depend on the latter.
define MYMAP_DRIVER_LINUX_CONFIG_FIXUPS
	$(call KCONFIG_ENABLE_OPT,CONFIG_RUST)
	$(call KCONFIG_ENABLE_OPT,CONFIG_MODULES)
	$(call KCONFIG_ENABLE_OPT,CONFIG_MODULE_UNLOAD)
	$(call KCONFIG_DISABLE_OPT,CONFIG_MODVERSIONS)
endef

# What other packages build against (driver/Makefile, install-dev): the
# UAPI header at <linux/mymap.h> with mymap.pc, for C programs; and under
# /usr/src/mymap the producer API header <linux/mymap_ring.h> and
# mymap's Module.symvers, for kernel modules (see the
# mymap-sample-producer and mymap-ring-consumer templates). The
# kernel-module infrastructure has no staging hook, so the package's own
# install-staging step runs it after the module is built.
MYMAP_DRIVER_INSTALL_STAGING = YES
define MYMAP_DRIVER_INSTALL_STAGING_CMDS
	$(TARGET_MAKE_ENV) $(MAKE) -C $(@D)/driver install-dev \
		DESTDIR=$(STAGING_DIR)
endef

# The udev rule (rootfs-overlay/etc/udev/rules.d/60-mymap.rules) gives
# this group the device nodes.
define MYMAP_DRIVER_USERS
	- - mymap -1 * - - - Users of /dev/mymap
endef

$(eval $(kernel-module))
$(eval $(generic-package))
