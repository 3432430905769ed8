################################################################################
#
# mymap-driver
#
################################################################################

MYMAP_DRIVER_SITE = $(BR2_EXTERNAL_MYMAP_PATH)/../driver
MYMAP_DRIVER_SITE_METHOD = local
MYMAP_DRIVER_LICENSE = GPL-2.0

# What a Rust module needs from the kernel. Rust modules cannot be built
# against a kernel with MODVERSIONS unless it also has GENDWARFKSYMS, so
# turn it off rather than depend on the latter.
define MYMAP_DRIVER_LINUX_CONFIG_FIXUPS
	$(call KCONFIG_ENABLE_OPT,CONFIG_RUST)
	$(call KCONFIG_ENABLE_OPT,CONFIG_MODULES)
	$(call KCONFIG_ENABLE_OPT,CONFIG_MODULE_UNLOAD)
	$(call KCONFIG_DISABLE_OPT,CONFIG_MODVERSIONS)
endef

# The udev rule (rootfs-overlay/etc/udev/rules.d/60-mymap.rules) gives
# this group the device nodes.
define MYMAP_DRIVER_USERS
	- - mymap -1 * - - - Users of /dev/mymap
endef

$(eval $(kernel-module))
$(eval $(generic-package))
