#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Tests scripts/fetch_mnist.sh against a local mirror. Environment (CTest sets them):
#   CTML_SOURCE_DIR  the repository root (default: two folders up from this file)
#   CTML_MNIST_DIR   a folder with the four MNIST .gz files (default ../shared/data/mnist)
# Exits 77 (skipped) when the mirror is absent.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source_dir="${CTML_SOURCE_DIR:-$(dirname "$(dirname "$here")")}"
mirror="${CTML_MNIST_DIR:-$source_dir/../shared/data/mnist}"
fetch="$source_dir/scripts/fetch_mnist.sh"
names=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

if [[ ! -f "$mirror/train-images-idx3-ubyte.gz" ]]; then
    echo "skipped: no MNIST mirror at $mirror (set CTML_MNIST_DIR)"
    exit 77
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/ctml_fetch_test.XXXXXX")"
trap 'rm -rf -- "$work"' EXIT
failures=0
check() {  # check DESCRIPTION COMMAND...: runs COMMAND, counts a failure when it fails
    local what="$1"
    shift
    if "$@"; then
        echo "ok: $what"
    else
        echo "FAILED: $what"
        failures=$((failures + 1))
    fi
}
contains() { grep -qF -- "$2" <<<"$1"; }
# The published sums, independent of the script's copy of them.
expected_sums() {
    local n
    for n in "${names[@]}"; do
        printf '%s  %s.gz\n' "$(sha256sum <"$mirror/$n.gz" | cut -d' ' -f1)" "$n"
    done
}
sums_match() { (cd "$1" && expected_sums | sha256sum --quiet -c -); }
no_temps() { [[ -z "$(find "$1" -name '.*' -type f)" ]]; }
flip_byte() {  # flip_byte FILE OFFSET: inverts one byte in place
    local file="$1" off="$2" b
    b=$(od -An -tu1 -j "$off" -N1 "$file" | tr -d ' ')
    printf '%b' "\\$(printf '%03o' $((b ^ 0xFF)))" | dd of="$file" bs=1 seek="$off" conv=notrunc status=none
}
if [[ -f "$mirror/SHA256SUMS.gz" ]]; then
    expected_sums() { cat "$mirror/SHA256SUMS.gz"; }
fi

# 1. A clean fetch from the mirror, then a second run that keeps the files.
dest="$work/dest"
out="$("$fetch" --mirror "$mirror" --dest "$dest" 2>&1)"
check "fetch from the mirror exits 0" test $? -eq 0
check "the four files verify against the published sums" sums_match "$dest"
check "no temporary files are left" no_temps "$dest"
out="$("$fetch" --mirror "$mirror" --dest "$dest" 2>&1)"
check "a second run exits 0" test $? -eq 0
check "a second run says the files are already present" \
    contains "$out" "train-images-idx3-ubyte.gz: already present in $dest and verified; skipped"
check "a second run does not fetch again" test "$(grep -c 'fetched from' <<<"$out")" -eq 0

# 2. A mirror with one flipped byte in one file: refused, named, not left behind.
bad="$work/bad-mirror"
mkdir "$bad"
for n in "${names[@]}"; do cp "$mirror/$n.gz" "$bad/"; done
chmod u+w "$bad"/*
flip_byte "$bad/train-labels-idx1-ubyte.gz" 10000
dest2="$work/dest2"
out="$("$fetch" --mirror "$bad" --dest "$dest2" 2>&1)"
rc=$?
check "a flipped byte makes the script exit non-zero" test "$rc" -ne 0
check "the message names the file and the expected and actual sums" \
    contains "$out" "train-labels-idx1-ubyte.gz (from $bad/train-labels-idx1-ubyte.gz): SHA-256 mismatch: expected 1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203, got $(sha256sum <"$bad/train-labels-idx1-ubyte.gz" | cut -d' ' -f1)"
check "the refused file is not in dest" test ! -e "$dest2/train-labels-idx1-ubyte.gz"
check "no temporary file is left in dest" no_temps "$dest2"
check "the other three files were fetched" test -f "$dest2/train-images-idx3-ubyte.gz" -a \
    -f "$dest2/t10k-images-idx3-ubyte.gz" -a -f "$dest2/t10k-labels-idx1-ubyte.gz"

# 3. A damaged file already in dest is replaced by a good one.
flip_byte "$dest/t10k-labels-idx1-ubyte.gz" 100
out="$("$fetch" --mirror "$mirror" --dest "$dest" 2>&1)"
check "a damaged file in dest is fetched again (exit 0)" test $? -eq 0
check "the damaged file is reported" \
    contains "$out" "t10k-labels-idx1-ubyte.gz: the copy in $dest fails verification"
check "after the repair all files verify" sums_match "$dest"

# 4. A mirror without one of the files, and a mirror folder that does not exist.
partial="$work/partial-mirror"
mkdir "$partial"
for n in "${names[@]:0:3}"; do cp "$mirror/$n.gz" "$partial/"; done
out="$("$fetch" --mirror "$partial" --dest "$work/dest4" 2>&1)"
rc=$?
check "a missing mirror file makes the script exit non-zero" test "$rc" -ne 0
check "the message names the missing file and the mirror" \
    contains "$out" "t10k-labels-idx1-ubyte.gz not found in the mirror folder $partial"
check "nothing is written for the missing file" test ! -e "$work/dest4/t10k-labels-idx1-ubyte.gz"
out="$("$fetch" --mirror "$work/nowhere" --dest "$work/dest5" 2>&1)"
rc=$?
check "a mirror folder that does not exist is an error" test "$rc" -ne 0
check "its message names the folder" contains "$out" "mirror folder '$work/nowhere' does not exist"

# 5. The download path, through curl with file:// URLs (no network needed).
if command -v curl >/dev/null 2>&1; then
    out="$("$fetch" --url "file://$work/nowhere/" --url "file://$mirror/" --dest "$work/dest6" 2>&1)"
    check "download: falls back to the second URL and exits 0" test $? -eq 0
    check "download: the files verify" sums_match "$work/dest6"
    out="$("$fetch" --url "file://$bad/" --dest "$work/dest7" 2>&1)"
    rc=$?
    check "download: a flipped byte is refused" test "$rc" -ne 0
    check "download: the refused file is named" \
        contains "$out" "train-labels-idx1-ubyte.gz (from file://$bad/train-labels-idx1-ubyte.gz): SHA-256 mismatch"
    check "download: the refused file is not left behind" \
        test ! -e "$work/dest7/train-labels-idx1-ubyte.gz"
    check "download: no temporary file is left" no_temps "$work/dest7"
fi

# 6. Environment variable as the source.
out="$(CTML_MNIST_MIRROR="$mirror" "$fetch" --dest "$work/dest8" 2>&1)"
check "CTML_MNIST_MIRROR is used as the mirror" contains "$out" "fetched from $mirror/train-images-idx3-ubyte.gz"

if ((failures > 0)); then
    echo "$failures check(s) failed; last output:"
    echo "$out"
    exit 1
fi
echo "all checks passed"
