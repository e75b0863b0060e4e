"""Shared fixtures. Tests marked `mir1k` need the dataset: they skip without it, and fail when CI=true."""
import os

import numpy as np
import pytest

from shsep.data import DataError, HOW_TO_GET, find_root


@pytest.fixture(scope="session")
def mir1k_root():
    try:
        return find_root()
    except DataError as error:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but MIR-1K is missing: {error}")
        pytest.skip(f"MIR-1K not found. {HOW_TO_GET}")


@pytest.fixture(scope="session")
def train_set(mir1k_root):
    from shsep.data import index_clips
    from shsep.dataset import SpectrogramSet

    return SpectrogramSet(index_clips(mir1k_root, "train"), progress=False)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
