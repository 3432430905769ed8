#!/bin/sh
#
# Buildroot post-image script of qemu_aarch64_virt_mymap_defconfig: puts
# start-qemu.sh next to Image and rootfs.ext4 in BINARIES_DIR. Running it
# again rewrites the same file.

set -eu

BOARD_DIR="$(dirname "$0")"

install -m 0755 "${BOARD_DIR}/start-qemu.sh" "${BINARIES_DIR}/start-qemu.sh"
