#!/usr/bin/env bash
# The README's second command: install what is missing, build the page and
# the binary, and run every test: core unit and peer-conformance tests, the
# web app's state and message tests (natively), CLI
# tests against a real docker-registry, and the page in headless Chromium.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

started=$SECONDS
"$REPO_ROOT/scripts/setup.sh" all
"$REPO_ROOT/scripts/build-web.sh"
cd "$REPO_ROOT"
say "building the layerscope binary"
# The test profile's build: `cargo test` below reuses it instead of building twice.
cargo build --quiet -p layerscope
export LAYERSCOPE_BIN="$TARGET_DIR/debug/layerscope"
export LAYERSCOPE_DIST="$REPO_ROOT/dist"
say "running the tests"
# --no-fail-fast: one failing test binary must not hide the results of the rest.
cargo test --workspace --no-fail-fast "$@"
say "all tests passed in $((SECONDS - started)) s"
