#!/usr/bin/env bash
# poolcheck's benchmark suite. Builds its inputs, then prints one Markdown
# table: poolcheck's CPU, wall time and peak RSS beside rg and ruff over the
# same trees, and the language server's edit-to-publish latency over stdio.
#
#   bench/run.sh                 everything (the 35k-file corpus needs PyPI once)
#   bench/run.sh --no-corpus     only the generated trees and the LSP runs
#   RUNS=5 bench/run.sh          repetitions per measurement (median reported)
#
# Inputs (all under $BENCH_DIR, default /tmp/poolcheck-bench, made once):
#   corpus          perf-corpus.sh: site-packages of ~200 pinned PyPI packages
#                   (35k files), at /tmp/perf-corpus/pkgs
#   vendored        the same corpus without its *.dist-info directories, so
#                   every package reads as first-party code (a vendored monorepo)
#   services        gen.py --filler 50000 --services 200
#   relevant        gen.py --relevant 2000 --filler 48000
#   settings-5000   the demo with a 5,000-line settings module (gen_settings.py)
#   demo-21k        the demo beside 21,000 filler modules (gen.py --filler 21000),
#                   for the language server in a large tree
#
# Never run from tests: speed is measured here, not asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/poolcheck-bench}
RUNS=${RUNS:-3}
CORPUS=1
[ "${1:-}" = "--no-corpus" ] && CORPUS=0

need() { command -v "$1" >/dev/null 2>&1 || { echo "bench: $1 is required ($2)" >&2; exit 2; }; }
need rg "apt-get install ripgrep"
need hyperfine "apt-get install hyperfine"
need python3 "python3"
[ -x /usr/bin/time ] || { echo "bench: GNU time is required (apt-get install time)" >&2; exit 2; }
if [ ! -x "$BENCH_DIR/venv/bin/ruff" ]; then
  python3 -m venv "$BENCH_DIR/venv"
  "$BENCH_DIR/venv/bin/pip" install -q ruff
fi
RUFF="$BENCH_DIR/venv/bin/ruff"

cargo build --release -q -p poolcheck
POOLCHECK="$REPO/target/release/poolcheck"

mkdir -p "$BENCH_DIR"
if [ "$CORPUS" = 1 ]; then
  bash bench/perf-corpus.sh >&2
  if [ ! -d "$BENCH_DIR/vendored" ]; then
    cp -al /tmp/perf-corpus/pkgs "$BENCH_DIR/vendored.tmp"
    find "$BENCH_DIR/vendored.tmp" -type d -name '*.dist-info' -prune -exec rm -rf {} +
    mv "$BENCH_DIR/vendored.tmp" "$BENCH_DIR/vendored"
  fi
fi
if [ -d /tmp/perf-corpus/pkgs ]; then
  [ -d "$BENCH_DIR/services" ] || python3 bench/gen.py "$BENCH_DIR/services" --filler 50000 --services 200 >&2
  [ -d "$BENCH_DIR/relevant" ] || python3 bench/gen.py "$BENCH_DIR/relevant" --relevant 2000 --filler 48000 >&2
  if [ ! -d "$BENCH_DIR/demo-21k" ]; then
    python3 bench/gen.py "$BENCH_DIR/demo-21k.tmp" --filler 21000 >&2
    cp -r fixtures/projects/demo/. "$BENCH_DIR/demo-21k.tmp/"
    mv "$BENCH_DIR/demo-21k.tmp" "$BENCH_DIR/demo-21k"
  fi
fi
if [ ! -d "$BENCH_DIR/settings-5000" ]; then
  cp -r fixtures/projects/demo "$BENCH_DIR/settings-5000"
  python3 bench/gen_settings.py demo "$BENCH_DIR/settings-5000/shop/settings.py" >&2
fi

# median of RUNS runs of a command: "wall_s cpu_s peak_rss_mib"
measure() {
  local samples=()
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "%e %U %S %M" -o "$BENCH_DIR/time.out" "$@" >/dev/null 2>&1 || true
    samples+=("$(awk '{printf "%.3f %.3f %.1f\n", $1, $2 + $3, $4 / 1024}' "$BENCH_DIR/time.out")")
  done
  printf '%s\n' "${samples[@]}" | sort -n -k2 | awk -v n="$RUNS" 'NR == int((n + 1) / 2)'
}

TRIGGERS=(-e create_engine -e create_async_engine -e DATABASES -e pool_size -e CONN_MAX_AGE
          -e worker_class -e asyncpg -e psycopg -e workers -e SQLALCHEMY_ -e pgbouncer)

row() { # name tree
  local name=$1 tree=$2
  read -r pw pc pm <<<"$(measure "$POOLCHECK" check --exit-zero --format concise "$tree")"
  read -r rw rc rm <<<"$(measure rg -t py -l "${TRIGGERS[@]}" "$tree")"
  read -r fw fc fm <<<"$(measure "$RUFF" check --no-cache --exit-zero -q "$tree")"
  local files
  files=$(find "$tree" -type f | wc -l)
  awk -v n="$name" -v f="$files" -v pw="$pw" -v pc="$pc" -v pm="$pm" -v rw="$rw" -v rc="$rc" \
      -v rm="$rm" -v fw="$fw" -v fc="$fc" -v fm="$fm" 'BEGIN {
    printf "| %s | %d | %.2f / %.2f / %.0f | %.2f / %.2f / %.0f | %.2f / %.2f / %.0f | %.2f× |\n",
      n, f, pc, pw, pm, rc, rw, rm, fc, fw, fm, (rc > 0 ? pc / rc : 0) }'
}

echo "poolcheck $("$POOLCHECK" --version | cut -d' ' -f2), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(date -u +%Y-%m-%d)"
echo
echo "| tree | files | poolcheck CPU s / wall s / RSS MiB | rg -t py (trigger words) | ruff check | poolcheck CPU ÷ rg CPU |"
echo "|---|---:|---|---|---|---:|"
[ -d /tmp/perf-corpus/pkgs ] && row "35k-file corpus" /tmp/perf-corpus/pkgs
[ -d "$BENCH_DIR/vendored" ] && row "corpus without *.dist-info (vendored)" "$BENCH_DIR/vendored"
[ -d "$BENCH_DIR/services" ] && row "50k files, 200 services" "$BENCH_DIR/services"
[ -d "$BENCH_DIR/relevant" ] && row "2,000 relevant modules + 48k filler" "$BENCH_DIR/relevant"
row "demo" "$REPO/fixtures/projects/demo"

echo
echo "Cold start on the demo (hyperfine, wall time, mean ± σ):"
echo
echo '```'
hyperfine -N --warmup 5 --runs 50 --style basic \
  "$POOLCHECK check --exit-zero --format concise $REPO/fixtures/projects/demo" \
  "$RUFF check --no-cache --exit-zero -q $REPO/fixtures/projects/demo" 2>/dev/null \
  | grep -E 'Time|±|faster' || echo "hyperfine failed"
echo '```'

lsp() { # label root edit-file old new expect-old expect-new [--incremental]
  local label=$1; shift
  local json
  json=$(OPEN_ONLY="$2,$5" python3 bench/lspbench.py "$POOLCHECK" "$@" 100 2>/dev/null | tail -1) || true
  python3 - "$label" "$json" <<'PY'
import json, sys
label, raw = sys.argv[1], sys.argv[2]
try:
    r = json.loads(raw)
    print(f"| {label} | {r['lines']} | {r['mode']} | {r['median_ms']} | {r['p95_ms']} | {r['first_publish_ms']} |")
except Exception:
    print(f"| {label} | ? | ? | failed | failed | failed |")
PY
}
echo
echo "| LSP edit → publish of the new value | lines | sync | median ms | p95 ms | first publish ms |"
echo "|---|---:|---|---:|---:|---:|"
lsp "demo: pool_size 15 → 16" "$REPO/fixtures/projects/demo" shop/db.py "max_overflow=30" "max_overflow=31" shop/db.py "565" "577"
lsp "demo, incremental" "$REPO/fixtures/projects/demo" shop/db.py "max_overflow=30" "max_overflow=31" shop/db.py "565" "577" --incremental
lsp "5,000-line settings module" "$BENCH_DIR/settings-5000" shop/settings.py '"DB_POOL_SIZE", "15"' '"DB_POOL_SIZE", "16"' shop/db.py "565" "577"
lsp "5,000-line settings, incremental" "$BENCH_DIR/settings-5000" shop/settings.py '"DB_POOL_SIZE", "15"' '"DB_POOL_SIZE", "16"' shop/db.py "565" "577" --incremental
if [ -d "$BENCH_DIR/demo-21k" ]; then
  lsp "21k-file tree: demo's db.py" "$BENCH_DIR/demo-21k" shop/db.py "max_overflow=30" "max_overflow=31" shop/db.py "565" "577"
  lsp "21k-file tree, incremental" "$BENCH_DIR/demo-21k" shop/db.py "max_overflow=30" "max_overflow=31" shop/db.py "565" "577" --incremental
fi
