"""benchmarks/bench_transformer.py runs (quick mode, tiny sizes) with and without torch.

Nothing here is timed: the checks are that the plan is reported with positive times, and, where
torch is installed, that the PyTorch reference model computes the same loss and gradients as ours
and the same greedy captions (the benchmark's "agree" and "differ" columns).
"""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_transformer.py"
HAS_TORCH = importlib.util.find_spec("torch") is not None


def run_bench(tmp_path, *extra):
    out = tmp_path / "bench.json"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--sizes", "tiny",
                           "--repeats", "1", "--json", str(out)] + list(extra),
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout, json.loads(out.read_text())


def test_bench_without_torch(tmp_path):
    stdout, result = run_bench(tmp_path, "--no-torch")
    assert "torch   : not used (--no-torch)" in stdout
    (row,) = result["rows"]
    assert (row["dtype"], row["N"]) == ("float32", 3)
    assert row["ours_ms"] > 0 and row["ours_cpu_ms"] >= 0 and "torch_ms" not in row
    s = row["sample"]
    assert s["ours_ms"] > 0 and s["readable_ms"] > 0
    assert s["readable_differs"] == 0.0  # the fast sampler gives the readable captions


@pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed")
def test_bench_with_torch_agrees(tmp_path):
    _, result = run_bench(tmp_path)
    (row,) = result["rows"]
    assert row["torch_ms"] > 0 and row["ratio"] > 0
    assert row["agree"] < 1e-4  # float32: loss and every gradient
    assert row["sample"]["differs"] == 0.0
