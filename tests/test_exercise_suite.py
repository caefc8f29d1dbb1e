"""The student copy's own test suite passes once the solution files are dropped back in.

The copy ships the tests that need no reference code; with the instructor's files that hold
solution regions copied over its stubs, the copy is the library again and those tests must pass
(a shipped test that needs a left-out file would fail here).
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "# BEGIN " + "SOLUTION"  # split: this file has no regions


def test_copy_with_solutions_dropped_back_passes_its_own_tests(student, tmp_path):
    copy = tmp_path / "student"
    shutil.copytree(student, copy)  # the session's student copy, not changed in place
    shipped = sorted(p.name for p in (copy / "tests").glob("test_*.py"))
    assert shipped, "the copy ships no tests"
    assert not (copy / "rnncap" / "kernels").exists()
    dropped = 0
    for path in (ROOT / "rnncap").rglob("*.py"):
        if BEGIN in path.read_text(encoding="utf-8"):
            target = copy / path.relative_to(ROOT)
            assert target.is_file(), target
            shutil.copyfile(path, target)
            dropped += 1
    assert dropped >= 3  # rnn_layers.py, classifiers/rnn.py, optim.py at least
    # The copy first on the path, so its rnncap (not this checkout's) is what the tests import.
    env = dict(os.environ, PYTHONPATH=str(copy), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                           "tests"], cwd=copy, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and " failed" not in proc.stdout
