#!/usr/bin/env bash
# The README's first command: build the page and serve it at
# http://127.0.0.1:8080 with `layerscope serve`. Extra arguments go to serve.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$REPO_ROOT/scripts/build-web.sh"
cd "$REPO_ROOT"
say "building the layerscope binary"
cargo build --release --quiet -p layerscope
exec "$TARGET_DIR/release/layerscope" serve --addr 127.0.0.1:8080 --dist "$REPO_ROOT/dist" "$@"
