# Shared helpers for the scripts in this folder. Sourced, not run.
# shellcheck shell=bash

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT

# Versions that must agree with Cargo.toml (`wasm-bindgen = "=X"`) and
# Trunk.toml ([tools] wasm_bindgen).
WASM_BINDGEN_VERSION="0.2.130"
TRUNK_VERSION="0.22.1"
# trunk 0.22 needs rustc >= 1.96.1; where neither stable nor nightly has it,
# this older trunk builds with older compilers and reads the same Trunk.toml.
TRUNK_FALLBACK_VERSION="0.21.14"

# CI builds a fresh clone each run. Cargo's build cache is keyed by
# fingerprints (sources, flags, compiler), so keeping it outside the clone is
# safe and spares CI from compiling every dependency again.
if [ "${CI:-}" = true ] && [ -z "${CARGO_TARGET_DIR:-}" ]; then
  export CARGO_TARGET_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/layerscope/target"
fi
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"

# Web builds get their own target dir: the Debian route uses a different
# rustc than the native builds, and separate dirs keep both caches warm.
WASM_TARGET_DIR="$TARGET_DIR/wasm"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Measuring, for the benchmarks (the same median as bench/src/lib.rs): the middle
# value, or the mean of the two middle values of an even count.
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# Wall-clock seconds of one run of a command, its output discarded.
seconds_of() {
  local t0=$EPOCHREALTIME
  "$@" >/dev/null
  local t1=$EPOCHREALTIME
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f\n", b - a}'
}

# Peak resident memory of one run of a command, in MB (needs /usr/bin/time).
peak_rss_mb() {
  local kb
  kb=$( { /usr/bin/time -f '%M' "$@" >/dev/null; } 2>&1 | tail -1)
  awk -v kb="$kb" 'BEGIN {printf "%.1f\n", kb / 1024}'
}

# rustup's cargo and cargo-installed tools come first: Debian's cargo-web
# also installs /usr/bin/cargo, which only the wasm build (with_wasm_env) wants.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

APT_UPDATED=0
# Installs the named Debian packages that are not installed yet.
apt_install_missing() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  if [ $APT_UPDATED = 0 ]; then
    $SUDO apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

version_at_least() { # version_at_least HAVE WANT
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

rustc_version() { # rustc_version [+toolchain]
  rustc "$@" --version 2>/dev/null | awk '{print $2}' | sed 's/-.*//'
}

# Prints "rustup" when rustup's wasm32 target is usable, "debian" when the
# Debian route (rustc-web + -Zbuild-std) must be used.
wasm_route() {
  if command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    echo rustup
  else
    echo debian
  fi
}

# Runs a command with the environment that builds wasm32 on the chosen route.
with_wasm_env() {
  if [ "$(wasm_route)" = debian ]; then
    CARGO_TARGET_DIR="$WASM_TARGET_DIR" \
      PATH="/usr/bin:$PATH" \
      RUSTC_BOOTSTRAP=1 \
      CARGO_UNSTABLE_BUILD_STD=std,panic_abort \
      CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld \
      RUSTC=/usr/bin/rustc CARGO=/usr/bin/cargo \
      "$@"
  else
    CARGO_TARGET_DIR="$WASM_TARGET_DIR" "$@"
  fi
}

# The page's wasm is built with WebAssembly SIMD (every current browser runs it; the
# scanner's inflate and hashing gain a few percent). Other RUSTFLAGS than a plain wasm
# build, so a target dir of its own keeps both caches warm on either route.
WASM_SIMD_TARGET_DIR="$WASM_TARGET_DIR/simd128"
WASM_SIMD_RUSTFLAGS="-C target-feature=+simd128"

# Like with_wasm_env, with simd128 on and its own target dir.
with_wasm_simd_env() {
  with_wasm_env env CARGO_TARGET_DIR="$WASM_SIMD_TARGET_DIR" \
    RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }$WASM_SIMD_RUSTFLAGS" "$@"
}
