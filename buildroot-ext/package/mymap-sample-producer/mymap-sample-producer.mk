################################################################################
#
# mymap-sample-producer
#
################################################################################

# A template for a product's own producer module: copy this directory,
# rename the package (file names and variable prefixes), and point the
# site at the module's source. The module's Kbuild takes mymap's headers
# from $(MYMAP_DIR)/include (ccflags-y := -I$(MYMAP_DIR)/include).
MYMAP_SAMPLE_PRODUCER_SITE = $(BR2_EXTERNAL_MYMAP_PATH)/../driver/samples
MYMAP_SAMPLE_PRODUCER_SITE_METHOD = local
MYMAP_SAMPLE_PRODUCER_VERSION = custom
MYMAP_SAMPLE_PRODUCER_LICENSE = GPL-2.0

# mymap-driver installs its producer API header and Module.symvers into
# staging, under /usr/src/mymap (driver/Makefile, install-dev); modpost
# needs the latter for the symbols the module uses, and writes
# "depends: mymap" into it, so modprobe loads mymap first.
MYMAP_SAMPLE_PRODUCER_DEPENDENCIES = mymap-driver
MYMAP_SAMPLE_PRODUCER_MODULE_MAKE_OPTS = \
	MYMAP_DIR=$(STAGING_DIR)/usr/src/mymap \
	KBUILD_EXTRA_SYMBOLS=$(STAGING_DIR)/usr/src/mymap/Module.symvers

$(eval $(kernel-module))
$(eval $(generic-package))
