#!/usr/bin/env bash
# Firmware-fitness check: build the example firmware (opt-level "s", fat LTO, panic = abort,
# x86_64-unknown-none with the repository's soft SHA/AES backends) and measure code size, RAM,
# panic call sites and worst-case stack per entry point against budgets.env; exit 1 beyond a
# budget. Needs the x86_64-unknown-none target and binutils (readelf, nm, objdump, addr2line).
#
# `-Z emit-stack-sizes` (RUSTC_BOOTSTRAP=1 on the pinned stable toolchain) only adds a
# non-loaded section with each function's frame size; the code is the one a firmware ships.
# Panic sites are counted on a second build with LLVM's tail merging off, where every site
# keeps its own call and source line (the shipped build folds identical panic calls together).
set -euo pipefail
cd "$(dirname "$0")"
target_dir="${CARGO_TARGET_DIR:-../target}"
# This is a workspace of its own: build into the directory the binary is read from.
export CARGO_TARGET_DIR="$target_dir"
bin="$target_dir/x86_64-unknown-none/release/firmware-fitness"
out="$target_dir/firmware-fitness"
mkdir -p "$out"
# The workspace's lock file: the firmware is measured with the versions the project ships (cargo
# drops what this crate does not use; panic-allow.txt names those versions).
cp ../Cargo.lock Cargo.lock

build() {
  RUSTC_BOOTSTRAP=1 cargo rustc --release --target x86_64-unknown-none $features -- \
    -Z emit-stack-sizes "$@"
}

# `--precomputed-tables`: measure the build with the curve crates' tables (a report, not held
# to the budgets: that feature stays off for firmware, see the README).
features=""
if [ "${1:-}" = "--precomputed-tables" ]; then
  features="--features precomputed-tables"
  build
  python3 analyze.py "$bin" "$(cd .. && pwd)" || true
  exit 0
fi
# `--rsa`: measure the firmware with RSA-2048 (vtpm's `rsa` feature, the L-1 EK available): a
# report beside the default build's, with the same budgets shown but not enforced.
if [ "${1:-}" = "--rsa" ]; then
  features="--features rsa"
  build -C llvm-args=-enable-tail-merge=false
  cp "$bin" "$out/firmware-fitness-rsa.attribution"
  build
  cp "$bin" "$out/firmware-fitness-rsa"
  python3 analyze.py "$out/firmware-fitness-rsa" "$(cd .. && pwd)" \
    --attribution "$out/firmware-fitness-rsa.attribution" \
    --budgets budgets.env --allow panic-allow.txt --json "$out/report-rsa.json" || true
  exit 0
fi

cargo fmt --check
cargo clippy --release --target x86_64-unknown-none -- -D warnings
build -C llvm-args=-enable-tail-merge=false
cp "$bin" "$out/firmware-fitness.attribution"
build
cp "$bin" "$out/firmware-fitness"

python3 analyze.py "$out/firmware-fitness" "$(cd .. && pwd)" \
  --attribution "$out/firmware-fitness.attribution" \
  --budgets budgets.env --allow panic-allow.txt --json "$out/report.json"
