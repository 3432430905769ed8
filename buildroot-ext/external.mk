include $(sort $(wildcard $(BR2_EXTERNAL_MYMAP_PATH)/package/*/*.mk))

# The defconfigs force hash checks, and patches/linux/linux.hash has no
# line for the kernel tarball yet: the first `make` would stop at the
# kernel's download with Buildroot's "No hash found", after building the
# toolchain and some 25 packages. Stop before anything is built instead,
# naming the fix. (Not with LINUX_OVERRIDE_SRCDIR, which downloads nothing;
# not for targets that build nothing, such as printvars or savedefconfig.)
MYMAP_LINUX_HASH_FILE = $(BR2_EXTERNAL_MYMAP_PATH)/patches/linux/linux.hash
ifeq ($(BR_BUILDING)$(BR2_LINUX_KERNEL)$(BR2_DOWNLOAD_FORCE_CHECK_HASHES),yyy)
ifeq ($(LINUX_OVERRIDE_SRCDIR),)
ifeq ($(shell grep -hsE '^sha256[[:space:]]+[0-9a-f]{64}[[:space:]]+$(LINUX_SOURCE)$$' $(LINUX_HASH_FILES)),)
$(error $(LINUX_SOURCE) has no hash in $(MYMAP_LINUX_HASH_FILE): run $(BR2_EXTERNAL_MYMAP_PATH)/linux-hash.sh, which adds it from kernel.org's signed sha256sums.asc; buildroot-ext/README.md, "Building an image", step 2)
endif
endif
endif
