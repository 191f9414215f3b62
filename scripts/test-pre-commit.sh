#!/usr/bin/env bash
# Runs both hooks of .pre-commit-hooks.yaml through the real pre-commit
# framework, as a user's repository would: `poolcheck` (language: rust) and
# `poolcheck-python` (language: python, the maturin wheel). For each:
#   - an over-budget project (fixtures/rules/PC101-workers-times-pool) fails,
#     and the output names PC101;
#   - a project whose pools fit (fixtures/rules/PC101-ok-pool-fits) passes.
# Also checks that the hooks' `files` pattern admits the file names poolcheck
# reads, with Python's `re` as pre-commit uses it.
#
# `pre-commit try-repo` installs a hook the way pre-commit does for users:
# it clones this repository at HEAD (adding uncommitted changes to tracked
# files, but not untracked files) and, in the clone, runs `cargo install
# --path .` (rust) or `pip install .` into a fresh virtualenv (python: pip
# fetches maturin from PyPI, which runs cargo). The script commits nothing here.
#
# Speed: the clone is built in this repository's target directory with a
# quick release profile (no LTO, no optimisation: the hooks' wiring is under
# test, not the binary's speed), for both hooks, so dependencies compile once
# and later builds recompile only the workspace crates. pre-commit comes from
# PyPI into a virtualenv kept in target/ as well (POOLCHECK_PRE_COMMIT_VENV:
# another one that has pre-commit). Needs python3, git, cargo, and network
# access to PyPI.
#
# Usage: scripts/test-pre-commit.sh [HOOK_ID ...]   (default: both hooks)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
venv="${POOLCHECK_PRE_COMMIT_VENV:-$repo/target/pre-commit-venv}"
# The hooks run from other directories: a relative venv path would not resolve there.
case "$venv" in /*) ;; *) venv="$PWD/$venv" ;; esac
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

hooks = yaml.safe_load(open(sys.argv[1]))
patterns = {hook["files"] for hook in hooks}
if len(patterns) != 1:
    sys.exit("the hooks read different files: " + ", ".join(hook["id"] for hook in hooks))
files = re.compile(patterns.pop())
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
print(f"ok: {len(read)} names admitted, {len(not_read)} refused, by {len(hooks)} hooks")
PY

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}/pre-commit"
export CARGO_PROFILE_RELEASE_LTO=false
export CARGO_PROFILE_RELEASE_OPT_LEVEL=0
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
export CARGO_PROFILE_RELEASE_INCREMENTAL=false
export CARGO_TERM_COLOR=never

# A git repository holding a copy of a fixture, as a user's project: one per
# hook (PROJECT HOOK), so that no run sees another's files.
project() {
  local dir="$work/$2/$1"
  mkdir -p "$dir"
  cp -R "$repo/fixtures/rules/$1/." "$dir"
  git -C "$dir" init --quiet
  git -C "$dir" add --all
  git -C "$dir" -c user.name=test -c user.email=test@example.com -c commit.gpgsign=false \
    commit --quiet --message fixture
  echo "$dir"
}

# Runs a hook on every file of a project; prints its output, returns its status.
try_hook() {
  (cd "$2" && "$venv/bin/pre-commit" try-repo "$repo" "$1" --all-files --color never)
}

status=0
hooks=("$@")
if [ "${#hooks[@]}" -eq 0 ]; then
  hooks=(poolcheck poolcheck-python)
fi

for hook in "${hooks[@]}"; do
  echo "== $hook, over budget: the hook fails and names PC101"
  started=$SECONDS
  dir="$(project PC101-workers-times-pool "$hook")"
  set +e
  output="$(try_hook "$hook" "$dir" 2>&1)"
  code=$?
  set -e
  echo "$output"
  echo "($hook: installed and ran in $((SECONDS - started)) s)"
  if [ "$code" -eq 0 ]; then
    echo "FAIL: $hook passed on an over-budget project" >&2
    status=1
  elif ! grep -q "PC101" <<<"$output"; then
    echo "FAIL: $hook failed without reporting PC101" >&2
    status=1
  fi

  echo "== $hook, pools fit: the hook passes"
  dir="$(project PC101-ok-pool-fits "$hook")"
  set +e
  output="$(try_hook "$hook" "$dir" 2>&1)"
  code=$?
  set -e
  echo "$output"
  if [ "$code" -ne 0 ]; then
    echo "FAIL: $hook failed on a project whose pools fit (exit $code)" >&2
    status=1
  elif ! grep -Eq "^poolcheck\.+Passed" <<<"$output"; then
    echo "FAIL: pre-commit did not report $hook as passed" >&2
    status=1
  fi
done

if [ "$status" -eq 0 ]; then
  echo "== pre-commit hooks (${hooks[*]}): ok"
fi
exit "$status"
