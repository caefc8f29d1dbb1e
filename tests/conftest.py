"""Shared pytest fixtures (keep this file small: most helpers live in the test modules)."""
import numpy as np
import pytest


@pytest.fixture
def rng():
    """A private, seeded generator: tests never touch the global np.random state."""
    return np.random.default_rng(231)
