#!/usr/bin/env bash
# Compares what two `layerscope` binaries print for `inspect` and `inspect --json` on the
# peer fixtures (../shared/fixtures/peers: every archive and OCI layout directory), the
# demo image and any further inputs given: stdout, stderr and exit status must be the same.
# A change meant to leave the output alone (memory or speed work) is checked this way
# against the binary it replaces.
#
#   bench/compare-inspect.sh OLD_BINARY NEW_BINARY [INPUT...]
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: bench/compare-inspect.sh OLD_BINARY NEW_BINARY [INPUT...]" >&2; exit 2; }
old=$1 new=$2
shift 2
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
peers="$repo/../shared/fixtures/peers"
[ -d "$peers" ] || peers=/work/shared/fixtures/peers
inputs=("$repo/static/demo/layerscope-demo.tar")
while IFS= read -r path; do inputs+=("$path"); done < <(
  find "$peers" \( -name '*.tar' -o -name '*.tar.gz' -o -name '*.tar.zst' \) -type f | sort
  find "$peers" -name oci-layout -type f -exec dirname {} \; | sort
)
inputs+=("$@")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
runs=0 same=0
for input in "${inputs[@]}"; do
  for flags in "" "--json"; do
    for side in old new; do
      binary=$old
      [ $side = new ] && binary=$new
      status=0
      # shellcheck disable=SC2086 # flags is empty or one word
      "$binary" inspect $flags "$input" >"$work/$side.out" 2>"$work/$side.err" || status=$?
      echo "$status" >"$work/$side.status"
    done
    runs=$((runs + 1))
    if cmp -s "$work/old.out" "$work/new.out" && cmp -s "$work/old.err" "$work/new.err" &&
      cmp -s "$work/old.status" "$work/new.status"; then
      same=$((same + 1))
    else
      echo "DIFFERS: inspect $flags $input (exit $(cat "$work/old.status") vs $(cat "$work/new.status"))"
    fi
  done
done
echo "compare_inspect: $same of $runs runs identical (stdout, stderr, exit status) on ${#inputs[@]} inputs"
[ "$same" = "$runs" ]
