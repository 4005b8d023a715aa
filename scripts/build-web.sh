#!/usr/bin/env bash
# Builds the page into dist/ (release, wasm SIMD on), installing the toolchain if missing.
# dist/ is a static site: copy it to any static host or sub-path.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$REPO_ROOT/scripts/setup.sh" web
cd "$REPO_ROOT"
say "building the page into dist/ ($(wasm_route) wasm route, simd128)"
with_wasm_simd_env trunk build --release --dist "$REPO_ROOT/dist" "$@"
