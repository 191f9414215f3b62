#!/usr/bin/env bash
# The shell steps of action.yml (the composite GitHub Action), kept here so
# that scripts/test-action.sh runs exactly what a workflow runs.
#
#   action-run.sh install   puts poolcheck on PATH for the following steps
#   action-run.sh check     runs `poolcheck check`, writes SARIF and the summary
#
# Everything comes from the environment, as GitHub sets it for a step:
#   GITHUB_ACTION_PATH   this repository at the ref of `uses:`
#   GITHUB_OUTPUT, GITHUB_PATH, GITHUB_STEP_SUMMARY   files the runner reads back
#   RUNNER_TEMP          a scratch directory (default: the system's)
#   INPUT_INSTALL        pip (default) | cargo | none (use the poolcheck on PATH)
#   INPUT_VERSION        empty: build GITHUB_ACTION_PATH; a version number (0.1.0):
#                        that release from PyPI (pip) or crates.io (cargo); anything
#                        else: a path or URL handed to pip, or a path to cargo
#   INPUT_PATHS          what to check, separated by whitespace (default .)
#   INPUT_FAIL_ON        error | warning | info; empty: the project's configuration
#   INPUT_ARGS           more `poolcheck check` arguments, separated by whitespace
#   INPUT_SARIF_FILE     where the SARIF log goes (default poolcheck.sarif)
#   INPUT_SUMMARY        true (default) | false: the budget in the job summary
#
# Inputs are split on whitespace and never evaluated by a shell, so a
# pull request cannot smuggle commands into them.
set -euo pipefail

fail() {
  echo "::error title=poolcheck::$*"
  exit 2
}

# Appends `name=value` to the step's outputs.
set_output() {
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
  fi
}

is_version_number() {
  [[ "$1" =~ ^v?[0-9]+(\.[0-9]+)*([.+-][0-9A-Za-z.+-]*)?$ ]]
}

install_with_pip() {
  local venv="$1/venv" package
  if [ -z "${INPUT_VERSION:-}" ]; then
    package="${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set}"
  elif is_version_number "$INPUT_VERSION"; then
    package="poolcheck==${INPUT_VERSION#v}"
  else
    package="$INPUT_VERSION"
  fi
  # A virtualenv of its own: runner images mark the system Python as
  # externally managed (PEP 668), and the project's own environment stays
  # untouched.
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$package"
  echo "$venv/bin"
}

install_with_cargo() {
  local root="$1/cargo"
  local source=()
  if [ -z "${INPUT_VERSION:-}" ]; then
    source=(--path "${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set}/crates/poolcheck")
  elif is_version_number "$INPUT_VERSION"; then
    source=(poolcheck --version "${INPUT_VERSION#v}")
  else
    source=(--path "$INPUT_VERSION")
  fi
  command -v cargo >/dev/null 2>&1 || fail "install: cargo needs a Rust toolchain on the runner"
  cargo install --locked --quiet --root "$root" "${source[@]}" >&2
  echo "$root/bin"
}

install() {
  local method="${INPUT_INSTALL:-pip}" dir bin
  dir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/poolcheck-action"
  mkdir -p "$dir"
  case "$method" in
    pip) bin="$(install_with_pip "$dir")" ;;
    cargo) bin="$(install_with_cargo "$dir")" ;;
    none)
      command -v poolcheck >/dev/null 2>&1 || fail "install: none, but poolcheck is not on PATH"
      bin="$(dirname "$(command -v poolcheck)")"
      ;;
    *) fail "install: expected pip, cargo or none, got '$method'" ;;
  esac
  [ -x "$bin/poolcheck" ] || fail "install: $bin/poolcheck was not installed"
  if [ -n "${GITHUB_PATH:-}" ]; then
    echo "$bin" >>"$GITHUB_PATH"
  fi
  set_output poolcheck-path "$bin/poolcheck"
  echo "installed: $("$bin/poolcheck" --version) ($bin/poolcheck, by $method)"
}

# Whether this poolcheck can print the budget as Markdown: asked at run time,
# so that a release that adds the format is used without changing the action.
budget_has_markdown() {
  poolcheck budget --help 2>/dev/null | grep -Eq '(possible values:|-).*\bmarkdown\b'
}

check() {
  local sarif="${INPUT_SARIF_FILE:-poolcheck.sarif}"
  local paths=() args=() status
  # -d '': all lines, for a multi-line YAML value (read then reports EOF).
  read -r -d '' -a paths <<<"${INPUT_PATHS:-.}" || true
  if [ "${#paths[@]}" -eq 0 ]; then
    paths=(.)
  fi
  read -r -d '' -a args <<<"${INPUT_ARGS:-}" || true
  if [ -n "${INPUT_FAIL_ON:-}" ]; then
    args+=(--fail-on "$INPUT_FAIL_ON")
  fi
  command -v poolcheck >/dev/null 2>&1 || fail "poolcheck is not on PATH (install: none needs it there)"

  mkdir -p "$(dirname "$sarif")"
  set +e
  poolcheck check --format sarif "${args[@]}" -- "${paths[@]}" >"$sarif"
  status=$?
  set -e
  echo "poolcheck check: exit $status"
  set_output exit-code "$status"
  if [ "$status" -ge 2 ]; then
    # Could not run: the SARIF file is empty or partial, so no upload.
    rm -f "$sarif"
    exit "$status"
  fi
  set_output sarif-file "$sarif"

  # The findings in the log as well, where people look first.
  poolcheck check --format concise --exit-zero --color never "${args[@]}" -- "${paths[@]}" || true

  if [ "${INPUT_SUMMARY:-true}" = "true" ] && [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    if budget_has_markdown; then
      if ! poolcheck budget --format markdown -- "${paths[@]}" >>"$GITHUB_STEP_SUMMARY"; then
        echo "::warning title=poolcheck::the budget summary could not be written"
      fi
    else
      echo "poolcheck budget has no markdown format in this version: no job summary"
    fi
  fi
  exit "$status"
}

case "${1:-}" in
  install) install ;;
  check) check ;;
  *)
    echo "usage: $0 install|check" >&2
    exit 2
    ;;
esac
