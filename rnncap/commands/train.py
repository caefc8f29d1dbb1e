"""`rnncap train`: train a captioning model with per-epoch validation, checkpoints and plots.

--model rnn (the default) trains a CaptioningRNN with the recurrent cell of --cell;
--model transformer a CaptioningTransformer (--heads, --layers, --ffn-dim, --activation,
--dropout; --grid reads the built-in data's grid features instead of the feature vectors).

Writes into --out DIR:
  best.npz       the checkpoint of the epoch with the best greedy val captions: the most fully
                 correct on the built-in data (which records what each image shows), else the
                 best BLEU-4
  last.npz       the checkpoint of the latest epoch (what --resume continues from)
  history.json   per-iteration train loss, per-epoch train/val loss and val metrics, options
  loss.png       the loss curve
  captions.png   greedy captions of the best model on a few val images, with the ground truth

A directory that already holds a run is refused unless --resume continues that run or
--overwrite replaces it; a lock file (.rnncap-train.lock) makes a second concurrent run into
the same directory fail at once.
"""
import os
import sys

from rnncap.cli import check_output_dir, integer, number
from rnncap.commands.common import (MODEL_DEPENDENT, TRAIN_DEFAULTS as D, TRANSFORMER_DEFAULTS as T,
                                   add_data_argument, describe_model, model_defaults,
                                   one_line_os_errors)

CELLS = ("rnn", "lstm", "gru", "attention")
VAL_CAPTIONS = 1000   # val captions whose loss is computed after each epoch
GRID_IMAGES = 8       # val images shown in captions.png
FULL_EVAL_MAX = 5000  # evaluate the best model on the whole val split when it is this small


def _both(name):
    """The help text of an option whose default depends on --model."""
    return "(default %s; %s with --model transformer)" % (D[name], T[name])


def configure(parser):
    parser.add_argument("--model", choices=["rnn", "transformer"], default="rnn",
                        help="a recurrent model (--cell) or a Transformer decoder (default "
                             "%(default)s)")
    parser.add_argument("--cell", choices=CELLS, default=D["cell"],
                        help="recurrent cell of --model rnn; 'attention' (an LSTM attending over "
                             "grid features, built-in data only) (default %(default)s)")
    parser.add_argument("--epochs", type=integer(0), default=None,
                        help="total number of epochs, also when resuming " + _both("epochs"))
    parser.add_argument("--batch-size", type=integer(1), default=D["batch_size"],
                        help="captions per minibatch (default %(default)s)")
    parser.add_argument("--lr", type=number(0, strict_minimum=True), default=None,
                        help="Adam learning rate " + _both("lr"))
    parser.add_argument("--lr-decay", type=number(0, strict_minimum=True), default=None,
                        help="learning-rate factor applied after each epoch " + _both("lr_decay"))
    parser.add_argument("--clip", type=number(0), default=None,
                        help="clip the global gradient norm to this; 0 turns clipping off "
                             + _both("clip"))
    parser.add_argument("--hidden-dim", type=integer(1), default=D["hidden_dim"],
                        help="hidden state size H of --model rnn (default %(default)s)")
    parser.add_argument("--wordvec-dim", type=integer(1), default=None,
                        help="word vector size W (the Transformer's width) " + _both("wordvec_dim"))
    parser.add_argument("--heads", type=integer(1), default=T["heads"],
                        help="attention heads of --model transformer; must divide --wordvec-dim "
                             "(default %(default)s)")
    parser.add_argument("--layers", type=integer(1), default=T["layers"],
                        help="decoder layers of --model transformer (default %(default)s)")
    parser.add_argument("--ffn-dim", type=integer(1), default=T["ffn_dim"],
                        help="feed-forward width of --model transformer (default %(default)s)")
    parser.add_argument("--activation", choices=["relu", "gelu"], default=T["activation"],
                        help="feed-forward activation of --model transformer (default "
                             "%(default)s)")
    parser.add_argument("--dropout", type=number(0, 0.99), default=T["dropout"],
                        help="dropout probability of --model transformer during training "
                             "(default %(default)s)")
    parser.add_argument("--grid", action="store_true",
                        help="--model transformer reads the grid features (built-in data) "
                             "instead of one feature vector per image")
    add_data_argument(parser, "default: COCO when present, else the built-in data")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="output directory for checkpoints, history and plots "
                             "(default runs/CELL, runs/transformer)")
    parser.add_argument("--resume", nargs="?", const="", default=None, metavar="CHECKPOINT",
                        help="continue training from CHECKPOINT (default DIR/last.npz) up to "
                             "--epochs; the stored options are kept")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the run already in DIR (its checkpoints, history, plots)")
    parser.add_argument("--max-train", type=integer(1), default=None, metavar="N",
                        help="train on N randomly drawn train captions (CS231n's max_train)")
    parser.add_argument("--val-images", type=integer(1), default=D["val_images"], metavar="N",
                        help="val images scored after each epoch (default %(default)s)")
    parser.add_argument("--seed", type=integer(0, 2 ** 32 - 1), default=D["seed"],
                        help="seed of the global np.random (weights, minibatches) "
                             "(default %(default)s)")
    parser.add_argument("--print-every", type=integer(1), default=100, metavar="N",
                        help="print the loss every N iterations (default %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _check_args(args, source=""):
    """Raise ValueError naming the first option with an impossible value or type (source: where
    the values came from, for options stored in a checkpoint)."""
    import math

    def bad(name, expected, value):
        return ValueError("--%s%s must be %s, got %r"
                          % (name.replace("_", "-"), source, expected, value))

    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    if args.model not in ("rnn", "transformer"):
        raise bad("model", "one of rnn, transformer", args.model)
    if args.cell not in CELLS:
        raise bad("cell", "one of " + ", ".join(CELLS), args.cell)
    if args.activation not in ("relu", "gelu"):
        raise bad("activation", "one of relu, gelu", args.activation)
    if not isinstance(args.grid, bool):
        raise bad("grid", "true or false", args.grid)
    for name in ("epochs", "batch_size", "hidden_dim", "wordvec_dim", "val_images",
                 "print_every", "seed", "max_train", "heads", "layers", "ffn_dim"):
        value = getattr(args, name)
        minimum = 0 if name in ("epochs", "seed") else 1
        if name == "max_train" and value is None:
            continue
        if not is_int(value) or value < minimum:
            raise bad(name, "an integer >= %d" % minimum, value)
    if args.seed > 2 ** 32 - 1:
        raise bad("seed", "at most 2**32 - 1 (NumPy's seed range)", args.seed)
    for name in ("lr", "lr_decay", "clip"):
        value = getattr(args, name)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) \
            and math.isfinite(value) and (value >= 0 if name == "clip" else value > 0)
        if not ok:
            raise bad(name, "a finite number >= 0 (0: no clipping)" if name == "clip"
                      else "a positive finite number", value)
    dropout = args.dropout
    if not (isinstance(dropout, (int, float)) and not isinstance(dropout, bool)
            and 0 <= dropout < 1):
        raise bad("dropout", "a probability in [0, 1)", dropout)
    if args.model == "transformer" and args.wordvec_dim % args.heads:
        raise ValueError("--heads%s must divide --wordvec-dim (each head gets the same number "
                         "of columns), got --heads %d with --wordvec-dim %d"
                         % (source, args.heads, args.wordvec_dim))
    if args.model == "rnn" and (args.grid or args.dropout):
        raise ValueError("--grid and --dropout apply to --model transformer, not --model rnn")
    if args.out is not None and not str(args.out).strip():
        raise ValueError("--out must name a directory, got an empty string")
    if args.data is not None and not isinstance(args.data, str):
        raise bad("data", "a string", args.data)


def _check_sizes(args, data):
    """Refuse, naming the option, sizes whose memory (estimated) exceeds what is available, or
    whose loss history would not fit in a checkpoint; called before anything is allocated."""
    import numpy as np

    from rnncap._validate import check_memory
    from rnncap.checkpoint import CELL_GATES, MAX_META_CHARS

    V, D = len(data["word_to_idx"]), data["train_features"].shape[1]
    T = data["train_captions"].shape[1] - 1
    k, H, W, N = CELL_GATES[args.cell], args.hidden_dim, args.wordvec_dim, args.batch_size
    L = int(np.prod(data["train_features"].shape[2:]))  # grid locations (1 for vectors)
    f32, caption_bytes = 4, data["train_captions"].shape[1] * data["train_captions"].itemsize
    if args.max_train is not None:  # the index draw, the captions and their image indices
        check_memory("--max-train %d" % args.max_train, args.max_train * (16 + caption_bytes))
    if args.model == "transformer":
        n_layers, F = args.layers, args.ffn_dim
        S = 1 if not args.grid else L
        params = V * W + D * W + W + S * W \
            + n_layers * (8 * W * W + 8 * W + 6 * W + 2 * W * F + F + W) + W * V + V
        check_memory("--wordvec-dim %d with --ffn-dim %d and --layers %d" % (W, F, n_layers),
                     7 * params * f32)
        # One minibatch: scores and their gradient, each layer's caches (the FFN's hidden
        # units, attention weights per head, a dozen (T, W) arrays), features and memory.
        check_memory("--batch-size %d with --ffn-dim %d" % (N, F),
                     N * T * (3 * V + n_layers * (3 * F + 2 * args.heads * (T + S) + 16 * W)) * f32
                     + N * S * (D + 2 * n_layers * W) * f32)
    else:
        # Parameters, gradients, two Adam moments, the best copy and the update's copies.
        params = V * W + D * H + H + W * k * H + H * k * H + k * H + H * V + V
        if args.cell == "attention":
            params += H * k * H  # Wattn
        check_memory("--hidden-dim %d with --wordvec-dim %d" % (H, W), 7 * params * f32)
        # One minibatch: word scores and their gradient, each step's gates and caches, word vectors;
        # the features and, with attention, the projected grid and its gradient.
        check_memory("--batch-size %d with --hidden-dim %d" % (N, H),
                     N * T * (3 * V + 6 * k * H + 2 * W + 3 * L) * f32 + N * L * (D + 3 * H) * f32)
    num_train = args.max_train or data["train_captions"].shape[0]
    iterations = args.epochs * max(num_train // N, 1)
    # Each iteration's loss is a Python float in memory and ~20 characters of JSON in every
    # checkpoint, whose document is capped.
    if iterations * 20 > MAX_META_CHARS:
        raise ValueError("--epochs %d means %d iterations, whose loss history is more than a "
                         "checkpoint holds (about %d iterations)"
                         % (args.epochs, iterations, MAX_META_CHARS // 20))


def _solver_class(train_meta, written):
    """A CaptioningSolver whose checkpoints also record how `rnncap train` was run (the data
    and options), so that `evaluate`, `sample` and --resume find the right data; every path
    it saves is appended to `written`."""
    from rnncap.captioning_solver import CaptioningSolver

    class TrainSolver(CaptioningSolver):
        def save(self, path, extra_meta=None):
            meta = dict(extra_meta or {}, train=train_meta)
            written.append(CaptioningSolver.save(self, path, extra_meta=meta))
            return written[-1]

    return TrainSolver


def val_records(data_spec, data):
    """The val split's scene records (the built-in data), or None where there are none (COCO);
    ValueError, before any training, when they do not cover every val image of data."""
    from rnncap.coco_utils import load_objects

    try:
        records = load_objects(data_spec, "val")
    except FileNotFoundError:
        return None
    needed = int(max(data["val_image_idxs"], default=-1)) + 1
    if len(records) < needed:
        raise ValueError("the val objects file records %d images, but the val captions describe "
                         "%d" % (len(records), needed))
    return records


def _val_scores(model, data, num_images, records):
    """Greedy val scores of the first num_images images: BLEU-1..4, CIDEr-D, num_images and,
    with records, 'accuracy', the share of captions fully correct. Draws no random numbers."""
    from rnncap.commands.evaluate import captions_accuracy
    from rnncap.metrics import evaluate_model

    scores = evaluate_model(model, data, split="val", num_images=num_images,
                            return_captions=records is not None)
    captions = scores.pop("captions", None)
    if captions is not None:
        scores["accuracy"] = captions_accuracy(captions, records)["fully_correct"]
    return scores


def _metrics_fn(data, num_images, records):
    """Per-epoch val metrics (greedy, _val_scores without num_images)."""
    def metrics(model):
        scores = _val_scores(model, data, num_images, records)
        scores.pop("num_images", None)
        return scores
    return metrics


def _build_solver(args, data, data_spec, records, options, out, resume_path, written):
    """A new solver, or one restored from a checkpoint for --resume."""
    import numpy as np

    from rnncap.classifiers.rnn import CaptioningRNN

    Solver = _solver_class({"data": data_spec, "options": options}, written)
    extras = dict(num_epochs=args.epochs, metrics_fn=_metrics_fn(data, args.val_images, records),
                  checkpoint_dir=out, progress=not args.no_progress, verbose=True,
                  print_every=args.print_every)
    if resume_path is not None:
        print("resuming from %s" % resume_path)
        solver = Solver.from_checkpoint(resume_path, data, **extras)
        if solver.repaired_best:
            print("rewrote %s (epoch %d, the best so far) from the best parameters in %s"
                  % (solver.repaired_best, solver.best_epoch, resume_path))
        return solver
    if args.model == "transformer":
        from rnncap.classifiers.transformer import CaptioningTransformer

        features = data["train_features"]
        model = CaptioningTransformer(
            data["word_to_idx"], input_dim=features.shape[1], wordvec_dim=args.wordvec_dim,
            num_heads=args.heads, num_layers=args.layers, dim_feedforward=args.ffn_dim,
            activation=args.activation, dtype=np.float32, dropout=args.dropout, seed=args.seed,
            grid_size=features.shape[-1] if args.grid else None)
    else:
        model = CaptioningRNN(data["word_to_idx"], input_dim=data["train_features"].shape[1],
                              wordvec_dim=args.wordvec_dim, hidden_dim=args.hidden_dim,
                              cell_type=args.cell, dtype=np.float32)
    return Solver(model, data, update_rule="adam", optim_config={"learning_rate": args.lr},
                  lr_decay=args.lr_decay, batch_size=args.batch_size,
                  clip_norm=args.clip or None, num_val=VAL_CAPTIONS,
                  # BLEU barely sees a wrong colour or relation; where the truth is known, count it
                  best_metric="BLEU-4" if records is None else "accuracy",
                  seed=args.seed, **extras)


def _write_outputs(solver, data, label, records, options, out, seconds, written):
    """history.json, loss.png and captions.png; returns the final val scores of the best model."""
    import json

    from rnncap.plots import plot_captions_grid, plot_loss_curve
    from rnncap.commands.common import caption_text, load_images, reference_captions, split_images

    iterations_per_epoch = max(data["train_captions"].shape[0] // solver.batch_size, 1)
    num_val_images = len(split_images(data, "val"))
    final = _val_scores(solver.model, data, min(num_val_images, FULL_EVAL_MAX), records)
    history = {
        "data": label, "options": options, "iterations_per_epoch": iterations_per_epoch,
        "epochs_done": solver.epoch, "seconds_this_run": round(seconds, 1),
        "best_epoch": solver.best_epoch,
        "final_val_greedy": final,
        "loss_history": [float(x) for x in solver.loss_history],
        "train_loss_history": solver.train_loss_history,
        "val_loss_history": solver.val_loss_history,
        "val_metrics_history": solver.val_metrics_history,
    }
    path = os.path.join(out, "history.json")
    with open(path + ".tmp", "w") as f:  # renamed into place: a full disk keeps the old one
        json.dump(history, f, indent=1)
    os.replace(path + ".tmp", path)
    written.append(path)
    if solver.loss_history:
        plot_loss_curve(solver.loss_history, os.path.join(out, "loss.png"),
                        val_loss_history=solver.val_loss_history or None,
                        iterations_per_epoch=iterations_per_epoch)
        written.append(os.path.join(out, "loss.png"))

    ids = split_images(data, "val")[:GRID_IMAGES]
    sampled = solver.model.sample(data["val_features"][ids])
    plot_captions_grid(load_images(data["val_urls"][ids]),
                       [caption_text(row, data["idx_to_word"]) for row in sampled],
                       [reference_captions(data, "val", i)[0] for i in ids],
                       os.path.join(out, "captions.png"), title="val images, greedy captions")
    written.append(os.path.join(out, "captions.png"))
    return final


# The options a checkpoint's train.options restores (--epochs comes from the command line).
STORED_OPTIONS = ("cell", "batch_size", "lr", "lr_decay", "clip", "hidden_dim", "wordvec_dim",
                  "max_train", "val_images", "seed", "model", "heads", "layers", "ffn_dim",
                  "activation", "dropout", "grid")
RUN_FILES = ("best.npz", "last.npz", "history.json", "loss.png", "captions.png")
LOCK_FILE = ".rnncap-train.lock"


def _lock(out):
    """Hold an exclusive lock on out/LOCK_FILE until the process ends (the OS drops it when
    the process dies, even by kill -9); ValueError at once if another run holds it."""
    try:
        import fcntl
    except ImportError:  # not on this platform: no protection against concurrent runs
        return None
    path = os.path.join(out, LOCK_FILE)
    f = open(path, "a+")
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.seek(0)
        pid = f.read().strip() or "unknown"
        f.close()
        raise ValueError("--out %s: another `rnncap train` (pid %s) is writing there now; wait "
                         "for it or choose another --out" % (out, pid)) from None
    f.seek(0)
    f.truncate()
    f.write("%d\n" % os.getpid())
    f.flush()
    return f  # kept open (and so locked) by the caller


def _other_run(args, out, resume_path):
    """The files of another run in `out` that --overwrite will replace (ValueError without it);
    [] when there are none or --resume continues the run there."""
    if not os.path.isdir(out):
        return []
    present = [f for f in RUN_FILES if os.path.exists(os.path.join(out, f))]
    continues = resume_path is not None and \
        os.path.samefile(os.path.dirname(os.path.abspath(resume_path)), out)
    if not present or continues:
        return []
    if not args.overwrite:
        raise ValueError("--out %s already holds a run (%s); pass --resume to continue it, "
                         "--overwrite to replace it, or choose another --out"
                         % (out, ", ".join(present)))
    return [os.path.join(out, f) for f in present]


def _claim_out(args, out, resume_path):
    """Create and lock the output directory, then look again for another run in it (one may
    have started meanwhile). Returns (lock, files to remove)."""
    os.makedirs(out, exist_ok=True)
    lock = _lock(out)
    try:
        return lock, _other_run(args, out, resume_path)
    except ValueError:
        if lock is not None:
            lock.close()
        raise


def _check_vocabulary(meta, data, checkpoint, label):
    """Refuse to resume on data whose vocabulary differs from the checkpoint's."""
    stored = meta["model"]["word_to_idx"]
    if stored != data["word_to_idx"]:
        differ = sorted(w for w in set(stored) | set(data["word_to_idx"])
                        if stored.get(w) != data["word_to_idx"].get(w))
        raise ValueError("--resume: checkpoint %s was trained with another vocabulary than the "
                         "data %s (%d words vs %d; e.g. %r differs); pass the --data it was "
                         "trained on" % (checkpoint, label, len(stored), len(data["word_to_idx"]),
                                         differ[0]))


def _resume_settings(args):
    """For --resume: the checkpoint path and output directory; the options stored in the
    checkpoint (data, cell, sizes, seed, max_train, ...) replace those on the command line."""
    from rnncap.checkpoint import read_meta

    if args.resume:
        path = args.resume
        out = args.out if args.out is not None else os.path.dirname(os.path.abspath(args.resume))
    else:
        out = args.out if args.out is not None else _default_out(args)
        path = os.path.join(out, "last.npz")
    meta = read_meta(path)  # FileNotFoundError / ValueError name the file and field
    if "state" not in meta:
        raise ValueError("--resume: %s holds no training state (a model-only checkpoint, or a "
                         "best.npz rebuilt after a crash); resume from last.npz" % path)
    args.resume_meta = meta
    stored = meta.get("train") or {}
    options = stored.get("options") if isinstance(stored, dict) else None
    if not isinstance(stored, dict) or not isinstance(options or {}, dict):
        raise ValueError("checkpoint %s: field train.options must be an object" % path)
    for name in STORED_OPTIONS:
        if name in (options or {}):
            setattr(args, name, options[name])
    args.data = args.data if args.data is not None else stored.get("data")
    return path, out


def _default_out(args):
    return os.path.join("runs", args.cell if args.model == "rnn" else "transformer")


def _fill_defaults(args):
    """Give the options left unset (None) the defaults of args.model."""
    defaults = model_defaults(args.model, grid=bool(getattr(args, "grid", False)))
    for name in MODEL_DEPENDENT:
        if getattr(args, name, None) is None:
            setattr(args, name, defaults[name])


@one_line_os_errors
def run(args):
    if args.model not in ("rnn", "transformer"):
        raise ValueError("--model must be one of rnn, transformer, got %r" % (args.model,))
    _fill_defaults(args)
    _check_args(args)
    resume_path = None
    if args.resume is not None:
        resume_path, out = _resume_settings(args)
        _check_args(args, source=" (stored in %s)" % resume_path)
    else:
        out = args.out if args.out is not None else _default_out(args)
    check_output_dir("--out", out)
    _other_run(args, out, resume_path)  # refuse early; checked again under the lock
    return _train(args, out, resume_path)


def _train(args, out, resume_path):
    """The run itself: data, checks, then `out` is claimed and the model trained."""
    import numpy as np

    from rnncap.commands.common import load_data, needs_grid

    np.random.seed(args.seed)  # the CS231n protocol: weights and minibatches from np.random
    data, label, data_spec = load_data(
        args.data, grid=(needs_grid(args.cell) if args.model == "rnn" else args.grid))
    _check_sizes(args, data)
    records = val_records(data_spec, data)  # what each val image shows (built-in data), checked
    if resume_path is not None:
        _check_vocabulary(args.resume_meta, data, resume_path, label)
    lock, replaced = _claim_out(args, out, resume_path)
    try:
        return _run_claimed(args, out, resume_path, replaced, data, label, data_spec, records)
    finally:
        if lock is not None:
            lock.close()  # releases the lock


def _run_claimed(args, out, resume_path, replaced, data, label, data_spec, records):
    """Train into the claimed directory `out` (its lock held)."""
    import time

    import numpy as np

    from rnncap.captioning_solver import NonFiniteLossError

    if args.max_train is not None:
        # One np.random.randint, as load_coco_data(max_train=...) draws it.
        mask = np.random.randint(data["train_captions"].shape[0], size=args.max_train)
        data["train_captions"] = data["train_captions"][mask]
        data["train_image_idxs"] = data["train_image_idxs"][mask]
    print("data: %s: %d train captions, %d val images"
          % (label, data["train_captions"].shape[0], len(np.unique(data["val_image_idxs"]))))
    options = {k: getattr(args, k) for k in ("cell", "epochs", "batch_size", "lr", "lr_decay",
                                             "clip", "hidden_dim", "wordvec_dim", "max_train",
                                             "val_images", "seed")}
    if args.model == "transformer":  # a CaptioningRNN's stored options stay as they were
        options.update({k: getattr(args, k) for k in ("model", "heads", "layers", "ffn_dim",
                                                      "activation", "dropout", "grid")})
    for path in replaced:  # --overwrite: the old run's files go once the new run can start
        os.remove(path)
    written = []  # every file this run wrote, in order
    solver = _build_solver(args, data, data_spec, records, options, out, resume_path, written)
    model = solver.model
    if getattr(model, "kind", "rnn") == "transformer":
        print("model: %s; output: %s" % (describe_model(model), out))
    else:
        print("model: %s, hidden %d, word vectors %d; output: %s"
              % (model.cell_type, model.hidden_dim, model.wordvec_dim, out))

    start = time.time()
    try:
        solver.train()
    except NonFiniteLossError as e:
        print("rnncap train: error: %s; the checkpoints in %s are from the last finished epoch"
              % (e, out), file=sys.stderr)
        return 1
    seconds = time.time() - start
    if solver.epoch == 0:
        print("no epoch was trained (--epochs %d)" % args.epochs)
        return 0
    final = _write_outputs(solver, data, label, records, options, out, seconds, written)
    print("trained to epoch %d in %.0f s; best epoch %s (by greedy val %s on %d images)"
          % (solver.epoch, seconds, solver.best_epoch,
             "caption accuracy" if solver.best_metric == "accuracy" else solver.best_metric,
             min(args.val_images, len(np.unique(data["val_image_idxs"])))))
    scores = ["%s %.3f" % (k, final[k]) for k in ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "CIDEr-D")]
    if "accuracy" in final:
        scores.append("fully correct %.1f%%" % (100 * final["accuracy"]))
    print("best model on %d val images, greedy: %s" % (final["num_images"], "  ".join(scores)))
    _print_written(written)
    return 0


def _print_written(written):
    """Name the files this run wrote that exist now, each once, in the order written."""
    seen = []
    for path in written:
        if path not in seen and os.path.isfile(path):
            seen.append(path)
    if seen:
        print("wrote %s" % ", ".join(seen))
