#!/bin/sh
# The target test suite, run by `cargo xtask test` as the boot's job.
# Every suite prints `MYMAP-TEST: ok|not ok <suite>/<name>` lines, which the
# xtask counts; a suite that is missing or dies is reported here as a failure.
# Always exits 0: the verdict is in the lines.

dir=$(dirname "$0")

run_suite() {
	name=$1
	shift
	echo "MYMAP-SUITE: BEGIN $name"
	"$@"
	rc=$?
	# Exit status 1 means "some test failed", already reported line by line.
	if [ "$rc" -gt 1 ]; then
		echo "MYMAP-TEST: not ok $name/suite: exited with status $rc"
	fi
	echo "MYMAP-SUITE: END $name"
}

run_suite boot sh "$dir/boot.sh"
run_suite driver /usr/libexec/mymap/mymap-target-tests
if [ -x /usr/libexec/mymap/mymap-target-tests-compat ]; then
	run_suite driver-compat /usr/libexec/mymap/mymap-target-tests-compat --compat
fi
if [ -f "$dir/mymap-read.sh" ]; then
	run_suite mymap-read sh "$dir/mymap-read.sh"
else
	echo "MYMAP-TEST: not ok mymap-read/suite: $dir/mymap-read.sh is missing"
fi

# Everything the kernel logged, for the xtask's splat scan (the console
# shows only messages up to its log level).
echo "MYMAP-DMESG: BEGIN"
dmesg
echo "MYMAP-DMESG: END"
exit 0
