#!/usr/bin/env bash
# A short, bounded fuzz of the design parser and the mask/photo decoder.
#   fuzz/run.sh [SECONDS_PER_TARGET]      (default 60)
# Needs the nightly toolchain (rustup toolchain install nightly) and installs cargo-fuzz if missing.
# A crash is saved under fuzz/artifacts/; copy it into fuzz/regressions/ (named design-* or mask-*) and
# `cargo test --test fuzz_regressions` replays it from then on.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for target in design mask; do
  mkdir -p "corpus/$target"
  # Seed the corpora with the real inputs.
  case $target in
    design) cp ../fixtures/*.toml "corpus/$target/" ;;
    mask) cp ../fixtures/head_mask.png "corpus/$target/" ;;
  esac
  cargo +nightly fuzz run "$target" "corpus/$target" -- -max_total_time="$secs" -rss_limit_mb=2048
done
