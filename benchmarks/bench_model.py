"""Time CaptioningRNN's training step and greedy sampling against PyTorch CPU, side by side.

    python benchmarks/bench_model.py            # every size (several minutes on 2 cores)
    python benchmarks/bench_model.py --quick    # a minute or two
    python benchmarks/bench_model.py --quick --sizes tiny --no-torch   # seconds (the test)

For each configuration (cell, dtype, batch N, feature size D) both models get the same weights and
the same batch; runs alternate between them after a warm-up and the medians are compared
(ratio = ours / torch, below 1 means we are faster). torch (optional: without it only our times
are reported) runs eager with as many threads as NumPy's BLAS. The float32 and float64 GEMM peaks
are measured here with NumPy, and each training step's matrix work is reported as GFLOP/s and as
a percentage of that peak (the matrix work our loss() does: every product of forward and
backward, the output layer only at positions whose target is a word, not <NULL> padding, and the
input products x·Wx once per distinct word, as CaptioningRNN forms them); the percentage uses
the same 2048^3 product timed in alternation with that configuration, so that a machine whose
speed drifts is compared with itself. The "classic" column is that percentage for the work of
the classic computation (x·Wx, dx and dWx at every position, as torch does) done in our time. The "agree" column is
the largest relative difference between the two models' losses and gradients (for sampling: the
fraction of words that differ). "ours" is the fast path, CaptioningRNN(fast=True) running
rnncap/kernels/; "readable" times fast=False, the textbook pipeline on the public layers, so
readers see what the kernels buy ("r.ratio" = readable / torch).
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc

import numpy as np

import rnncap
from rnncap import rnn_layers as L

try:
    from rnncap.classifiers.rnn import CaptioningRNN
except ImportError:  # the model is not written yet: time the same layer calls directly
    CaptioningRNN = None

SIZES = {
    "classic": dict(T=16, W=256, H=512, V=1004, Ns=(25, 100, 256), Ds=(512, 4096)),
    "tiny": dict(T=4, W=6, H=8, V=20, Ns=(2, 3, 5), Ds=(7,)),
}
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
NULL, START, END = 0, 1, 2


# ------------------------------------------------------------------------------ machine facts

def blas_threads():
    """(threads, description) of NumPy's BLAS, from threadpoolctl when it is installed."""
    try:
        from threadpoolctl import threadpool_info
        info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    except ImportError:
        info = []
    if info:
        i = info[0]
        return i["num_threads"], "%s %s (%s kernels, %d threads)" % (
            i.get("internal_api"), i.get("version"), i.get("architecture"), i["num_threads"])
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            n = int(os.environ[var])
            return n, "%d threads, from %s (threadpoolctl not installed)" % (n, var)
    n = os.cpu_count()
    return n, "%d threads, the CPU count (threadpoolctl not installed)" % n


def load_torch(module, no_torch, threads):
    """The PyTorch reference module (e.g. "_torch_reference") with torch set to `threads`
    threads, or None when --no-torch is given or torch is not installed."""
    if no_torch:
        return None
    try:
        import importlib
        import torch
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        torch_mod = importlib.import_module(module)
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch_mod


def torch_line(torch_mod, no_torch):
    """The report's torch line: its version and threads, or why it is not used."""
    if torch_mod is None:
        return "torch   : not used (%s)" % ("--no-torch" if no_torch else "not installed")
    import torch
    return "torch   : %s, %d threads (set to match BLAS)" % (torch.__version__,
                                                          torch.get_num_threads())


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


class GemmProbe:
    """An n x n x n matmul with NumPy's BLAS: the machine's GEMM peak, timed on its own (best of
    several) and also alongside each configuration, so that a machine whose speed drifts (shared,
    throttled) is compared with itself at the same moment."""

    def __init__(self, dtype, n):
        rng = np.random.default_rng(0)
        self.a, self.b = rng.random((n, n)).astype(dtype), rng.random((n, n)).astype(dtype)
        self.out = np.empty_like(self.a)
        self.flops = 2.0 * n ** 3

    def __call__(self):
        np.matmul(self.a, self.b, out=self.out)

    def best_gflops(self, repeats=5):
        self()
        return self.flops / min(_timed(self) for _ in range(repeats)) / 1e9


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def alternate(fns, warmup, repeats):
    """Median seconds of each function, run in alternation (order swapped every round)."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    times = [[] for _ in fns]
    for r in range(repeats):
        order = range(len(fns)) if r % 2 == 0 else reversed(range(len(fns)))
        for i in order:
            times[i].append(_timed(fns[i]))
    return [statistics.median(t) for t in times]


# ------------------------------------------------------------------------------ the two models

def make_params(rng, cell, D, W, H, V, dtype):
    """CaptioningRNN-shaped parameters with the CS231n scales (biases small but nonzero)."""
    k = GATES[cell]
    p = {"W_embed": rng.standard_normal((V, W)) / 100,
         "W_proj": rng.standard_normal((D, H)) / np.sqrt(D), "b_proj": 0.1 * rng.standard_normal(H),
         "Wx": rng.standard_normal((W, k * H)) / np.sqrt(W),
         "Wh": rng.standard_normal((H, k * H)) / np.sqrt(H), "b": 0.1 * rng.standard_normal(k * H),
         "W_vocab": rng.standard_normal((H, V)) / np.sqrt(H), "b_vocab": 0.1 * rng.standard_normal(V)}
    return {name: value.astype(dtype) for name, value in p.items()}


def make_batch(rng, N, D, T, V, dtype):
    """Features (N, D) and captions (N, T + 1): <START>, words, <END>, then <NULL> padding."""
    features = rng.standard_normal((N, D)).astype(dtype)
    captions = rng.integers(3, V, size=(N, T + 1))
    captions[:, 0] = START
    lengths = rng.integers(max(1, T // 2), T + 1, size=N)  # words before <END>
    for n, length in enumerate(lengths):
        captions[n, length] = END
        captions[n, length + 1:] = NULL
    return features, captions


def word_to_idx(V):
    vocab = {"<NULL>": NULL, "<START>": START, "<END>": END}
    vocab.update(("w%d" % i, i) for i in range(3, V))
    return vocab


class LayerPipeline:
    """CaptioningRNN.loss / greedy sample as plain layer calls (used only if the model is absent)."""

    def __init__(self, params, cell):
        self.params, self.cell = params, cell
        self.forward = getattr(L, cell + "_forward")
        self.backward = getattr(L, cell + "_backward")

    def loss(self, features, captions):
        p = self.params
        captions_in, captions_out = captions[:, :-1], captions[:, 1:]
        h0, cache_proj = L.affine_forward(features, p["W_proj"], p["b_proj"])
        x, cache_embed = L.word_embedding_forward(captions_in, p["W_embed"])
        h, cache_cell = self.forward(x, h0, p["Wx"], p["Wh"], p["b"])
        scores, cache_vocab = L.temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
        loss, dscores = L.temporal_softmax_loss(scores, captions_out, captions_out != NULL)
        g = {}
        dh, g["W_vocab"], g["b_vocab"] = L.temporal_affine_backward(dscores, cache_vocab)
        dx, dh0, g["Wx"], g["Wh"], g["b"] = self.backward(dh, cache_cell)
        g["W_embed"] = L.word_embedding_backward(dx, cache_embed)
        _, g["W_proj"], g["b_proj"] = L.affine_backward(dh0, cache_proj)
        return loss, g

    def sample(self, features, max_length=30):
        p = self.params
        N = features.shape[0]
        captions = np.full((N, max_length), NULL, dtype=np.int32)
        h, _ = L.affine_forward(features, p["W_proj"], p["b_proj"])
        c = np.zeros_like(h)
        words = np.full(N, START)
        done = np.zeros(N, dtype=bool)
        for t in range(max_length):
            x = p["W_embed"][words]
            if self.cell == "lstm":
                h, c, _ = L.lstm_step_forward(x, h, c, p["Wx"], p["Wh"], p["b"])
            else:
                h, _ = getattr(L, self.cell + "_step_forward")(x, h, p["Wx"], p["Wh"], p["b"])
            words = L.affine_forward(h, p["W_vocab"], p["b_vocab"])[0].argmax(axis=1)
            captions[~done, t] = words[~done]
            done |= words == END
            if done.all():
                break
        return captions


def our_model(params, cell, V, fast=True):
    """CaptioningRNN on params: fast=True the kernels, fast=False the readable pipeline."""
    if CaptioningRNN is None:
        return LayerPipeline(params, cell)
    D, H = params["W_proj"].shape
    model = CaptioningRNN(word_to_idx(V), input_dim=D, wordvec_dim=params["W_embed"].shape[1],
                          hidden_dim=H, cell_type=cell, dtype=params["W_proj"].dtype.type,
                          fast=fast)
    model.params = {name: value.copy() for name, value in params.items()}
    return model


# ------------------------------------------------------------------------------ work counts

def train_flops(cell, N, T, D, W, H, V, targets, words=None):
    """The matrix work one of our loss() calls does: each layer's forward product and its two
    backward products, with the output layer counted at the `targets` positions whose target is
    a word (padding adds nothing to the loss) and the input products x·Wx at `words` rows:
    CaptioningRNN forms them, and backward dWx and dW_embed, once per distinct input word
    (None: once per position, T * N rows, as the layer pipeline and torch do)."""
    k = GATES[cell]
    words = N * T if words is None else words
    return 3 * 2.0 * (N * (D * H + T * H * k * H) + words * W * k * H + targets * H * V)


def sample_flops(cell, N, steps, D, W, H, V, table=True):
    """Greedy sampling's matrix work: h0, then per step h·Wh and the scores; the input products
    as one W_embed·Wx table for the vocabulary (table=True, as CaptioningRNN does) or one x·Wx
    per row and step (table=False, the classic way)."""
    k = GATES[cell]
    inputs = V * W * k * H if table else N * steps * W * k * H
    return 2.0 * (N * D * H + inputs + N * steps * (H * k * H + H * V))


def megabytes(n):
    return "%.1f MB" % (n / 2**20) if n >= 2**20 else "%.1f kB" % (n / 2**10)


def rel_diff(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(1e-12, float(np.max(np.abs(a) + np.abs(b)))))


def loss_memory(model, features, captions):
    """Peak bytes NumPy allocates during one loss() call, beyond what existed before."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    model.loss(features, captions)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - base


def backward_cache_bytes(cell, N, T, D, W, H, V, itemsize):
    """What backward must have from the forward pass: the embedded words (N, T, W), the hidden
    states (N, T + 1, H) with h0 and the cell's per-step values (LSTM: gates 4H, c and tanh(c);
    GRU: gates 3H and h·Wh_n; RNN: none)."""
    per_step = {"rnn": 0, "lstm": 6 * H, "gru": 4 * H}[cell]
    return itemsize * N * (T * (W + H + per_step) + H)


# ------------------------------------------------------------------------------ runs

def bench_config(cell, dtype, N, D, size, repeats, torch_mod, probe, rng, sample=True):
    T, W, H, V = size["T"], size["W"], size["H"], size["V"]
    params = make_params(rng, cell, D, W, H, V, dtype)
    features, captions = make_batch(rng, N, D, T, V, dtype)
    ours = our_model(params, cell, V)
    readable = our_model(params, cell, V, fast=False)
    row = {"cell": cell, "dtype": np.dtype(dtype).name, "N": N, "D": D}
    fns = [lambda: ours.loss(features, captions), lambda: readable.loss(features, captions)]
    sample_fns = [lambda: ours.sample(features, max_length=30),
                  lambda: readable.sample(features, max_length=30)]
    if torch_mod is not None:
        import torch
        ref = torch_mod.TorchCaptioner(params, cell, NULL, START, END)
        tf, tc = torch.from_numpy(features), torch.from_numpy(captions)
        loss, grads = ours.loss(features, captions)
        ref_loss = ref.loss(tf, tc)
        ref_grads = ref.grads()
        row["agree"] = max([rel_diff(loss, ref_loss)]
                           + [rel_diff(grads[k], ref_grads[k]) for k in grads])
        fns.append(lambda: ref.loss(tf, tc))
        sample_fns.append(lambda: ref.sample(tf, max_length=30))
    *times, probe_s = alternate(fns + [probe], warmup=1, repeats=repeats)
    row["ours_ms"], row["readable_ms"] = 1e3 * times[0], 1e3 * times[1]
    targets = int(np.sum(captions[:, 1:] != NULL))
    words = None if CaptioningRNN is None else np.unique(captions[:, :-1]).size
    row["gflops"] = train_flops(cell, N, T, D, W, H, V, targets, words) / times[0] / 1e9
    row["classic_gflops"] = train_flops(cell, N, T, D, W, H, V, targets) / times[0] / 1e9
    row["peak_gflops"] = probe.flops / probe_s / 1e9
    if len(times) > 2:
        row["torch_ms"], row["ratio"] = 1e3 * times[2], times[0] / times[2]
        row["readable_ratio"] = times[1] / times[2]
    if sample:
        caps = ours.sample(features, max_length=30)
        steps = int(np.max(np.sum(caps != NULL, axis=1))) or 1
        s = {"cell": cell, "dtype": row["dtype"], "N": N, "D": D, "steps": steps}
        if torch_mod is not None:
            s["agree"] = float(np.mean(caps != sample_fns[2]().numpy()))
        s["readable_agree"] = float(np.mean(caps != readable.sample(features, max_length=30)))
        *st, probe_s = alternate(sample_fns + [probe], warmup=1, repeats=repeats)
        s["ours_ms"], s["readable_ms"] = 1e3 * st[0], 1e3 * st[1]
        table = CaptioningRNN is not None
        s["gflops"] = sample_flops(cell, N, steps, D, W, H, V, table) / st[0] / 1e9
        s["classic_gflops"] = sample_flops(cell, N, steps, D, W, H, V, False) / st[0] / 1e9
        s["peak_gflops"] = probe.flops / probe_s / 1e9
        if len(st) > 2:
            s["torch_ms"], s["ratio"] = 1e3 * st[2], st[0] / st[2]
            s["readable_ratio"] = st[1] / st[2]
        row["sample"] = s
    return row


def fmt_row(r):
    cells = ["%-4s" % r["cell"], "%-7s" % r["dtype"], "%4d" % r["N"], "%5d" % r["D"],
             "%9.1f" % r["ours_ms"]]
    if "torch_ms" in r:
        cells += ["%9.1f" % r["torch_ms"], "%6.2fx" % r["ratio"], "%8.1e" % r["agree"]]
    cells += ["%9.1f" % r["readable_ms"]]
    if "torch_ms" in r:
        cells += ["%7.2fx" % r["readable_ratio"]]
    cells += ["%7.1f" % r["gflops"], "%5.0f%%" % (100 * r["gflops"] / r["peak_gflops"]),
              "%7.0f%%" % (100 * r["classic_gflops"] / r["peak_gflops"])]
    return "  ".join(cells)


def header(with_torch):
    cols = ["cell", "dtype  ", "   N", "    D", "  ours ms"]
    if with_torch:
        cols += [" torch ms", "  ratio", "   agree"]
    cols += ["readable"]
    if with_torch:
        cols += ["r.ratio"]
    return "  ".join(cols + ["GFLOP/s", " peak", "classic"])


def plan(args):
    """The list of (cell, dtype, N, D, with_sampling) to run."""
    size = SIZES[args.sizes]
    cells = args.cells or ["rnn", "lstm", "gru"]
    if args.quick:
        N_mid, N_big = size["Ns"][1], size["Ns"][-1]
        D = size["Ds"][0]
        runs = [(c, "float32", N, D, N == N_mid) for c in cells for N in (N_mid, N_big)]
        runs += [(c, "float64", N_mid, D, False) for c in cells if c == "lstm"]
        return runs
    return [(c, dt, N, D, D == size["Ds"][0]) for dt in ("float32", "float64") for c in cells
            for N in size["Ns"] for D in size["Ds"]]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N=100 and 256, D=512: a minute or two")
    parser.add_argument("--sizes", choices=sorted(SIZES), default="classic",
                        help="'classic': T=16, W=256, H=512, V=1004; 'tiny': seconds, for tests")
    parser.add_argument("--cells", nargs="+", choices=sorted(GATES), help="default: all")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs (default 3 / 7)")
    parser.add_argument("--no-torch", action="store_true", help="do not compare with torch")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 7)

    threads, blas = blas_threads()
    torch_mod = load_torch("_torch_reference", args.no_torch, threads)
    print("machine : %s, %d cpus, %s" % (cpu_name(), os.cpu_count(), platform.platform()))
    print("python  : %s; numpy %s; rnncap %s (%s)" % (
        platform.python_version(), np.__version__, getattr(rnncap, "__version__", "?"),
        "CaptioningRNN" if CaptioningRNN is not None else "layer pipeline, no CaptioningRNN yet"))
    print("BLAS    : %s" % blas)
    env = ["%s=%s" % (v, os.environ[v]) for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                                 "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
           if v in os.environ]
    print("env     : %s" % (" ".join(env) or "(no BLAS variables set)"))
    if torch_mod is not None:
        import torch
        print("torch   : %s, %d threads (set to match BLAS), mkldnn %s" % (
            torch.__version__, torch.get_num_threads(), torch.backends.mkldnn.is_available()))
    else:
        print("torch   : not used (%s)" % ("--no-torch" if args.no_torch else "not installed"))
    n_peak = 2048 if args.sizes == "classic" else 256
    probes = {dt: GemmProbe(dt, n_peak) for dt in ("float32", "float64")}
    peak = {dt: probe.best_gflops() for dt, probe in probes.items()}
    print("GEMM peak (NumPy, %d^3, best of 5): float32 %.1f GFLOP/s, float64 %.1f GFLOP/s"
          % (n_peak, peak["float32"], peak["float64"]))
    print("          'peak': GFLOP/s (the matrix work our code does) / the median of the same"
          " product timed in alternation with that configuration")
    print("          'classic': the same for the work of the classic per-position computation"
          " (x·Wx at every position, as torch does) done in our time")
    size = SIZES[args.sizes]
    print("sizes   : T=%d, W=%d, H=%d, V=%d; %d timed runs each, medians"
          % (size["T"], size["W"], size["H"], size["V"], repeats))

    rng = np.random.default_rng(0)
    rows = []
    print("\nTraining step: loss() forward + backward")
    print(header(torch_mod is not None))
    for cell, dt, N, D, with_sample in plan(args):
        row = bench_config(cell, np.dtype(dt).type, N, D, size, repeats, torch_mod, probes[dt],
                           rng, sample=with_sample)
        rows.append(row)
        print(fmt_row(row), flush=True)

    samples = [r["sample"] for r in rows if "sample" in r]
    if samples:
        print("\nGreedy sampling, max_length 30 (steps = words actually decoded)")
        print(header(torch_mod is not None).replace("   agree", "  differ") + "  steps")
        for s in samples:
            print(fmt_row(s) + "  %5d" % s["steps"])

    cell = "lstm" if "lstm" in (args.cells or GATES) else (args.cells or ["rnn"])[0]
    N, D = size["Ns"][-1], size["Ds"][0]
    T, W, H, V = size["T"], size["W"], size["H"], size["V"]
    params = make_params(rng, cell, D, W, H, V, np.float32)
    features, captions = make_batch(rng, N, D, T, V, np.float32)
    mem = loss_memory(our_model(params, cell, V), features, captions)
    need = backward_cache_bytes(cell, N, T, D, W, H, V, 4)
    print("\nMemory: loss() for %s float32 N=%d D=%d peaks at %s above its inputs; the forward"
          " values backward needs (words, hidden states, the cell's per-step values) take %s"
          % (cell, N, D, megabytes(mem), megabytes(need)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"peak_gflops": peak, "rows": rows, "loss_peak_bytes": mem,
                       "backward_cache_bytes": need, "torch": torch_mod is not None}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
