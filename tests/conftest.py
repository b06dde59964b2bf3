"""Shared test set-up: one intra-op thread (steady timings on 2 cores) and fixed seeds."""

import os

os.environ.setdefault("MINIME_SCALE", "ci")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)
    yield


def pytest_collection_modifyitems(items):
    """Every chapter run by nbmake is slow (a minute at ci scale): ``-m "not slow"`` skips them."""
    for item in items:
        if str(item.fspath).endswith(".ipynb"):
            item.add_marker(pytest.mark.slow)
