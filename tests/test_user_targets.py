"""Your own attention: py: targets everywhere a target goes, the Python API and the pytest helpers,
counted against closed forms; one-line errors for code that cannot be imported, built or counted."""
import json
import textwrap

import pytest
from typer.testing import CliRunner

from pacabench import api, testing
from pacabench.cli import app
from pacabench.targets import TargetError, parse_target

C, HEADS = 96, 2


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A module of the user's, in the folder pacabench runs from (as a project's own code is)."""
    (tmp_path / "my_attention.py").write_text(textwrap.dedent('''
        import torch
        import torch.nn.functional as F
        from torch import nn

        class Attention(nn.Module):
            def __init__(self, dim, pool):
                super().__init__()
                self.pool = pool
                self.q, self.kv, self.proj = nn.Linear(dim, dim), nn.Linear(dim, 2 * dim), nn.Linear(dim, dim)

            def forward(self, x):
                b, n, c = x.shape
                context = x
                if self.pool:
                    side = int(n ** 0.5)
                    grid = x.transpose(1, 2).reshape(b, c, side, side)
                    context = F.adaptive_avg_pool2d(grid, self.pool).flatten(2).transpose(1, 2)
                q = self.q(x).reshape(b, n, 2, -1).transpose(1, 2)
                k, v = self.kv(context).reshape(b, -1, 2, 2, c // 2).permute(2, 0, 3, 1, 4)
                return self.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, c))

        def make(height, width, batch, dim=96, pool=0):
            n = (height // 4) * (width // 4)
            return Attention(dim, pool), torch.randn(batch, n, dim)

        def only_module(height, width, batch):
            return nn.Conv2d(3, 8, 4, stride=4)

        def needs_data(height, width, batch):
            x = torch.randn(batch, 8)
            return nn.Linear(8, int(x.sum().item()) % 7 + 1), x

        def wrong(height, width, batch):
            return 42
    '''))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "my_attention"


def global_attention(n, c=C):
    """q, kv (3 N C^2) and proj (N C^2) dense; Q K^T and A V (2 N^2 C) mixing."""
    return {"dense": 4 * n * c * c, "mixing": 2 * n * n * c}


def test_a_py_target_is_counted_against_its_closed_form(user_module):
    out = json.loads(CliRunner().invoke(app, ["flops", "py:my_attention:make", "-r", "224", "--json"]).stdout)
    n = 56 * 56
    assert out["kind"] == "python" and out["tokens"] == n
    assert round(out["gmacs_mixing"] * 1e9) == global_attention(n)["mixing"]
    assert round(out["gmacs_dense"] * 1e9) == global_attention(n)["dense"]
    assert out["flops_agree"] is True and out["params"] == 4 * C * C + 4 * C


def test_parameters_come_from_the_query_string_with_their_types(user_module):
    assert parse_target("py:my_attention:make?dim=64&pool=7") == ("python", "my_attention:make", {"dim": 64, "pool": 7})
    counted = api.count("py:my_attention:make?dim=64", 128)
    assert round(counted.gmacs_mixing * 1e9) == global_attention(32 * 32, 64)["mixing"]


def test_scaling_of_a_py_target_and_of_a_factory_passed_directly(user_module):
    from my_attention import make

    quadratic = api.cost_model("py:my_attention:make", resolutions=(64, 128, 192, 256))
    assert quadratic.verdict == "quadratic" and quadratic.c2 * 1e9 == pytest.approx(2 * C)
    assert quadratic.quadratic_modules == "the top-level module's own forward"
    pooled = api.cost_model(make, resolutions=(64, 128, 192, 256), pool=7)
    assert pooled.verdict == "linear" and pooled.c2 == 0.0 and pooled.target == "py:my_attention:make"
    assert list(pooled.counts["resolution"]) == ["64 px", "128 px", "192 px", "256 px"]


def test_a_module_alone_gets_images_and_an_image_token_count(user_module):
    counted = api.count("py:my_attention:only_module", 64)
    assert counted.tokens == 64 * 64 and counted.gmacs_dense * 1e9 == 8 * 3 * 16 * 16 * 16


def test_assert_scaling_fails_naming_the_verdict_and_its_evidence(user_module):
    with pytest.raises(AssertionError) as failure:
        testing.assert_scaling("py:my_attention:make", "linear", resolutions=(64, 128, 192, 256))
    message = str(failure.value)
    assert message.startswith("py:my_attention:make: expected linear scaling of gmacs, got quadratic: "
                              "quadratic: an N² term in the top-level module's own forward;")
    assert "c2 = 1.92e-07 per token²" in message and "256 px: " in message
    assert testing.assert_scaling("py:my_attention:make?pool=7", "linear", resolutions=(64, 128, 192, 256)).c2 == 0


def test_assert_gmacs_is_exact_by_default_and_says_by_how_much(user_module):
    exact = sum(global_attention(16 * 16).values()) / 1e9
    testing.assert_gmacs("py:my_attention:make", exact, resolution=64)
    with pytest.raises(AssertionError, match=r"gmacs = 0\.0[0-9]+, expected 0\.03 \(.*%, allowed 1\.000%\)"):
        testing.assert_gmacs("py:my_attention:make", 0.03, resolution=64, rel=0.01)


def test_the_pytest_fixture_is_registered_by_the_plugin(pytester, user_module):
    pytester.makepyfile(test_mine='''
        def test_linear(pacabench):
            pacabench.assert_scaling("py:my_attention:make?pool=7", "linear", resolutions=(64, 128, 192, 256))
    ''')
    pytester.chdir()  # run where the test file is; my_attention stays importable (sys.path)
    pytester.runpytest_inprocess().assert_outcomes(passed=1)  # installed: pytest11 registers the plugin


@pytest.mark.parametrize("spec,message", [
    ("py:nowhere:make", "py:nowhere:make: cannot import 'nowhere' (ModuleNotFoundError: No module named "
                        "'nowhere'); run pacabench from the folder that holds it, or install it"),
    ("py:my_attention:absent", "py:my_attention:absent: module 'my_attention' has no callable 'absent'"),
    ("py:my_attention", "py:my_attention: write py:<module>:<callable>, e.g. py:my_attention:make"),
])
def test_unimportable_targets_are_one_line(user_module, spec, message):
    with pytest.raises(TargetError) as error:
        parse_target(spec)
    assert str(error.value) == message
    result = CliRunner().invoke(app, ["flops", spec])
    assert result.exit_code == 2 and result.stderr == f"error: NAME: {message}\n"


def test_code_that_needs_data_or_returns_the_wrong_thing_is_one_line(user_module):
    with pytest.raises(TargetError, match=r"^py:my_attention:needs_data: cannot be built on the meta device "
                                          r"\(.*\); counting runs your code with no data"):
        api.count("py:my_attention:needs_data", 64)
    with pytest.raises(TargetError, match=r"^py:my_attention:wrong: returned int; return a module, "
                                          r"\(module, inputs\) or \(module, inputs, tokens\)"):
        api.count("py:my_attention:wrong", 64)


def test_a_suite_runs_a_python_target(user_module, tmp_path):
    (tmp_path / "mine.yaml").write_text(
        "name: mine\ntargets:\n  - python: my_attention:make\n    params: {pool: 7}\n"
        "resolutions: [64, 96, 128, 160]\nmetrics: [flops, params]\ndevices: [cpu]\n"
        "expectations: {'py:my_attention:make': linear}\n")
    results = api.run_suite(tmp_path / "mine.yaml", out=tmp_path / "out")
    assert list(results["status"]) == ["ok"] * 4 and set(results["label"]) == {"py:my_attention:make"}
    assert list(results["kind"]) == ["python"] * 4
    report = CliRunner().invoke(app, ["report", str(tmp_path / "out")])
    assert report.exit_code == 0, report.output  # the expectation is met


def test_scaling_of_code_that_cannot_run_on_meta_names_the_target(user_module):
    result = CliRunner().invoke(app, ["scaling", "py:my_attention:needs_data", "--resolutions", "64,96,128,160"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: NAME: py:my_attention:needs_data: cannot be built on the meta device (")
    assert result.stderr.count("\n") == 1
