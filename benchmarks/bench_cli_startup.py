"""How fast the command line answers, as a ratio to `python -c "import torch"` measured side by side
(not part of the default test run):

    pytest benchmarks/bench_cli_startup.py -s --benchmark-disable

Before the CLI imported torch lazily (2026-11-23, 2-core CPU), `pacabench --help` took 4.0 s,
2.6x `import torch` (1.56 s): the package imported the zoo, torch and timm first.
"""
import statistics
import subprocess
import sys
import time

COMMANDS = {"pacabench --help": ["-m", "pacabench.cli", "--help"], "pacabench list": ["-m", "pacabench.cli", "list"],
            "import torch": ["-c", "import torch"]}


def _median_seconds(args, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def test_help_answers_in_a_fraction_of_import_torch(benchmark):
    medians = benchmark.pedantic(lambda: {name: _median_seconds(args) for name, args in COMMANDS.items()},
                                 rounds=1, iterations=1)
    torch_s = medians["import torch"]
    for name, seconds in medians.items():
        benchmark.extra_info[name] = seconds
        print(f"\n{name:18s} {seconds:6.2f} s  ({seconds / torch_s:.2f}x import torch)", end="")
    print()
    assert medians["pacabench --help"] < torch_s  # a ratio in one run, never a fixed number of seconds
