#!/usr/bin/env bash
# Installs whatever is missing to build the page and run every test, and
# nothing that is already there. Safe to run again; fast when all is present.
#
#   scripts/setup.sh          everything (build + tests)
#   scripts/setup.sh web      only what building the page needs
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

what="${1:-all}"

setup_wasm_target() {
  if [ "$(wasm_route)" = rustup ]; then return 0; fi
  # Where rustup can download (a developer laptop) use it. Here it cannot:
  # remember that so later runs do not wait for the download to time out.
  local marker="$TARGET_DIR/.rustup-cannot-add-wasm"
  if [ ! -e "$marker" ] && ! dpkg-query -W -f='${Status}' rustc-web 2>/dev/null | grep -q "ok installed"; then
    if command -v rustup >/dev/null && timeout 60 rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then
      say "wasm32 target added with rustup"
      return 0
    fi
    mkdir -p "$(dirname "$marker")" && touch "$marker"
  fi
  say "wasm32 via Debian's rustc-web route"
  apt_install_missing rustc-web cargo-web rust-web-src lld
}

# cargo_install CRATE VERSION [+TOOLCHAIN]: the crate's own lock file first;
# it can name a version the registry has since yanked (wasm-bindgen-cli
# 0.2.130 locks webpki-roots 1.0.11), and then we resolve afresh.
cargo_install() {
  local crate=$1 version=$2 toolchain=${3:-}
  # shellcheck disable=SC2086
  cargo $toolchain install "$crate" --version "$version" --locked --quiet && return 0
  say "$crate $version: its lock file does not resolve here; installing with fresh resolution"
  # shellcheck disable=SC2086
  cargo $toolchain install "$crate" --version "$version" --quiet
}

setup_wasm_bindgen() {
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" = "$WASM_BINDGEN_VERSION" ]; then return 0; fi
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
  cargo_install wasm-bindgen-cli "$WASM_BINDGEN_VERSION"
}

setup_trunk() {
  if command -v trunk >/dev/null; then return 0; fi
  local toolchain=""
  if version_at_least "$(rustc_version)" 1.96.1; then
    toolchain=""
  elif command -v rustup >/dev/null && rustup toolchain list | grep -q '^nightly' &&
    version_at_least "$(rustc_version +nightly)" 1.96.1; then
    toolchain="+nightly"
  else
    say "installing trunk $TRUNK_FALLBACK_VERSION (rustc too old for $TRUNK_VERSION; about 10 minutes, once)"
    cargo_install trunk "$TRUNK_FALLBACK_VERSION"
    return 0
  fi
  say "installing trunk $TRUNK_VERSION (about 10 minutes, once)"
  cargo_install trunk "$TRUNK_VERSION" $toolchain
}

setup_test_tools() {
  # Real browser, real registry, real image tools; htpasswd for basic auth.
  # openssl signs the test token issuer's certificate (bearer-token registry tests).
  apt_install_missing chromium chromium-driver docker-registry skopeo umoci apache2-utils openssl tar gzip zstd
}

case "$what" in
  web) setup_wasm_target; setup_wasm_bindgen; setup_trunk ;;
  all) setup_wasm_target; setup_wasm_bindgen; setup_trunk; setup_test_tools ;;
  *) die "usage: scripts/setup.sh [all|web]" ;;
esac
