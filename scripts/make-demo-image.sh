#!/usr/bin/env bash
# Builds the demo image that ships with the page: static/demo/layerscope-demo.tar, a
# `docker save`-style archive of layerscope/demo:1.0.
#
# The image is small but exercises what the viewer must handle:
#   layer 1  base filesystem (a few hundred files, a symlink, a hard link)
#   layer 2  a RUN step that adds an app, changes a file and deletes one (file whiteout)
#   layer 3  a COPY that replaces /etc/demo wholesale (opaque directory marker)
#   plus config-only steps (ENV, WORKDIR, EXPOSE, LABEL, ENTRYPOINT, CMD): empty history layers.
#
# Layers are built with umoci from directories this script writes; the archive is written
# by skopeo. File mtimes and history dates derive from SOURCE_DATE_EPOCH, so re-running gives
# the same layer contents. Needs: umoci, skopeo, GNU coreutils. Run as root (or it uses
# umoci's rootless mode).
#
# Usage: scripts/make-demo-image.sh [OUTPUT.tar]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

output="${1:-$REPO_ROOT/static/demo/layerscope-demo.tar}"
epoch="${SOURCE_DATE_EPOCH:-1704067200}" # 2024-01-01T00:00:00Z
image_ref="layerscope/demo:1.0"

for tool in umoci skopeo; do
  command -v "$tool" >/dev/null || die "make-demo-image: $tool is not installed"
done

rootless=()
if [ "$(id -u)" != 0 ]; then rootless=(--rootless); fi

umask 022
work="$(mktemp -d "${TMPDIR:-/tmp}/layerscope-demo.XXXXXX")"
trap 'rm -rf "$work"' EXIT
layout="$work/oci"
bundle="$work/bundle"

# RFC 3339 time for a build step, `minutes` after the epoch.
step_time() { date -u -d "@$((epoch + $1 * 60))" +%Y-%m-%dT%H:%M:%SZ; }

# Sets every path under $1 changed since the marker file $2 to the step's mtime.
stamp_changes() {
  local root="$1" marker="$2" minutes="$3"
  find "$root" -newer "$marker" -exec touch -h -d "@$((epoch + minutes * 60))" {} +
}

# A deterministic text file of roughly `lines` lines about `topic`.
write_text() {
  local path="$1" topic="$2" lines="$3"
  mkdir -p "$(dirname "$path")"
  {
    echo "# $topic"
    for ((line = 1; line <= lines; line++)); do
      echo "$topic: line $line of $lines; layerscope demo content for stacking and sizes."
    done
  } >"$path"
}

write_base_layer() {
  local rootfs="$1"
  mkdir -p "$rootfs"/{etc/demo,usr/bin,usr/lib/demo,usr/share/doc/demo,var/cache/demo,tmp,root}
  chmod 1777 "$rootfs/tmp"
  chmod 700 "$rootfs/root"
  printf 'NAME="Demo Linux"\nVERSION_ID=1\nID=demo\n' >"$rootfs/etc/os-release"
  printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/app:/bin/sh\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\napp:x:1000:\n' >"$rootfs/etc/group"
  for name in server logging limits cache users; do
    write_text "$rootfs/etc/demo/$name.conf" "default $name settings" 4
  done
  printf '#!/bin/sh\necho "layerscope demo tool $*"\n' >"$rootfs/usr/bin/demo-tool"
  chmod 755 "$rootfs/usr/bin/demo-tool"
  # Two names for one inode: the layer tar stores the second as a hard link entry.
  ln "$rootfs/usr/bin/demo-tool" "$rootfs/usr/bin/layerscope-demo"
  ln -s demo-tool "$rootfs/usr/bin/dt"
  write_text "$rootfs/usr/lib/demo/libdemo.so.1" "shared object stand-in" 120
  ln -s libdemo.so.1 "$rootfs/usr/lib/demo/libdemo.so"
  for ((page = 1; page <= 160; page++)); do
    write_text "$(printf '%s/usr/share/doc/demo/page-%03d.txt' "$rootfs" "$page")" "manual page $page" 2
  done
  for locale in de en es fr it ja nl pt ru zh; do
    for ((part = 1; part <= 4; part++)); do
      write_text "$rootfs/usr/share/locale/$locale/messages-$part.txt" "$locale messages part $part" 1
    done
  done
  # Build caches the next step deletes: they stay in this layer as wasted bytes.
  write_text "$rootfs/var/cache/demo/index.cache" "package index cache" 300
  write_text "$rootfs/var/cache/demo/build.log" "build log" 40
}

write_app_changes() {
  local rootfs="$1"
  mkdir -p "$rootfs/app/bin" "$rootfs/app/static"
  for ((module = 1; module <= 90; module++)); do
    write_text "$(printf '%s/app/lib/module_%02d/mod.py' "$rootfs" "$module")" "app module $module" 3
  done
  for asset in style.css app.js logo.svg favicon.ico robots.txt; do
    write_text "$rootfs/app/static/$asset" "static asset $asset" 5
  done
  printf '#!/bin/sh\nexec /usr/bin/demo-tool serve "$@"\n' >"$rootfs/app/bin/start"
  chmod 755 "$rootfs/app/bin/start"
  printf 'NAME="Demo Linux"\nVERSION_ID=1.1\nID=demo\nBUILD=app\n' >"$rootfs/etc/os-release"
  rm "$rootfs/var/cache/demo/index.cache"
}

write_replacement_config() {
  local dir="$1"
  mkdir -p "$dir/conf.d"
  write_text "$dir/server.conf" "production server settings" 6
  write_text "$dir/conf.d/10-listen.conf" "listen on 8080" 2
  write_text "$dir/conf.d/20-workers.conf" "four workers" 2
}

umoci init --layout "$layout"
umoci new --image "$layout:demo"

# Layer 1: the base filesystem, as a Dockerfile's `FROM scratch` + `ADD rootfs.tar /`.
umoci unpack "${rootless[@]}" --image "$layout:demo" "$bundle"
marker="$work/marker"
touch -d "@$((epoch - 60))" "$marker"
write_base_layer "$bundle/rootfs"
stamp_changes "$bundle/rootfs" "$marker" 0
umoci repack --image "$layout:demo" \
  --history.created "$(step_time 0)" \
  --history.created_by '/bin/sh -c #(nop) ADD file:4c1f8e2b9d0a7c35 in / ' \
  "$bundle"
rm -rf "$bundle"

config_step() {
  local minutes="$1" created_by="$2"
  shift 2
  umoci config --image "$layout:demo" "$@" \
    --history.created "$(step_time "$minutes")" --history.created_by "$created_by"
}
config_step 1 '/bin/sh -c #(nop)  ENV PATH=/app/bin:/usr/bin:/bin APP_ENV=production' \
  --config.env PATH=/app/bin:/usr/bin:/bin --config.env APP_ENV=production
config_step 2 '/bin/sh -c #(nop) WORKDIR /app' --config.workingdir /app

# Layer 2: a RUN step that installs the app, edits a file and deletes a cache file.
umoci unpack "${rootless[@]}" --image "$layout:demo" "$bundle"
touch -d "@$((epoch + 2 * 60))" "$marker"
write_app_changes "$bundle/rootfs"
stamp_changes "$bundle/rootfs" "$marker" 3
umoci repack --image "$layout:demo" \
  --history.created "$(step_time 3)" \
  --history.created_by '/bin/sh -c demo-install --prefix /app && sed -i s/VERSION_ID=1/VERSION_ID=1.1/ /etc/os-release && rm -f /var/cache/demo/index.cache' \
  "$bundle"
rm -rf "$bundle"

# Layer 3: a COPY that replaces /etc/demo wholesale. umoci 0.4.7's `insert --opaque` writes
# the opaque marker but truncates the layer tar (no end-of-archive blocks), so this layer is
# written with GNU tar and appended verbatim with `umoci raw add-layer`.
layer3_root="$work/layer3"
write_replacement_config "$layer3_root/etc/demo"
: >"$layer3_root/etc/demo/.wh..wh..opq"
layer3_tar="$work/layer3.tar"
tar --create --file "$layer3_tar" --directory "$layer3_root" --format=ustar \
  --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$((epoch + 4 * 60))" etc
umoci raw add-layer --image "$layout:demo" \
  --history.created "$(step_time 4)" \
  --history.created_by '/bin/sh -c #(nop) COPY dir:9a3e61d0c2b7f845 in /etc/demo ' \
  "$layer3_tar"

config_step 5 '/bin/sh -c #(nop)  EXPOSE 8080/tcp' --config.exposedports 8080/tcp
config_step 6 '/bin/sh -c #(nop)  LABEL org.opencontainers.image.title=layerscope-demo org.opencontainers.image.description=A small image for the layerscope demo' \
  --config.label org.opencontainers.image.title=layerscope-demo \
  --config.label 'org.opencontainers.image.description=A small image for the layerscope demo'
config_step 7 '/bin/sh -c #(nop)  ENTRYPOINT ["/app/bin/start"]' --config.entrypoint /app/bin/start
config_step 8 '/bin/sh -c #(nop)  CMD ["--port" "8080"]' \
  --config.cmd --port --config.cmd 8080 \
  --config.user app --architecture amd64 --os linux --created "$(step_time 8)"

mkdir -p "$(dirname "$output")"
rm -f "$output"
skopeo copy --quiet "oci:$layout:demo" "docker-archive:$output:$image_ref"
echo "make-demo-image: wrote $output ($(stat -c %s "$output") bytes)"
