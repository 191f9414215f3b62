#!/usr/bin/env bash
# Runs every fuzz target (or those named) for SECONDS each, one after the
# other, and fails on the first crash, timeout or out-of-memory. Needs
# cargo-fuzz (`cargo install cargo-fuzz --locked`) and only the stable
# toolchain: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its nightly-only flags,
# and `-s none` builds without a sanitizer (Rust code here is safe; the
# crashes sought are panics, aborts, stack overflows and hangs).
#
#   fuzz/run.sh SECONDS [TARGET ...]
#
# FUZZ_PROFILE=dev builds unoptimised (quicker to build, slower to run; what
# CI uses). A crashing input is left in fuzz/artifacts/TARGET/; reproduce it
# with `RUSTC_BOOTSTRAP=1 cargo fuzz run -s none TARGET FILE`.
set -euo pipefail
cd "$(dirname "$0")"

seconds=${1:?usage: fuzz/run.sh SECONDS [TARGET ...]}
shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(python shell compose kubernetes helm terraform supervisord dockerfile procfile pgbouncer pgconf uwsgi dotenv config pins project)
fi

export RUSTC_BOOTSTRAP=1
profile=()
if [ "${FUZZ_PROFILE:-release}" = dev ]; then
  profile=(--dev)
fi

./seed.sh >/dev/null
cargo fuzz build -s none "${profile[@]}"

mkdir -p logs
status=0
for target in "${targets[@]}"; do
  log="logs/$target.log"
  echo "== $target (${seconds}s)"
  # -timeout: one input slower than this is a finding (quadratic code);
  # -rss_limit_mb: so is one that needs more memory.
  if cargo fuzz run -s none "${profile[@]}" "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 \
    -print_final_stats=1 >"$log" 2>&1; then
    grep -E '^stat::number_of_executed_units' "$log" | sed "s/^/$target /" || true
  else
    status=1
    echo "crash in $target: see fuzz/$log and fuzz/artifacts/$target/" >&2
    grep -E 'ERROR|panicked|SUMMARY|artifact_prefix|Test unit written' "$log" | head -n 20 >&2 || true
  fi
done
exit $status
