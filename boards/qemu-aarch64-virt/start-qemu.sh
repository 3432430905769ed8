#!/bin/sh
#
# Boots the images of qemu_aarch64_virt_mymap_defconfig on QEMU's virt
# machine, with the console on this terminal (quit with Ctrl-A X).
# post-image.sh copies this script into the images directory, next to
# Image and rootfs.ext4; it uses the host-qemu Buildroot built unless
# given --use-system-qemu. Arguments after -- go to QEMU.

set -eu

IMAGES_DIR="$(cd "$(dirname "$0")" && pwd)"
HOST_BIN_DIR="${IMAGES_DIR}/../host/bin"

use_system_qemu=false
while [ "$#" -gt 0 ]; do
	case "$1" in
	--use-system-qemu)
		use_system_qemu=true
		shift
		;;
	--)
		shift
		break
		;;
	*)
		echo "usage: $0 [--use-system-qemu] [-- QEMU arguments]" >&2
		exit 1
		;;
	esac
done

if ! "${use_system_qemu}"; then
	PATH="${HOST_BIN_DIR}:${PATH}"
fi

exec qemu-system-aarch64 \
	-M virt -cpu cortex-a72 -smp 2 -m 1024 \
	-nographic \
	-kernel "${IMAGES_DIR}/Image" \
	-append "root=/dev/vda rootwait console=ttyAMA0" \
	-drive "file=${IMAGES_DIR}/rootfs.ext4,if=none,format=raw,id=hd0" \
	-device virtio-blk-device,drive=hd0 \
	"$@"
