#!/usr/bin/env python3
"""Writes issue 11's adversarial corpus into OUTDIR: one file per case.

Usage: make-corpus.py OUTDIR [CASE ...]

Every case is built here from bytes (tar headers, gzip through zlib, zstd frames written
block by block), so nothing but Python's standard library is needed and nothing big is
kept in git. A case already written (same generator version) is left as it is, so a warm
test run does not pay for it again. crates/cli/tests/corpus.rs runs the CLI on each and
says what it must answer.
"""

import hashlib
import io
import json
import os
import sys
import zlib

VERSION = "1"
BLOCK = 512
GIB = 1 << 30
MIB = 1 << 20


# ---------------------------------------------------------------- tar


def octal(value, width):
    return (b"%0*o" % (width - 1, value)) + b"\0"


def header(name, size=0, kind=b"0", link=b"", mode=0o644, prefix=b""):
    """One ustar header block; `name` and `link` are bytes (cut to their fields)."""
    block = bytearray(BLOCK)
    block[0:100] = name[:100].ljust(100, b"\0")
    block[100:108] = octal(mode, 8)
    block[108:116] = octal(0, 8)
    block[116:124] = octal(0, 8)
    block[124:136] = octal(size, 12)
    block[136:148] = octal(1700000000, 12)
    block[148:156] = b" " * 8
    block[156:157] = kind
    block[157:257] = link[:100].ljust(100, b"\0")
    block[257:263] = b"ustar\0"
    block[263:265] = b"00"
    block[345:500] = prefix[:155].ljust(155, b"\0")
    checksum = sum(block)
    block[148:156] = b"%06o\0 " % checksum
    return bytes(block)


def padding(size):
    return b"\0" * ((BLOCK - size % BLOCK) % BLOCK)


def pax_record(key, value):
    """One `len key=value\\n` record; the length counts itself."""
    body = b" " + key + b"=" + value + b"\n"
    length = len(body) + 1
    while len(str(length).encode()) + len(body) != length:
        length += 1
    return str(length).encode() + body


def pax(records, kind=b"x", name=b"PaxHeaders/entry"):
    data = b"".join(pax_record(k, v) for k, v in records)
    return header(name, len(data), kind) + data + padding(len(data))


def member(name, data=b"", kind=b"0", link=b"", mode=0o644):
    """A member; names over 100 bytes go in a PAX header first."""
    out = b""
    if len(name) > 100 or len(link) > 100:
        records = [(b"path", name)]
        if len(link) > 100:
            records.append((b"linkpath", link))
        out += pax(records)
    return out + header(name, len(data), kind, link, mode) + data + padding(len(data))


END = b"\0" * (2 * BLOCK)


def tar(members):
    return b"".join(members) + END


# ---------------------------------------------------------------- compression


def gzip_bytes(data):
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def zstd_frame(segments, window_log=20):
    """A zstd frame from segments: ("raw", bytes) or ("zeros", count), as raw and RLE
    blocks. `window_log` is what the frame header declares (no content size)."""
    exponent = window_log - 10
    out = bytearray(b"\x28\xb5\x2f\xfd")
    out += bytes([0x00, exponent << 3])
    block_max = min(128 * 1024, 1 << window_log)
    blocks = []
    for kind, value in segments:
        if kind == "raw":
            for i in range(0, len(value), block_max):
                blocks.append((0, value[i : i + block_max]))
        else:
            left = value
            while left > 0:
                n = min(left, block_max)
                blocks.append((1, n))
                left -= n
    if not blocks:
        blocks.append((0, b""))
    for i, (kind, value) in enumerate(blocks):
        last = 1 if i == len(blocks) - 1 else 0
        if kind == 0:
            out += ((len(value) << 3) | last).to_bytes(3, "little") + value
        else:
            out += ((value << 3) | (1 << 1) | last).to_bytes(3, "little") + b"\0"
    return bytes(out)


# ---------------------------------------------------------------- images


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def config(diff_ids, history=None):
    history = history if history is not None else [
        {"created": "2024-01-01T00:00:00Z", "created_by": "corpus layer %d" % i}
        for i in range(len(diff_ids))
    ]
    return json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "created": "2024-01-01T00:00:00Z",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        }
    ).encode()


def docker_save(layers, history=None, tag="corpus:case"):
    """A `docker save` archive (bytes) of layers given as (stored bytes, diff_id)."""
    members = []
    names = []
    for i, (stored, _) in enumerate(layers):
        name = "layer%d/layer.tar" % i
        names.append(name)
        members.append(member(b"layer%d/" % i, kind=b"5", mode=0o755))
        members.append(member(name.encode(), stored))
    cfg = config([d for _, d in layers], history)
    cfg_name = sha256(cfg)[7:] + ".json"
    members.append(member(cfg_name.encode(), cfg))
    manifest = json.dumps([{"Config": cfg_name, "RepoTags": [tag], "Layers": names}]).encode()
    members.append(member(b"manifest.json", manifest))
    return tar(members)


def plain_layer(members):
    data = tar(members)
    return (data, sha256(data))


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


class ZeroFile:
    """The plain bytes of a tar holding one file of `size` zero bytes, in pieces."""

    def __init__(self, name, size):
        self.head = header(name, size)
        self.size = size
        self.tail = padding(size) + END

    def segments(self):
        yield ("raw", self.head)
        yield ("zeros", self.size)
        yield ("raw", self.tail)

    def diff_id(self):
        h = hashlib.sha256(self.head)
        chunk = b"\0" * MIB
        left = self.size
        while left:
            n = min(left, MIB)
            h.update(chunk[:n])
            left -= n
        h.update(self.tail)
        return "sha256:" + h.hexdigest()


def gzip_segments(segments, out):
    c = zlib.compressobj(1, zlib.DEFLATED, 31)
    chunk = b"\0" * MIB
    for kind, value in segments:
        if kind == "raw":
            out.write(c.compress(value))
        else:
            left = value
            while left:
                n = min(left, MIB)
                out.write(c.compress(chunk[:n]))
                left -= n
    out.write(c.flush())


def gzip_bomb(size):
    z = ZeroFile(b"zeros", size)
    buf = io.BytesIO()
    gzip_segments(z.segments(), buf)
    return (buf.getvalue(), z.diff_id())


def zstd_bomb(size, window_log=20):
    z = ZeroFile(b"zeros", size)
    return (zstd_frame(z.segments(), window_log), z.diff_id())


def stream_archive(layer_segments_list, compressor, path, history=None):
    """A docker-save archive compressed whole; layers are (segments, diff_id) of
    uncompressed layer tars that may hold long zero runs."""
    pieces = []
    names = []
    diff_ids = []
    for i, (segments, size, diff_id) in enumerate(layer_segments_list):
        name = "layer%d/layer.tar" % i
        names.append(name)
        diff_ids.append(diff_id)
        pieces.append(("raw", member(b"layer%d/" % i, kind=b"5", mode=0o755)))
        pieces.append(("raw", header(name.encode(), size)))
        pieces.extend(segments)
        pieces.append(("raw", padding(size)))
    cfg = config(diff_ids, history)
    cfg_name = sha256(cfg)[7:] + ".json"
    manifest = json.dumps([{"Config": cfg_name, "RepoTags": ["corpus:streamed"], "Layers": names}]).encode()
    pieces.append(("raw", member(cfg_name.encode(), cfg) + member(b"manifest.json", manifest) + END))
    if compressor == "zstd":
        write(path, zstd_frame(pieces))
    else:
        with open(path, "wb") as f:
            gzip_segments(pieces, f)


def zero_layer_segments(size):
    z = ZeroFile(b"zeros", size)
    return (list(z.segments()), len(z.head) + size + len(z.tail), z.diff_id())


def junk_member_segments(size):
    """A member that is no layer: a tar of one big zero file (scanned while streaming,
    then not named by manifest.json)."""
    return zero_layer_segments(size)


# ---------------------------------------------------------------- cases


def case_outer_zstd_bomb(path):
    stream_archive([zero_layer_segments(GIB)], "zstd", path)


def case_outer_gzip_bomb(path):
    stream_archive([zero_layer_segments(GIB)], "gzip", path)


def case_outer_zstd_junk_members(path):
    """20 members that are not layers, each a tar of 100 MiB zeros, then one real layer."""
    layers = [zero_layer_segments(100 * MIB) for _ in range(21)]
    pieces = []
    names = []
    for i, (segments, size, _) in enumerate(layers):
        name = "blob%d" % i
        names.append(name)
        pieces.append(("raw", header(name.encode(), size)))
        pieces.extend(segments)
        pieces.append(("raw", padding(size)))
    cfg = config([layers[-1][2]])
    cfg_name = sha256(cfg)[7:] + ".json"
    manifest = json.dumps([{"Config": cfg_name, "RepoTags": ["corpus:junk"], "Layers": [names[-1]]}]).encode()
    pieces.append(("raw", member(cfg_name.encode(), cfg) + member(b"manifest.json", manifest) + END))
    write(path, zstd_frame(pieces))


def case_layer_gzip_bomb(path):
    write(path, docker_save([gzip_bomb(GIB)]))


def case_layer_zstd_bomb(path):
    write(path, docker_save([zstd_bomb(GIB)]))


def case_zstd_window_2g(path):
    write(path, docker_save([zstd_bomb(64 * MIB, window_log=31)]))


def case_zstd_window_2t(path):
    write(path, docker_save([zstd_bomb(64 * MIB, window_log=41)]))


def deep_path(components):
    return b"/".join([b"d"] * components) + b"/f"


def case_path_20k(path):
    write(path, docker_save([plain_layer([member(deep_path(20_000), b"x")])]))


def case_path_100k(path):
    write(path, docker_save([plain_layer([member(deep_path(100_000), b"x")])]))


def case_path_4k_deep(path):
    # 2048 components, 4 KiB of path: deeper than PATH_MAX allows on Linux, still shown.
    write(path, docker_save([plain_layer([member(deep_path(2047), b"x")])]))


def case_million_files(path):
    """One gzip layer of 1,000,000 empty files in 1,000 directories."""
    c = zlib.compressobj(1, zlib.DEFLATED, 31)
    h = hashlib.sha256()
    stored = io.BytesIO()

    def put(data):
        h.update(data)
        stored.write(c.compress(data))

    for d in range(1000):
        put(header(b"d%03d/" % d, 0, b"5", mode=0o755))
        put(b"".join(header(b"d%03d/f%04d" % (d, f), 0) for f in range(1000)))
    put(END)
    stored.write(c.flush())
    write(path, docker_save([(stored.getvalue(), "sha256:" + h.hexdigest())]))


def case_manifest_10k_layers(path, count=10_000):
    layer = tar([])
    diff = sha256(layer)
    members = []
    names = []
    for i in range(count):
        name = "l%05d.tar" % i
        names.append(name)
        members.append(member(name.encode(), layer))
    history = [{"created_by": "layer %d" % i} for i in range(count)]
    cfg = config([diff] * count, history)
    cfg_name = sha256(cfg)[7:] + ".json"
    members.append(member(cfg_name.encode(), cfg))
    manifest = json.dumps([{"Config": cfg_name, "RepoTags": ["corpus:layers"], "Layers": names}]).encode()
    members.append(member(b"manifest.json", manifest))
    write(path, tar(members))


def case_history_100k(path):
    layer = plain_layer([member(b"f", b"x")])
    history = [{"empty_layer": True} for _ in range(100_000 - 1)]
    history.append({"created_by": "last"})
    write(path, docker_save([layer], history=history))


def valid_archive():
    return docker_save(
        [
            plain_layer([member(b"etc/", kind=b"5", mode=0o755), member(b"etc/hostname", b"corpus\n")]),
            plain_layer([member(b"etc/", kind=b"5", mode=0o755), member(b"etc/hostname", b"again\n")]),
        ]
    )


def case_valid(path):
    write(path, valid_archive())


def case_cut_in_header(path):
    data = valid_archive()
    # The manifest.json header is the last member's: cut 200 bytes into it.
    at = data.rfind(b"manifest.json\0")
    write(path, data[: at + 200])


def case_cut_in_layer(path):
    data = valid_archive()
    at = data.find(b"layer1/layer.tar\0")
    write(path, data[: at + BLOCK + 700])


def case_cut_in_header_gzip(path):
    data = valid_archive()
    at = data.rfind(b"manifest.json\0")
    write(path, gzip_bytes(data[: at + 200]))


def case_cut_in_layer_zstd(path):
    data = valid_archive()
    at = data.find(b"layer1/layer.tar\0")
    write(path, zstd_frame([("raw", data[: at + BLOCK + 700])]))


def case_empty_manifest(path):
    write(path, tar([member(b"manifest.json", b"")]))


def case_dotdot_names(path):
    write(
        path,
        docker_save(
            [
                plain_layer([member(b"../../../../etc/passwd", b"root:x:0:0\n"), member(b"/abs/file", b"a")]),
                plain_layer([member(b"../../../../etc/passwd", b"root:x:0:0:again\n"), member(b"/abs/file", b"b")]),
            ]
        ),
    )


def case_global_pax_path(path):
    write(
        path,
        docker_save(
            [
                plain_layer(
                    [
                        pax([(b"path", b"renamed-by-global")], kind=b"g", name=b"GlobalHead"),
                        member(b"kept-name", b"x"),
                        member(b"second-name", b"y"),
                    ]
                )
            ]
        ),
    )


def case_pax_newline(path):
    write(
        path,
        docker_save(
            [plain_layer([pax([(b"path", b"line1\nline2")]), header(b"line1", 1) + b"z" + padding(1)])]
        ),
    )


def sparse_header(name, real_size, chunks):
    """An old-GNU sparse header ('S'): the map of (offset, length) chunks in the header."""
    block = bytearray(header(name, sum(n for _, n in chunks), b"S"))
    block[257:265] = b"ustar  \0"
    block[263:265] = b" \0"
    for i, (offset, length) in enumerate(chunks[:4]):
        base = 386 + 24 * i
        block[base : base + 12] = octal(offset, 12)
        block[base + 12 : base + 24] = octal(length, 12)
    block[482] = 0
    block[483:495] = octal(real_size, 12)
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def case_gnu_sparse(path):
    data = b"a" * 512 + b"b" * 512
    entry = sparse_header(b"sparse-file", 10 * MIB, [(0, 512), (10 * MIB - 512, 512)]) + data
    write(path, docker_save([plain_layer([entry, member(b"after-sparse", b"x")])]))


def case_links(path):
    write(
        path,
        docker_save(
            [
                plain_layer(
                    [
                        member(b"hard-to-nothing", kind=b"1", link=b"missing/target"),
                        member(b"loop-a", kind=b"2", link=b"loop-b"),
                        member(b"loop-b", kind=b"2", link=b"loop-a"),
                        member(b"self", kind=b"2", link=b"self"),
                        member(b"hard-self", kind=b"1", link=b"hard-self"),
                    ]
                )
            ]
        ),
    )


def oci_layout_lying_about(index_extra=0, config_extra=0, layer_extra=0, stored_layer=None):
    """An OCI layout archive (bytes) of one layer whose descriptors add the given byte
    counts to the sizes of the manifest, the config and the layer; `stored_layer`, when
    given, is stored under the layer's digest in place of the layer the documents name."""
    layer, diff = plain_layer([member(b"f", b"x")])
    cfg = config([diff])
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": sha256(cfg),
                "size": len(cfg) + config_extra,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": sha256(layer),
                    "size": len(layer) + layer_extra,
                }
            ],
        }
    ).encode()
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": sha256(manifest),
                    "size": len(manifest) + index_extra,
                    "annotations": {"org.opencontainers.image.ref.name": "oversized"},
                }
            ],
        }
    ).encode()
    members = [member(b"oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), member(b"index.json", index)]
    for blob in (cfg, layer, manifest):
        stored = stored_layer if blob is layer and stored_layer is not None else blob
        members.append(member(b"blobs/sha256/" + sha256(blob)[7:].encode(), stored))
    return tar(members)


def case_oci_size_larger(path):
    """An OCI layout archive whose manifest descriptor says 100 bytes more than the blob."""
    write(path, oci_layout_lying_about(index_extra=100))


def case_oci_config_size_smaller(path):
    """An OCI layout archive whose config descriptor says 10 bytes less than the blob."""
    write(path, oci_layout_lying_about(config_extra=-10))


def case_oci_layer_size_larger(path):
    """An OCI layout archive whose layer descriptor says 100 bytes more than the blob (the
    digest matches: only the size is wrong)."""
    write(path, oci_layout_lying_about(layer_extra=100))


def case_oci_layer_size_smaller(path):
    """An OCI layout archive whose layer descriptor says 10 bytes less than the blob."""
    write(path, oci_layout_lying_about(layer_extra=-10))


def case_oci_layer_blob_shorter(path):
    """An OCI layout archive whose layer blob is another, shorter tar (an empty one) than
    the one its descriptor names: its size, its digest and its diff_id all differ."""
    empty, _ = plain_layer([])
    write(path, oci_layout_lying_about(stored_layer=empty))


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    outdir = sys.argv[1]
    wanted = sys.argv[2:] or sorted(CASES)
    os.makedirs(outdir, exist_ok=True)
    for name in wanted:
        if name not in CASES:
            sys.exit("make-corpus.py: no case %r; cases: %s" % (name, ", ".join(sorted(CASES))))
        target = os.path.join(outdir, name + ".tar")
        stamp = target + ".v" + VERSION
        if os.path.exists(stamp) and os.path.exists(target):
            continue
        partial = target + ".partial"
        CASES[name](partial)
        os.replace(partial, target)
        open(stamp, "w").close()


if __name__ == "__main__":
    main()
