"""Shared pytest fixtures (keep this file small: most helpers live in the test modules)."""
import numpy as np
import pytest


@pytest.fixture
def rng():
    """A private, seeded generator: tests never touch the global np.random state."""
    return np.random.default_rng(231)


@pytest.fixture(scope="session")
def student(tmp_path_factory):
    """The student copy of this checkout (`rnncap exercise make`), made once per session;
    tests that change it work on their own copies."""
    from rnncap.cli import main

    out = tmp_path_factory.mktemp("exercise") / "student"
    assert main(["exercise", "make", str(out)]) == 0
    return out
