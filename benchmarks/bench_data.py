"""Eager vs lazy load_coco_data on a generated file of full COCO size, and shapes generation.

    .venv/bin/python benchmarks/bench_data.py [--dir TMPDIR] [--skip-shapes]

Writes a COCO-layout directory with random contents of the real sizes (train 82783 x 4096 and
val 40504 x 4096 float32 fc7 features, their 512-d PCA files, 400135 / 195954 captions, a
1004-word vocabulary) into a temporary directory, deleted afterwards (about 2.3 GB of disk).
Each mode runs in its own subprocess, so its peak RSS (ru_maxrss) is its own:
  - load time of load_coco_data(max_train=50, pca_features=False) (the overfit run's call)
  - peak RSS after the load and 100 minibatches of 25 (the overfit run's draws)
  - mean time of one sample_coco_minibatch(batch_size=100) on the full train split
Files are freshly written, so reads come from the page cache (a cold disk is slower).
The files are written by a subprocess too: a child's ru_maxrss starts from its parent's RSS at
fork, so the parent stays small.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

N_TRAIN, N_VAL = 82783, 40504
CAPS_TRAIN, CAPS_VAL = 400135, 195954
VOCAB = 1004

CHILD = r"""
import json, resource, sys, time
import numpy as np
from rnncap.coco_utils import load_coco_data, sample_coco_minibatch
d, lazy = sys.argv[1], sys.argv[2] == "lazy"
np.random.seed(231)
t = time.perf_counter()
data = load_coco_data(d, max_train=50, pca_features=False, lazy=lazy)
load_s = time.perf_counter() - t
for _ in range(100):
    sample_coco_minibatch(data, batch_size=25)
rss_overfit = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
import h5py
with h5py.File(d + "/coco2014_captions.h5", "r") as f:  # all train captions again
    data["train_captions"], data["train_image_idxs"] = f["train_captions"][()], f["train_image_idxs"][()]
t = time.perf_counter()
for _ in range(50):
    sample_coco_minibatch(data, batch_size=100)
mb_ms = (time.perf_counter() - t) / 50 * 1000
print(json.dumps({"load_s": load_s, "peak_rss_mb": rss_overfit, "minibatch100_ms": mb_ms}))
"""


def write_fake_coco(d):
    import h5py

    rng = np.random.default_rng(0)
    words = ["<NULL>", "<START>", "<END>", "<UNK>"] + ["w%d" % i for i in range(VOCAB - 4)]
    with open(os.path.join(d, "coco2014_vocab.json"), "w") as f:
        json.dump({"idx_to_word": words, "word_to_idx": {w: i for i, w in enumerate(words)}}, f)
    with h5py.File(os.path.join(d, "coco2014_captions.h5"), "w") as f:
        for split, n_caps, n_img in (("train", CAPS_TRAIN, N_TRAIN), ("val", CAPS_VAL, N_VAL)):
            f[split + "_captions"] = rng.integers(0, VOCAB, size=(n_caps, 17), dtype=np.int32)
            f[split + "_image_idxs"] = rng.integers(0, n_img, size=n_caps, dtype=np.int32)
    for split, n in (("train", N_TRAIN), ("val", N_VAL)):
        for suffix, D in (("", 4096), ("_pca", 512)):
            with h5py.File(os.path.join(d, "%s2014_vgg16_fc7%s.h5" % (split, suffix)), "w") as f:
                dset = f.create_dataset("features", shape=(n, D), dtype=np.float32)
                for s in range(0, n, 8192):
                    e = min(s + 8192, n)
                    dset[s:e] = rng.random((e - s, D), dtype=np.float32)
        with open(os.path.join(d, "%s2014_urls.txt" % split), "w") as f:
            f.writelines("http://images.example/%s/%d.jpg\n" % (split, i) for i in range(n))


def bench_modes(d):
    results = {}
    for mode in ("eager", "lazy"):
        out = subprocess.run([sys.executable, "-c", CHILD, d, mode], capture_output=True,
                             text=True, check=True)
        results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    base = subprocess.run([sys.executable, "-c", "import resource, h5py, numpy, rnncap.coco_utils;"
                           "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)"],
                          capture_output=True, text=True, check=True)
    results["imports_only_rss_mb"] = float(base.stdout)
    return results


def bench_shapes(d):
    from rnncap.shapes import generate_shapes

    t, c = time.perf_counter(), time.process_time()
    generate_shapes(os.path.join(d, "shapes"), verbose=True)
    return {"wall_s": time.perf_counter() - t, "cpu_s": time.process_time() - c}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dir", default=None, help="where to put the temporary files")
    p.add_argument("--skip-shapes", action="store_true")
    p.add_argument("--write-only", metavar="DIR", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.write_only:
        write_fake_coco(args.write_only)
        return
    d = tempfile.mkdtemp(prefix="rnncap-bench-data-", dir=args.dir)
    try:
        t = time.perf_counter()
        subprocess.run([sys.executable, os.path.abspath(__file__), "--write-only", d], check=True)
        print("wrote full-size fake COCO in %.1f s" % (time.perf_counter() - t))
        r = bench_modes(d)
        print("imports only (python, numpy, h5py): peak RSS %.0f MB" % r["imports_only_rss_mb"])
        print("%-6s %12s %16s %22s" % ("mode", "load (s)", "peak RSS (MB)", "minibatch of 100 (ms)"))
        for mode in ("eager", "lazy"):
            m = r[mode]
            print("%-6s %12.2f %16.0f %22.2f" % (mode, m["load_s"], m["peak_rss_mb"],
                                                 m["minibatch100_ms"]))
        shutil.rmtree(d)
        if not args.skip_shapes:
            os.makedirs(d)
            s = bench_shapes(d)
            print("shapes generation (4000 train / 500 val images): %.1f s wall, %.1f s CPU"
                  % (s["wall_s"], s["cpu_s"]))
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
