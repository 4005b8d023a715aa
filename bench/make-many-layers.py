#!/usr/bin/env python3
"""A `docker save` archive of COUNT empty files spread over LAYERS uncompressed layers, for
the memory benchmark (scripts/bench.sh memory): layer i writes directories data/dNNN/ of
1,000 files each, and every layer above the first also changes the one below it: it
removes one of that layer's files in ten with a whiteout (`.wh.NAME`), empties one of its
directories with an opaque marker (`.wh..wh..opq`) and writes one of its files again. The
entries of all layers together number about COUNT. Generated, never checked in.

usage: make-many-layers.py COUNT LAYERS OUT.tar
"""
import hashlib, json, os, sys, tarfile

if len(sys.argv) != 4 or not sys.argv[1].isdigit() or not sys.argv[2].isdigit():
    sys.exit(__doc__)
count, layers, out_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
if layers < 1 or count < layers * 2000:
    sys.exit("make-many-layers.py: at least 2,000 files per layer")
PER_DIRECTORY = 1000
BLOCK = 512


def header(name, directory=False):
    info = tarfile.TarInfo(name)
    info.mode = 0o755 if directory else 0o644
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.mtime = 0
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def directories_of(layer, per_layer):
    first = layer * per_layer // PER_DIRECTORY
    return range(first, first + per_layer // PER_DIRECTORY)


def layer_blocks(layer, per_layer):
    """Tar blocks of layer `layer`: its own directories, then the changes to the one below."""
    yield header("data/", directory=True)
    for d in directories_of(layer, per_layer):
        yield header(f"data/d{d:04}/", directory=True)
        for f in range(PER_DIRECTORY):
            yield header(f"data/d{d:04}/file{f:04}")
    if layer == 0:
        return
    below = list(directories_of(layer - 1, per_layer))
    # The lower layer's first directory emptied, a tenth of the rest's files removed, and
    # one file in each of those written again.
    yield header(f"data/d{below[0]:04}/.wh..wh..opq")
    for d in below[1:]:
        for f in range(0, PER_DIRECTORY, 10):
            yield header(f"data/d{d:04}/.wh.file{f:04}")
        yield header(f"data/d{d:04}/file0001")


per_layer = count // layers // PER_DIRECTORY * PER_DIRECTORY
tmp_path = out_path + ".tmp"
diff_ids = []
with open(tmp_path, "wb") as out:
    for layer in range(layers):
        blocks = list(layer_blocks(layer, per_layer)) + [b"\0" * (2 * BLOCK)]
        data = b"".join(blocks)
        del blocks
        info = tarfile.TarInfo(f"l{layer}/layer.tar")
        info.size = len(data)
        info.mtime = 0
        out.write(info.tobuf(format=tarfile.USTAR_FORMAT))
        out.write(data)
        out.write(b"\0" * (-len(data) % BLOCK))
        diff_ids.append("sha256:" + hashlib.sha256(data).hexdigest())
        del data

    def add_bytes(name, data):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = 0
        out.write(info.tobuf(format=tarfile.USTAR_FORMAT))
        out.write(data)
        out.write(b"\0" * (-len(data) % BLOCK))

    config = json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": f"COPY layer {i}"}
                    for i in range(layers)],
    }).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    add_bytes(config_name, config)
    add_bytes("manifest.json", json.dumps([{
        "Config": config_name, "RepoTags": [f"bench/many-layers:{count}x{layers}"],
        "Layers": [f"l{i}/layer.tar" for i in range(layers)],
    }]).encode())
    out.write(b"\0" * (2 * BLOCK))
os.replace(tmp_path, out_path)
