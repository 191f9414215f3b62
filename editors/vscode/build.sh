#!/usr/bin/env bash
# Builds poolcheck.vsix from the lock file: npm ci, compile, vsce package.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
npm run compile
npx --no-install vsce package --out poolcheck.vsix
