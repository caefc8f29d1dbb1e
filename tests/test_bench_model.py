"""benchmarks/bench_model.py runs (quick mode, tiny sizes) with and without torch.

Nothing here is timed: the checks are that every configuration of the plan is reported with
positive times and work rates, and, where torch is installed, that the PyTorch reference model
computes the same loss, gradients and greedy captions as ours (the benchmark's "agree" columns).
"""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_model.py"
HAS_TORCH = importlib.util.find_spec("torch") is not None
CELLS = ("rnn", "lstm", "gru")


def run_bench(tmp_path, *extra):
    out = tmp_path / "bench.json"
    # One thread: tiny matrices gain nothing from more, and a busy CI machine makes spinning
    # BLAS threads very slow.
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--sizes", "tiny",
                           "--repeats", "1", "--json", str(out)] + list(extra),
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout, json.loads(out.read_text())


def check_rows(result):
    rows = result["rows"]
    # quick plan: each cell in float32 at two batch sizes, plus LSTM in float64
    plan = sorted((r["cell"], r["dtype"], r["N"]) for r in rows)
    expected = sorted([(c, "float32", N) for c in CELLS for N in (3, 5)] + [("lstm", "float64", 3)])
    assert plan == expected
    for r in rows:
        assert r["ours_ms"] > 0 and r["gflops"] > 0 and r["peak_gflops"] > 0
        assert r["readable_ms"] > 0  # the fast=False pipeline is timed beside the kernels
        # the classic per-position work is never less than what our model does
        assert r["classic_gflops"] >= r["gflops"]
    samples = [r["sample"] for r in rows if "sample" in r]
    assert sorted(s["cell"] for s in samples) == sorted(CELLS)
    for s in samples:
        assert 1 <= s["steps"] <= 30 and s["ours_ms"] > 0 and s["peak_gflops"] > 0
        assert s["readable_ms"] > 0 and s["readable_agree"] == 0.0  # same captions both paths
    assert result["peak_gflops"]["float32"] > 0 and result["peak_gflops"]["float64"] > 0
    assert result["loss_peak_bytes"] > 0 and result["backward_cache_bytes"] > 0
    return rows, samples


def test_quick_tiny_without_torch(tmp_path):
    stdout, result = run_bench(tmp_path, "--no-torch")
    rows, samples = check_rows(result)
    assert not result["torch"]
    assert all("ratio" not in r for r in rows + samples)
    assert "torch   : not used (--no-torch)" in stdout
    for heading in ("GEMM peak", "Training step", "Greedy sampling", "Memory: loss()"):
        assert heading in stdout


@pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed (it is optional)")
def test_quick_tiny_against_torch_agrees(tmp_path):
    stdout, result = run_bench(tmp_path)
    rows, samples = check_rows(result)
    assert result["torch"]
    for r in rows:
        assert r["torch_ms"] > 0 and r["ratio"] > 0
        # same weights and batch: loss and every gradient agree to rounding
        assert r["agree"] < (1e-4 if r["dtype"] == "float32" else 1e-10), r
    for s in samples:
        assert s["agree"] == 0.0, s  # greedy captions identical word for word
