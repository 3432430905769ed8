#!/bin/sh
#
# Writes the kernel tarball's hash line into patches/linux/linux.hash, the
# one step of a networked Buildroot build that the tree cannot ship (see
# README.md, "Kernel version and hash"). It downloads kernel.org's
# sha256sums.asc for the version the defconfigs name, checks its signature
# with gpgv against keys/kernel.org-autosigner.asc, whose fingerprint is
# pinned below, and takes the line from the signed text only. On any
# failure it names the problem and leaves linux.hash untouched.
#
# usage: linux-hash.sh [--sums FILE] [--version X.Y.Z]
#                      [--key FILE --fingerprint FPR] [--hash-file FILE]
#   --sums FILE         use this sha256sums.asc instead of downloading it
#   --version X.Y.Z     instead of the defconfigs' kernel version
#   --key, --fingerprint  another signing key and its fingerprint (tests)
#   --hash-file FILE    write this file instead of patches/linux/linux.hash

set -eu

EXT_DIR="$(cd "$(dirname "$0")" && pwd)"
# Kernel.org checksum autosigner <autosigner@kernel.org>; see the key file.
AUTOSIGNER_FPR="B8868C80BA62A1FFFAF5FDA9632D3A06589DA6B1"

die() {
	echo "linux-hash.sh: $*" >&2
	exit 1
}

sums=""
version=""
key="${EXT_DIR}/keys/kernel.org-autosigner.asc"
fpr="${AUTOSIGNER_FPR}"
hash_file="${EXT_DIR}/patches/linux/linux.hash"
while [ $# -gt 0 ]; do
	[ $# -ge 2 ] || die "$1 needs a value (see the usage at the top of $0)"
	case "$1" in
	--sums) sums="$2" ;;
	--version) version="$2" ;;
	--key) key="$2" ;;
	--fingerprint) fpr="$2" ;;
	--hash-file) hash_file="$2" ;;
	*) die "unknown option $1 (see the usage at the top of $0)" ;;
	esac
	shift 2
done

for tool in gpg gpgv; do
	command -v "${tool}" >/dev/null ||
		die "${tool} not found: install GnuPG (Debian: apt install gnupg gpgv)"
done
[ -f "${hash_file}" ] || die "${hash_file} not found"

# The version every defconfig builds; they must agree.
if [ -z "${version}" ]; then
	version="$(sed -n 's/^BR2_LINUX_KERNEL_CUSTOM_VERSION_VALUE="\(.*\)"$/\1/p' \
		"${EXT_DIR}"/configs/*_defconfig | sort -u)"
	case "${version}" in
	"") die "no BR2_LINUX_KERNEL_CUSTOM_VERSION_VALUE in ${EXT_DIR}/configs; pass --version" ;;
	*"
"*) die "the defconfigs name different kernel versions ($(echo "${version}" | tr '\n' ' ')); make them agree or pass --version" ;;
	esac
fi
tarball="linux-${version}.tar.xz"

tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT
mkdir -m 0700 "${tmp}/home"

if [ -z "${sums}" ]; then
	url="https://cdn.kernel.org/pub/linux/kernel/v${version%%.*}.x/sha256sums.asc"
	echo "linux-hash.sh: downloading ${url}"
	sums="${tmp}/sha256sums.asc"
	if command -v wget >/dev/null; then
		wget -q -O "${sums}" "${url}" || die "could not download ${url}"
	elif command -v curl >/dev/null; then
		curl -fsSL -o "${sums}" "${url}" || die "could not download ${url}"
	else
		die "neither wget nor curl found: install one, or download ${url} and pass --sums FILE"
	fi
fi
[ -f "${sums}" ] || die "${sums} not found"

# gpgv reads binary keyrings only; the key file must be the pinned key.
gpg --batch --quiet --homedir "${tmp}/home" --dearmor \
	<"${key}" >"${tmp}/keyring.gpg" 2>/dev/null ||
	die "${key} is not an OpenPGP key file"
key_fpr="$(gpg --batch --homedir "${tmp}/home" --with-colons --show-keys \
	"${tmp}/keyring.gpg" 2>/dev/null | awk -F: '$1 == "fpr" { print $10; exit }')"
[ "${key_fpr}" = "${fpr}" ] ||
	die "key mismatch: ${key} holds key ${key_fpr:-none}, not the pinned ${fpr}"

# The signature, and the text it covers (nothing outside it is read).
status=0
gpgv --homedir "${tmp}/home" --keyring "${tmp}/keyring.gpg" \
	--status-fd 3 --output "${tmp}/signed" "${sums}" \
	3>"${tmp}/status" 2>"${tmp}/gpgv.log" || status=$?
if grep -q '^\[GNUPG:\] BADSIG' "${tmp}/status"; then
	die "BAD signature on ${sums}: it was changed after signing; do not use it"
fi
if grep -q '^\[GNUPG:\] NO_PUBKEY\|^\[GNUPG:\] ERRSIG' "${tmp}/status"; then
	signer="$(sed -n 's/^\[GNUPG:\] ERRSIG \([0-9A-F]*\) .*/\1/p' "${tmp}/status" | head -n 1)"
	die "key mismatch: ${sums} is signed by key ${signer:-unknown}, not by the pinned ${fpr}"
fi
# VALIDSIG names the signing key and, last, its primary key.
if [ "${status}" -ne 0 ] || ! grep -q "^\[GNUPG:\] VALIDSIG .*${fpr}\$" "${tmp}/status"; then
	die "${sums} has no valid signature by ${fpr}: $(tail -n 1 "${tmp}/gpgv.log")"
fi

line="$(grep -E "^[0-9a-f]{64}  ${tarball}\$" "${tmp}/signed" || true)"
[ -n "${line}" ] ||
	die "the signed text of ${sums} has no line for ${tarball} (is ${version} released, and is this the v${version%%.*}.x file?)"
hash="${line%% *}"

# Every other line of the hash file stays; an older tarball line goes.
grep -vE '^sha256[[:space:]]+[0-9a-f]{64}[[:space:]]+linux-[0-9.]+\.tar\.xz$' \
	"${hash_file}" >"${tmp}/linux.hash" || true
printf 'sha256  %s  %s\n' "${hash}" "${tarball}" >>"${tmp}/linux.hash"
cp "${tmp}/linux.hash" "${hash_file}.new"
mv "${hash_file}.new" "${hash_file}"
echo "linux-hash.sh: ${tarball} ${hash}: signed by ${fpr}; written to ${hash_file}"
