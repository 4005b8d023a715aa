#!/usr/bin/env bash
# Archive benchmark, printed as `name: value unit` lines:
#
# 1. listing: a generated archive of more than 2 GiB (a real Debian layer, a 2 GiB layer
#    stored as a sparse file, the config and manifest.json at the very end) must list its
#    images after reading at most 1 MiB of it (`layerscope inspect --list` counts the bytes
#    the archive reader asked for);
# 2. inspect: `layerscope inspect` on an OCI archive of the Debian root file system, against
#    `tar -xOf` + `gzip -dc | sha256sum` of its layer, side by side, median of BENCH_REPS runs.
#
# The Debian layer is the one scripts/bench.sh prepares (.cache/bench/debian-rootfs.tar.gz);
# it is reused when present, else `scripts/bench.sh --prepare-only` makes it.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DATA="$ROOT/.cache/bench"
WORK="$DATA/archive"
REPS="${BENCH_REPS:-5}"
LIST_LIMIT=$((1024 * 1024))
mkdir -p "$WORK"

log() { echo "# $*" >&2; }

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# Wall-clock seconds of one run of a command, output discarded.
seconds_of() {
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null
  end=$(date +%s.%N)
  python3 -c "print(f'{$end - $start:.3f}')"
}

peak_rss_mb() {
  local kb
  kb=$( { /usr/bin/time -f '%M' "$@" >/dev/null; } 2>&1 | tail -1)
  python3 -c "print(f'{$kb / 1024:.1f}')"
}

LAYER="$DATA/debian-rootfs.tar.gz"
if [ ! -s "$LAYER" ] || [ ! -s "$DATA/debian-rootfs.tar" ]; then
  log "preparing the Debian layer with scripts/bench.sh --prepare-only"
  "$ROOT/scripts/bench.sh" --prepare-only
fi

log "building layerscope (release)"
cargo build --release -p layerscope --manifest-path "$ROOT/Cargo.toml" >&2
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/layerscope"

# Writes both archives with Python's tarfile headers; the 2 GiB layer is a hole.
python3 - "$LAYER" "$DATA/debian-rootfs.tar" "$WORK" <<'PY'
import hashlib, io, json, os, sys, tarfile

layer_gz, layer_tar, work = sys.argv[1:4]

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()

def header(name, size):
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    return info.tobuf(format=tarfile.GNU_FORMAT)

def add_bytes(out, name, data):
    out.write(header(name, len(data)))
    out.write(data)
    out.write(b"\0" * (-len(data) % 512))

def add_file(out, name, path):
    size = os.path.getsize(path)
    out.write(header(name, size))
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            out.write(chunk)
    out.write(b"\0" * (-size % 512))

blob = sha256_file(layer_gz)
diff_id = sha256_file(layer_tar)
gz_size = os.path.getsize(layer_gz)

# 1. OCI layout archive of the Debian root file system.
config = json.dumps({
    "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
    "config": {"Cmd": ["/bin/bash"]},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff_id]},
    "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "debootstrap --variant=minbase"}],
}).encode()
manifest = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": "sha256:" + hashlib.sha256(config).hexdigest(), "size": len(config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": "sha256:" + blob, "size": gz_size}],
}).encode()
index = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                   "digest": "sha256:" + hashlib.sha256(manifest).hexdigest(), "size": len(manifest),
                   "annotations": {"org.opencontainers.image.ref.name": "bench/debian:minbase"}}],
}).encode()
with open(os.path.join(work, "debian-oci.tar"), "wb") as out:
    add_bytes(out, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    add_file(out, "blobs/sha256/" + blob, layer_gz)
    add_bytes(out, "blobs/sha256/" + hashlib.sha256(config).hexdigest(), config)
    add_bytes(out, "blobs/sha256/" + hashlib.sha256(manifest).hexdigest(), manifest)
    add_bytes(out, "index.json", index)
    out.write(b"\0" * 1024)
with open(os.path.join(work, "debian-layer-name"), "w") as f:
    f.write("blobs/sha256/" + blob)

# 2. A docker save archive above 2 GiB: the Debian layer, then a 2 GiB layer left as a hole,
# then config and manifest.json last, as `docker save` orders them.
big = 2 << 30
config2 = json.dumps({
    "architecture": "amd64", "os": "linux",
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff_id, "sha256:" + "0" * 64]},
}).encode()
config2_name = hashlib.sha256(config2).hexdigest() + ".json"
save_manifest = json.dumps([{
    "Config": config2_name, "RepoTags": ["bench/huge:1", "bench/huge:latest"],
    "Layers": ["debian/layer.tar.gz", "huge/layer.tar"],
}]).encode()
with open(os.path.join(work, "huge-save.tar"), "wb") as out:
    add_file(out, "debian/layer.tar.gz", layer_gz)
    out.write(header("huge/layer.tar", big))
    out.seek(big, os.SEEK_CUR)
    add_bytes(out, config2_name, config2)
    add_bytes(out, "manifest.json", save_manifest)
    out.write(b"\0" * 1024)
PY

HUGE="$WORK/huge-save.tar"
OCI="$WORK/debian-oci.tar"
LAYER_NAME=$(cat "$WORK/debian-layer-name")

# --- listing from headers ------------------------------------------------------------
listing=$("$BIN" inspect --list --json "$HUGE")
list_bytes=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["bytesRead"])' <<<"$listing")
list_tags=$(python3 -c 'import json,sys; print(",".join(json.load(sys.stdin)["images"][0]["tags"]))' <<<"$listing")
[ "$list_tags" = "bench/huge:1,bench/huge:latest" ] || { echo "listing found $list_tags" >&2; exit 1; }
list_t=()
for _ in $(seq "$REPS"); do list_t+=("$(seconds_of "$BIN" inspect --list "$HUGE")"); done
echo "archive_list_archive_bytes: $(stat -c %s "$HUGE") B"
echo "archive_list_bytes_read: $list_bytes B (limit $LIST_LIMIT)"
echo "archive_list_within_limit: $([ "$list_bytes" -le "$LIST_LIMIT" ] && echo yes || echo no) bool"
echo "archive_list_seconds: $(median "${list_t[@]}") s"
[ "$list_bytes" -le "$LIST_LIMIT" ] || { echo "listing read $list_bytes bytes (> $LIST_LIMIT)" >&2; exit 1; }

# --- inspect vs tar + gzip + sha256sum -------------------------------------------------
# Correctness first: the diff_id layerscope verified is what gzip -dc | sha256sum computes.
verified=$("$BIN" inspect --json "$OCI" | python3 -c '
import json, sys
d = json.load(sys.stdin)
rows = [v for v in d["verification"] if v["kind"] == "diff_id"]
assert rows and all(v["ok"] for v in d["verification"]), d["verification"]
print(rows[0]["actual"])')
expected="sha256:$(tar -xOf "$OCI" "$LAYER_NAME" | gzip -dc | sha256sum | cut -d' ' -f1)"
[ "$verified" = "$expected" ] || { echo "layerscope diff_id $verified != $expected" >&2; exit 1; }

tar_gzip_sha() { tar -xOf "$OCI" "$LAYER_NAME" | gzip -dc | sha256sum; }
inspect_t=(); baseline_t=()
for _ in $(seq "$REPS"); do
  inspect_t+=("$(seconds_of "$BIN" inspect --json "$OCI")")
  baseline_t+=("$(seconds_of tar_gzip_sha)")
done
inspect=$(median "${inspect_t[@]}"); baseline=$(median "${baseline_t[@]}")
echo "inspect_debian_archive_bytes: $(stat -c %s "$OCI") B"
echo "inspect_debian_seconds: $inspect s"
echo "tar_gzip_sha256sum_seconds: $baseline s"
echo "inspect_vs_tar_gzip_sha256sum: $(python3 -c "print(f'{$baseline / $inspect:.2f}')") x (above 1: inspect is faster)"
if [ -x /usr/bin/time ]; then
  echo "inspect_debian_peak_rss: $(peak_rss_mb "$BIN" inspect --json "$OCI") MB"
fi
