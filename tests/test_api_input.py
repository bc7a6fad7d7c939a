"""The Python API on bad input and in scripts: api.run_suite as the README shows it, and one clear
error for every argument it cannot use."""
import subprocess
import sys
import textwrap

import pytest

from pacabench import api

COUNTS_ONLY = "name: tiny\ntargets:\n  - operator: vit\nresolutions: [224]\nmetrics: [flops, params]\ndevices: [cpu]\n"


def test_run_suite_at_the_top_level_of_a_script_runs_once(tmp_path):
    """multiprocessing re-runs an unguarded script in each child; a cell must not run its sweep again."""
    (tmp_path / "suite.yaml").write_text(COUNTS_ONLY)
    (tmp_path / "script.py").write_text(textwrap.dedent('''
        from pacabench import api

        print("script ran")
        results = api.run_suite("suite.yaml", out="run")
        print("statuses:", list(results["status"]))
    '''))
    done = subprocess.run([sys.executable, "script.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["script ran", "statuses: ['ok']"]
