#!/bin/sh
#
# Tests linux-hash.sh offline, with throwaway keys and checksum files signed
# by them: the good case, a bad signature, a missing line and two key
# mismatches (a file signed by another key; a key file that is not the pinned
# key, the committed one included). Each failure must name its problem and
# leave the hash file as it was. `cargo xtask test` runs it.

set -eu

EXT_DIR="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
home="${tmp}/home"
mkdir -m 0700 "${home}"
cleanup() {
	gpgconf --homedir "${home}" --kill gpg-agent 2>/dev/null || true
	rm -rf "${tmp}"
}
trap cleanup EXIT

fail() {
	echo "test-linux-hash: FAILED: $*" >&2
	exit 1
}

g() {
	gpg --batch --quiet --homedir "${home}" --pinentry-mode loopback --passphrase '' "$@"
}

# Two throwaway signing keys, A and B.
for who in a b; do
	g --quick-gen-key "mymap test ${who} <${who}@example.invalid>" ed25519 sign never 2>/dev/null
	g --armor --export "${who}@example.invalid" >"${tmp}/${who}.asc"
	g --with-colons --list-keys "${who}@example.invalid" |
		awk -F: '$1 == "fpr" { print $10; exit }' >"${tmp}/${who}.fpr"
done
fpr_a="$(cat "${tmp}/a.fpr")"
fpr_b="$(cat "${tmp}/b.fpr")"

hash="0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
other="fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
printf '%s  linux-7.3.3.tar.xz\n%s  linux-7.3.4.tar.xz\n' "${other}" "${hash}" >"${tmp}/sums"
printf '%s  linux-7.3.3.tar.xz\n' "${other}" >"${tmp}/sums-short"
g --local-user "a@example.invalid" --clearsign -o "${tmp}/good.asc" "${tmp}/sums"
g --local-user "a@example.invalid" --clearsign -o "${tmp}/short.asc" "${tmp}/sums-short"
g --local-user "b@example.invalid" --clearsign -o "${tmp}/by-b.asc" "${tmp}/sums"
# The 7.3.3 line's first digit changed after signing.
sed 's/^fedcba/0edcba/' "${tmp}/good.asc" >"${tmp}/bad.asc"

original="${tmp}/linux.hash.orig"
cp "${EXT_DIR}/patches/linux/linux.hash" "${original}"

# run NAME EXPECTED-STATUS EXPECTED-TEXT ARGS...: runs linux-hash.sh on a copy
# of linux.hash and checks its status, its message and the copy.
run() {
	name="$1" want="$2" text="$3"
	shift 3
	cp "${original}" "${tmp}/linux.hash"
	status=0
	sh "${EXT_DIR}/linux-hash.sh" --version 7.3.4 --hash-file "${tmp}/linux.hash" "$@" \
		>"${tmp}/out" 2>&1 || status=$?
	[ "${status}" -eq "${want}" ] ||
		fail "${name}: exit status ${status}, expected ${want}: $(cat "${tmp}/out")"
	grep -q "${text}" "${tmp}/out" ||
		fail "${name}: the output does not say \"${text}\": $(cat "${tmp}/out")"
	if [ "${want}" -ne 0 ] && ! cmp -s "${original}" "${tmp}/linux.hash"; then
		fail "${name}: the hash file was changed"
	fi
	echo "test-linux-hash: ok ${name}"
}

run good 0 "signed by ${fpr_a}" --sums "${tmp}/good.asc" --key "${tmp}/a.asc" --fingerprint "${fpr_a}"
grep -qx "sha256  ${hash}  linux-7.3.4.tar.xz" "${tmp}/linux.hash" ||
	fail "good: linux.hash has no line for the tarball"
grep -q "LICENSES/preferred/GPL-2.0" "${tmp}/linux.hash" ||
	fail "good: the license hashes were lost"
[ "$(grep -c 'linux-7.3.4.tar.xz$' "${tmp}/linux.hash")" -eq 1 ] ||
	fail "good: the tarball line is not there exactly once"

run bad-signature 1 "BAD signature" --sums "${tmp}/bad.asc" --key "${tmp}/a.asc" --fingerprint "${fpr_a}"
run missing-line 1 "no line for linux-7.3.4.tar.xz" --sums "${tmp}/short.asc" --key "${tmp}/a.asc" --fingerprint "${fpr_a}"
run signed-by-another-key 1 "key mismatch: .* is signed by" --sums "${tmp}/by-b.asc" --key "${tmp}/a.asc" --fingerprint "${fpr_a}"
run key-file-not-pinned 1 "key mismatch: .* holds key ${fpr_b}" --sums "${tmp}/good.asc" --key "${tmp}/b.asc" --fingerprint "${fpr_a}"
# The committed key and pinned fingerprint: a file signed by a throwaway key fails.
run committed-key 1 "key mismatch: .* is signed by" --sums "${tmp}/good.asc"
echo "test-linux-hash: all 6 cases passed"
