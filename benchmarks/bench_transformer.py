"""Time CaptioningTransformer's training step (and greedy sampling) against PyTorch CPU.

    python benchmarks/bench_transformer.py            # every size (several minutes on 2 cores)
    python benchmarks/bench_transformer.py --quick    # the target configuration only
    python benchmarks/bench_transformer.py --quick --sizes tiny --no-torch   # seconds (the test)

The target configuration is CS231n's at scale: N=100 captions of T=16 words, W=256, 4 heads,
2 post-norm decoder layers with dim_feedforward 2048, V=1004 words, D=512 features, float32.
Both models get the same weights and the same batch (captions padded with <NULL> after <END>, as
real ones are). The PyTorch model (benchmarks/_torch_transformer.py) is nn.Embedding + the
sinusoidal table -> nn.TransformerDecoder of post-norm nn.TransformerDecoderLayer (dropout 0) ->
nn.Linear, with the loss summed over non-<NULL> targets and divided by N*T, run eager with as many
threads as NumPy's BLAS. A training step is loss + gradients of every parameter.

Runs alternate between the models after a warm-up; medians are compared (ratio = ours / torch,
below 1 means we are faster). Both wall-clock and CPU (process) time are reported: on a shared
machine the wall clock includes time other processes took, CPU time does not. The training step
runs the readable layers of rnncap/transformer_layers.py (there is no other path); sampling is
timed with fast=True (rnncap/kernels/transformer.py, incremental decoding) and fast=False (the
readable loop, the whole prefix at every step, as CS231n's). "agree" is the largest difference
between our loss and gradients and torch's, ||ours - torch|| / ||torch|| per array (see rel_diff),
leaving out the arrays whose gradient is exactly zero, where both sides hold only rounding noise
(see zero_gradient); for sampling, the fraction of words that differ.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

import rnncap
from bench_model import blas_threads, load_torch, torch_line, word_to_idx
from rnncap.classifiers.transformer import CaptioningTransformer

SIZES = {
    "classic": dict(T=16, W=256, H=4, L=2, F=2048, V=1004, D=512, Ns=(25, 100, 256)),
    "tiny": dict(T=4, W=8, H=2, L=2, F=16, V=20, D=7, Ns=(2, 3, 5)),
}
NULL, START, END = 0, 1, 2  # the ids word_to_idx gives the special words


def timed(fn):
    """(wall seconds, CPU seconds) of one call."""
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def alternate(fns, warmup, repeats):
    """[(median wall, median cpu)] of each function, run in alternation (order swapped every
    round)."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    times = [[] for _ in fns]
    for r in range(repeats):
        order = range(len(fns)) if r % 2 == 0 else reversed(range(len(fns)))
        for i in order:
            times[i].append(timed(fns[i]))
    return [(statistics.median(w for w, _ in t), statistics.median(c for _, c in t))
            for t in times]


def make_model(rng, size, dtype, fast):
    """A model with weights of the trained scale: N(0, 0.02) weights are so small that every
    path agrees trivially, so draw them larger, with nonzero biases."""
    np.random.seed(0)
    model = CaptioningTransformer(word_to_idx(size["V"]), size["D"], size["W"],
                                  num_heads=size["H"], num_layers=size["L"],
                                  dim_feedforward=size["F"], dtype=dtype, fast=fast)
    for name, value in model.params.items():
        if not name.endswith("gamma"):
            scale = 0.1 if value.ndim == 1 else 1 / np.sqrt(value.shape[0])
            model.params[name] = (scale * rng.standard_normal(value.shape)).astype(dtype)
    return model


def make_batch(rng, N, size, dtype):
    """Features (N, D) and captions (N, T + 1): <START>, words, <END>, then <NULL> padding."""
    T, V = size["T"], size["V"]
    features = rng.standard_normal((N, size["D"])).astype(dtype)
    captions = rng.integers(3, V, size=(N, T + 1))
    captions[:, 0] = START
    for n, length in enumerate(rng.integers(max(1, T // 2), T + 1, size=N)):
        captions[n, length] = END
        captions[n, length + 1:] = NULL
    return features, captions


def zero_gradient(name):
    """Parameters whose gradient is exactly zero in exact arithmetic: every attention's key bias
    (softmax ignores a constant added to all of a row's scores) and, with one memory vector per
    image, cross-attention's query and key weights (a single key always gets weight 1)."""
    kind = name.split(".", 2)[-1]
    return kind.endswith("attn.bk") or kind in ("cross_attn.Wq", "cross_attn.bq", "cross_attn.Wk")


def rel_diff(a, b):
    """||a - b|| / ||b||: a norm, not the largest entry, because in float32 a ReLU input within
    rounding of 0 may fall on the other side in one model, which changes that one entry's
    gradient completely (in float64 both models agree to 1e-15)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(1e-30, float(np.linalg.norm(b))))


def bench_config(dtype, N, size, repeats, torch_mod, rng, sample):
    model = make_model(rng, size, dtype, fast=True)
    features, captions = make_batch(rng, N, size, dtype)
    row = {"dtype": np.dtype(dtype).name, "N": N}
    fns = [lambda: model.loss(features, captions)]
    if torch_mod is not None:
        ref = torch_mod.TorchCaptioningTransformer(model.params, size["H"], null=NULL)
        loss, grads = model.loss(features, captions)
        ref_loss, ref_grads = ref.loss(features, captions)
        row["agree"] = max([rel_diff(loss, ref_loss.numpy())]
                           + [rel_diff(grads[k], ref_grads[k].numpy()) for k in grads
                              if not zero_gradient(k)])
        fns.append(lambda: ref.loss(features, captions))
    times = alternate(fns, warmup=1, repeats=repeats)
    row["ours_ms"], row["ours_cpu_ms"] = 1e3 * times[0][0], 1e3 * times[0][1]
    if torch_mod is not None:
        row["torch_ms"], row["torch_cpu_ms"] = 1e3 * times[1][0], 1e3 * times[1][1]
        row["ratio"] = row["ours_ms"] / row["torch_ms"]
        row["cpu_ratio"] = row["ours_cpu_ms"] / row["torch_cpu_ms"]
    if sample:
        readable = CaptioningTransformer.from_params(model.word_to_idx, model.params,
                                                     num_heads=size["H"], fast=False)
        s = {"dtype": row["dtype"], "N": N}
        caps = model.sample(features, max_length=30)
        s["steps"] = int(np.max(np.sum(caps != NULL, axis=1))) or 1
        s["readable_differs"] = float(np.mean(caps != readable.sample(features, max_length=30)))
        sfns = [lambda: model.sample(features, max_length=30),
                lambda: readable.sample(features, max_length=30)]
        if torch_mod is not None:
            s["differs"] = float(np.mean(caps != ref.sample(features, 30, START, END)))
            sfns.append(lambda: ref.sample(features, 30, START, END))
        st = alternate(sfns, warmup=1, repeats=max(1, repeats // 2))
        s["ours_ms"], s["ours_cpu_ms"] = 1e3 * st[0][0], 1e3 * st[0][1]
        s["readable_ms"], s["readable_cpu_ms"] = 1e3 * st[1][0], 1e3 * st[1][1]
        if torch_mod is not None:
            s["torch_ms"], s["torch_cpu_ms"] = 1e3 * st[2][0], 1e3 * st[2][1]
            s["ratio"] = s["ours_ms"] / s["torch_ms"]
            s["cpu_ratio"] = s["ours_cpu_ms"] / s["torch_cpu_ms"]
        row["sample"] = s
    return row


def fmt_row(r, with_torch, sample=False):
    cells = ["%-7s" % r["dtype"], "%4d" % r["N"]]
    if sample:
        cells.append("%11.1f" % r["readable_ms"])
    cells.append("%9.1f" % r["ours_ms"])
    if with_torch:
        cells += ["%9.1f" % r["torch_ms"], "%6.2fx" % r["ratio"], "%6.2fx" % r["cpu_ratio"],
                  "%8.1e" % r["differs" if sample else "agree"]]
    if sample:
        cells += ["%8.1e" % r["readable_differs"], "%5d" % r["steps"]]
    return "  ".join(cells)


def header(with_torch, sample=False):
    cols = ["dtype  ", "   N"] + (["readable ms"] if sample else []) + ["  ours ms"]
    if with_torch:
        cols += [" torch ms", "  ratio", "    cpu", "  differ" if sample else "   agree"]
    if sample:
        cols += ["readable", "steps"]
    return "  ".join(cols)


def plan(args, size):
    """The list of (dtype, N, with_sampling) to run."""
    N_mid = size["Ns"][1]
    if args.quick:
        return [("float32", N_mid, not args.no_sample)]
    return ([("float32", N, N == N_mid and not args.no_sample) for N in size["Ns"]]
            + [("float64", N_mid, False)])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the target configuration only")
    parser.add_argument("--sizes", choices=sorted(SIZES), default="classic",
                        help="'classic': T=16, W=256, 4 heads, 2 layers, F=2048, V=1004; "
                             "'tiny': seconds, for tests")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs (default 5 / 9)")
    parser.add_argument("--no-torch", action="store_true", help="do not compare with torch")
    parser.add_argument("--no-sample", action="store_true", help="time the training step only")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    repeats = args.repeats or (5 if args.quick else 9)

    threads, blas = blas_threads()
    torch_mod = load_torch("_torch_transformer", args.no_torch, threads)
    print("machine : %s, %d cpus; python %s; numpy %s; rnncap %s"
          % (platform.machine(), os.cpu_count(), platform.python_version(), np.__version__,
             getattr(rnncap, "__version__", "?")))
    print("BLAS    : %s" % blas)
    print(torch_line(torch_mod, args.no_torch))
    size = SIZES[args.sizes]
    print("sizes   : T=%d, W=%d, %d heads, %d layers, F=%d, V=%d, D=%d; %d timed runs, medians"
          % (size["T"], size["W"], size["H"], size["L"], size["F"], size["V"], size["D"],
             repeats))
    with_torch = torch_mod is not None
    rng = np.random.default_rng(0)
    rows = []
    print("\nTraining step: loss() forward + backward (ratio = ours / torch: wall clock, then CPU)")
    print(header(with_torch))
    for dt, N, with_sample in plan(args, size):
        row = bench_config(np.dtype(dt).type, N, size, repeats, torch_mod, rng, with_sample)
        rows.append(row)
        print(fmt_row(row, with_torch), flush=True)
    samples = [r["sample"] for r in rows if "sample" in r]
    if samples:
        print("\nGreedy sampling, max_length 30: ours = fast=True (incremental decoding), "
              "readable = fast=False;\ntorch runs CS231n's loop (the whole prefix at every "
              "step); 'differ': the fraction of words unlike torch's,\n'readable': unlike "
              "fast=False's")
        print(header(with_torch, sample=True))
        for s in samples:
            print(fmt_row(s, with_torch, sample=True))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "torch": with_torch, "sizes": args.sizes}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
