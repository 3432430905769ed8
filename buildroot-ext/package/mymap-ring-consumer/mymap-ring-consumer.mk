################################################################################
#
# mymap-ring-consumer
#
################################################################################

# A template for a product's own consumer program: copy this directory,
# rename the package (file names and variable prefixes), and point the
# site at the program's source.
MYMAP_RING_CONSUMER_SITE = $(BR2_EXTERNAL_MYMAP_PATH)/../userspace/examples
MYMAP_RING_CONSUMER_SITE_METHOD = local
MYMAP_RING_CONSUMER_VERSION = custom
MYMAP_RING_CONSUMER_LICENSE = GPL-2.0 or MIT

# mymap-driver installs <linux/mymap.h> and mymap.pc into staging
# (driver/Makefile, install-headers); Buildroot's pkg-config looks there.
MYMAP_RING_CONSUMER_DEPENDENCIES = mymap-driver host-pkgconf

define MYMAP_RING_CONSUMER_BUILD_CMDS
	$(TARGET_MAKE_ENV) $(TARGET_CC) $(TARGET_CFLAGS) \
		$$($(PKG_CONFIG_HOST_BINARY) --cflags mymap) \
		-o $(@D)/ring-consumer $(@D)/ring-consumer.c $(TARGET_LDFLAGS)
endef

define MYMAP_RING_CONSUMER_INSTALL_TARGET_CMDS
	$(INSTALL) -D -m 0755 $(@D)/ring-consumer \
		$(TARGET_DIR)/usr/bin/ring-consumer
endef

$(eval $(generic-package))
