#!/usr/bin/env python3
"""Writes the fuzzers' seed inputs into a folder per target (default fuzz/seeds/).

Structure-aware seeds: the peer fixtures' documents and archives, and a few
tiny tars built here (ustar, PAX, GNU long names, links, whiteouts), each
prefixed with the settings bytes its harness reads first (see
crates/core/src/fuzzing.rs). scripts/fuzz.sh --seed turns these into the
committed corpora under fuzz/corpus/ with `cargo fuzz cmin`.
"""

import gzip
import io
import json
import pathlib
import subprocess
import sys
import tarfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
# The peer fixtures sit beside the repository (shared/fixtures/peers); a
# worktree may be deeper, so the nearest ancestor that has them is used.
PEERS = next(p / "shared" / "fixtures" / "peers" for p in ROOT.parents
             if (p / "shared" / "fixtures" / "peers" / "README.md").is_file())
OUT = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "fuzz" / "seeds"


def write(target, name, data):
    folder = OUT / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def tar_of(members, fmt=tarfile.USTAR_FORMAT, pax_headers=None):
    """members: (name, kind, payload) with kind file/dir/symlink/link."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt, pax_headers=pax_headers) as tar:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if kind == "file":
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
                continue
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = payload
            elif kind == "link":
                info.type = tarfile.LNKTYPE
                info.linkname = payload
            tar.addfile(info)
    return out.getvalue()


def zstd(data):
    return subprocess.run(["zstd", "-q", "-c", "-3"], input=data, capture_output=True, check=True).stdout


def small_tars():
    plain = [("etc", "dir", None), ("etc/os-release", "file", b"ID=fuzz\n"),
             ("bin/sh", "symlink", "busybox"), ("bin/busybox", "file", b"\x7fELF" + b"\0" * 40),
             ("bin/ls", "link", "bin/busybox")]
    whiteouts = [("var/.wh.cache", "file", b""), ("opt/.wh..wh..opq", "file", b""),
                 ("opt/new", "file", b"x" * 600)]
    long_name = "deep/" * 30 + "file.txt"
    long_link = "target/" * 20 + "end"
    return {
        "ustar": tar_of(plain),
        "whiteouts": tar_of(whiteouts),
        "pax": tar_of([(long_name, "file", b"pax\n"), ("link", "symlink", long_link),
                       ("caf\u00e9", "file", b"utf-8 name")], fmt=tarfile.PAX_FORMAT),
        "pax_global": tar_of([("a", "file", b"1")], fmt=tarfile.PAX_FORMAT,
                             pax_headers={"comment": "global"}),
        "gnu": tar_of([(long_name, "file", b"gnu\n"), ("l", "symlink", long_link)],
                      fmt=tarfile.GNU_FORMAT),
        "empty": b"\0" * 1024,
    }


def main():
    tars = small_tars()
    for peer in ["go-containerregistry/pkg/v1/tarball/testdata/content.tar",
                 "go-containerregistry/pkg/v1/mutate/testdata/whiteout_dir.tar"]:
        tars[pathlib.Path(peer).stem] = (PEERS / peer).read_bytes()

    for name, data in tars.items():
        for mode in range(4):
            write("tar", f"{name}-{mode}", bytes([mode, 7 * mode + 1]) + data)
        write("scan", f"{name}-plain", bytes([6, 3]) + data)
        write("scan", f"{name}-gzip", bytes([2, 5]) + gzip.compress(data, mtime=0))
        write("scan", f"{name}-zstd", bytes([5, 9]) + zstd(data))
    write("scan", "peer-content.tar.zst",
          bytes([0, 1]) + (PEERS / "go-containerregistry/pkg/crane/testdata/content.tar.zst").read_bytes())

    archives = ["go-containerregistry/pkg/v1/tarball/testdata/test_image_1.tar",
                "dive/.data/test-oci-gzip-image.tar",
                "dive/.data/test-oci-zstd-image.tar", "dive/.data/test-oci-uncompressed-image.tar",
                "containers-image/docker/archive/fixtures/almostempty.tar",
                "go-containerregistry/pkg/v1/tarball/testdata/null_manifest.tar",
                "go-containerregistry/pkg/v1/tarball/testdata/test_link.tar",
                "go-containerregistry/pkg/v1/tarball/testdata/test_bundle.tar",
                "dive/.data/test-uncompressed-image.tar"]
    for i, peer in enumerate(archives):
        data = (PEERS / peer).read_bytes()
        write("archive", pathlib.Path(peer).stem, bytes([i % 3 + (4 if i % 2 else 0), i + 1]) + data)
    docker_save = (PEERS / archives[0]).read_bytes()
    write("archive", "docker-save.tar.gz", bytes([1, 11]) + gzip.compress(docker_save, mtime=0))
    write("archive", "docker-save.tar.zst", bytes([0, 13]) + zstd(docker_save))

    documents = sorted((PEERS / "containers-image/internal/manifest/testdata").glob("*.json"))
    for i, path in enumerate(documents):
        write("documents", path.stem, bytes([i]) + path.read_bytes())
    for archive in archives[:4]:
        with tarfile.open(PEERS / archive) as tar:
            for member in tar.getmembers():
                if member.isfile() and member.size < 8192:
                    body = tar.extractfile(member).read()
                    if body.lstrip().startswith(b"{") or body.lstrip().startswith(b"["):
                        safe = member.name.replace("/", "_")[-60:]
                        write("documents", f"{pathlib.Path(archive).stem}-{safe}", bytes([0]) + body)
    write("documents", "layout-header", b"\0" + b'{"imageLayoutVersion":"1.0.0"}')
    write("documents", "descriptor", b"\0" + json.dumps({
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 7,
        "digest": "sha256:" + "a" * 64, "platform": {"os": "linux", "architecture": "arm64",
                                                     "variant": "v8"}}).encode())

    references = ["alpine", "alpine:3.19", "docker.io/library/alpine:latest",
                  "ghcr.io/owner/repo/sub:v1.2.3", "localhost:5000/a/b@sha256:" + "0" * 64,
                  "[::1]:5000/x:y", "registry.example/x:y@sha512:" + "f" * 128,
                  "a" * 64, "Upper/case", "linux/arm64/v8", "2024-01-02T03:04:05.123456789Z",
                  "Tue, 01 Dec 2026 19:00:00 GMT", "application/vnd.oci.image.layer.v1.tar+zstd",
                  "text sha256:" + "b" * 64 + " more"]
    for i, text in enumerate(references):
        write("reference", f"ref-{i}", text.encode())

    challenges = [
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/alpine:pull"',
        'Basic realm="registry"',
        'Bearer realm="https://ghcr.io/token",scope="repository:a:pull,push",error="insufficient_scope"',
        'Bearer realm="https://r.example/t", Basic realm="x", Negotiate',
        'Bearer realm="a\\"b",service=plain',
    ]
    tokens = [b'{"token":"abc","expires_in":300,"issued_at":"2026-12-01T19:00:00Z"}',
              b'{"access_token":"xyz"}', b'{"details":"incorrect username or password"}', b""]
    for i, header in enumerate(challenges):
        write("www_authenticate", f"challenge-{i}", header.encode() + b"\0" + tokens[i % len(tokens)])

    responses = [
        b'200\ncontent-type: application/json\nlink: </v2/library/alpine/tags/list?last=3.1&n=2>; rel="next"'
        b'\n\n{"name":"library/alpine","tags":["3.0","3.1"]}',
        b'200\nLink: <https://registry.example/v2/_catalog?last=b&n=2>; rel="next", </v2/x>; rel=prev'
        b'\n\n{"repositories":["a","b"]}',
        b'200\n\n{"name":"x","tags":null}',
        b'404\ncontent-type: application/json\n\n{"errors":[{"code":"MANIFEST_UNKNOWN",'
        b'"message":"manifest unknown","detail":{"Tag":"nope"}}]}',
        b'429\nratelimit-limit: 100;w=21600\nratelimit-remaining: 0;w=21600\n'
        b'docker-ratelimit-source: 192.0.2.1\nretry-after: 60\n\n{"errors":[{"code":"TOOMANYREQUESTS"}]}',
        b'503\nretry-after: Tue, 01 Dec 2026 19:00:00 GMT\n\n{"error":"unavailable","error_description":"later"}',
        b'200\ncontent-type: application/vnd.oci.image.index.v1+json\ndocker-content-digest: sha256:'
        + b"0" * 64 + b"\ncontent-length: 2\n\n{}",
        b'200\ncontent-type: application/vnd.docker.distribution.manifest.v2+json\n\n'
        + (PEERS / "containers-image/internal/manifest/testdata/v2s2.manifest.json").read_bytes(),
    ]
    for i, response in enumerate(responses):
        write("registry_responses", f"response-{i}", response)


if __name__ == "__main__":
    main()
