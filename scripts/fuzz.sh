#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ (nightly toolchain, cargo-fuzz).
#
#   scripts/fuzz.sh [TARGET|all] [SECONDS]   fuzz each target SECONDS (default 60), one at a
#                                            time, and print the executions of each
#   scripts/fuzz.sh --corpus [TARGET|all]    rebuild the committed corpora: the seeds from
#                                            fuzz/make-seeds.py plus what earlier runs found,
#                                            minimised with `cargo fuzz cmin`
#
# Runs start from the committed corpus (fuzz/corpus/TARGET, only read) and keep what they
# find in $CARGO_TARGET_DIR/fuzz-work/TARGET, outside the repository; a crash lands in
# fuzz/artifacts/TARGET (ignored by git): add the reproducer to fuzz/regressions/TARGET with
# the fix, and crates/core/tests/fuzz_corpus.rs replays it in the ordinary `cargo test`.
# FUZZ_ARGS adds libFuzzer options (FUZZ_ARGS="-max_total_time=0 -runs=10000000").
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TARGETS=(tar scan archive documents reference www_authenticate registry_responses)
FUZZ_DIR="$REPO_ROOT/fuzz"
FUZZ_TARGET_DIR="$TARGET_DIR/fuzz"
WORK_DIR="$TARGET_DIR/fuzz-work"
# The limits the issue sets: a case over 512 MB of memory or 10 s is a finding.
LIMITS=(-rss_limit_mb=512 -timeout=10)
# No sanitizer: the code fuzzed is safe Rust, and uninstrumented builds run about twice as
# many cases; debug assertions (and so overflow checks) stay on.
BUILD=(-s none -a --target-dir "$FUZZ_TARGET_DIR")

command -v cargo-fuzz >/dev/null || die "cargo-fuzz is missing: cargo install cargo-fuzz"
rustup run nightly rustc --version >/dev/null 2>&1 || die "a nightly toolchain is needed: rustup toolchain install nightly"

pick() {
  case "${1:-all}" in
    all) printf '%s\n' "${TARGETS[@]}" ;;
    *)
      printf '%s\n' "${TARGETS[@]}" | grep -qx "$1" || die "no fuzz target '$1' (targets: ${TARGETS[*]})"
      printf '%s\n' "$1"
      ;;
  esac
}

fuzz() { (cd "$FUZZ_DIR" && nice -n 19 cargo +nightly fuzz "$@"); }

if [ "${1:-}" = "--corpus" ]; then
  mapfile -t chosen < <(pick "${2:-all}")
  seeds="$WORK_DIR/seeds"
  rm -rf "$seeds"
  python3 "$FUZZ_DIR/make-seeds.py" "$seeds"
  fuzz build "${BUILD[@]}" >&2
  for target in "${chosen[@]}"; do
    corpus="$FUZZ_DIR/corpus/$target"
    mkdir -p "$corpus" "$WORK_DIR/$target"
    cp -n "$seeds/$target"/* "$corpus"/ 2>/dev/null || true
    cp -n "$WORK_DIR/$target"/* "$corpus"/ 2>/dev/null || true
    say "minimising the $target corpus ($(find "$corpus" -type f | wc -l) files)"
    fuzz cmin "${BUILD[@]}" "$target" "$corpus" -- "${LIMITS[@]}" >&2
    echo "$target: $(find "$corpus" -type f | wc -l) files, $(du -sk "$corpus" | cut -f1) KiB"
  done
  exit 0
fi

mapfile -t chosen < <(pick "${1:-all}")
seconds="${2:-60}"
[[ "$seconds" =~ ^[0-9]+$ ]] || die "SECONDS must be a whole number, not '$seconds'"
say "building the fuzz targets"
fuzz build "${BUILD[@]}" >&2
results=()
for target in "${chosen[@]}"; do
  mkdir -p "$WORK_DIR/$target" "$FUZZ_DIR/corpus/$target" "$FUZZ_DIR/artifacts/$target"
  log="$WORK_DIR/$target.log"
  say "fuzzing $target for $seconds s (log: $log)"
  status=0
  started=$SECONDS
  # shellcheck disable=SC2086 # FUZZ_ARGS is a list of options
  fuzz run "${BUILD[@]}" "$target" "$WORK_DIR/$target" "$FUZZ_DIR/corpus/$target" -- \
    "${LIMITS[@]}" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$FUZZ_DIR/artifacts/$target/" ${FUZZ_ARGS:-} >"$log" 2>&1 || status=$?
  took=$((SECONDS - started))
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  verdict=ok
  [ "$status" -eq 0 ] || verdict="FAILED (exit $status; see $log and fuzz/artifacts/$target/)"
  results+=("$(printf '%-20s %12s executions in %s s (limit %s s)  %s' "$target" "${runs:-?}" "$took" "$seconds" "$verdict")")
  echo "${results[-1]}"
done
say "summary"
printf '%s\n' "${results[@]}"
for line in "${results[@]}"; do
  case "$line" in *FAILED*) exit 1 ;; esac
done
