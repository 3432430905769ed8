#!/bin/sh
#
# Buildroot post-image script of raspberrypi4_defconfig and
# raspberrypi4_64_defconfig: writes sdcard.img (a FAT boot partition with
# the firmware, config.txt, cmdline.txt, the upstream device tree, the
# board's overlays and the kernel, then rootfs.ext4) into BINARIES_DIR with
# genimage.
# Buildroot runs it with BINARIES_DIR and BUILD_DIR set; running it again
# rewrites the same files.

set -eu

BOARD_DIR="$(dirname "$0")"
GENIMAGE_CFG="${BINARIES_DIR}/genimage.cfg"
GENIMAGE_TMP="${BUILD_DIR}/genimage.tmp"

# The firmware boots the kernel config.txt names: zImage or Image.
kernel="$(sed -n 's/^kernel=//p' "${BINARIES_DIR}/rpi-firmware/config.txt")"
if [ -z "${kernel}" ]; then
	echo "post-image.sh: no kernel= line in rpi-firmware/config.txt" >&2
	exit 1
fi

# The board's device-tree overlays, next to the firmware's, for the
# dtoverlay= lines of config.txt.
mkdir -p "${BINARIES_DIR}/rpi-firmware/overlays"
for dts in "${BOARD_DIR}"/*.dts; do
	name="$(basename "${dts}" .dts)"
	"${HOST_DIR}/bin/dtc" -q -@ -I dts -O dtb \
		-o "${BINARIES_DIR}/rpi-firmware/overlays/${name}.dtbo" "${dts}"
done

# One genimage list entry per file, relative to BINARIES_DIR; the vfat
# image stores each under its base name.
boot_files=""
for file in "${BINARIES_DIR}"/*.dtb "${BINARIES_DIR}"/rpi-firmware/* \
	"${BINARIES_DIR}/${kernel}"; do
	if [ ! -e "${file}" ]; then
		echo "post-image.sh: missing ${file}" >&2
		exit 1
	fi
	boot_files="${boot_files}\t\t\t\"${file#"${BINARIES_DIR}/"}\",\n"
done

awk -v files="${boot_files}" \
	'$0 == "@BOOT_FILES@" { printf "%s", files; next } { print }' \
	"${BOARD_DIR}/genimage.cfg.in" >"${GENIMAGE_CFG}"

# genimage copies its root path; an empty one is enough, since
# rootfs.ext4 is already built.
ROOTPATH_TMP="$(mktemp -d)"
trap 'rm -rf "${ROOTPATH_TMP}"' EXIT

rm -rf "${GENIMAGE_TMP}"
genimage \
	--rootpath "${ROOTPATH_TMP}" \
	--tmppath "${GENIMAGE_TMP}" \
	--inputpath "${BINARIES_DIR}" \
	--outputpath "${BINARIES_DIR}" \
	--config "${GENIMAGE_CFG}"
