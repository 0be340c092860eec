#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Obtains the four MNIST files (train/t10k images/labels, .gz) into a folder, verifying the
# SHA-256 of each .gz file and of its decompressed bytes against sums kept in this script.
#
#   scripts/fetch_mnist.sh [--mirror DIR | --url BASE_URL ...] [--dest DIR]
#
# Source, first that applies: --mirror DIR; --url BASE_URL (repeatable, tried in order);
# $CTML_MNIST_MIRROR; ../shared/data/mnist next to the repository, when it exists; the public
# mirrors. DEST defaults to data/mnist under the current folder.
#
# Each file is copied or downloaded to a temporary file in DEST, verified, then renamed into
# place, so DEST never holds a file that failed verification: such a file is removed, and an
# already present file that fails is removed too and fetched again. Files already present and
# valid are kept. Exits non-zero when any of the four files could not be obtained and verified.
set -euo pipefail

readonly prog="fetch_mnist"
readonly names=(train-images-idx3-ubyte train-labels-idx1-ubyte
                t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
readonly default_urls=(https://ossci-datasets.s3.amazonaws.com/mnist/
                       https://storage.googleapis.com/cvdf-datasets/mnist/)

# SHA-256 of the published .gz files and of their decompressed content.
declare -A gz_sum=(
    [train-images-idx3-ubyte]=0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971
    [train-labels-idx1-ubyte]=1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203
    [t10k-images-idx3-ubyte]=1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be
    [t10k-labels-idx1-ubyte]=b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b
)
declare -A raw_sum=(
    [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
    [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
    [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
    [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)

say() { printf '%s: %s\n' "$prog" "$*"; }
fail() { printf '%s: error: %s\n' "$prog" "$*" >&2; }
die() { fail "$*"; exit 1; }

usage() {
    sed -n '4,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

mirror=""
dest="data/mnist"
urls=()
while (($#)); do
    case "$1" in
        --mirror) (($# >= 2)) || die "--mirror needs a folder"; mirror="$2"; shift 2 ;;
        --mirror=*) mirror="${1#*=}"; shift ;;
        --dest) (($# >= 2)) || die "--dest needs a folder"; dest="$2"; shift 2 ;;
        --dest=*) dest="${1#*=}"; shift ;;
        --url) (($# >= 2)) || die "--url needs a base URL"; urls+=("$2"); shift 2 ;;
        --url=*) urls+=("${1#*=}"); shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument '$1'" ;;
    esac
done
[[ -n "$mirror" && ${#urls[@]} -gt 0 ]] && die "give either --mirror or --url, not both"
[[ -n "$dest" ]] || die "--dest is empty"

if command -v sha256sum >/dev/null 2>&1; then
    sha256() { sha256sum | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
    sha256() { shasum -a 256 | cut -d' ' -f1; }
else
    die "neither sha256sum nor shasum is installed; cannot verify the files"
fi
command -v gzip >/dev/null 2>&1 || die "gzip is not installed; cannot verify the decompressed files"

# Where the files come from.
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
shared_mirror="$(dirname "$script_dir")/../shared/data/mnist"
if [[ -z "$mirror" && ${#urls[@]} -eq 0 ]]; then
    if [[ -n "${CTML_MNIST_MIRROR:-}" ]]; then
        mirror="$CTML_MNIST_MIRROR"
    elif [[ -d "$shared_mirror" ]]; then
        mirror="$(cd "$shared_mirror" && pwd)"
    else
        urls=("${default_urls[@]}")
    fi
fi
if [[ -n "$mirror" ]]; then
    [[ -d "$mirror" ]] || die "mirror folder '$mirror' does not exist"
    source_text="mirror $mirror"
else
    command -v curl >/dev/null 2>&1 || die "curl is not installed and no mirror folder was given (--mirror DIR or CTML_MNIST_MIRROR)"
    source_text="${urls[*]}"
fi

mkdir -p -- "$dest" || die "cannot create the destination folder '$dest'"

# Temporary files still to remove if the script stops early.
temps=()
cleanup() {
    local t
    for t in "${temps[@]}"; do
        rm -f -- "$t"
    done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# verify FILE NAME LABEL: prints nothing and succeeds when FILE is NAME.gz with the right sums;
# otherwise reports why on stderr and fails.
verify() {
    local file="$1" name="$2" label="$3" got
    got="$(sha256 <"$file")"
    if [[ "$got" != "${gz_sum[$name]}" ]]; then
        fail "$name.gz ($label): SHA-256 mismatch: expected ${gz_sum[$name]}, got $got"
        return 1
    fi
    if ! got="$(gzip -dc <"$file" | sha256)"; then
        fail "$name.gz ($label): the file does not decompress"
        return 1
    fi
    if [[ "$got" != "${raw_sum[$name]}" ]]; then
        fail "$name.gz ($label): SHA-256 of the decompressed data mismatch: expected ${raw_sum[$name]}, got $got"
        return 1
    fi
}

# obtain NAME TMP: copies or downloads NAME.gz into TMP.
obtain() {
    local name="$1" tmp="$2" base err
    if [[ -n "$mirror" ]]; then
        if [[ ! -f "$mirror/$name.gz" ]]; then
            fail "$name.gz not found in the mirror folder $mirror"
            return 1
        fi
        cp -- "$mirror/$name.gz" "$tmp" || { fail "$name.gz: cannot copy from $mirror"; return 1; }
        return 0
    fi
    local rc
    for base in "${urls[@]}"; do
        if [[ -n "${unreachable[$base]:-}" ]]; then
            continue
        fi
        rc=0
        err="$(curl -fsSL --connect-timeout 20 --retry 2 -o "$tmp" "${base%/}/$name.gz" 2>&1)" || rc=$?
        if ((rc == 0)); then
            fetched_from="${base%/}/$name.gz"
            return 0
        fi
        # curl repeats its message on each retry; the last line says it.
        fail "$name.gz: download from ${base%/}/$name.gz failed: ${err##*$'\n'}"
        case "$rc" in
            5|6|7|28) unreachable[$base]=1 ;;  # proxy, host, connection, timeout: skip it for the rest
        esac
    done
    fail "$name.gz: could not download it from any of: ${urls[*]}"
    return 1
}

declare -A unreachable=()
failures=0
for name in "${names[@]}"; do
    final="$dest/$name.gz"
    if [[ -e "$final" ]]; then
        if why="$(verify "$final" "$name" "already in $dest" 2>&1)"; then
            say "$name.gz: already present in $dest and verified; skipped"
            continue
        fi
        printf '%s\n' "$why" >&2
        say "$name.gz: the copy in $dest fails verification; removing it and fetching again"
        rm -f -- "$final" || { fail "$name.gz: cannot remove the invalid $final"; failures=$((failures + 1)); continue; }
    fi

    tmp="$(mktemp "$dest/.$name.gz.XXXXXX")" || { fail "cannot create a temporary file in $dest"; failures=$((failures + 1)); continue; }
    temps+=("$tmp")
    fetched_from="$mirror/$name.gz"
    if obtain "$name" "$tmp" && verify "$tmp" "$name" "from $fetched_from"; then
        if chmod 644 -- "$tmp" && mv -f -- "$tmp" "$final"; then
            say "$name.gz: fetched from $fetched_from and verified"
            continue
        fi
        rm -f -- "$tmp"
        fail "$name.gz: cannot move the verified file into place as $final"
        failures=$((failures + 1))
    else
        rm -f -- "$tmp"
        fail "$name.gz refused: nothing was written to $dest for it"
        failures=$((failures + 1))
    fi
done

if ((failures > 0)); then
    die "$failures of ${#names[@]} files could not be obtained and verified (source: $source_text)"
fi
say "all ${#names[@]} files present and verified in $dest"
