#!/usr/bin/env python3
"""A `docker save` archive of one uncompressed layer holding COUNT empty files, for the page
benchmark (scripts/bench.sh page): /data, then directories of 1,000 files each
(data/d000/file000000 ... ), every name distinct. The archive is generated, never checked in.

The layer is written straight into the archive (its size is known from the count: one
512-byte header per entry and two zero blocks), hashed as it goes; the config, named by its
digest, and manifest.json follow it, as `docker save` orders them.

usage: make-many-files.py COUNT OUT.tar
"""
import hashlib, json, os, sys, tarfile

if len(sys.argv) != 3 or not sys.argv[1].isdigit() or int(sys.argv[1]) < 1:
    sys.exit(__doc__)
count = int(sys.argv[1])
out_path = sys.argv[2]
PER_DIRECTORY = 1000
BLOCK = 512
if count > PER_DIRECTORY * 100_000:
    sys.exit(f"make-many-files.py: {count} files is more than the name scheme holds")
directories = (count + PER_DIRECTORY - 1) // PER_DIRECTORY
digits = max(6, len(str(count - 1)))


def header(name, size, directory=False):
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o755 if directory else 0o644
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.mtime = 0
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def layer_entries():
    yield header("data/", 0, directory=True)
    for d in range(directories):
        yield header(f"data/d{d:03}/", 0, directory=True)
        for index in range(d * PER_DIRECTORY, min(count, (d + 1) * PER_DIRECTORY)):
            yield header(f"data/d{d:03}/file{index:0{digits}}", 0)
    yield b"\0" * (2 * BLOCK)


layer_size = (1 + directories + count) * BLOCK + 2 * BLOCK
tmp_path = out_path + ".tmp"
with open(tmp_path, "wb") as out:
    out.write(header("layer/layer.tar", layer_size))
    hashed = hashlib.sha256()
    written = 0
    batch = []
    for block in layer_entries():
        batch.append(block)
        if len(batch) >= 4096:
            data = b"".join(batch)
            hashed.update(data)
            out.write(data)
            written += len(data)
            batch = []
    data = b"".join(batch)
    hashed.update(data)
    out.write(data)
    written += len(data)
    assert written == layer_size, (written, layer_size)

    def add_bytes(name, data):
        out.write(header(name, len(data)))
        out.write(data)
        out.write(b"\0" * (-len(data) % BLOCK))

    config = json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashed.hexdigest()]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "COPY data /data"}],
    }).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    add_bytes(config_name, config)
    add_bytes("manifest.json", json.dumps([{
        "Config": config_name, "RepoTags": [f"bench/many:{count}"],
        "Layers": ["layer/layer.tar"],
    }]).encode())
    out.write(b"\0" * (2 * BLOCK))
os.replace(tmp_path, out_path)
