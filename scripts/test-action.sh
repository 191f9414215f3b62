#!/usr/bin/env bash
# Runs the composite GitHub Action (action.yml) through scripts/action-runner.py,
# which executes its steps as the runner does (the same commands, INPUT_*
# variables from `${{ inputs.* }}`, GITHUB_OUTPUT, GITHUB_PATH,
# GITHUB_STEP_SUMMARY, RUNNER_TEMP), and checks what a workflow would see:
#   - install: pip from a wheel puts poolcheck on PATH (GITHUB_PATH) for the next step;
#   - an over-budget project: the step fails with 1, the SARIF log names PC101,
#     `sarif-file` and `exit-code` are set for upload-sarif;
#   - a clean project passes with an empty SARIF log;
#   - `args` and `fail-on` reach poolcheck;
#   - poolcheck unable to run: status 2 and no `sarif-file`, so no upload;
#   - the job summary gets `poolcheck budget --format markdown` exactly when
#     `poolcheck budget --help` offers that format (a stand-in poolcheck that
#     offers it shows the summary path works before the real format exists).
#
# Usage: scripts/test-action.sh PYTHON WHEEL
#   PYTHON  a python3 with PyYAML (pre-commit's virtualenv has it)
#   WHEEL   the poolcheck wheel to install (`maturin build` output)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${1:?usage: test-action.sh PYTHON WHEEL}"
wheel="$(cd "$(dirname "${2:?usage: test-action.sh PYTHON WHEEL}")" && pwd)/$(basename "$2")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export TMPDIR="$work"

echo "== action.yml is a composite action whose steps run scripts/action-run.sh"
"$python" - "$repo/action.yml" <<'PY'
import re
import sys

import yaml

action = yaml.safe_load(open(sys.argv[1]))
assert action["runs"]["using"] == "composite", "not a composite action"
for key in ("name", "description"):
    assert action.get(key), f"action.yml needs a {key}"
for name, spec in action["inputs"].items():
    assert spec.get("description"), f"input {name} has no description"
commands = [step["run"] for step in action["runs"]["steps"]]
for command in commands:
    assert re.fullmatch(r'bash "\$GITHUB_ACTION_PATH/scripts/action-run\.sh" \w+', command), command
print(f"ok: {len(action['inputs'])} inputs, steps: {commands}")
PY

# run_action CASE WORKDIR INPUTS_JSON [PATH_PREFIX]: the action's result as JSON in $work/CASE.json.
run_action() {
  local case="$1" dir="$2" inputs="$3" prefix="${4:-}"
  printf '%s' "$inputs" >"$work/$case.inputs.json"
  PATH="${prefix:+$prefix:}$PATH" "$python" "$repo/scripts/action-runner.py" \
    "$repo" "$dir" "$work/$case.inputs.json" "$work/$case.json"
}

# expect CASE PYTHON-ASSERTIONS: `result` is the action's result, `sarif(result)` its SARIF log.
expect() {
  local case="$1"
  "$python" - "$work/$case.json" "$2" <<'PY'
import json
import os
import sys

result = json.load(open(sys.argv[1]))


def sarif(result):
    return json.load(open(os.path.join(result["workdir"], result["outputs"]["sarif-file"])))


def rule_ids(result):
    return sorted({r["ruleId"] for run in sarif(result)["runs"] for r in run["results"]})


try:
    exec(sys.argv[2])
except AssertionError as error:
    for log in result["logs"]:
        print(f"--- step {log['step']} (exit {log['status']})\n{log['log']}", file=sys.stderr)
    sys.exit(f"FAIL: {error}")
PY
  echo "ok: $case"
}

demo="$work/demo"
clean="$work/clean"
cp -R "$repo/fixtures/projects/demo" "$demo"
cp -R "$repo/fixtures/rules/PC101-ok-pool-fits" "$clean"

echo "== install: pip from the wheel, then check the demo"
run_action pip-demo "$demo" "{\"install\": \"pip\", \"version\": \"$wheel\"}"
expect pip-demo '
assert result["status"] == 1, "status %s, expected 1" % result["status"]
assert result["failed_step"] == "check", result["failed_step"]
assert len(result["path_added"]) == 1 and result["path_added"][0].endswith("/venv/bin"), result["path_added"]
assert result["outputs"]["poolcheck-path"] == result["path_added"][0] + "/poolcheck", result["outputs"]
assert result["outputs"]["exit-code"] == "1", result["outputs"]
assert result["outputs"]["sarif-file"] == "poolcheck.sarif", result["outputs"]
assert "PC101" in rule_ids(result), rule_ids(result)
assert "installed: poolcheck " in result["logs"][0]["log"], result["logs"][0]["log"]
'
bin_dir="$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["path_added"][0])' "$work/pip-demo.json")"
"$bin_dir/poolcheck" --version

# The summary follows what this poolcheck's `budget --help` offers.
if "$bin_dir/poolcheck" budget --help | grep -q markdown; then
  expect pip-demo 'assert result["summary"].strip(), "budget offers markdown, yet the summary is empty"'
else
  expect pip-demo '
assert result["summary"] == "", result["summary"]
assert "no markdown format" in result["logs"][1]["log"], result["logs"][1]["log"]
'
fi

echo "== install: none (the poolcheck on PATH), a clean project"
run_action clean "$clean" '{"install": "none", "sarif-file": "reports/poolcheck.sarif"}' "$bin_dir"
expect clean '
assert result["status"] == 0, "status %s, expected 0" % result["status"]
assert result["outputs"]["exit-code"] == "0", result["outputs"]
assert result["outputs"]["sarif-file"] == "reports/poolcheck.sarif", result["outputs"]
assert rule_ids(result) == [], rule_ids(result)
'

echo "== args and fail-on reach poolcheck"
run_action info-passes "$demo" '{"install": "none", "args": "--select PC503"}' "$bin_dir"
expect info-passes '
assert result["status"] == 0, "status %s: an info finding under the default fail-on" % result["status"]
assert rule_ids(result) == ["PC503"], rule_ids(result)
'
run_action info-fails "$demo" '{"install": "none", "args": "--select PC503", "fail-on": "info"}' "$bin_dir"
expect info-fails 'assert result["status"] == 1, "status %s: fail-on info with an info finding" % result["status"]'

echo "== several paths"
mkdir -p "$work/two"
cp -R "$demo" "$work/two/a"
cp -R "$clean" "$work/two/b"
# One project with two directories: the fixtures' own markers would make
# each copy a project of its own, which poolcheck checks in separate runs.
rm -f "$work/two/a/poolcheck.toml" "$work/two/b/poolcheck.toml"
: > "$work/two/poolcheck.toml"
run_action two-paths "$work/two" '{"install": "none", "paths": "b\n a"}' "$bin_dir"
expect two-paths '
assert result["status"] == 1, result["status"]
files = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for run in sarif(result)["runs"] for r in run["results"]}
assert any(f.startswith("a/") for f in files), files
'

echo "== poolcheck cannot run: status 2, no SARIF to upload"
run_action missing-path "$clean" '{"install": "none", "paths": "no/such/dir"}' "$bin_dir"
expect missing-path '
assert result["status"] == 2, result["status"]
assert result["outputs"]["sarif-file"] == "", result["outputs"]
assert result["outputs"]["exit-code"] == "2", result["outputs"]
'
run_action bad-method "$clean" '{"install": "brew"}' "$bin_dir"
expect bad-method '
assert result["status"] == 2 and result["failed_step"] == "install", result
assert "expected pip, cargo or none" in result["logs"][0]["log"], result["logs"][0]["log"]
'

echo "== a poolcheck whose budget offers markdown fills the job summary"
mkdir -p "$work/markdown-bin"
cat >"$work/markdown-bin/poolcheck" <<EOF
#!/usr/bin/env bash
# The installed poolcheck, except that \`budget\` offers and prints markdown.
if [ "\${1:-}" = budget ] && [ "\${2:-}" = --help ]; then
  "$bin_dir/poolcheck" budget --help | sed 's/possible values: human, json/possible values: human, json, markdown/'
elif [ "\${1:-}" = budget ] && [ "\${2:-}" = --format ] && [ "\${3:-}" = markdown ]; then
  echo "| stand-in markdown budget |"
else
  exec "$bin_dir/poolcheck" "\$@"
fi
EOF
chmod +x "$work/markdown-bin/poolcheck"
run_action markdown "$demo" '{"install": "none"}' "$work/markdown-bin"
expect markdown '
assert result["status"] == 1, result["status"]
assert result["summary"] == "| stand-in markdown budget |\n", repr(result["summary"])
'
run_action markdown-off "$demo" '{"install": "none", "summary": "false"}' "$work/markdown-bin"
expect markdown-off 'assert result["summary"] == "", repr(result["summary"])'

echo "== action: ok"
