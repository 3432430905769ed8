#!/bin/sh
#
# Checks that every path the Buildroot external tree refers to exists in
# the repository:
# - $(BR2_EXTERNAL_MYMAP_PATH)/... in the .mk files, Config.in files and
#   defconfigs of buildroot-ext/ ($BR2_EXTERNAL_MYMAP_PATH/... in Kconfig);
# - "${BOARD_DIR}/..." in the board scripts (boards/*/*.sh), relative to
#   the script's own directory, as Buildroot runs them.
# It needs no Buildroot checkout, so CI can run it. Exits 1 after naming
# each missing path and the file that refers to it.

set -eu

EXT_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO_DIR="$(dirname "${EXT_DIR}")"

# What a reference looks like; the text is literal, not an expansion.
# shellcheck disable=SC2016
EXT_REF='$(\{0,1\}BR2_EXTERNAL_MYMAP_PATH)\{0,1\}/[A-Za-z0-9._/-]*'
# shellcheck disable=SC2016
BOARD_REF='${BOARD_DIR}/[A-Za-z0-9._/-]*'

refs="$(mktemp)"
trap 'rm -f "${refs}"' EXIT

# One "FILE PATH" line per reference, PATH made absolute.
find "${EXT_DIR}" -type f \( -name '*.mk' -o -name 'Config.*in' \
	-o -name '*_defconfig' \) -exec grep -o -H "${EXT_REF}" {} + |
	sed "s|^\([^:]*\):[^/]*|\1 ${EXT_DIR}|" >"${refs}"
for script in "${REPO_DIR}"/boards/*/*.sh; do
	[ -f "${script}" ] || continue
	grep -o "${BOARD_REF}" "${script}" |
		sed "s|^[^/]*|${script} $(dirname "${script}")|" >>"${refs}"
done

checked=0
missing=0
while read -r file path; do
	checked=$((checked + 1))
	if [ ! -e "${path}" ]; then
		echo "check-paths: ${file#"${REPO_DIR}/"} refers to ${path#"${REPO_DIR}/"}, which does not exist" >&2
		missing=$((missing + 1))
	fi
done <"${refs}"

if [ "${checked}" -eq 0 ]; then
	echo "check-paths: found no path to check; is ${EXT_DIR} the external tree?" >&2
	exit 1
fi
if [ "${missing}" -gt 0 ]; then
	echo "check-paths: ${missing} of ${checked} paths missing" >&2
	exit 1
fi
echo "check-paths: ${checked} paths checked, all present"
