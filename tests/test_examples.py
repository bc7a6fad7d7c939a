"""The examples run as written: the example workflow's pacabench steps (its baseline commands, then
every step) on the example suite, with the job summary and the JUnit file they write."""
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

EXAMPLES = Path(__file__).parents[1] / "examples"


def _pacabench_lines(text: str) -> list[str]:
    return [line.strip().lstrip("#").strip() for line in text.splitlines()
            if line.strip().lstrip("#").strip().startswith("pacabench ")]


def test_the_example_workflow_runs_as_written(tmp_path):
    text = (EXAMPLES / "attention-cost.yml").read_text()
    steps = [step["run"] for step in yaml.safe_load(text)["jobs"]["counts"]["steps"]
             if step.get("run", "").startswith("pacabench ")]
    baseline = [line for line in _pacabench_lines(text) if line not in steps][:2]  # the comment's commands
    assert baseline[1].endswith("--update") and len(steps) == 4
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    summary = tmp_path / "summary.md"
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary)}
    cli = f"{sys.executable} -m pacabench.cli"
    for command in [line.replace("/tmp/my_attention", str(tmp_path / "base")) for line in baseline] + steps:
        subprocess.run(command.replace("pacabench", cli, 1), shell=True, cwd=tmp_path, env=env, check=True,
                       capture_output=True, timeout=300)
    written = summary.read_text()
    assert "### pacabench report: my_attention: ✅ all 3 expectations met" in written
    assert "### pacabench compare: ✅ no regression" in written and "12 cells compared" in written
    suite = ET.parse(tmp_path / "compare-junit.xml").getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("12", "0")
