#!/usr/bin/env bash
# The benchmark command: prepares a real layer (a Debian minbase root file
# system, tarred and gzipped, cached under .cache/bench) and prints figures as
# `name: value unit` lines. Ratios are measured side by side in one run, each
# command repeated and the median taken.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DATA="$ROOT/.cache/bench"
REPS="${BENCH_REPS:-5}"
# Bytes per Scanner::push, natively and in wasm (the page's default).
CHUNK="${BENCH_CHUNK:-65536}"
mkdir -p "$DATA"

log() { echo "# $*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

ensure_tools() {
  local missing=()
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  [ -x /usr/bin/time ] || missing+=(time)
  command -v zstd >/dev/null || missing+=(zstd)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root apt-get install -y "${missing[@]}" >&2
  fi
}

# The first deb URI and suite that apt on this machine is configured with,
# read at run time so no host name is committed.
debian_mirror() {
  local uri
  uri=$(grep -hE '^\s*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | awk '{print $2}' || true)
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(grep -E '^\s*deb\s' /etc/apt/sources.list | head -1 | awk '{print $2}')
  fi
  [ -n "$uri" ] || { echo "no Debian mirror found in /etc/apt sources" >&2; exit 2; }
  echo "$uri"
}

debian_suite() {
  local suite
  suite=$(grep -hE '^\s*Suites:' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | awk '{print $2}' || true)
  if [ -z "$suite" ] && [ -f /etc/apt/sources.list ]; then
    suite=$(grep -E '^\s*deb\s' /etc/apt/sources.list | head -1 | awk '{print $3}')
  fi
  echo "${suite:-bookworm}"
}

# A Debian minbase root file system as a gzipped tar: the real layer.
prepare_rootfs_layer() {
  local out="$DATA/debian-rootfs.tar.gz"
  if [ -s "$out" ] && [ -s "$DATA/debian-rootfs.tar" ]; then return; fi
  local rootfs="$DATA/rootfs"
  if [ ! -f "$rootfs/.complete" ]; then
    as_root rm -rf "$rootfs"
    local mirror suite
    mirror=$(debian_mirror); suite=$(debian_suite)
    log "debootstrap --variant=minbase $suite (mirror from apt sources)"
    as_root debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >&2
    as_root touch "$rootfs/.complete"
  fi
  log "tarring and gzipping the root file system"
  as_root tar --numeric-owner --exclude=./.complete -C "$rootfs" -cf "$DATA/debian-rootfs.tar.tmp" .
  as_root chown "$(id -u):$(id -g)" "$DATA/debian-rootfs.tar.tmp"
  mv "$DATA/debian-rootfs.tar.tmp" "$DATA/debian-rootfs.tar"
  gzip -6 -c "$DATA/debian-rootfs.tar" > "$out.tmp"
  mv "$out.tmp" "$out"
  rm -f "$DATA/debian-rootfs.tar.zst"
}

# The same layer as zstd (level 3, with checksums, as zstd writes by default).
prepare_zstd_layer() {
  [ -s "$DATA/debian-rootfs.tar.zst" ] && return
  zstd -q -3 -T1 -c "$DATA/debian-rootfs.tar" > "$DATA/debian-rootfs.tar.zst.tmp"
  mv "$DATA/debian-rootfs.tar.zst.tmp" "$DATA/debian-rootfs.tar.zst"
}

# Builds the scanner benchmark in release (bench profile) with the given
# cargo features and copies it to $DATA/bin/NAME.
build_scanner() {
  local name="$1"; shift
  local exe
  exe=$(cd "$ROOT" && cargo bench -p layerscope-core --bench scan_layer --no-run --message-format=json "$@" 2>/dev/null \
    | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "scan_layer" and m.get("executable"):
        print(m["executable"])')
  [ -x "$exe" ] || { echo "building the scanner benchmark ($name) failed" >&2; exit 1; }
  mkdir -p "$DATA/bin"
  cp "$exe" "$DATA/bin/$name"
}

# Seconds one command takes (wall clock), its output discarded.
seconds_of() {
  local t0=$EPOCHREALTIME
  "$@" >/dev/null
  local t1=$EPOCHREALTIME
  python3 -c "print(f'{$t1 - $t0:.4f}')"
}

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# Peak resident memory of one run, in MB.
peak_rss_mb() {
  local kb
  kb=$( { /usr/bin/time -f '%M' "$@" >/dev/null; } 2>&1 | tail -1)
  python3 -c "print(f'{$kb / 1024:.1f}')"
}

gunzip_and_hash() { gzip -dc "$1" | sha256sum; }

unzstd_and_hash() { zstd -dc "$1" | sha256sum; }

ensure_tools
prepare_rootfs_layer
prepare_zstd_layer
[ "${1:-}" = "--prepare-only" ] && exit 0

LAYER="$DATA/debian-rootfs.tar.gz"
TAR_BYTES=$(stat -c %s "$DATA/debian-rootfs.tar")
log "building the scanner benchmark (release), with CPU SHA and with sha2's force-soft"
build_scanner scan-cpu
build_scanner scan-soft --features soft-sha
CPU="$DATA/bin/scan-cpu"
SOFT="$DATA/bin/scan-soft"

# Correctness first: the scanner's digests agree with sha256sum.
report=$("$CPU" "$LAYER" 1 "$CHUNK")
diff_id=$(awk '/^scan_diff_id:/ {print $2}' <<<"$report")
blob=$(awk '/^scan_blob_digest:/ {print $2}' <<<"$report")
[ "$diff_id" = "sha256:$(gunzip_and_hash "$LAYER" | cut -d' ' -f1)" ] || { echo "diff_id disagrees with gzip -dc | sha256sum" >&2; exit 1; }
[ "$blob" = "sha256:$(sha256sum "$LAYER" | cut -d' ' -f1)" ] || { echo "blob digest disagrees with sha256sum" >&2; exit 1; }
zdiff_id=$("$CPU" "$DATA/debian-rootfs.tar.zst" 1 "$CHUNK" | awk '/^scan_diff_id:/ {print $2}')
[ "$zdiff_id" = "$diff_id" ] || { echo "the zstd layer's diff_id differs from the gzip layer's" >&2; exit 1; }

log "timing $REPS rounds, the three commands interleaved"
ZLAYER="$DATA/debian-rootfs.tar.zst"
cpu_t=(); soft_t=(); gz_t=(); zcpu_t=(); zcli_t=()
for _ in $(seq "$REPS"); do
  cpu_t+=("$(seconds_of "$CPU" "$LAYER" 1 "$CHUNK")")
  soft_t+=("$(seconds_of "$SOFT" "$LAYER" 1 "$CHUNK")")
  gz_t+=("$(seconds_of gunzip_and_hash "$LAYER")")
  zcpu_t+=("$(seconds_of "$CPU" "$ZLAYER" 1 "$CHUNK")")
  zcli_t+=("$(seconds_of unzstd_and_hash "$ZLAYER")")
done
cpu=$(median "${cpu_t[@]}"); soft=$(median "${soft_t[@]}"); gz=$(median "${gz_t[@]}")
zcpu=$(median "${zcpu_t[@]}"); zcli=$(median "${zcli_t[@]}")
mbps() { python3 -c "print(f'{$TAR_BYTES / 1e6 / $1:.1f}')"; }
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }

echo "layer_tar_bytes: $TAR_BYTES B"
echo "layer_gzip_bytes: $(stat -c %s "$LAYER") B"
echo "layer_entries: $(awk '/^scan_entries:/ {print $2}' <<<"$report") entries"
echo "repetitions: $REPS runs"
echo "scan_chunk: $CHUNK B"
echo "scan_native_seconds: $cpu s"
echo "scan_native_throughput: $(mbps "$cpu") MB/s"
echo "scan_native_soft_sha_seconds: $soft s"
echo "scan_native_soft_sha_throughput: $(mbps "$soft") MB/s"
echo "gzip_sha256sum_seconds: $gz s"
echo "gzip_sha256sum_throughput: $(mbps "$gz") MB/s"
echo "scan_native_vs_gzip_sha256sum: $(ratio "$gz" "$cpu") x (target >= 1.8)"
echo "scan_native_soft_sha_vs_gzip_sha256sum: $(ratio "$gz" "$soft") x"
echo "scan_native_zstd_seconds: $zcpu s"
echo "scan_native_zstd_throughput: $(mbps "$zcpu") MB/s"
echo "zstd_sha256sum_seconds: $zcli s"
echo "scan_native_zstd_vs_zstd_sha256sum: $(ratio "$zcli" "$zcpu") x"
echo "scan_native_peak_rss: $(peak_rss_mb "$CPU" "$LAYER" 1 "$CHUNK") MB"
echo "scan_native_soft_sha_peak_rss: $(peak_rss_mb "$SOFT" "$LAYER" 1 "$CHUNK") MB"
echo "scan_native_zstd_peak_rss: $(peak_rss_mb "$CPU" "$ZLAYER" 1 "$CHUNK") MB"
echo "gzip_sha256sum_peak_rss: $(peak_rss_mb sh -c "gzip -dc '$LAYER' | sha256sum") MB"

# Hook for the WebAssembly run (scripts/bench-wasm.sh, from the wasm
# benchmark work): called with the layer path and BENCH_REPS / BENCH_CHUNK
# set to this run's values, it scans the layer with the same
# layerscope_core::layer::Scanner in headless Chromium (served over
# loopback) and prints its own `name: value unit` lines. If one of them is
# `scan_wasm_seconds: S s` (the median), the ratios to this run's native
# figures are printed as well.
if [ -x "$ROOT/scripts/bench-wasm.sh" ]; then
  wasm_report=$(BENCH_REPS="$REPS" BENCH_CHUNK="$CHUNK" "$ROOT/scripts/bench-wasm.sh" "$LAYER")
  echo "$wasm_report"
  wasm=$(awk '/^scan_wasm_seconds:/ {print $2}' <<<"$wasm_report")
  if [ -n "$wasm" ]; then
    echo "scan_wasm_throughput: $(mbps "$wasm") MB/s"
    echo "scan_wasm_vs_native_soft_sha: $(ratio "$soft" "$wasm") x (target >= 0.9)"
    echo "scan_wasm_vs_native: $(ratio "$cpu" "$wasm") x"
  fi
else
  log "wasm benchmark: scripts/bench-wasm.sh not present yet"
fi

# Archive figures (issue: archives): header-only listing of a 2 GiB archive
# and `layerscope inspect` against tar + gzip + sha256sum.
BENCH_REPS="$REPS" "$ROOT/scripts/bench-archive.sh"
