#!/usr/bin/env bash
# Runs the `poolcheck` hook of .pre-commit-hooks.yaml through the real
# pre-commit framework, as a user's repository would:
#   - an over-budget project (fixtures/rules/PC101-workers-times-pool) fails,
#     and the output names PC101;
#   - a project whose pools fit (fixtures/rules/PC101-ok-pool-fits) passes.
# Also checks that the hook's `files` pattern admits the file names poolcheck
# reads, with Python's `re` as pre-commit uses it.
#
# `pre-commit try-repo` installs the hook the way pre-commit does for users:
# it clones this repository at HEAD (adding uncommitted changes to tracked
# files, but not untracked files) and runs `cargo install --path .` in the
# clone. The script commits nothing here.
#
# Speed: the clone is built in this repository's target directory with a
# quick release profile (no LTO, no optimisation: the hook's wiring is under
# test, not the binary's speed), so dependencies compile once and later runs
# rebuild only the workspace crates. pre-commit comes from PyPI into a
# virtualenv kept in target/ as well. Needs python3, git, cargo, and network
# access to PyPI on the first run.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
venv="${POOLCHECK_PRE_COMMIT_VENV:-$repo/target/pre-commit-venv}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

for tool in python3 git cargo; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "test-pre-commit: $tool is required" >&2
    exit 2
  fi
done

if [ ! -x "$venv/bin/pre-commit" ]; then
  echo "== installing pre-commit from PyPI into $venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "pre-commit>=3.0"
fi
echo "== $("$venv/bin/pre-commit" --version)"

echo "== the hook manifest"
"$venv/bin/pre-commit" validate-manifest "$repo/.pre-commit-hooks.yaml"

echo "== the hook's files pattern"
"$venv/bin/python" - "$repo/.pre-commit-hooks.yaml" <<'PY'
import re
import sys

import yaml  # a dependency of pre-commit

hook = yaml.safe_load(open(sys.argv[1]))[0]
files = re.compile(hook["files"])
read = [
    "app/db.py", "deploy/pgbouncer.ini", "postgresql.conf", "postgresql.auto.conf",
    "poolcheck.toml", "pyproject.toml", "poetry.lock", "uv.lock", "Pipfile.lock",
    "requirements.txt", "requirements-prod.txt", "requirements/base.txt", "Procfile",
    "Procfile.dev", "Dockerfile", "docker/Dockerfile.prod", "web.dockerfile",
    "Containerfile", "docker-compose.yml", "docker-compose.override.yml", "compose.yaml",
    ".env", ".env.production", "deploy/prod.env", "bin/docker-entrypoint",
    "entrypoint.sh", "scripts/start.bash", "s6/web/run", "start",
]
not_read = [
    "README.md", "app/models.pyi", "notes.txt", "docs/requirements.md", "Cargo.toml",
    "compose.json", "app/runner.py.bak", "src/main.rs", "docker/entrypoint.ps1",
]
wrong = [p for p in read if not files.search(p)] + [p for p in not_read if files.search(p)]
if wrong:
    sys.exit(f"files pattern misclassifies: {wrong}")
print(f"ok: {len(read)} names admitted, {len(not_read)} refused")
PY

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}/pre-commit"
export CARGO_PROFILE_RELEASE_LTO=false
export CARGO_PROFILE_RELEASE_OPT_LEVEL=0
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
export CARGO_PROFILE_RELEASE_INCREMENTAL=false
export CARGO_TERM_COLOR=never

# A git repository holding a copy of a fixture, as a user's project.
project() {
  local dir="$work/$1"
  mkdir -p "$dir"
  cp -R "$repo/fixtures/rules/$1/." "$dir"
  git -C "$dir" init --quiet
  git -C "$dir" add --all
  git -C "$dir" -c user.name=test -c user.email=test@example.com -c commit.gpgsign=false \
    commit --quiet --message fixture
  echo "$dir"
}

# Runs the hook on every file of a project; prints its output, returns its status.
try_hook() {
  (cd "$1" && "$venv/bin/pre-commit" try-repo "$repo" poolcheck --all-files --color never)
}

status=0

echo "== over budget: the hook fails and names PC101"
dir="$(project PC101-workers-times-pool)"
set +e
output="$(try_hook "$dir" 2>&1)"
code=$?
set -e
echo "$output"
if [ "$code" -eq 0 ]; then
  echo "FAIL: the hook passed on an over-budget project" >&2
  status=1
elif ! grep -q "PC101" <<<"$output"; then
  echo "FAIL: the hook failed without reporting PC101" >&2
  status=1
fi

echo "== pools fit: the hook passes"
dir="$(project PC101-ok-pool-fits)"
set +e
output="$(try_hook "$dir" 2>&1)"
code=$?
set -e
echo "$output"
if [ "$code" -ne 0 ]; then
  echo "FAIL: the hook failed on a project whose pools fit (exit $code)" >&2
  status=1
elif ! grep -Eq "^poolcheck\.+Passed" <<<"$output"; then
  echo "FAIL: pre-commit did not report the hook as passed" >&2
  status=1
fi

if [ "$status" -eq 0 ]; then
  echo "== pre-commit hook: ok"
fi
exit "$status"
