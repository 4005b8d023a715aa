#!/usr/bin/env bash
# The wasm side of the scanner benchmark: the same layer scanner compiled to
# wasm and run in headless Chromium on a file served over loopback, measured
# side by side with the scanner built natively twice (sha2 with the CPU's SHA
# instructions, and with sha2's force-soft code, which is what wasm runs).
# Rounds alternate native-sha, native-soft, wasm (plus a fetch-only wasm
# pass); figures are medians, printed as `name: value unit` lines.
# The wasm is built twice: as the app is built (`wasm_*` lines) and with
# wasm SIMD enabled (`-C target-feature=+simd128`, `wasm_simd128_*` lines),
# which zlib-rs and xxh3 use and every current browser runs. The pages read
# the body on their own thread with a BYOB reader; `*_fetch_worker` lines
# have a worker read it and post the chunks, so receiving overlaps scanning.
#
# usage: scripts/bench-wasm.sh [LAYER_FILE]   (default: the Debian rootfs
#        layer scripts/bench.sh prepares and caches)
# env:   BENCH_REPS (rounds, default 5), BENCH_CHUNK (bytes per push, default 65536)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEFAULT_LAYER="$REPO_ROOT/.cache/bench/debian-rootfs.tar.gz"
LAYER="$(realpath -m "${1:-$DEFAULT_LAYER}")"
REPS="${BENCH_REPS:-5}"
CHUNK="${BENCH_CHUNK:-65536}"
SHA_DIR="$REPO_ROOT/target/bench-native-sha"
SOFT_DIR="$REPO_ROOT/target/bench-native-soft"
PAGE_DIST="$REPO_ROOT/target/bench-dist"
SIMD_PAGE_DIST="$REPO_ROOT/target/bench-dist-simd"
# Other RUSTFLAGS than the app's build: a target dir of its own keeps both cached.
SIMD_TARGET_DIR="$REPO_ROOT/target/bench-wasm-simd"
# Served from next to the cached layer, so the layer can be hard-linked in.
SERVED="$REPO_ROOT/.cache/bench/wasm-served"

cd "$REPO_ROOT"

if [ ! -s "$LAYER" ]; then
  [ "$LAYER" = "$DEFAULT_LAYER" ] || die "layer file $LAYER does not exist or is empty"
  say "preparing the Debian rootfs layer with scripts/bench.sh"
  "$REPO_ROOT/scripts/bench.sh" --prepare-only
fi

"$REPO_ROOT/scripts/setup.sh" web >&2
apt_install_missing chromium chromium-driver time

say "building the benchmark page (www/bench.html, $(wasm_route) wasm route)"
with_wasm_env trunk build --release --dist "$PAGE_DIST" www/bench.html >&2
say "building the benchmark page with wasm SIMD (simd128)"
with_wasm_env env CARGO_TARGET_DIR="$SIMD_TARGET_DIR" RUSTFLAGS="-C target-feature=+simd128" \
  trunk build --release --dist "$SIMD_PAGE_DIST" www/bench.html >&2

say "building native-scan-bench with SHA instructions, with soft SHA, and the runner"
cargo build --release --quiet -p layerscope-e2e --bin native-scan-bench --bin wasm-bench \
  --target-dir "$SHA_DIR" >&2
cargo build --release --quiet -p layerscope-e2e --bin native-scan-bench \
  --features layerscope-core/soft-sha --target-dir "$SOFT_DIR" >&2
say "building the layerscope binary (it serves the page)"
cargo build --release --quiet -p layerscope >&2
export LAYERSCOPE_BIN="$REPO_ROOT/target/release/layerscope"

rm -rf "$SERVED"
trap 'rm -rf "$SERVED"' EXIT
mkdir -p "$SERVED/simd128"
cp -r "$PAGE_DIST/." "$SERVED/"
cp -r "$SIMD_PAGE_DIST/." "$SERVED/simd128/"
layer_name="layer-$(basename "$LAYER")"
ln "$LAYER" "$SERVED/$layer_name" 2>/dev/null || cp "$LAYER" "$SERVED/$layer_name"

if grep -qw sha_ni /proc/cpuinfo; then
  say "this CPU has SHA instructions (sha_ni): native-sha uses them"
else
  say "this CPU has no SHA instructions: native-sha falls back to the soft code"
fi
say "running $REPS rounds (plus one warm-up) on $LAYER"
"$SHA_DIR/release/wasm-bench" --served "$SERVED" --file "$layer_name" --reps "$REPS" \
  --chunk "$CHUNK" \
  --page "wasm=index.html" --page "wasm_simd128=simd128/index.html" \
  --page "wasm_simd128_fetch_worker=simd128/index.html?reader=worker" \
  --native "sha=$SHA_DIR/release/native-scan-bench" \
  --native "soft=$SOFT_DIR/release/native-scan-bench"
