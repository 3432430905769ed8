#!/bin/sh
# Boot-path checks: the overlay's init script and udev rule did their job.

ok() { echo "MYMAP-TEST: ok boot/$1"; }
not_ok() { echo "MYMAP-TEST: not ok boot/$1: $2"; failed=1; }
failed=0

# The node udev created after S30mymap loaded the module.
if [ -c /dev/mymap ]; then
	ok node-exists
else
	not_ok node-exists "/dev/mymap is not a character device"
fi
# Type and mode, owner, group, from `ls -l`: the image has only the applets of
# Buildroot's default BusyBox, which has no `stat`.
# shellcheck disable=SC2012 # One fixed name, no globbing: ls -l is safe here.
perm=$(ls -l /dev/mymap 2>/dev/null | awk '{ print $1, $3, $4 }')
if [ "$perm" = "crw-rw---- root mymap" ]; then
	ok node-mode-owner-group
else
	not_ok node-mode-owner-group "got '$perm', want 'crw-rw---- root mymap'"
fi

# The driver's one load line, with size and device count.
if dmesg | grep -q 'mymap: 1 device(s) of 65536 bytes'; then
	ok load-message
else
	not_ok load-message "no 'mymap: 1 device(s) of 65536 bytes' in dmesg"
fi

# The module is installed with depmod, so modprobe finds it by name.
if grep -q 'mymap.ko' "/lib/modules/$(uname -r)/modules.dep"; then
	ok depmod
else
	not_ok depmod "mymap.ko not in modules.dep"
fi

if out=$(/etc/init.d/S30mymap status) && [ "$out" = "mymap is loaded: /dev/mymap" ]; then
	ok init-status
else
	not_ok init-status "status said '$out'"
fi

# stop unloads and the node goes; start loads and waits for the node.
if /etc/init.d/S30mymap stop >/dev/null && [ ! -d /sys/module/mymap ]; then
	ok init-stop
else
	not_ok init-stop "module still loaded after stop"
fi
if /etc/init.d/S30mymap start >/dev/null && [ -c /dev/mymap ]; then
	ok init-start
else
	not_ok init-start "no /dev/mymap after start"
fi

# A refused parameter makes start fail and say so.
cp /etc/default/mymap /tmp/mymap.default
echo 'MYMAP_ARGS="size=0"' >> /etc/default/mymap
/etc/init.d/S30mymap stop >/dev/null
if out=$(/etc/init.d/S30mymap start); then
	not_ok init-start-failure "start with size=0 succeeded: $out"
else
	case "$out" in
		*FAIL*) ok init-start-failure ;;
		*) not_ok init-start-failure "no FAIL in '$out'" ;;
	esac
fi
cp /tmp/mymap.default /etc/default/mymap
if /etc/init.d/S30mymap start >/dev/null && [ -c /dev/mymap ]; then
	ok init-restart-default
else
	not_ok init-restart-default "could not start again with the defaults"
fi

exit "$failed"
