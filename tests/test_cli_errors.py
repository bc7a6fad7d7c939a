"""Bad options get pacabench's one-line error and exit 2, not Typer's multi-line usage box."""
import pytest
from typer.testing import CliRunner

from pacabench.cli import app


@pytest.mark.parametrize("args,message", [
    (["flops", "op:vit", "--batch", "-1"], "error: --batch: -1 is not a positive integer; use --batch 1 or more"),
    (["flops", "op:vit", "--resolution", "0"],
     "error: --resolution: 0 is not a positive integer; use --resolution 1 or more"),
    (["compare", "a", "b", "--tolerance", "-0.5"],
     "error: --tolerance: -0.5 is negative; give a relative change such as 0.1 (10%)"),
    (["compare", "a", "b", "--tolerance", "nan"],
     "error: --tolerance: nan is not a finite number; give a relative change such as 0.1 (10%)"),
    (["compare", "a", "b", "--tolerance", "inf"],
     "error: --tolerance: inf is not a finite number; give a relative change such as 0.1 (10%)"),
    (["run", "ci_smoke", "--executor", "ray", "--cpus-per-cell", "0"],
     "error: --cpus-per-cell: 0 is not a positive integer; use --cpus-per-cell 1 or more"),
    (["run", "ci_smoke", "--dtype", "fp8"], "error: --dtype: 'fp8' is not a dtype; use float32, bfloat16 or float16"),
    (["run", "ci_smoke", "--device", "gpu"], "error: --device: 'gpu' is not a device; use auto, cpu or cuda"),
    (["run", "--resume", ".", "--dtype", "bfloat16"],
     "error: --dtype: not with --resume; a resumed run keeps the dtypes it was started with"),
    (["run", "ci_smoke", "--threads", "0"],
     "error: --threads: 0 is no thread count; write auto (the cores other work leaves idle) or a whole number >= 1"),
    (["run", "ci_smoke", "--threads", "many"],
     "error: --threads: 'many' is no thread count; write auto (the cores other work leaves idle) or a whole number >= 1"),
    (["run", "--resume", ".", "--threads", "2"],
     "error: --threads: not with --resume; a resumed run keeps the threads it was started with"),
])
def test_bad_option_is_one_line_exit_2(args, message):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.strip() == message
