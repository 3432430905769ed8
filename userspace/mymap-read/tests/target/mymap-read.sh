#!/bin/sh
# mymap-read's target tests: mymap-read and mymapctl against the real module.
#
# Runs on the target as root, with the module loaded (default parameters:
# /dev/mymap and one ring, /dev/mymap-ring0); tests/target/run-all.sh starts it. Every case prints one
# line, `MYMAP-TEST: ok mymap-read/<name>` or
# `MYMAP-TEST: not ok mymap-read/<name>: <reason>`, and the script exits 0:
# the verdict is in the lines. Every command runs under `limited`, so nothing
# can hang the boot.
#
# No `set -e`: a failed check must be reported, and the next case run.
# shellcheck disable=SC2317 # Cases and cleanup are called through case_ and trap.
set -u

SUITE=mymap-read
DEV=/dev/mymap
SIZE=65536
# Ring 0 with the module's defaults (ring_size=262144).
RING=/dev/mymap-ring0
RING_SIZE=262144
# Seconds any single command may take.
LIMIT=20
# Where the tools are installed; MYMAP_TEST_BIN points elsewhere for a dry run.
BIN=${MYMAP_TEST_BIN:-/usr/bin}
READ=$BIN/mymap-read
CTL=$BIN/mymapctl

CONFIGFS=/sys/kernel/config
SIM=$CONFIGFS/gpio-sim/mymaptest
# The simulated chip's label, which the module parameter gpio= names.
SIM_LABEL=mymaptest
mounted_configfs=""

T=$(mktemp -d /tmp/mymap-read-test.XXXXXX) || {
	echo "MYMAP-TEST: not ok $SUITE/setup: mktemp failed"
	exit 0
}

cleanup() {
	gpio_sim_down
	if [ -n "$mounted_configfs" ]; then
		umount "$CONFIGFS"
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# --- helpers ----------------------------------------------------------------

# case NAME FUNCTION: runs FUNCTION, which sets `why` and returns 1 on failure.
case_() {
	why=""
	if "$2"; then
		echo "MYMAP-TEST: ok $SUITE/$1"
	else
		echo "MYMAP-TEST: not ok $SUITE/$1: ${why:-failed}"
	fi
}

fail() {
	why=$*
	return 1
}

# limited CMD...: runs CMD, stdin passed on, and kills it with SIGTERM after
# LIMIT seconds; returns its exit status. The image has only the applets of
# Buildroot's default BusyBox, which has no `timeout`. CMD runs in the
# background so that a watchdog can poll it; a background command's stdin
# would be /dev/null, hence the copy through file descriptor 3.
limited() {
	{ "$@" <&3 3<&- &
	} 3<&0
	limited_pid=$!
	(
		tenths=$((LIMIT * 10))
		while kill -0 "$limited_pid" 2>/dev/null; do
			if [ "$tenths" -le 0 ]; then
				kill "$limited_pid"
				break
			fi
			tenths=$((tenths - 1))
			sleep 0.1
		done
	) 3<&- >/dev/null 2>&1 &
	limited_dog=$!
	wait "$limited_pid"
	limited_rc=$?
	# The watchdog is not needed any more; silence the shell's "Terminated".
	kill "$limited_dog" 2>/dev/null
	wait "$limited_dog" 2>/dev/null
	return "$limited_rc"
}

# run CMD...: runs CMD under the time limit; sets rc, and out and err (their
# text without trailing newlines; the bytes are in $T/out and $T/err).
run() {
	limited "$@" >"$T/out" 2>"$T/err"
	rc=$?
	out=$(cat "$T/out")
	err=$(cat "$T/err")
}

# expect_ok WHAT: fails unless the last run exited 0 with an empty stderr.
expect_ok() {
	[ "$rc" -eq 0 ] || fail "$1: exit status $rc, stderr: $err" || return 1
	[ -z "$err" ] || fail "$1: unexpected stderr: $err"
}

# expect_eq ACTUAL WANTED WHAT
expect_eq() {
	[ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"
}

# same_file A B WHAT: fails unless files A and B have the same bytes.
same_file() {
	cmp -s "$1" "$2" || fail "$3: $(cmp "$1" "$2" 2>&1 | head -n 1)"
}

# nap: a tenth of a second where sleep takes fractions, else a second.
nap() {
	sleep 0.1 2>/dev/null || sleep 1
}

# wait_until TRIES COMMAND...: polls COMMAND every nap until it succeeds.
wait_until() {
	tries=$1
	shift
	while ! "$@"; do
		[ "$tries" -gt 0 ] || return 1
		tries=$((tries - 1))
		nap
	done
}

# lines_in FILE N: FILE exists and has at least N lines.
lines_in() {
	[ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]
}

# put OFFSET TEXT: writes TEXT and a NUL at OFFSET through mymapctl.
put() {
	limited "$CTL" write --offset "$1" --nul "$2" 2>"$T/ctl.err" ||
		fail "mymapctl write --offset $1 failed: $(cat "$T/ctl.err")"
}

# ctl ARGS...: runs mymapctl ARGS, stdin passed on; fails with its stderr.
ctl() {
	limited "$CTL" "$@" 2>"$T/ctl.err" ||
		fail "mymapctl $*: $(cat "$T/ctl.err")"
}

# info_field NAME: the value of NAME in `mymap-read --info`.
info_field() {
	limited "$READ" --info 2>&1 | sed -n "s/^$1: //p"
}

# pattern SEQ LEN: writes the payload of the built-in producers for sequence
# number SEQ (mymap.h): its little-endian bytes, then its low byte. The test
# sequence numbers stay below 2^32, so bytes 4 to 7 are 0.
pattern() {
	i=0
	while [ "$i" -lt "$2" ]; do
		if [ "$i" -lt 4 ]; then
			b=$((($1 >> (8 * i)) & 255))
		elif [ "$i" -lt 8 ]; then
			b=0
		else
			b=$(($1 & 255))
		fi
		# shellcheck disable=SC2059 # The format is the octal escape of the byte.
		printf "\\$(printf '%03o' "$b")"
		i=$((i + 1))
	done
}

# consecutive FILE: FILE holds one number a line, each one more than the last.
consecutive() {
	awk 'NR > 1 && $1 != prev + 1 { bad = 1 } { prev = $1 } END { exit bad }' "$1"
}

# ring_field NAME: the value of NAME in `mymapctl ring stats`.
ring_field() {
	limited "$CTL" ring stats 2>&1 | sed -n "s/^$1: //p"
}

# drain: reads every record waiting in ring 0, so that a case starts empty.
drain() {
	limited "$READ" --ring 0 --timeout 200 >/dev/null 2>"$T/drain.err"
	[ $? -eq 3 ] || fail "draining $RING: $(cat "$T/drain.err")"
}

# --- cases: reading ---------------------------------------------------------

t_tools() {
	for tool in awk base64 cmp dd env grep head hexdump id mktemp od sed sort su tail tr wc; do
		command -v "$tool" >/dev/null || fail "the image has no '$tool'" || return 1
	done
	[ -x "$READ" ] || fail "$READ is missing" || return 1
	[ -x "$CTL" ] || fail "$CTL is missing"
}

t_greeting() {
	# A fresh load, so that the buffer holds only what the kernel wrote.
	if [ -x /etc/init.d/S30mymap ]; then
		limited /etc/init.d/S30mymap restart >"$T/init" 2>&1 ||
			fail "S30mymap restart: $(cat "$T/init")" || return 1
	else
		{ limited rmmod mymap && limited modprobe mymap; } ||
			fail "could not reload the module" || return 1
		wait_until 100 test -c "$DEV" || fail "$DEV did not come back" || return 1
	fi
	run "$READ"
	expect_ok "mymap-read" || return 1
	expect_eq "$out" "hello world from kernel space" "text" || return 1
	run "$READ" --via read
	expect_eq "$out" "hello world from kernel space" "text --via read"
}

t_text_stops_at_nul() {
	# Through a file: the last command of a pipeline may run in a subshell.
	printf 'first\000second\000' >"$T/in"
	ctl write --offset 0 <"$T/in" || return 1
	run "$READ"
	expect_ok "mymap-read" || return 1
	expect_eq "$out" "first" "text"
}

t_text_at_offset() {
	put 5000 "at five thousand" || return 1
	run "$READ" --offset 5000
	expect_ok "mymap-read --offset 5000" || return 1
	expect_eq "$out" "at five thousand" "text" || return 1
	run "$READ" --offset 0x1388 --length 2
	expect_eq "$out" "at" "text with --length 2"
}

t_info() {
	run "$READ" --info
	expect_ok "mymap-read --info" || return 1
	printf '%s\n' "$out" >"$T/info"
	expect_eq "$(sed -n 's/^device: //p' "$T/info")" "$DEV" "device" || return 1
	expect_eq "$(sed -n 's/^abi_version: //p' "$T/info")" 1 "abi_version" || return 1
	expect_eq "$(sed -n 's/^size: //p' "$T/info")" "$SIZE" "size" || return 1
	expect_eq "$(sed -n 's/^index: //p' "$T/info")" 0 "index" || return 1
	page=$(sed -n 's/^page_size: //p' "$T/info")
	case "$page" in
		4096 | 16384 | 65536) ;;
		*) fail "page_size: got '$page'" || return 1 ;;
	esac
	run "$CTL" info
	expect_ok "mymapctl info" || return 1
	expect_eq "$out" "$(cat "$T/info")" "mymapctl info against mymap-read --info" || return 1
	run "$READ" --info --json
	expect_ok "mymap-read --info --json" || return 1
	case "$out" in
		'{"device":"/dev/mymap","info":{"abi_version":1,'*'"size":65536,'*'}}') ;;
		*) fail "json: $out" ;;
	esac
}

t_clear() {
	before=$(info_field clears)
	put 100 "not for long" || return 1
	run "$CTL" clear
	expect_ok "mymapctl clear" || return 1
	after=$(info_field clears)
	expect_eq "$after" "$((before + 1))" "clears counter" || return 1
	run "$READ" --raw
	expect_ok "mymap-read --raw" || return 1
	head -c "$SIZE" /dev/zero >"$T/zero"
	same_file "$T/out" "$T/zero" "buffer after clear" || return 1
	run "$READ"
	expect_eq "$out" "" "text of a cleared buffer"
}

t_raw_whole_buffer() {
	dd if=/dev/urandom of="$T/random" bs=4096 count=16 2>/dev/null ||
		fail "no random data" || return 1
	ctl write <"$T/random" || return 1
	run "$READ" --raw
	expect_ok "mymap-read --raw" || return 1
	expect_eq "$(wc -c <"$T/out")" "$SIZE" "bytes" || return 1
	same_file "$T/out" "$T/random" "--raw (mmap) against what was written" || return 1
	# The kernel's read() path, not through mymap-read.
	limited dd if="$DEV" of="$T/dd" bs=4096 count=16 2>/dev/null
	same_file "$T/dd" "$T/random" "dd of the device against what was written"
}

t_via_read_equals_mmap() {
	# Ranges: whole, page-aligned, unaligned, across pages, the last byte.
	for range in "0 $SIZE" "4096 4096" "1 17" "4000 200" "8191 2" "65535 1"; do
		# shellcheck disable=SC2086 # Split "OFFSET LENGTH" into $1 and $2.
		set -- $range
		limited "$READ" --raw --via mmap --offset "$1" --length "$2" >"$T/mmap" ||
			fail "--via mmap --offset $1 --length $2 failed" || return 1
		limited "$READ" --raw --via read --offset "$1" --length "$2" >"$T/read" ||
			fail "--via read --offset $1 --length $2 failed" || return 1
		expect_eq "$(wc -c <"$T/mmap")" "$2" "bytes of --offset $1 --length $2" || return 1
		same_file "$T/mmap" "$T/read" "--via mmap against --via read at $1+$2" || return 1
		tail -c "+$(($1 + 1))" "$T/random" | head -c "$2" >"$T/want"
		same_file "$T/mmap" "$T/want" "--offset $1 --length $2 against what was written" ||
			return 1
	done
}

t_hex_matches_hexdump() {
	# Random data: every line differs.
	run "$READ" --hex
	expect_ok "mymap-read --hex" || return 1
	hexdump -C "$T/random" >"$T/want"
	same_file "$T/out" "$T/want" "--hex of random data against hexdump -C" || return 1
	# Mostly zeros: repeated lines collapse into '*'.
	ctl clear || return 1
	put 0 "hello" && put 0x2345 "middle" && put 65530 "end" || return 1
	limited "$READ" --raw >"$T/raw" || fail "mymap-read --raw failed" || return 1
	run "$READ" --hex
	expect_ok "mymap-read --hex" || return 1
	hexdump -C "$T/raw" >"$T/want"
	same_file "$T/out" "$T/want" "--hex of sparse data against hexdump -C" || return 1
	grep -qx '\*' "$T/out" || fail "no '*' line in the dump of a sparse buffer"
}

t_hex_offsets() {
	put 4100 "HELLO-HEX-TEST!!abcd" || return 1
	run "$READ" --hex --offset 4100 --length 20
	expect_ok "mymap-read --hex --offset 4100 --length 20" || return 1
	want="00001004  48 45 4c 4c 4f 2d 48 45  58 2d 54 45 53 54 21 21  |HELLO-HEX-TEST!!|
00001014  61 62 63 64                                       |abcd|
00001018"
	expect_eq "$out" "$want" "hexdump"
}

t_json() {
	put 0 "json-test" || return 1
	run "$READ" --json --length 16
	expect_ok "mymap-read --json" || return 1
	expect_eq "$(wc -l <"$T/out")" 1 "lines" || return 1
	for field in '"device":"/dev/mymap"' '"via":"mmap"' '"offset":0' '"length":16' \
		'"text":"json-test"' '"size":65536'; do
		case "$out" in
			*"$field"*) ;;
			*) fail "no $field in $out" || return 1 ;;
		esac
	done
	limited "$READ" --raw --length 16 | base64 >"$T/b64"
	b64=$(cat "$T/b64")
	case "$out" in
		*"\"data_base64\":\"$b64\""*) ;;
		*) fail "data_base64 is not '$b64': $out" ;;
	esac
	run "$READ" --json --via read --offset 4096 --length 4
	case "$out" in
		*'"via":"read"'*'"offset":4096,"length":4,'*) ;;
		*) fail "--json --via read --offset 4096: $out" ;;
	esac
}

t_write_via_mmap() {
	# Across a page boundary, so the writable mapping spans two pages.
	run "$CTL" write --via mmap --offset 8190 "across-pages"
	expect_ok "mymapctl write --via mmap" || return 1
	run "$READ" --raw --via read --offset 8190 --length 12
	expect_eq "$out" "across-pages" "read back with pread"
}

t_broken_pipe() {
	# --hex of random data is far larger than a pipe buffer: writes fail with EPIPE.
	ctl write <"$T/random" || return 1
	for args in "" "--hex" "--raw"; do
		# shellcheck disable=SC2086 # $args is zero or one option.
		{
			limited "$READ" $args 2>"$T/err"
			echo $? >"$T/rc"
		} | head -c 1 >/dev/null
		expect_eq "$(cat "$T/rc")" 0 "exit status of 'mymap-read $args | head -c 1'" ||
			return 1
		expect_eq "$(cat "$T/err")" "" "stderr of 'mymap-read $args | head -c 1'" || return 1
	done
}

# --- cases: following -------------------------------------------------------

t_follow_sees_change() {
	put 0 "before" || return 1
	# Through read(), which the driver serialises with the write: a snapshot
	# through the mapping could catch the write half done.
	limited "$READ" --follow --via read --count 2 --interval 20 --timeout 15000 \
		>"$T/follow" 2>"$T/follow.err" &
	pid=$!
	wait_until 100 lines_in "$T/follow" 1 || fail "no first snapshot" || return 1
	put 0 "after" || return 1
	wait "$pid"
	rc=$?
	expect_eq "$rc" 0 "exit status ($(cat "$T/follow.err"))" || return 1
	expect_eq "$(cat "$T/follow")" "before
after" "snapshots"
}

t_follow_times_out() {
	run "$READ" --follow --count 2 --interval 20 --timeout 300
	expect_eq "$rc" 3 "exit status" || return 1
	expect_eq "$(wc -l <"$T/out")" 1 "snapshots printed" || return 1
	case "$err" in
		"mymap-read: error: timed out after 300 ms"*) ;;
		*) fail "stderr: $err" ;;
	esac
}

# --- cases: GPIO --------------------------------------------------------------

gpio_sim_up() {
	if ! grep -q " $CONFIGFS configfs " /proc/mounts; then
		mount -t configfs none "$CONFIGFS" || fail "cannot mount configfs" || return 1
		mounted_configfs=1
	fi
	[ -d "$CONFIGFS/gpio-sim" ] || fail "no $CONFIGFS/gpio-sim (CONFIG_GPIO_SIM)" || return 1
	mkdir "$SIM" "$SIM/gpio-bank0" || fail "mkdir $SIM/gpio-bank0 failed" || return 1
	echo 8 >"$SIM/gpio-bank0/num_lines" || fail "num_lines refused" || return 1
	echo "$SIM_LABEL" >"$SIM/gpio-bank0/label" || fail "label refused" || return 1
	mkdir "$SIM/gpio-bank0/line0" || fail "mkdir line0 failed" || return 1
	echo 1 >"$SIM/live" || fail "the chip would not go live" || return 1
	chip=$(cat "$SIM/gpio-bank0/chip_name")
	pull=/sys/devices/platform/$(cat "$SIM/dev_name")/$chip/sim_gpio0/pull
	if [ -z "$chip" ] || [ ! -w "$pull" ]; then
		pull=""
		fail "no chip name or no $pull"
		return 1
	fi
	wait_until 100 test -c "/dev/$chip" || fail "/dev/$chip did not appear"
}

gpio_sim_down() {
	[ -d "$SIM" ] || return 0
	if [ "$(cat "$SIM/live")" = 1 ]; then
		echo 0 >"$SIM/live"
	fi
	if [ -d "$SIM/gpio-bank0/line0" ]; then
		rmdir "$SIM/gpio-bank0/line0"
	fi
	if [ -d "$SIM/gpio-bank0" ]; then
		rmdir "$SIM/gpio-bank0"
	fi
	rmdir "$SIM"
}

# edges_until FILE N: pulls line 0 down and up until FILE has N lines (edges
# before the line is requested are missed), at most 50 times.
edges_until() {
	tries=50
	while ! lines_in "$1" "$2"; do
		[ "$tries" -gt 0 ] || return 1
		tries=$((tries - 1))
		echo pull-down >"$pull"
		nap
		echo pull-up >"$pull"
		nap
	done
}

t_gpio_setup() {
	gpio_sim_up
}

t_wait_gpio() {
	[ -n "${pull:-}" ] || fail "no gpio-sim chip" || return 1
	put 0 "on edge" || return 1
	limited "$READ" --wait-gpio "$chip:0" --edge rising --timeout 15000 --json \
		>"$T/gpio" 2>"$T/gpio.err" &
	pid=$!
	edges_until "$T/gpio" 1 ||
		fail "no snapshot after 50 rising edges: $(cat "$T/gpio.err")" || return 1
	wait "$pid"
	rc=$?
	expect_eq "$rc" 0 "exit status ($(cat "$T/gpio.err"))" || return 1
	expect_eq "$(wc -l <"$T/gpio")" 1 "snapshots" || return 1
	out=$(cat "$T/gpio")
	for field in "\"chip\":\"/dev/$chip\"" '"line":0' '"kind":"rising"' '"text":"on edge"'; do
		case "$out" in
			*"$field"*) ;;
			*) fail "no $field in $out" || return 1 ;;
		esac
	done
}

t_wait_gpio_follow() {
	[ -n "${pull:-}" ] || fail "no gpio-sim chip" || return 1
	put 0 "on edge" || return 1
	echo pull-down >"$pull"
	limited "$READ" --wait-gpio "$chip:0" --follow --count 3 --timeout 15000 \
		>"$T/gpio" 2>"$T/gpio.err" &
	pid=$!
	edges_until "$T/gpio" 3 ||
		fail "fewer than 3 snapshots after 100 edges: $(cat "$T/gpio.err")" || return 1
	wait "$pid"
	rc=$?
	expect_eq "$rc" 0 "exit status ($(cat "$T/gpio.err"))" || return 1
	expect_eq "$(wc -l <"$T/gpio")" 3 "snapshots, one per edge" || return 1
	expect_eq "$(sort -u "$T/gpio")" "on edge" "text of each snapshot"
}

t_wait_gpio_times_out() {
	[ -n "${pull:-}" ] || fail "no gpio-sim chip" || return 1
	run "$READ" --wait-gpio "$chip:0" --timeout 300
	expect_eq "$rc" 3 "exit status" || return 1
	expect_eq "$out" "" "stdout" || return 1
	case "$err" in
		"mymap-read: error: timed out after 300 ms waiting for an edge on /dev/$chip:0"*) ;;
		*) fail "stderr: $err" ;;
	esac
}

t_wait_gpio_no_chip() {
	run "$READ" --wait-gpio /dev/nonexistent-gpiochip:0 --timeout 1000
	expect_eq "$rc" 1 "exit status" || return 1
	case "$err" in
		"mymap-read: error: /dev/nonexistent-gpiochip:0: cannot watch the GPIO line"*) ;;
		*) fail "stderr: $err" ;;
	esac
}

# --- cases: rings -------------------------------------------------------------

t_ring_setup() {
	# The greeting case reloaded the module: wait for the ring's node too.
	wait_until 100 test -c "$RING" || fail "$RING did not appear" || return 1
	ctl ring stop && ctl ring wakeup caught-up || return 1
	drain
}

t_ring_info() {
	run "$CTL" ring info
	expect_ok "mymapctl ring info" || return 1
	printf '%s\n' "$out" >"$T/ring-info"
	for pair in "ring $RING" "abi_version 1" "index 0" "data_size $RING_SIZE" \
		"max_payload $((RING_SIZE / 4 - 24))" "header_size 24" "consumer_claimed 0"; do
		# shellcheck disable=SC2086 # Split "NAME VALUE" into $1 and $2.
		set -- $pair
		expect_eq "$(sed -n "s/^$1: //p" "$T/ring-info")" "$2" "$1" || return 1
	done
	run "$CTL" ring --ring "$RING" info --json
	expect_ok "mymapctl ring --ring $RING info --json" || return 1
	case "$out" in
		'{"ring":"'"$RING"'","info":{"abi_version":1,'*'"data_size":'"$RING_SIZE"','*'}}') ;;
		*) fail "json: $out" ;;
	esac
}

t_ring_timer_json() {
	ctl ring start --rate 1000 --len 16 || return 1
	run "$READ" --ring 0 --count 5 --json --timeout 5000
	ctl ring stop || return 1
	expect_ok "mymap-read --ring 0 --count 5 --json" || return 1
	expect_eq "$(wc -l <"$T/out")" 5 "records" || return 1
	sed -n 's/^{"seq":\([0-9]*\),.*"source_name":"timer".*"len":16,.*/\1/p' "$T/out" >"$T/seqs"
	expect_eq "$(wc -l <"$T/seqs")" 5 "timer records of 16 bytes in $out" || return 1
	consecutive "$T/seqs" || fail "sequence numbers not consecutive: $(tr '\n' ' ' <"$T/seqs")" ||
		return 1
	# Each payload is the producer's pattern for its sequence number.
	while read -r line; do
		seq=$(printf '%s\n' "$line" | sed 's/^{"seq":\([0-9]*\),.*/\1/')
		got=$(printf '%s\n' "$line" | sed 's/.*"data_base64":"\([^"]*\)".*/\1/')
		want=$(pattern "$seq" 16 | base64)
		expect_eq "$got" "$want" "payload of seq $seq" || return 1
	done <"$T/out"
}

t_ring_timeout() {
	# The timer is stopped: what is left is read, then nothing comes.
	drain || return 1
	run "$READ" --ring 0 --timeout 300
	expect_eq "$rc" 3 "exit status ($err)" || return 1
	expect_eq "$out" "" "stdout" || return 1
	case "$err" in
		"mymap-read: error: timed out after 300 ms waiting for a record on $RING (0 record(s) printed)") ;;
		*) fail "stderr: $err" ;;
	esac
}

t_ring_inject_count() {
	run "$CTL" ring inject 10 --len 8
	expect_ok "mymapctl ring inject 10" || return 1
	case "$out" in
		*"produced: 10"*"dropped: 0"*) ;;
		*) fail "inject: $out" || return 1 ;;
	esac
	run "$READ" --ring --count 10
	expect_ok "mymap-read --ring --count 10" || return 1
	expect_eq "$(wc -l <"$T/out")" 10 "lines" || return 1
	expect_eq "$(grep -c ' source=inject flags=0x0000 len=8 data=' "$T/out")" 10 \
		"inject records of 8 bytes in: $out" || return 1
	sed 's/^seq=\([0-9]*\) .*/\1/' "$T/out" >"$T/seqs"
	consecutive "$T/seqs" || fail "sequence numbers not consecutive: $(tr '\n' ' ' <"$T/seqs")" ||
		return 1
	seq=$(head -n 1 "$T/seqs")
	want=$(pattern "$seq" 8 | od -An -tx1 | tr -d ' \n')
	expect_eq "$(head -n 1 "$T/out" | sed 's/.* data=//')" "$want" "preview of seq $seq" ||
		return 1
	# Exactly ten were waiting.
	run "$READ" --ring --timeout 200
	expect_eq "$rc" 3 "exit status after the ten ($err)" || return 1
	expect_eq "$out" "" "records after the ten"
}

t_ring_hex() {
	ctl ring inject 1 --len 20 >/dev/null || return 1
	run "$READ" --ring --hex --count 1
	expect_ok "mymap-read --ring --hex --count 1" || return 1
	head -n 1 "$T/out" >"$T/summary"
	case "$(cat "$T/summary")" in
		"seq="*" source=inject flags=0x0000 len=20") ;;
		*) fail "summary: $(cat "$T/summary")" || return 1 ;;
	esac
	seq=$(sed 's/^seq=\([0-9]*\) .*/\1/' "$T/summary")
	pattern "$seq" 20 >"$T/payload"
	hexdump -C "$T/payload" >"$T/want"
	tail -n +2 "$T/out" >"$T/dump"
	same_file "$T/dump" "$T/want" "--hex against hexdump -C of the pattern"
}

t_ring_drops_reported() {
	# More than the ring holds: the injector drops the rest, and says how many.
	drain || return 1
	run "$CTL" ring inject 300 --len 1000
	expect_ok "mymapctl ring inject 300 --len 1000" || return 1
	produced=$(printf '%s\n' "$out" | sed -n 's/^produced: //p')
	dropped=$(printf '%s\n' "$out" | sed -n 's/^dropped: //p')
	expect_eq "$((produced + dropped))" 300 "produced + dropped" || return 1
	[ "$dropped" -gt 0 ] || fail "nothing dropped: $out" || return 1
	limited "$READ" --ring --count "$((produced + 1))" --json --timeout 10000 \
		>"$T/drops" 2>"$T/drops.err" &
	pid=$!
	wait_until 100 lines_in "$T/drops" "$produced" ||
		fail "fewer than $produced records read: $(cat "$T/drops.err")" || return 1
	# One more record, after the gap.
	ctl ring inject 1 --len 8 >/dev/null || return 1
	wait "$pid"
	rc=$?
	expect_eq "$rc" 0 "exit status ($(cat "$T/drops.err"))" || return 1
	last=$(tail -n 1 "$T/drops")
	case "$last" in
		*'"dropped_before":'"$dropped"','*) ;;
		*) fail "last record does not count $dropped drops: $last" || return 1 ;;
	esac
	grep -q "^mymap-read: warning: $RING: $dropped record(s) dropped before seq " \
		"$T/drops.err" || fail "no drop warning: $(cat "$T/drops.err")"
}

t_ring_busy() {
	# The first reader holds the claim until it has seen nothing for 10 s (under
	# LIMIT): the second consumer starts after the claim is seen, and must find it
	# still held. With 1.5 s, a debug kernel on a loaded host once started the
	# second one after the first had let go (exit 3, not 1).
	limited "$READ" --ring --timeout 10000 >/dev/null 2>&1 &
	pid=$!
	wait_until 100 sh -c "'$CTL' ring info | grep -qx 'consumer_claimed: 1'" ||
		fail "the first reader never claimed the ring" || return 1
	run "$READ" --ring --timeout 100
	# Statistics need no claim.
	limited "$CTL" ring stats >/dev/null 2>&1
	stats_rc=$?
	wait "$pid"
	first_rc=$?
	expect_eq "$rc" 1 "exit status of a second consumer" || return 1
	case "$err" in
		"mymap-read: error: $RING: another process is consuming this ring"*) ;;
		*) fail "stderr: $err" || return 1 ;;
	esac
	expect_eq "$stats_rc" 0 "mymapctl ring stats while claimed" || return 1
	expect_eq "$first_rc" 3 "exit status of the first reader" || return 1
	run "$CTL" ring info
	case "$out" in
		*"consumer_claimed: 0"*) ;;
		*) fail "the claim outlived its reader: $out" ;;
	esac
}

t_ring_wakeup() {
	ctl ring wakeup watermark --bytes 4096 --max-latency 5ms || return 1
	run "$CTL" ring wakeup
	expect_ok "mymapctl ring wakeup" || return 1
	expect_eq "$out" "ring: $RING
policy: watermark
watermark: 4096
max_latency_ns: 5000000" "policy" || return 1
	ctl ring wakeup every || return 1
	run "$CTL" ring wakeup
	expect_eq "$out" "ring: $RING
policy: every" "policy after 'every'" || return 1
	run "$CTL" ring wakeup watermark --bytes 0
	expect_eq "$rc" 2 "exit status of a refused watermark ($err)" || return 1
	case "$err" in
		"mymapctl: error: $RING: ioctl MYMAP_RING_IOC_SET_WAKEUP refused the settings"*) ;;
		*) fail "stderr: $err" || return 1 ;;
	esac
	ctl ring wakeup caught-up
}

t_ring_timer_stats() {
	ctl ring start --period 1ms --len 32 || return 1
	period=$(ring_field timer_period_ns)
	len=$(ring_field timer_len)
	ctl ring stop || return 1
	expect_eq "$period" 1000000 "timer_period_ns while running" || return 1
	expect_eq "$len" 32 "timer_len while running" || return 1
	expect_eq "$(ring_field timer_period_ns)" 0 "timer_period_ns once stopped" || return 1
	run "$CTL" ring start --period 1us
	expect_eq "$rc" 2 "exit status of a refused period ($err)" || return 1
	case "$err" in
		*"refused the settings"*"the period must be 10 us to 10 s"*) ;;
		*) fail "stderr: $err" ;;
	esac
}

t_ring_broken_pipe() {
	drain || return 1
	ctl ring inject 2000 --len 64 >/dev/null || return 1
	# 2000 lines are more than a pipe holds: the writes fail with EPIPE.
	{
		limited "$READ" --ring --timeout 5000 2>"$T/err"
		echo $? >"$T/rc"
	} | head -n 1 >/dev/null
	expect_eq "$(cat "$T/rc")" 0 "exit status of 'mymap-read --ring | head -n 1'" || return 1
	if grep -q error "$T/err"; then
		fail "stderr of 'mymap-read --ring | head -n 1': $(cat "$T/err")" || return 1
	fi
	drain
}

# ring-gpio-stream: the GPIO producer (module parameter gpio=) streams the
# gpio-sim line's edges into ring 0. gpio-sim's chip sleeps, so the driver
# infers edge and value (flag MYMAP_GPIO_INFERRED, 0x01). A record's payload
# is the line offset (4 bytes, little-endian here), edge (1 rising, 2 falling),
# value and flags; the header's flags are the edge. Reloads the module, and
# leaves it with default parameters.
t_ring_gpio_stream() {
	[ -n "${pull:-}" ] || fail "no gpio-sim chip" || return 1
	echo pull-down >"$pull" || fail "pull-down refused" || return 1
	gpio_stream
	streamed=$?
	streamed_why=$why
	if [ -d /sys/module/mymap ]; then
		limited rmmod mymap || fail "rmmod after the stream failed" || return 1
	fi
	limited modprobe mymap || fail "could not load the module again" || return 1
	wait_until 100 test -c "$RING" || fail "$RING did not come back" || return 1
	[ "$streamed" -eq 0 ] || fail "$streamed_why" || return 1
	expect_ok "mymap-read --ring --count 4" || return 1
	expect_eq "$(sed 's/ time=[0-9]*\.[0-9]* / /' "$T/out")" \
		"seq=0 source=gpio flags=0x0001 len=8 data=0000000001010100
seq=1 source=gpio flags=0x0002 len=8 data=0000000002000100
seq=2 source=gpio flags=0x0001 len=8 data=0000000001010100
seq=3 source=gpio flags=0x0002 len=8 data=0000000002000100" "records (time left out)"
}

# gpio_stream: loads the module with the gpio-sim line on ring 0, makes four
# edges and runs `mymap-read --ring --count 4` (rc, out, err).
gpio_stream() {
	limited rmmod mymap && limited modprobe mymap "gpio=$SIM_LABEL:0,both" ||
		fail "could not load the module with gpio=$SIM_LABEL:0,both" || return 1
	wait_until 100 test -c "$RING" || fail "$RING did not appear" || return 1
	# The ring keeps the records until a consumer comes. A nap after each
	# edge lets gpio-sim's interrupt run before the next one (it merges the
	# edges it has not delivered yet).
	for level in up down up down; do
		echo "pull-$level" >"$pull" || fail "pull-$level refused" || return 1
		nap
	done
	run "$READ" --ring --count 4 --timeout 5000
}

# --- cases: the GPIO player (mymapctl play) ----------------------------------

# The module parameter that gives tx ring 0 a player on lines 1 and 2 of the
# gpio-sim chip (line 0 is the input the cases above pull): line 0 of the
# player's set is chip line 1, line 1 is chip line 2.
PLAYER="player=$SIM_LABEL:1+2"

# sim_value LINE: the value gpio-sim shows for chip line LINE.
sim_value() {
	cat "${pull%/sim_gpio0/pull}/sim_gpio$1/value"
}

# with_player FUNCTION: loads the module with $PLAYER, runs FUNCTION, and loads
# it again with its defaults whatever FUNCTION did; returns FUNCTION's verdict.
with_player() {
	limited rmmod mymap && limited modprobe mymap "$PLAYER" ||
		fail "could not load the module with $PLAYER" || return 1
	wait_until 100 test -c /dev/mymap-tx0 || fail "/dev/mymap-tx0 did not appear" || return 1
	"$1"
	played=$?
	played_why=$why
	limited rmmod mymap || fail "rmmod after playing failed" || return 1
	limited modprobe mymap || fail "could not load the module again" || return 1
	wait_until 100 test -c "$RING" || fail "$RING did not come back" || return 1
	why=$played_why
	return "$played"
}

# play_square: a 1 kHz square wave on set line 0 and a slower one on line 1,
# from a file with comments: every record completes, in order, on the line and
# with the value the file says, never early; the lines end as the last sets say.
play_square() {
	cat >"$T/wave" <<-EOF
		# a square wave on line 0, and line 1 at half its rate
		0ms    0 1
		0.5ms  0 0
		1ms    0 1   # rising again
		1ms    1 1

		1.5ms  0 0
		2000us 0 1
		2.5ms  1 0
	EOF
	run "$CTL" play "$T/wave"
	expect_ok "mymapctl play" || return 1
	# The header, seven completions, the summary.
	expect_eq "$(printf '%s\n' "$out" | wc -l)" 9 "lines of output ($out)" || return 1
	expect_eq "$(printf '%s\n' "$out" | awk 'NR > 1 && NR < 9 { print $1, $2, $3, $4 }')" \
		"0 0 1 0.000000ms
1 0 0 0.500000ms
2 0 1 1.000000ms
3 1 1 1.000000ms
4 0 0 1.500000ms
5 0 1 2.000000ms
6 1 0 2.500000ms" "seq, line, value, requested offset" || return 1
	# Never early: no delay is negative.
	printf '%s\n' "$out" | awk 'NR > 1 && NR < 9 && $5 ~ /^-/ { bad = 1 } END { exit bad }' ||
		fail "a record played before its time: $out" || return 1
	case "$(printf '%s\n' "$out" | tail -n 1)" in
		"7 records played on /dev/mymap-tx0: delay median "*) ;;
		*) fail "summary: $out" || return 1 ;;
	esac
	expect_eq "$(sim_value 1) $(sim_value 2)" "1 0" "chip lines 1 and 2 after the waveform"
}

t_play_square() {
	[ -n "${pull:-}" ] || fail "no gpio-sim chip" || return 1
	with_player play_square
}

# play_stdin_repeat: `-` reads the waveform from stdin, --repeat plays it again
# each --period; --quiet prints the summary only. Then a set for a line beyond
# the player's two is refused by the driver: no completion, exit status 3, and
# the message says why.
play_stdin_repeat() {
	printf '0ms 1 1\n0.25ms 1 0\n' >"$T/wave"
	limited "$CTL" play --quiet --repeat 4 --period 500us - <"$T/wave" >"$T/out" 2>"$T/err"
	rc=$?
	out=$(cat "$T/out")
	err=$(cat "$T/err")
	expect_ok "mymapctl play --repeat 4 -" || return 1
	case "$out" in
		"8 records played on /dev/mymap-tx0: delay median "*) ;;
		*) fail "summary: $out" || return 1 ;;
	esac
	expect_eq "$(sim_value 2)" 0 "chip line 2 after the repeats" || return 1
	printf '0ms 5 1\n' >"$T/wave"
	run "$CTL" play --timeout 300ms "$T/wave"
	expect_eq "$rc" 3 "exit status of a set the player refuses ($err)" || return 1
	case "$err" in
		"mymapctl: error: timed out after "*"waiting for 1 of 1 completions (0 arrived); the player rejected 1 records"*) ;;
		*) fail "stderr: $err" ;;
	esac
}

t_play_stdin_repeat() {
	[ -n "${pull:-}" ] || fail "no gpio-sim chip" || return 1
	with_player play_stdin_repeat
}

# Bad waveforms fail before any device is opened: one line naming the line
# number and the fix, exit status 2.
t_play_bad_waveform() {
	printf '# fine\n0ms 0 1\n1ms 0 2\n' >"$T/wave"
	run "$CTL" play - <"$T/wave"
	expect_eq "$rc" 2 "exit status" || return 1
	expect_eq "$err" "mymapctl: error: stdin line 3: \`2\` is not a value: write 0 or 1" "stderr" ||
		return 1
	printf '1ms 0 1\n0.5ms 0 0\n' >"$T/wave"
	run "$CTL" play "$T/wave"
	expect_eq "$rc" 2 "exit status of a waveform going back" || return 1
	case "$err" in
		"mymapctl: error: $T/wave line 2: offset 0.5ms goes back before line 1's: sort the lines by time") ;;
		*) fail "stderr: $err" ;;
	esac
}

# --- cases: errors ----------------------------------------------------------

t_no_device() {
	run "$READ" --device /dev/nonexistent-mymap
	expect_eq "$rc" 1 "exit status" || return 1
	case "$err" in
		"mymap-read: error: /dev/nonexistent-mymap: no such device: load the module (\`modprobe mymap\`)"*) ;;
		*) fail "stderr: $err" || return 1 ;;
	esac
	run env MYMAP_DEVICE=/dev/nonexistent-env "$READ"
	expect_eq "$rc" 1 "exit status with MYMAP_DEVICE" || return 1
	case "$err" in
		*"/dev/nonexistent-env: no such device"*) ;;
		*) fail "MYMAP_DEVICE ignored: $err" ;;
	esac
}

t_not_mymap() {
	run "$READ" --device /dev/null
	expect_eq "$rc" 1 "exit status" || return 1
	case "$err" in
		"mymap-read: error: /dev/null: not a mymap device"*) ;;
		*) fail "stderr: $err" ;;
	esac
}

t_bad_arguments() {
	for args in "--hex --raw" "--offset 65536" "--offset 65000 --length 1000" \
		"--length 0" "--via dma" "--count 2" "--offset x" "--wait-gpio nochip" \
		"--info --hex"; do
		# shellcheck disable=SC2086 # $args is a list of options.
		run "$READ" $args
		expect_eq "$rc" 2 "exit status of 'mymap-read $args' ($err)" || return 1
		[ -z "$out" ] || fail "'mymap-read $args' printed '$out'" || return 1
	done
	run "$READ" --offset 65536
	case "$err" in
		*"not inside the 65536-byte buffer"*) ;;
		*) fail "range error: $err" ;;
	esac
}

t_permission_denied() {
	id nobody >/dev/null 2>&1 || fail "no user 'nobody'" || return 1
	run su -s /bin/sh nobody -c "$READ --device $DEV"
	expect_eq "$rc" 1 "exit status" || return 1
	# Contains, not starts with: su may have its own say first.
	case "$err" in
		*"mymap-read: error: $DEV: permission denied: add your user to group 'mymap'"*) ;;
		*) fail "stderr: $err" ;;
	esac
}

# --- the run ----------------------------------------------------------------

if [ ! -c "$DEV" ]; then
	echo "MYMAP-TEST: not ok $SUITE/setup: $DEV is not a character device"
fi
case_ tools t_tools
case_ greeting t_greeting
case_ text-stops-at-nul t_text_stops_at_nul
case_ text-at-offset t_text_at_offset
case_ info t_info
case_ clear t_clear
case_ raw-whole-buffer t_raw_whole_buffer
case_ via-read-equals-mmap t_via_read_equals_mmap
case_ hex-matches-hexdump t_hex_matches_hexdump
case_ hex-offsets t_hex_offsets
case_ json t_json
case_ write-via-mmap t_write_via_mmap
case_ broken-pipe t_broken_pipe
case_ follow-sees-change t_follow_sees_change
case_ follow-times-out t_follow_times_out
case_ gpio-sim-setup t_gpio_setup
case_ wait-gpio t_wait_gpio
case_ wait-gpio-follow t_wait_gpio_follow
case_ wait-gpio-times-out t_wait_gpio_times_out
case_ wait-gpio-no-chip t_wait_gpio_no_chip
case_ ring-setup t_ring_setup
case_ ring-info t_ring_info
case_ ring-timer-json t_ring_timer_json
case_ ring-timeout t_ring_timeout
case_ ring-inject-count t_ring_inject_count
case_ ring-hex t_ring_hex
case_ ring-drops-reported t_ring_drops_reported
case_ ring-busy t_ring_busy
case_ ring-wakeup t_ring_wakeup
case_ ring-timer-stats t_ring_timer_stats
case_ ring-broken-pipe t_ring_broken_pipe
case_ ring-gpio-stream t_ring_gpio_stream
case_ play-square t_play_square
case_ play-stdin-repeat t_play_stdin_repeat
case_ play-bad-waveform t_play_bad_waveform
case_ no-device t_no_device
case_ not-mymap t_not_mymap
case_ bad-arguments t_bad_arguments
case_ permission-denied t_permission_denied
exit 0
