#!/bin/sh
#
# Buildroot post-build script of raspberrypi4_defconfig and
# raspberrypi4_64_defconfig: adds a login on the HDMI console (tty1) next
# to the serial one. Running it again changes nothing.

set -eu

INITTAB="${TARGET_DIR}/etc/inittab"

# BusyBox init only; systemd starts getty@tty1 by itself.
if [ -f "${INITTAB}" ] && ! grep -q '^tty1::' "${INITTAB}"; then
	printf '%s\n' 'tty1::respawn:/sbin/getty -L tty1 0 vt100 # HDMI console' \
		>>"${INITTAB}"
fi
