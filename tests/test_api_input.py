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


@pytest.mark.parametrize("arguments,problem", [
    ({"device": "tpu"}, "device: 'tpu' is not a device; use auto, cpu or cuda"),
    ({"dtype": "int8"}, "dtype: 'int8' is not a dtype; use float32, bfloat16 or float16"),
])
def test_run_suite_refuses_a_device_or_dtype_in_one_line(tmp_path, arguments, problem):
    from pacabench.runner.suite import SuiteError

    with pytest.raises(SuiteError) as refused:
        api.run_suite("ci_smoke", out=tmp_path / "run", **arguments)
    assert refused.value.problems == [problem] and not (tmp_path / "run").exists()


def test_run_suite_refuses_cuda_without_a_gpu(tmp_path, monkeypatch):
    import torch

    from pacabench.runner.suite import SuiteError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SuiteError) as refused:
        api.run_suite("ci_smoke", out=tmp_path / "run", device="cuda")
    assert refused.value.problems == ["device: cuda requested but no CUDA device is visible; use device='cpu' or 'auto'"]


def test_run_suite_on_a_missing_file_raises_the_documented_error(tmp_path):
    from pacabench.runner.suite import SuiteError

    with pytest.raises(SuiteError) as refused:
        api.run_suite(tmp_path / "missing.yaml")
    assert refused.value.problems[0].startswith(f"SUITE: no file '{tmp_path / 'missing.yaml'}' and no shipped suite "
                                                f"of that name; shipped suites: ci_smoke, ")


@pytest.mark.parametrize("resolution", [224.0, "224", (224, "224"), (224,), True, 0])
def test_a_resolution_that_is_not_a_size_is_one_line(resolution):
    from pacabench.targets import TargetError

    with pytest.raises(TargetError) as refused:
        api.count("op:vit", resolution)
    assert str(refused.value) == (f"resolution: {resolution!r} is not a size; pass pixels as a positive integer "
                                  f"(224) or a pair of them (height, width)")


def test_resolutions_as_text_are_one_line():
    from pacabench.targets import TargetError

    with pytest.raises(TargetError, match=r"^resolutions: '224,448' is text; pass sizes, e\.g\. \(224, 448, 672, 896\)$"):
        api.cost_model("op:vit", resolutions="224,448")


def test_a_factory_returning_no_inputs_is_one_line():
    from torch import nn

    from pacabench.targets import TargetError

    def no_inputs(height, width, batch):
        return nn.Identity(), ()

    with pytest.raises(TargetError, match=r"returned tuple; return a module, \(module, inputs\) or \(module, inputs, "
                                          r"tokens\) with inputs a tensor or a non-empty tuple of tensors$"):
        api.count(no_inputs, 64)
