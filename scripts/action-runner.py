"""Runs the composite action in action.yml the way the GitHub runner does, as
far as its steps need: for scripts/test-action.sh.

    python action-runner.py ACTION_DIR WORKDIR INPUTS_JSON RESULT_JSON

- `${{ inputs.NAME }}` takes the value from INPUTS_JSON, else the input's
  default; an unknown input name is an error (the runner would substitute an
  empty string, which hides a typo).
- Each step runs with `bash --noprofile --norc -eo pipefail` (GitHub's `shell:
  bash`), in WORKDIR, with GITHUB_ACTION_PATH, GITHUB_OUTPUT, GITHUB_PATH,
  GITHUB_STEP_SUMMARY and RUNNER_TEMP set; directories a step appends to
  GITHUB_PATH come first on PATH for the later steps; `name=value` lines a step
  appends to GITHUB_OUTPUT become `steps.ID.outputs.NAME`.
- A failing step stops the run, as in a workflow.

RESULT_JSON receives {"workdir", "status", "failed_step", "outputs", "path_added",
"summary", "logs"}; the action's outputs are resolved from the steps'.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def resolve(text: str, inputs: dict, steps: dict) -> str:
    def value(match: re.Match) -> str:
        expression = match.group(1)
        if expression.startswith("inputs."):
            name = expression[len("inputs."):]
            if name not in inputs:
                raise SystemExit(f"action.yml refers to an undeclared input: {name}")
            return inputs[name]
        found = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression)
        if found:
            return steps.get(found.group(1), {}).get(found.group(2), "")
        raise SystemExit(f"action-runner: unsupported expression ${{{{ {expression} }}}}")

    return EXPRESSION.sub(value, str(text))


def read_outputs(path: str) -> dict:
    outputs = {}
    with open(path, encoding="utf-8") as file:
        for line in file:
            name, separator, value = line.rstrip("\n").partition("=")
            if separator:
                outputs[name] = value
    return outputs


def main() -> int:
    action_dir, workdir, inputs_path, result_path = sys.argv[1:5]
    with open(os.path.join(action_dir, "action.yml"), encoding="utf-8") as file:
        action = yaml.safe_load(file)
    with open(inputs_path, encoding="utf-8") as file:
        given = json.load(file)
    declared = action.get("inputs") or {}
    unknown = set(given) - set(declared)
    if unknown:
        raise SystemExit(f"inputs the action does not declare: {sorted(unknown)}")
    inputs = {name: str(spec.get("default", "")) for name, spec in declared.items()}
    inputs.update({name: str(value) for name, value in given.items()})
    if action["runs"]["using"] != "composite":
        raise SystemExit("action.yml is not a composite action")

    scratch = tempfile.mkdtemp(prefix="action-runner-")
    summary = os.path.join(scratch, "step_summary.md")
    open(summary, "w").close()
    path_added: list[str] = []
    steps: dict[str, dict] = {}
    logs = []
    status, failed_step = 0, None
    for index, step in enumerate(action["runs"]["steps"]):
        if step.get("shell") != "bash" or "run" not in step:
            raise SystemExit(f"step {index}: only `run` steps with `shell: bash` are expected")
        output_file = os.path.join(scratch, f"output-{index}")
        path_file = os.path.join(scratch, f"path-{index}")
        open(output_file, "w").close()
        open(path_file, "w").close()
        env = dict(os.environ)
        env.update(
            GITHUB_ACTION_PATH=action_dir,
            GITHUB_OUTPUT=output_file,
            GITHUB_PATH=path_file,
            GITHUB_STEP_SUMMARY=summary,
            RUNNER_TEMP=scratch,
            GITHUB_ACTIONS="true",
        )
        env["PATH"] = os.pathsep.join([*reversed(path_added), env["PATH"]])
        for name, value in (step.get("env") or {}).items():
            env[name] = resolve(value, inputs, steps)
        script = os.path.join(scratch, f"step-{index}.sh")
        with open(script, "w", encoding="utf-8") as file:
            file.write(resolve(step["run"], inputs, steps))
        run = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", script],
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        logs.append({"step": step.get("id") or step.get("name"), "status": run.returncode, "log": run.stdout})
        if "id" in step:
            steps[step["id"]] = read_outputs(output_file)
        with open(path_file, encoding="utf-8") as file:
            path_added += [line.strip() for line in file if line.strip()]
        if run.returncode != 0:
            status, failed_step = run.returncode, step.get("id") or index
            break

    outputs = {
        name: resolve(spec.get("value", ""), inputs, steps)
        for name, spec in (action.get("outputs") or {}).items()
    }
    with open(summary, encoding="utf-8") as file:
        summary_text = file.read()
    result = {
        "workdir": workdir,
        "status": status,
        "failed_step": failed_step,
        "outputs": outputs,
        "path_added": path_added,
        "summary": summary_text,
        "logs": logs,
    }
    with open(result_path, "w", encoding="utf-8") as file:
        json.dump(result, file, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
