"""The command line answers --help, list and argument errors without importing torch, timm or
fvcore; importing pacabench still registers the zoo with timm, whenever timm is imported."""
import subprocess
import sys

import pytest

HEAVY = ("torch", "timm", "fvcore")
CASES = [
    ["--help"], ["run", "--help"], ["validate", "--help"], ["flops", "--help"], ["scaling", "--help"],
    ["report", "--help"], ["compare", "--help"], ["list"], ["list", "--json"],
    ["flops", "x", "--batch", "-1"], ["scaling", "op:vit", "--resolutions", "224,448"],
    ["run", "--device", "tpu"], ["compare", "a", "b", "--tolerance", "nan"], ["report", "a", "--format", "yaml"],
]
PROBE = """
import sys
from pacabench.cli import app
try:
    app(sys.argv[1:])
except SystemExit:
    pass
print("HEAVY:" + ",".join(m for m in {heavy} if m in sys.modules), file=sys.stderr)
"""


@pytest.mark.parametrize("args", CASES, ids=" ".join)
def test_help_list_and_argument_errors_leave_torch_unimported(args):
    result = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *args], capture_output=True,
                            text=True, timeout=60)
    assert result.stderr.strip().splitlines()[-1] == "HEAVY:", result.stderr
    assert result.stdout or result.stderr.count("\n") >= 1


def test_list_names_every_target_from_plain_data():
    result = subprocess.run([sys.executable, "-m", "pacabench.cli", "list"], capture_output=True, text=True)
    assert "pacavit_tiny_p2cconv_100_0" in result.stdout and "op:vit" in result.stdout
    assert "det:maskrcnn:pacavit_tiny_p2cconv_100_0" in result.stdout


@pytest.mark.parametrize("order", ["import pacabench; import timm", "import timm; import pacabench",
                                   "import pacabench; from timm.models import create_model"])
def test_importing_pacabench_registers_the_zoo_whenever_timm_comes(order):
    code = f"""
import sys
{order}
import timm
assert timm.is_model("pacavit_tiny_p2cconv_100_0")
print(type(timm.create_model("pacavit_convmixer_tiny_100")).__name__)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "PaCaViT", result.stderr


def test_importing_pacabench_alone_imports_nothing_heavy():
    code = "import sys, pacabench; print([m for m in ('torch', 'timm', 'fvcore', 'pandas') if m in sys.modules])"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"


def test_compare_and_report_of_a_folder_leave_torch_unimported(tmp_path):
    """The results schema lives in a torch-free module: reading a folder needs no measurement core."""
    from synthetic_results import write_run

    run = write_run(tmp_path / "run")
    for args in (["compare", run, run], ["compare", run, run, "--format", "junit"], ["report", run]):
        result = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *map(str, args)],
                                capture_output=True, text=True, timeout=300)
        assert result.stderr.strip().splitlines()[-1] == "HEAVY:", (args, result.stderr)
    assert (run / "report.html").exists()
