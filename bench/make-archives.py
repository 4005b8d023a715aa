#!/usr/bin/env python3
"""The archives of the archive benchmark (scripts/bench.sh), written with Python's tarfile
headers around the Debian root file system layer the benchmark prepares:

1. WORK/debian-oci.tar: an OCI layout archive of the layer (and WORK/debian-layer-name, the
   layer's member name in it);
2. WORK/huge-save.tar: a `docker save` archive above 2 GiB: the Debian layer, a 2 GiB layer
   left as a hole (a sparse file), then the config and manifest.json last, as `docker save`
   orders them;
3. WORK/ten-layers-oci.tar: an OCI layout archive of the same root file system cut into ten
   gzip layers (its members in order, each layer an equal share of the bytes left), for the
   page's pool benchmark.

usage: make-archives.py LAYER.tar.gz LAYER.tar WORK
"""
import gzip, hashlib, io, json, os, sys, tarfile

if len(sys.argv) != 4:
    sys.exit(__doc__)
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

# 3. The root file system in ten gzip layers, as an OCI layout archive.
LAYERS = 10
with tarfile.open(layer_tar) as source:
    members = source.getmembers()
    # Each layer gets an equal share of the bytes not yet placed (a huge file makes its
    # layer larger and the ones after it smaller), so there are always ten.
    left = sum(m.size for m in members)
    cuts, current = [[]], 0
    share = left / LAYERS
    for member in members:
        if current >= share and len(cuts) < LAYERS:
            cuts.append([])
            current = 0
            share = left / (LAYERS - len(cuts) + 1)
        cuts[-1].append(member)
        current += member.size
        left -= member.size
    blobs = []
    for index, part in enumerate(cuts):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as layer:
            for member in part:
                data = source.extractfile(member) if member.isfile() else None
                layer.addfile(member, data)
        plain = raw.getvalue()
        zipped = gzip.compress(plain, compresslevel=6, mtime=0)
        blobs.append((zipped, hashlib.sha256(zipped).hexdigest(), hashlib.sha256(plain).hexdigest()))
ten_config = json.dumps({
    "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
    "config": {"Cmd": ["/bin/bash"]},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + b[2] for b in blobs]},
    "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "part %d of the root file system" % i}
                for i in range(len(blobs))],
}).encode()
ten_manifest = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": "sha256:" + hashlib.sha256(ten_config).hexdigest(), "size": len(ten_config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": "sha256:" + b[1], "size": len(b[0])} for b in blobs],
}).encode()
ten_index = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                   "digest": "sha256:" + hashlib.sha256(ten_manifest).hexdigest(), "size": len(ten_manifest),
                   "annotations": {"org.opencontainers.image.ref.name": "bench/debian:ten-layers"}}],
}).encode()
with open(os.path.join(work, "ten-layers-oci.tar"), "wb") as out:
    add_bytes(out, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    for zipped, digest, _ in blobs:
        add_bytes(out, "blobs/sha256/" + digest, zipped)
    add_bytes(out, "blobs/sha256/" + hashlib.sha256(ten_config).hexdigest(), ten_config)
    add_bytes(out, "blobs/sha256/" + hashlib.sha256(ten_manifest).hexdigest(), ten_manifest)
    add_bytes(out, "index.json", ten_index)
    out.write(b"\0" * 1024)
