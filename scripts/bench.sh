#!/usr/bin/env bash
# The benchmark command: every figure, printed as `name: value unit` lines.
#
#   scripts/bench.sh [--prepare-only] [native] [wasm] [archive] [registry] [drop] [proxy] [page] [memory]
#
# With no part named, all of them run, in this order:
#
#   native   the layer scanner (bench/src/bin/scan-layer.rs) built natively twice (sha2
#            with the CPU's SHA instructions and with its force-soft code, which is what
#            wasm runs), against `gzip -dc | sha256sum` and `zstd -dc | sha256sum`;
#   wasm     the same scanner compiled to wasm (the page bench/page, built by trunk, once
#            without SIMD and once with simd128, as the app is built) in headless Chromium on
#            a file served over loopback, side by side with both native builds
#            (bench/src/bin/wasm-bench.rs drives it);
#   archive  listing a generated archive above 2 GiB from its headers (bench/make-archives.py
#            writes it), and `layerscope inspect` against `tar -xOf` + `gzip -dc | sha256sum`;
#   registry the Debian-rootfs image (make-archives.py's OCI archive) pushed with skopeo to two
#            loopback docker-registries and opened in the page (dist/, built by
#            scripts/build-web.sh) in headless Chromium, directly from the one that sends
#            CORS headers and through `layerscope serve`'s proxy for the one that does not,
#            the two opens alternating in one run: time to the first history row and to all
#            layers, and the requests of one open by kind, counted on the wire
#            (bench/src/bin/registry-bench.rs);
#   drop     make-archives.py's OCI archives dropped on the page (dist/) in headless Chromium
#            (bench/src/bin/drop-bench.rs): the Debian archive until its tree is drawn, by
#            the pool of scan workers and by the layer worker alone (?scan-workers=0), against
#            `tar -xOf ARCHIVE LAYER | tar -tzf -` (target <= 0.8x); the root file system in
#            ten layers, the pool (layers in parallel) against ?scan-workers=1 (one layer
#            after another), to the tree and to every digest verified.
#   proxy    `layerscope serve`'s proxy under load (tests/tests/proxy_load.rs, release build):
#            200 concurrent streams of one 100 MiB blob from a loopback docker-registry,
#            each hashed by its reader; the proxy's peak RSS and the throughput (the test
#            suite runs the same test with a 2 MiB blob);
#   page     the page's own figures in headless Chromium (bench/src/bin/page-bench.rs): the
#            Debian-rootfs image opened from a loopback registry until its tree is shown,
#            against `skopeo copy` to a directory + `tar -tzf` of the layer; the main thread's
#            long tasks then and on a generated 1,000,000-file image; the first paint and a
#            scripted scroll of a 100,000-file tree; the renderer's peak memory (the page's
#            workers run in it) on the 1M image, in bytes per entry. The generated archives
#            (bench/make-many-files.py) are cached under .cache/bench/many.
#   memory   `layerscope inspect` and `inspect --json` (native, release) on the generated
#            archive of 1,000,000 empty files, and on the same million spread over four
#            layers with whiteouts and an opaque directory (bench/make-many-layers.py):
#            peak RSS (/usr/bin/time) and the bytes per entry above 64 MiB, against issue
#            11's bound of 64 MiB + 200 B per entry; and the heap after each step of the
#            analysis a page's owner worker runs (bench/src/bin/owner-memory.rs, native).
#
# The layer is real: a Debian minbase root file system made with debootstrap, tarred,
# gzipped and zstd-compressed, cached under .cache/bench. `--prepare-only` makes it and
# stops. Ratios are measured side by side in one run; each command is repeated
# BENCH_REPS times (default 5) and the median taken. BENCH_CHUNK (default 65536) is the
# bytes per Scanner::push, natively and in wasm.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DATA="$REPO_ROOT/.cache/bench"
REPS="${BENCH_REPS:-5}"
CHUNK="${BENCH_CHUNK:-65536}"
LAYER="$DATA/debian-rootfs.tar.gz"
LAYER_TAR="$DATA/debian-rootfs.tar"
ZLAYER="$DATA/debian-rootfs.tar.zst"
BIN="$DATA/bin"

prepare_only=0
parts=()
for arg in "$@"; do
  case "$arg" in
    --prepare-only) prepare_only=1 ;;
    native | wasm | archive | registry | drop | proxy | page | memory) parts+=("$arg") ;;
    *) die "usage: scripts/bench.sh [--prepare-only] [native] [wasm] [archive] [registry] [drop] [proxy] [page] [memory]" ;;
  esac
done
[ ${#parts[@]} -gt 0 ] || parts=(native wasm archive registry drop proxy page memory)
wants() { [[ " ${parts[*]} " == *" $1 "* ]]; }

cd "$REPO_ROOT"
mkdir -p "$DATA" "$BIN"

# --- the layer ----------------------------------------------------------------------

# The first deb URI and suite that apt on this machine is configured with, read at run
# time so no host name is committed.
debian_mirror() {
  local uri
  uri=$(grep -hE '^\s*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | awk '{print $2}' || true)
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(grep -E '^\s*deb\s' /etc/apt/sources.list | head -1 | awk '{print $2}')
  fi
  [ -n "$uri" ] || die "no Debian mirror found in /etc/apt sources"
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

# A Debian minbase root file system as a tar, gzipped: the real layer.
prepare_rootfs_layer() {
  if [ -s "$LAYER" ] && [ -s "$LAYER_TAR" ]; then return; fi
  local rootfs="$DATA/rootfs"
  if [ ! -f "$rootfs/.complete" ]; then
    $SUDO rm -rf "$rootfs"
    local mirror suite
    mirror=$(debian_mirror)
    suite=$(debian_suite)
    say "debootstrap --variant=minbase $suite (mirror from apt sources)"
    $SUDO debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >&2
    $SUDO touch "$rootfs/.complete"
  fi
  say "tarring and gzipping the root file system"
  $SUDO tar --numeric-owner --exclude=./.complete -C "$rootfs" -cf "$LAYER_TAR.tmp" .
  $SUDO chown "$(id -u):$(id -g)" "$LAYER_TAR.tmp"
  mv "$LAYER_TAR.tmp" "$LAYER_TAR"
  gzip -6 -c "$LAYER_TAR" >"$LAYER.tmp"
  mv "$LAYER.tmp" "$LAYER"
  rm -f "$ZLAYER"
}

# The same layer as zstd (level 3, with checksums, as zstd writes by default).
prepare_zstd_layer() {
  [ -s "$ZLAYER" ] && return
  zstd -q -3 -T1 -c "$LAYER_TAR" >"$ZLAYER.tmp"
  mv "$ZLAYER.tmp" "$ZLAYER"
}

apt_install_missing time
# Every part but memory reads the Debian layer.
if [ $prepare_only = 1 ] || [[ " ${parts[*]} " != " memory " ]]; then
  apt_install_missing debootstrap zstd
  prepare_rootfs_layer
  prepare_zstd_layer
  [ $prepare_only = 1 ] && exit 0
  TAR_BYTES=$(stat -c %s "$LAYER_TAR")
fi

mbps() { awk -v bytes="$TAR_BYTES" -v s="$1" 'BEGIN {printf "%.1f\n", bytes / 1e6 / s}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f\n", a / b}'; }

# --- builds (release), once for all parts ---------------------------------------------

# Copies the release build of bench binary $1 to $BIN/$2.
keep_build() { cp "$TARGET_DIR/release/$1" "$BIN/$2"; }

if wants native || wants wasm; then
  say "building the scanner (release) with CPU SHA, and the wasm runner"
  cargo build --release --quiet -p layerscope-bench --bin scan-layer --bin wasm-bench >&2
  keep_build scan-layer scan-cpu
  keep_build wasm-bench wasm-bench
  say "building the scanner (release) with sha2's force-soft"
  cargo build --release --quiet -p layerscope-bench --bin scan-layer --features soft-sha >&2
  keep_build scan-layer scan-soft
fi
if wants registry; then
  say "building the registry benchmark runner (release)"
  cargo build --release --quiet -p layerscope-bench --bin registry-bench >&2
  keep_build registry-bench registry-bench
fi
if wants drop; then
  say "building the dropped-archive benchmark runner (release)"
  cargo build --release --quiet -p layerscope-bench --bin drop-bench >&2
  keep_build drop-bench drop-bench
fi
if wants wasm || wants archive || wants registry || wants drop; then
  say "building the layerscope binary (release)"
  cargo build --release --quiet -p layerscope >&2
  export LAYERSCOPE_BIN="$TARGET_DIR/release/layerscope"
fi

# --- native ---------------------------------------------------------------------------

gunzip_and_hash() { gzip -dc "$1" | sha256sum; }
unzstd_and_hash() { zstd -dc "$1" | sha256sum; }

bench_native() {
  local cpu="$BIN/scan-cpu" soft="$BIN/scan-soft"
  # Correctness first: the scanner's digests agree with sha256sum.
  local report diff_id blob zdiff_id
  report=$("$cpu" "$LAYER" --chunk "$CHUNK")
  diff_id=$(awk '/^scan_diff_id:/ {print $2}' <<<"$report")
  blob=$(awk '/^scan_blob_digest:/ {print $2}' <<<"$report")
  [ "$diff_id" = "sha256:$(gunzip_and_hash "$LAYER" | cut -d' ' -f1)" ] || die "diff_id disagrees with gzip -dc | sha256sum"
  [ "$blob" = "sha256:$(sha256sum "$LAYER" | cut -d' ' -f1)" ] || die "blob digest disagrees with sha256sum"
  zdiff_id=$("$cpu" "$ZLAYER" --chunk "$CHUNK" | awk '/^scan_diff_id:/ {print $2}')
  [ "$zdiff_id" = "$diff_id" ] || die "the zstd layer's diff_id differs from the gzip layer's"

  say "native: timing $REPS rounds, the commands interleaved"
  local cpu_t=() soft_t=() gz_t=() zcpu_t=() zcli_t=()
  for _ in $(seq "$REPS"); do
    cpu_t+=("$(seconds_of "$cpu" "$LAYER" --chunk "$CHUNK")")
    soft_t+=("$(seconds_of "$soft" "$LAYER" --chunk "$CHUNK")")
    gz_t+=("$(seconds_of gunzip_and_hash "$LAYER")")
    zcpu_t+=("$(seconds_of "$cpu" "$ZLAYER" --chunk "$CHUNK")")
    zcli_t+=("$(seconds_of unzstd_and_hash "$ZLAYER")")
  done
  local cpu_s soft_s gz zcpu zcli
  cpu_s=$(median "${cpu_t[@]}")
  soft_s=$(median "${soft_t[@]}")
  gz=$(median "${gz_t[@]}")
  zcpu=$(median "${zcpu_t[@]}")
  zcli=$(median "${zcli_t[@]}")

  echo "layer_tar_bytes: $TAR_BYTES B"
  echo "layer_gzip_bytes: $(stat -c %s "$LAYER") B"
  echo "layer_entries: $(awk '/^scan_entries:/ {print $2}' <<<"$report") entries"
  echo "layer_transfer_bytes_per_entry: $(awk '/^scan_transfer_bytes_per_entry:/ {print $2}' <<<"$report") B (LayerSummary::to_bytes, scan worker to owner)"
  echo "repetitions: $REPS runs"
  echo "scan_chunk: $CHUNK B"
  echo "scan_native_seconds: $cpu_s s"
  echo "scan_native_throughput: $(mbps "$cpu_s") MB/s"
  echo "scan_native_soft_sha_seconds: $soft_s s"
  echo "scan_native_soft_sha_throughput: $(mbps "$soft_s") MB/s"
  echo "gzip_sha256sum_seconds: $gz s"
  echo "gzip_sha256sum_throughput: $(mbps "$gz") MB/s"
  echo "scan_native_vs_gzip_sha256sum: $(ratio "$gz" "$cpu_s") x (target >= 1.8)"
  echo "scan_native_soft_sha_vs_gzip_sha256sum: $(ratio "$gz" "$soft_s") x"
  echo "scan_native_zstd_seconds: $zcpu s"
  echo "scan_native_zstd_throughput: $(mbps "$zcpu") MB/s"
  echo "zstd_sha256sum_seconds: $zcli s"
  echo "scan_native_zstd_vs_zstd_sha256sum: $(ratio "$zcli" "$zcpu") x"
  echo "scan_native_peak_rss: $(peak_rss_mb "$cpu" "$LAYER" --chunk "$CHUNK") MB"
  echo "scan_native_soft_sha_peak_rss: $(peak_rss_mb "$soft" "$LAYER" --chunk "$CHUNK") MB"
  echo "scan_native_zstd_peak_rss: $(peak_rss_mb "$cpu" "$ZLAYER" --chunk "$CHUNK") MB"
  echo "gzip_sha256sum_peak_rss: $(peak_rss_mb sh -c "gzip -dc '$LAYER' | sha256sum") MB"
}

# --- wasm -----------------------------------------------------------------------------

# Rounds alternate native-sha, native-soft and the pages (plus a fetch-only wasm pass). The
# pages read the body on their own thread with a BYOB reader; `*_fetch_worker` lines have a
# worker read it and post the chunks, so receiving overlaps scanning.
bench_wasm() {
  "$REPO_ROOT/scripts/setup.sh" web >&2
  apt_install_missing chromium chromium-driver
  local page_dist="$TARGET_DIR/bench-page" simd_dist="$TARGET_DIR/bench-page-simd128"
  # Served from next to the cached layer, so the layer can be hard-linked in.
  local served="$DATA/wasm-served"

  say "building the benchmark page (bench/page, $(wasm_route) wasm route)"
  with_wasm_env trunk build --release --dist "$page_dist" bench/page/index.html >&2
  say "building the benchmark page with wasm SIMD (simd128, as the app is built)"
  with_wasm_simd_env trunk build --release --dist "$simd_dist" bench/page/index.html >&2

  rm -rf "$served"
  mkdir -p "$served/simd128"
  cp -r "$page_dist/." "$served/"
  cp -r "$simd_dist/." "$served/simd128/"
  local layer_name
  layer_name="layer-$(basename "$LAYER")"
  ln "$LAYER" "$served/$layer_name" 2>/dev/null || cp "$LAYER" "$served/$layer_name"

  if grep -qw sha_ni /proc/cpuinfo; then
    say "this CPU has SHA instructions (sha_ni): native-sha uses them"
  else
    say "this CPU has no SHA instructions: native-sha falls back to the soft code"
  fi
  say "wasm: running $REPS rounds (plus one warm-up)"
  local report
  # Its ratios compare the builds within the same rounds.
  report=$("$BIN/wasm-bench" --served "$served" --file "$layer_name" --reps "$REPS" \
    --chunk "$CHUNK" \
    --page "wasm=index.html" --page "wasm_simd128=simd128/index.html" \
    --page "wasm_simd128_fetch_worker=simd128/index.html?reader=worker" \
    --native "sha=$BIN/scan-cpu" \
    --native "soft=$BIN/scan-soft")
  rm -rf "$served"
  echo "$report"
}

# --- archive --------------------------------------------------------------------------

# The archives of make-archives.py, written once per layer.
prepare_archives() {
  local work="$DATA/archive"
  mkdir -p "$work"
  if [ -s "$work/debian-oci.tar" ] && [ "$work/debian-oci.tar" -nt "$LAYER" ] && [ -s "$work/huge-save.tar" ] &&
    [ -s "$work/ten-layers-oci.tar" ]; then return; fi
  python3 "$REPO_ROOT/bench/make-archives.py" "$LAYER" "$LAYER_TAR" "$work"
}

bench_archive() {
  local work="$DATA/archive" list_limit=$((1024 * 1024))
  local layerscope="$LAYERSCOPE_BIN"
  prepare_archives
  local huge="$work/huge-save.tar" oci="$work/debian-oci.tar" layer_name
  layer_name=$(cat "$work/debian-layer-name")

  # Listing from headers: at most 1 MiB of a 2 GiB archive.
  local listing list_bytes list_tags
  listing=$("$layerscope" inspect --list --json "$huge")
  list_bytes=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["bytesRead"])' <<<"$listing")
  list_tags=$(python3 -c 'import json,sys; print(",".join(json.load(sys.stdin)["images"][0]["tags"]))' <<<"$listing")
  [ "$list_tags" = "bench/huge:1,bench/huge:latest" ] || die "listing found $list_tags"
  local list_t=()
  for _ in $(seq "$REPS"); do list_t+=("$(seconds_of "$layerscope" inspect --list "$huge")"); done
  echo "archive_list_archive_bytes: $(stat -c %s "$huge") B"
  echo "archive_list_bytes_read: $list_bytes B (limit $list_limit)"
  echo "archive_list_within_limit: $([ "$list_bytes" -le "$list_limit" ] && echo yes || echo no) bool"
  echo "archive_list_seconds: $(median "${list_t[@]}") s"
  [ "$list_bytes" -le "$list_limit" ] || die "listing read $list_bytes bytes (> $list_limit)"

  # Correctness first: the diff_id layerscope verified is what gzip -dc | sha256sum computes.
  local verified expected
  verified=$("$layerscope" inspect --json "$oci" | python3 -c '
import json, sys
d = json.load(sys.stdin)
rows = [v for v in d["verification"] if v["kind"] == "diff_id"]
assert rows and all(v["ok"] for v in d["verification"]), d["verification"]
print(rows[0]["actual"])')
  expected="sha256:$(tar -xOf "$oci" "$layer_name" | gzip -dc | sha256sum | cut -d' ' -f1)"
  [ "$verified" = "$expected" ] || die "layerscope diff_id $verified != $expected"

  tar_gzip_sha() { tar -xOf "$oci" "$layer_name" | gzip -dc | sha256sum; }
  local inspect_t=() baseline_t=() inspect baseline
  for _ in $(seq "$REPS"); do
    inspect_t+=("$(seconds_of "$layerscope" inspect --json "$oci")")
    baseline_t+=("$(seconds_of tar_gzip_sha)")
  done
  inspect=$(median "${inspect_t[@]}")
  baseline=$(median "${baseline_t[@]}")
  echo "inspect_debian_archive_bytes: $(stat -c %s "$oci") B"
  echo "inspect_debian_seconds: $inspect s"
  echo "tar_gzip_sha256sum_seconds: $baseline s"
  echo "inspect_vs_tar_gzip_sha256sum: $(ratio "$baseline" "$inspect") x (above 1: inspect is faster)"
  echo "inspect_debian_peak_rss: $(peak_rss_mb "$layerscope" inspect --json "$oci") MB"
}

# --- registry -------------------------------------------------------------------------

bench_registry() {
  apt_install_missing docker-registry skopeo chromium chromium-driver
  prepare_archives
  "$REPO_ROOT/scripts/build-web.sh" >&2
  say "registry: $REPS rounds of a direct and a proxied open, alternating"
  LAYERSCOPE_DIST="$REPO_ROOT/dist" "$BIN/registry-bench" \
    --image "$DATA/archive/debian-oci.tar" --reps "$REPS"
}

# --- drop -----------------------------------------------------------------------------

bench_drop() {
  apt_install_missing chromium chromium-driver tar gzip
  prepare_archives
  "$REPO_ROOT/scripts/build-web.sh" >&2
  say "drop: $REPS rounds of the native listing and four drops, alternating"
  LAYERSCOPE_DIST="$REPO_ROOT/dist" "$BIN/drop-bench" \
    --debian "$DATA/archive/debian-oci.tar" --layer "$(cat "$DATA/archive/debian-layer-name")" \
    --ten "$DATA/archive/ten-layers-oci.tar" --reps "$REPS"
}

# --- page -----------------------------------------------------------------------------

# Archives of COUNT empty files (bench/make-many-files.py), generated once.
prepare_many_files() {
  local count
  mkdir -p "$DATA/many"
  for count in "$@"; do
    [ -s "$DATA/many/many-$count.tar" ] && continue
    say "generating a docker save archive of $count empty files"
    python3 "$REPO_ROOT/bench/make-many-files.py" "$count" "$DATA/many/many-$count.tar"
  done
}

# The 1M image is analysed BENCH_MILLION_REPS times (default 1: each takes a while).
bench_page() {
  apt_install_missing docker-registry skopeo chromium chromium-driver
  prepare_archives
  prepare_many_files 100000 1000000
  "$REPO_ROOT/scripts/build-web.sh" >&2
  say "building the page benchmark runner and layerscope (release)"
  cargo build --release --quiet -p layerscope -p layerscope-bench --bin layerscope --bin page-bench >&2
  keep_build page-bench page-bench
  local million="$DATA/many/many-1000000.tar"
  say "page: $REPS rounds of the registry open, $REPS of the 100k tree, ${BENCH_MILLION_REPS:-1} of the 1M image"
  LAYERSCOPE_BIN="$TARGET_DIR/release/layerscope" LAYERSCOPE_DIST="$REPO_ROOT/dist" "$BIN/page-bench" \
    --debian "$DATA/archive/debian-oci.tar" --tree "$DATA/many/many-100000.tar" --million "$million" \
    --reps "$REPS" --million-reps "${BENCH_MILLION_REPS:-1}"
  # Beside the page's figure: what the core's analysis of the same image takes natively.
  echo "million_inspect_peak_rss: $(peak_rss_mb "$TARGET_DIR/release/layerscope" inspect "$million") MB (layerscope inspect, native, the same archive)"
}

# The proxy load test at full size: 200 x 100 MiB (20 GiB) through `layerscope serve`.
bench_proxy() {
  say "proxy: building layerscope and the load test (release)"
  cargo build --release --quiet -p layerscope >&2
  say "proxy: 200 concurrent streams of a ${BENCH_PROXY_BLOB_MIB:-100} MiB blob"
  LAYERSCOPE_BIN="$TARGET_DIR/release/layerscope" LAYERSCOPE_LOAD_BLOB_MIB="${BENCH_PROXY_BLOB_MIB:-100}" \
    cargo test --release --quiet -p layerscope-e2e --test proxy_load -- --nocapture 2>/dev/null |
    grep -E '^proxy_load_[a-z_]+: '
}

# --- memory ---------------------------------------------------------------------------

# Peak RSS of `layerscope inspect ARGS` on the 1M-file archive, in kB.
million_peak_kb() {
  { /usr/bin/time -f '%M' "$TARGET_DIR/release/layerscope" inspect "$@" >/dev/null; } 2>&1 | tail -1
}

# Entries in every layer of a `docker save` archive: its layers' tar headers, counted.
archive_entries() {
  local archive=$1 layer total=0
  while IFS= read -r layer; do
    total=$((total + $(tar -xOf "$archive" "$layer" | tar -t | wc -l)))
  done < <(tar -tf "$archive" | grep '/layer\.tar$')
  echo "$total"
}

bench_memory() {
  local entries=1000000 base=$((64 * 1024 * 1024)) target=200
  prepare_many_files "$entries"
  # The same million spread over four layers, each changing the one below (whiteouts, an
  # opaque directory, files written again), so stacking and dive's per-layer trees count.
  local layered="$DATA/many/many-layers-${entries}x4.tar"
  if [ ! -s "$layered" ]; then
    say "generating a docker save archive of $entries empty files in 4 layers"
    python3 "$REPO_ROOT/bench/make-many-layers.py" "$entries" 4 "$layered"
  fi
  say "building layerscope (release)"
  cargo build --release --quiet -p layerscope >&2
  local million="$DATA/many/many-$entries.tar" label flags kb per_entry archive count name
  for archive in "$million" "$layered"; do
    count=$(archive_entries "$archive")
    for label in human json; do
      flags=()
      [ "$label" = json ] && flags=(--json)
      kb=$(million_peak_kb "${flags[@]}" "$archive")
      per_entry=$(awk -v kb="$kb" -v base="$base" -v n="$count" 'BEGIN {printf "%.0f\n", (kb * 1024 - base) / n}')
      name=million_inspect_${label}
      [ "$archive" = "$layered" ] && name=million_layers_inspect_${label}
      echo "${name}_peak_rss: $(awk -v kb="$kb" 'BEGIN {printf "%.1f\n", kb / 1024}') MiB (layerscope inspect${flags[*]:+ ${flags[*]}}, native, $(basename "$archive"): $count entries)"
      echo "${name}_bytes_per_entry: $per_entry B ((peak - 64 MiB) / entries; target <= $target: $([ "$per_entry" -le "$target" ] && echo met || echo "not met"))"
    done
  done
  # Where the page's owner worker peaks: the same analysis a step at a time, natively
  # (bench/src/bin/owner-memory.rs); its live and peak heap after each step.
  cargo build --release --quiet -p layerscope-bench --bin owner-memory >&2
  "$TARGET_DIR/release/owner-memory" "$million" | sed 's/^/million_owner_heap: /'
}

if wants native; then bench_native; fi
if wants wasm; then bench_wasm; fi
if wants archive; then bench_archive; fi
if wants registry; then bench_registry; fi
if wants drop; then bench_drop; fi
if wants proxy; then bench_proxy; fi
if wants page; then bench_page; fi
if wants memory; then bench_memory; fi
