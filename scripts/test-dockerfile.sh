#!/usr/bin/env bash
# The Dockerfile at the repository root, for the poolcheck container image.
#
# Always: poolcheck's own Dockerfile reader lints it. A directory holding only
# that Dockerfile is checked with every rule down to `info`; the check must
# exit 0 with no finding, and `--verbose` must say the file was read
# ("extracted 1"), so a pass cannot come from the file being skipped. The
# image starts no server and opens no database connection, so any finding
# would mean the reader misparses its syntax (multi-stage builds, ARG in
# FROM, `RUN --mount`, exec-form ENTRYPOINT/CMD) into a deployment.
#
# Where a container engine answers (`docker info`): builds the image and runs
# it on the demo project mounted at /src, as docs/integrations.md shows: it
# must exit 1 and report PC101, and run as a non-root user.
#
# Usage: scripts/test-dockerfile.sh POOLCHECK   (the binary to lint with)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
poolcheck="${1:?usage: test-dockerfile.sh POOLCHECK}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== lint: poolcheck check on the Dockerfile alone"
mkdir "$work/project"
cp "$repo/Dockerfile" "$work/project/Dockerfile"
set +e
"$poolcheck" check --verbose --fail-on info --format concise --color never "$work/project" >"$work/out" 2>"$work/err"
code=$?
set -e
cat "$work/out" "$work/err"
if [ "$code" -ne 0 ]; then
  echo "FAIL: poolcheck check on the Dockerfile exited $code, expected 0 (no finding)" >&2
  exit 1
fi
if ! grep -q "visited 1 files, extracted 1$" "$work/err"; then
  echo "FAIL: poolcheck did not read the Dockerfile (--verbose: $(cat "$work/err"))" >&2
  exit 1
fi
if [ -s "$work/out" ] && ! grep -q "^All checks passed" "$work/out"; then
  echo "FAIL: unexpected output for a clean check" >&2
  exit 1
fi
echo "ok: the Dockerfile reads without a finding"

if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
  echo "== image build: skipped (no container engine answers \`docker info\`)"
  exit 0
fi

echo "== image build"
tag="poolcheck-ci:$$"
docker build --tag "$tag" "$repo"
trap 'rm -rf "$work"; docker image rm --force "$tag" >/dev/null 2>&1 || true' EXIT

echo "== the image on the demo project"
set +e
output="$(docker run --rm --volume "$repo/fixtures/projects/demo:/src:ro" "$tag" check --color never 2>&1)"
code=$?
set -e
echo "$output"
if [ "$code" -ne 1 ] || ! grep -q PC101 <<<"$output"; then
  echo "FAIL: the image exited $code on the demo, expected 1 with PC101" >&2
  exit 1
fi
user="$(docker run --rm --entrypoint id "$tag" -u)"
if [ "$user" = 0 ]; then
  echo "FAIL: the image runs as root" >&2
  exit 1
fi
echo "ok: the image reports PC101 on the demo, as uid $user"
