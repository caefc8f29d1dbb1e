"""Time the attention captioning model's training step against the same model in PyTorch CPU.

    python benchmarks/bench_attention.py            # float32 and float64, 4x4 and 8x8 grids
    python benchmarks/bench_attention.py --quick    # float32, 4x4 grid, 3 timed runs
    python benchmarks/bench_attention.py --quick --sizes tiny --no-torch   # seconds (the test)

CaptioningRNN(cell_type='attention').loss (forward and backward: one training step) on the fast
path ("ours", fast=True, rnncap/kernels/attention.py) and on the readable path ("readable",
fast=False, the public layers of rnncap/rnn_layers.py) against the same model written the
ordinary PyTorch way (benchmarks/_torch_attention.py: autograd, CPU eager, as many threads as
NumPy's BLAS), with the same weights and batch. After a warm-up the models alternate and the
medians are compared: ratio = ours / torch (below 1 means rnncap is faster), r.ratio = readable /
torch. "agree" is the largest relative difference between our loss and gradients and torch's;
"sample" is the fraction of greedy caption words (max_length 16) that differ from torch's.
Sizes: T = 16, W = 256, H = 512, V = 1004, C = 512 channels on a G x G grid, N = 100.
"""
import argparse
import json
import os
import platform
import sys

import numpy as np

import rnncap
from bench_model import (alternate, blas_threads, cpu_name, load_torch, make_batch, rel_diff,
                         torch_line, word_to_idx)
from rnncap.classifiers.rnn import CaptioningRNN

SIZES = {
    "classic": dict(T=16, W=256, H=512, V=1004, C=512, N=100),
    "tiny": dict(T=4, W=6, H=8, V=20, C=5, N=3),
}
NULL, START, END = 0, 1, 2


def make_params(rng, C, W, H, V, dtype):
    """The attention model's parameters at the constructor's scales (biases small, nonzero)."""
    p = {"W_embed": rng.standard_normal((V, W)) / 100,
         "W_proj": rng.standard_normal((C, H)) / np.sqrt(C), "b_proj": 0.1 * rng.standard_normal(H),
         "Wx": rng.standard_normal((W, 4 * H)) / np.sqrt(W),
         "Wh": rng.standard_normal((H, 4 * H)) / np.sqrt(H),
         "Wattn": rng.standard_normal((H, 4 * H)) / np.sqrt(H),
         "b": 0.1 * rng.standard_normal(4 * H),
         "W_vocab": rng.standard_normal((H, V)) / np.sqrt(H), "b_vocab": 0.1 * rng.standard_normal(V)}
    return {name: value.astype(dtype) for name, value in p.items()}


def our_model(params, V, fast):
    model = CaptioningRNN.from_params(word_to_idx(V), params, cell_type="attention", fast=fast)
    return model


def bench_config(dtype, G, size, repeats, torch_mod, rng):
    T, W, H, V, C, N = (size[k] for k in ("T", "W", "H", "V", "C", "N"))
    params = make_params(rng, C, W, H, V, dtype)
    vectors, captions = make_batch(rng, N * G * G, C, T, V, dtype)
    features = np.ascontiguousarray(vectors.reshape(N, G, G, C).transpose(0, 3, 1, 2))
    captions = captions[:N]
    ours, readable = our_model(params, V, True), our_model(params, V, False)
    row = {"dtype": np.dtype(dtype).name, "G": G, "N": N}
    loss, grads = ours.loss(features, captions)
    r_loss, r_grads = readable.loss(features, captions)
    row["readable_agree"] = max([rel_diff(loss, r_loss)]
                                + [rel_diff(grads[k], r_grads[k]) for k in grads])
    fns = [lambda: ours.loss(features, captions), lambda: readable.loss(features, captions)]
    if torch_mod is not None:
        import torch
        ref = torch_mod.TorchAttentionCaptioner(params, NULL, START, END)
        tf, tc = torch.from_numpy(features), torch.from_numpy(captions)
        ref_loss = ref.loss(tf, tc)
        ref_grads = ref.grads()
        row["agree"] = max([rel_diff(loss, ref_loss)]
                           + [rel_diff(grads[k], ref_grads[k]) for k in grads])
        caps = ours.sample(features, max_length=T)
        row["sample"] = float(np.mean(caps != ref.sample(tf, max_length=T).numpy()))
        fns.append(lambda: ref.loss(tf, tc))
    times = alternate(fns, warmup=1, repeats=repeats)
    row["ours_ms"], row["readable_ms"] = 1e3 * times[0], 1e3 * times[1]
    if len(times) > 2:
        row["torch_ms"], row["ratio"] = 1e3 * times[2], times[0] / times[2]
        row["readable_ratio"] = times[1] / times[2]
    return row


def fmt_row(r):
    cells = ["%-7s" % r["dtype"], "%2dx%-2d" % (r["G"], r["G"]), "%4d" % r["N"],
             "%9.1f" % r["ours_ms"], "%9.1f" % r["readable_ms"]]
    if "torch_ms" in r:
        cells += ["%9.1f" % r["torch_ms"], "%6.2fx" % r["ratio"], "%7.2fx" % r["readable_ratio"],
                  "%8.1e" % r["agree"], "%6.3f" % r["sample"]]
    cells += ["%8.1e" % r["readable_agree"]]
    return "  ".join(cells)


def header(with_torch):
    cols = ["dtype  ", "grid ", "   N", "  ours ms", "readable"]
    if with_torch:
        cols += [" torch ms", "  ratio", "r.ratio", "   agree", "sample"]
    return "  ".join(cols + ["vs read."])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="float32, 4x4 grid, 3 timed runs")
    parser.add_argument("--sizes", choices=sorted(SIZES), default="classic",
                        help="'classic': T=16, W=256, H=512, V=1004, C=512, N=100; 'tiny': tests")
    parser.add_argument("--grids", type=int, nargs="+", default=None,
                        help="grid sizes G (default 4 and 8; --quick: 4)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs (default 3 / 7)")
    parser.add_argument("--no-torch", action="store_true", help="do not compare with torch")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 7)
    grids = args.grids or ([4] if args.quick else [4, 8])
    dtypes = ["float32"] if args.quick else ["float32", "float64"]

    threads, blas = blas_threads()
    torch_mod = load_torch("_torch_attention", args.no_torch, threads)
    print("machine : %s, %d cpus, %s" % (cpu_name(), os.cpu_count(), platform.platform()))
    print("python  : %s; numpy %s; rnncap %s" % (platform.python_version(), np.__version__,
                                                 rnncap.__version__))
    print("BLAS    : %s" % blas)
    print(torch_line(torch_mod, args.no_torch))
    size = SIZES[args.sizes]
    print("sizes   : T=%d, W=%d, H=%d, V=%d, C=%d, N=%d; %d timed runs each, medians"
          % (size["T"], size["W"], size["H"], size["V"], size["C"], size["N"], repeats))
    print("\nAttention model, training step: loss() forward + backward")
    print(header(torch_mod is not None))
    rng = np.random.default_rng(0)
    rows = []
    for dt in dtypes:
        for G in grids:
            row = bench_config(np.dtype(dt).type, G, size, repeats, torch_mod, rng)
            rows.append(row)
            print(fmt_row(row), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "torch": torch_mod is not None}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
