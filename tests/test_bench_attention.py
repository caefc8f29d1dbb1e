"""benchmarks/bench_attention.py runs (quick mode, tiny sizes) with and without torch.

Nothing here is timed: the checks are that the configuration is reported with positive times,
that the fast path agrees with the readable one, and, where torch is installed, that the
PyTorch reference model computes the same loss, gradients and greedy captions as ours.
"""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_attention.py"
HAS_TORCH = importlib.util.find_spec("torch") is not None


def run_bench(tmp_path, *extra):
    out = tmp_path / "bench.json"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--sizes", "tiny",
                           "--repeats", "1", "--grids", "1", "3", "--json", str(out)]
                          + list(extra), capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout, json.loads(out.read_text())


def check_rows(result):
    rows = result["rows"]
    assert sorted((r["dtype"], r["G"], r["N"]) for r in rows) == [("float32", 1, 3),
                                                                 ("float32", 3, 3)]
    for r in rows:
        assert r["ours_ms"] > 0 and r["readable_ms"] > 0
        assert r["readable_agree"] < 1e-5  # float32: the kernel and the layers round apart
    return rows


def test_quick_tiny_without_torch(tmp_path):
    stdout, result = run_bench(tmp_path, "--no-torch")
    rows = check_rows(result)
    assert not result["torch"] and all("ratio" not in r for r in rows)
    assert "torch   : not used (--no-torch)" in stdout and "Attention model" in stdout


@pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed (it is optional)")
def test_quick_tiny_against_torch_agrees(tmp_path):
    _, result = run_bench(tmp_path)
    rows = check_rows(result)
    assert result["torch"]
    for r in rows:
        assert r["torch_ms"] > 0 and r["ratio"] > 0
        assert r["agree"] < 1e-4, r  # same weights and batch: float32 rounding only
        assert r["sample"] == 0.0, r  # greedy captions identical word for word
