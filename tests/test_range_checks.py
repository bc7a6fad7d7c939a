"""Range checks: sizes, batches, token counts and results values beyond what int64 or a float can
hold are one line naming the field (exit 2), never a C++ traceback or an OverflowError at write time."""
import tracemalloc

import pytest
import torch
from typer.testing import CliRunner

from pacabench import api
from pacabench.cli import app
from pacabench.models.mask_rcnn import _layout, fixed_rois
from synthetic_results import make_rows, write_run

TOO_LARGE = ("too large to count: a tensor of the forward pass would have more than 2^63 - 1 elements "
             "(RuntimeError: Storage size calculation overflowed with sizes=")


@pytest.mark.parametrize("args,start", [
    (["flops", "op:vit", "-b", str(10 ** 20)],
     "error: --batch: 1e+20 is more than a tensor dimension can be (2^63 - 1); use a smaller --batch"),
    (["flops", "op:vit", "--size", f"{10 ** 20}x16"],
     "error: --size: 1e+20 is more than a tensor dimension can be (2^63 - 1); use a smaller --size"),
    (["flops", "op:vit", "-r", str(2 ** 32)], f"error: --resolution, --batch: {TOO_LARGE}"),
    (["flops", "op:vit", "-b", str(2 ** 62)], f"error: --resolution, --batch: {TOO_LARGE}"),
    (["scaling", "op:vit", "--resolutions", f"224,448,{10 ** 20}"],
     f"error: --resolutions: '{10 ** 20}' is more than a tensor dimension can be (2^63 - 1)"),
    (["scaling", "op:vit", "--resolutions", "224,448,672,1073741824"], f"error: --resolutions, --batch: {TOO_LARGE}"),
])
def test_sizes_and_batches_beyond_int64_are_one_line(args, start):
    result = CliRunner().invoke(app, args)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith(start), result.output


def test_a_factory_returning_more_tokens_than_a_row_holds_is_one_line():
    from torch import nn

    from pacabench.targets import TargetError

    def huge(height, width, batch):
        return nn.Identity(), torch.randn(batch, 16, 8), 10 ** 30

    with pytest.raises(TargetError, match=r"returned tokens = 1e\+30, more than a results row holds \(2\^63 - 1\); "
                                          r"return N, the tokens at the first attention stage$"):
        api.count(huge, 64)


def test_mask_rcnn_rois_are_tensors_made_without_a_python_loop_over_images():
    tracemalloc.start()
    rois = fixed_rois(1000, 800, 1280, 1000, device="meta")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [r.shape for r in rois] == [(1000 * 250, 5)] * 4 and peak < 1_000_000
    for level, boxes in zip(fixed_rois(2, 64, 96, 7), _layout(64, 96, 7)):   # (image, x1, y1, x2, y2), image-major
        assert level.tolist() == [[float(b), *box] for b in range(2) for box in boxes]


@pytest.mark.parametrize("column,value,problem", [
    ("gmacs", float("inf"), "column gmacs: inf is not a finite number"),
    ("tokens", 2 ** 64, f"column tokens: {2 ** 64} is beyond a 64-bit integer (at most 9.2e18)"),
])
def test_a_results_value_no_cell_can_produce_is_refused_by_report(tmp_path, column, value, problem):
    rows = make_rows().astype({column: object})
    rows.loc[1, column] = value
    csv = write_run(tmp_path / "run", rows) / "results.csv"
    result = CliRunner().invoke(app, ["report", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {csv}: data row 2: {problem}; ") and result.stderr.count("\n") == 1
