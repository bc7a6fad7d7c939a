"""Shared test setup: CUDA-only tests skip (and are reported as skipped) on CPU-only machines."""
import pytest
import torch


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_cuda = pytest.mark.skip(reason="needs a CUDA device; none on this machine")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip_cuda)


@pytest.fixture(scope="module")
def one_torch_thread():
    """For modules of many small forwards: with other jobs on a 2-core machine, 2 intra-op threads
    spin and run up to 10x slower than 1 (measured). Restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
