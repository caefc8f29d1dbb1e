"""CaptioningSolver: the training loop for captioning models (CS231n API, plus opt-in extras).

The default path is the classic one, draw for draw: each iteration takes one minibatch with
sample_coco_minibatch (one np.random.choice), computes the loss and gradients and updates every
parameter with its own copy of the optimizer config; at the end of each epoch every learning
rate is multiplied by lr_decay. Nothing else touches the global np.random.

Opt-in extras (off by default, so the classic path stays exact): gradient clipping, per-epoch
validation on a fixed val sample (drawn with a private Generator), keeping and restoring the best
parameters, atomic checkpoints and resuming from them, a progress bar. A non-finite loss or
update always stops training with NonFiniteLossError, leaving the parameters as before that step.
"""
import os

import numpy as np

from . import optim
from .checkpoint import load_checkpoint, model_arrays, model_from_checkpoint, model_meta, \
    remove_stale_temporaries, save_checkpoint
from .coco_utils import sample_coco_minibatch

_RULES = ("sgd", "sgd_momentum", "rmsprop", "adam")


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss, gradient or parameter."""


class CaptioningSolver:
    """
    A CaptioningSolver encapsulates all the logic necessary for training image captioning
    models. It performs stochastic gradient descent using different update rules defined in
    optim.py.

    The solver accepts both training and validation data and labels. To train a model, construct
    a CaptioningSolver instance, passing the model, dataset, and various options (learning rate,
    batch size, etc) to the constructor, then call train(). Afterwards model.params holds the
    trained parameters and solver.loss_history the loss of every iteration.

    Example usage:

        data = load_coco_data()
        model = CaptioningRNN(data['word_to_idx'], hidden_dim=512)
        solver = CaptioningSolver(model, data,
                                  update_rule='adam',
                                  optim_config={'learning_rate': 5e-3},
                                  lr_decay=0.95,
                                  num_epochs=10, batch_size=100,
                                  print_every=100)
        solver.train()

    A model must have a dict `params` of arrays and a method
    `loss(features, captions) -> (loss, grads)`, grads having the keys of params.

    Attributes after train(): loss_history (one loss per iteration), epoch, optim_configs;
    with validation also train_loss_history (mean train loss of each epoch), val_loss_history,
    val_metrics_history, best_params, best_epoch, best_val_loss.
    """

    def __init__(self, model, data, **kwargs):
        """
        Construct a new CaptioningSolver instance.

        Required arguments:
        - model: A model object conforming to the API described above
        - data: A dictionary of training and validation data from load_coco_data

        Optional arguments (the classic ones):
        - update_rule: A string giving the name of an update rule in optim.py, or a callable
          with the same interface. Default is 'sgd'.
        - optim_config: A dictionary containing hyperparameters that will be passed to the
          chosen update rule; each parameter gets its own copy. Default {}.
        - lr_decay: A scalar for learning rate decay; after each epoch the learning rate is
          multiplied by this value. Default 1.0.
        - batch_size: Size of minibatches used to compute loss and gradient during training.
        - num_epochs: The number of epochs to run for during training.
        - print_every: Integer; training losses will be printed every print_every iterations.
        - verbose: Boolean; if set to false then no output will be printed during training.

        Opt-in extras:
        - clip_norm: If a positive number, gradients are rescaled so that their global L2 norm
          (over all parameters) is at most clip_norm. Default None (no clipping).
        - num_val: If positive, at each epoch's end the loss is computed on a fixed sample of
          this many val captions (drawn once with np.random.default_rng(seed)). Default 0.
        - metrics_fn: Optional callable(model) -> dict of name -> float (e.g. BLEU on val),
          called at each epoch's end; it must not draw from the global np.random.
        - best_metric: Name of a metrics_fn entry to maximise when choosing the best epoch;
          default None, meaning the lowest val loss.
        - restore_best: If True (default) and validation ran, train() ends by restoring the
          best epoch's parameters into the model.
        - checkpoint_dir: If set, a checkpoint 'last.npz' is written there after every epoch,
          and 'best.npz' whenever validation improves. last.npz records the best epoch and
          its parameters, so load() rewrites a best.npz that a crash left missing or stale.
        - progress: If True, show a tqdm progress bar over the iterations. Default False.
        - seed: Seed of the solver's private np.random.Generator (the val sample). Default 0.
        """
        self.model = model
        self.data = data

        # Unpack keyword arguments
        self.update_rule = kwargs.pop("update_rule", "sgd")
        self.optim_config = kwargs.pop("optim_config", {})
        self.lr_decay = kwargs.pop("lr_decay", 1.0)
        self.batch_size = kwargs.pop("batch_size", 100)
        self.num_epochs = kwargs.pop("num_epochs", 10)
        self.print_every = kwargs.pop("print_every", 10)
        self.verbose = kwargs.pop("verbose", True)
        self.clip_norm = kwargs.pop("clip_norm", None)
        self.num_val = kwargs.pop("num_val", 0)
        self.metrics_fn = kwargs.pop("metrics_fn", None)
        self.best_metric = kwargs.pop("best_metric", None)
        self.restore_best = kwargs.pop("restore_best", True)
        self.checkpoint_dir = kwargs.pop("checkpoint_dir", None)
        self.progress = kwargs.pop("progress", False)
        self.seed = kwargs.pop("seed", 0)

        # Throw an error if there are extra keyword arguments
        if len(kwargs) > 0:
            extra = ", ".join('"%s"' % k for k in kwargs)
            raise ValueError("Unrecognized arguments %s" % extra)
        self._check_options()

        # Make sure the update rule exists, then replace the string name with the actual function
        self.update_rule_name = getattr(self.update_rule, "__name__", str(self.update_rule))
        if isinstance(self.update_rule, str):
            if self.update_rule not in _RULES:
                raise ValueError('Invalid update_rule "%s": expected one of %s or a callable'
                                 % (self.update_rule, ", ".join(_RULES)))
            self.update_rule = getattr(optim, self.update_rule)
        elif not callable(self.update_rule):
            raise ValueError("update_rule must be a name from optim.py or a callable, got %r"
                             % (self.update_rule,))
        self._reset()

    def _check_options(self):
        """Raise ValueError naming the first invalid option."""
        def positive_int(name, value, minimum=1):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                    or value < minimum:
                raise ValueError("%s must be an integer >= %d, got %r" % (name, minimum, value))

        positive_int("batch_size", self.batch_size)
        positive_int("num_epochs", self.num_epochs, minimum=0)
        positive_int("print_every", self.print_every)
        positive_int("num_val", self.num_val, minimum=0)
        if not isinstance(self.optim_config, dict):
            raise ValueError("optim_config must be a dict, got %r" % (self.optim_config,))
        if isinstance(self.lr_decay, bool) or not isinstance(self.lr_decay, (int, float)) \
                or not np.isfinite(self.lr_decay) or self.lr_decay <= 0:
            raise ValueError("lr_decay must be a positive number, got %r" % (self.lr_decay,))
        if self.clip_norm is not None and (isinstance(self.clip_norm, bool)
                                           or not isinstance(self.clip_norm, (int, float))
                                           or not self.clip_norm > 0):
            raise ValueError("clip_norm must be None or a positive number, got %r"
                             % (self.clip_norm,))
        if self.metrics_fn is not None and not callable(self.metrics_fn):
            raise ValueError("metrics_fn must be None or a callable, got %r" % (self.metrics_fn,))
        if self.best_metric is not None and self.metrics_fn is None:
            raise ValueError("best_metric %r needs a metrics_fn" % (self.best_metric,))
        if not isinstance(self.data, dict) or "train_captions" not in self.data:
            raise ValueError("data must be a dict from load_coco_data with 'train_captions'")
        if self.num_val and "val_captions" not in self.data:
            raise ValueError("num_val=%d needs data['val_captions']" % self.num_val)

    def _reset(self):
        """Set up some book-keeping variables for optimization. Don't call this manually."""
        self.epoch = 0
        self.loss_history = []
        self.train_loss_history = []
        self.val_loss_history = []
        self.val_metrics_history = []
        self.best_params = {}
        self.best_epoch = None
        self.best_val_loss = None
        self._best_score = None
        self._val_idx = None
        self._start_iteration = 0   # set by load(): where the next train() resumes
        self._iterations_done = 0
        self._writing_best_copy = False
        self.repaired_best = None   # set by load(): the best.npz it rewrote, if any

        # Make a deep copy of the optim_config for each parameter
        self.optim_configs = {}
        for p in self.model.params:
            d = {k: v for k, v in self.optim_config.items()}
            self.optim_configs[p] = d

    # ------------------------------------------------------------------ one iteration

    def _step(self, t, num_iterations):
        """
        Make a single gradient update. This is called by train() and should not be called
        manually. Parameters and optimizer state change only if the loss, the gradients and
        the updated parameters are all finite; otherwise NonFiniteLossError is raised.
        """
        # Make a minibatch of training data
        captions, features, urls = sample_coco_minibatch(self.data, batch_size=self.batch_size,
                                                         split="train")

        # Compute loss and gradient
        loss, grads = self.model.loss(features, captions)
        if not np.isfinite(loss):
            self._fail(t, num_iterations, "the loss is %s" % loss)
        bad = [p for p in self.model.params if not np.isfinite(grads[p]).all()]
        if bad:
            self._fail(t, num_iterations, "the gradient of %s is not finite (loss %f)"
                       % (bad[0], loss))
        if self.clip_norm is not None:
            grads = self._clip(grads)

        # Perform a parameter update on copies, committed only when all of them are finite
        next_params, next_configs = {}, {}
        for p, w in self.model.params.items():
            next_params[p], next_configs[p] = self.update_rule(w, grads[p],
                                                               dict(self.optim_configs[p]))
        bad = [p for p in next_params if not np.isfinite(next_params[p]).all()]
        if bad:
            self._fail(t, num_iterations, "the update of %s is not finite (loss %f)"
                       % (bad[0], loss))
        self.loss_history.append(loss)
        self.model.params.update(next_params)
        self.optim_configs.update(next_configs)

    def _fail(self, t, num_iterations, what):
        """Raise NonFiniteLossError for iteration t (0-based) naming the last finite loss."""
        if self.loss_history:
            last = "last finite loss %f at iteration %d" % (self.loss_history[-1], t)
        else:
            last = "no finite loss before it"
        raise NonFiniteLossError("training stopped at iteration %d / %d: %s; %s; the parameters "
                                 "are those from before this iteration"
                                 % (t + 1, num_iterations, what, last))

    def _clip(self, grads):
        """Rescale grads so that their global L2 norm is at most clip_norm."""
        norm = np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads.values()))
        if norm <= self.clip_norm:
            return grads
        scale = float(self.clip_norm / norm)
        return {p: g * scale for p, g in grads.items()}

    # ------------------------------------------------------------------ the loop

    def train(self):
        """
        Run optimization to train the model: num_epochs * max(num_train // batch_size, 1)
        iterations, printing '(Iteration t / T) loss: L' every print_every iterations.
        After load(), training resumes at the checkpoint's iteration.
        """
        num_train = self.data["train_captions"].shape[0]
        iterations_per_epoch = max(num_train // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch
        start, self._start_iteration = self._start_iteration, 0
        bar = self._progress_bar(start, num_iterations)
        try:
            for t in range(start, num_iterations):
                self._step(t, num_iterations)
                self._iterations_done = t + 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss="%.4f" % self.loss_history[-1], refresh=False)

                # Maybe print training loss
                if self.verbose and t % self.print_every == 0:
                    self._print("(Iteration %d / %d) loss: %f"
                                % (t + 1, num_iterations, self.loss_history[-1]))

                # At the end of every epoch, increment the epoch counter and decay the
                # learning rate.
                epoch_end = (t + 1) % iterations_per_epoch == 0
                if epoch_end:
                    self.epoch += 1
                    for k in self.optim_configs:
                        if "learning_rate" in self.optim_configs[k]:
                            self.optim_configs[k]["learning_rate"] *= self.lr_decay
                    self._end_epoch(iterations_per_epoch)
        finally:
            if bar is not None:
                bar.close()
        if self.restore_best and self.best_params:
            self.model.params = {p: w.copy() for p, w in self.best_params.items()}

    def _print(self, line):
        if self.progress:
            from tqdm import tqdm
            tqdm.write(line)
        else:
            print(line)

    def _progress_bar(self, start, total):
        if not self.progress:
            return None
        from tqdm import tqdm
        return tqdm(total=total, initial=start, unit="it", desc="training")

    # ------------------------------------------------------------------ validation and checkpoints

    @property
    def _validating(self):
        return bool(self.num_val) or self.metrics_fn is not None

    def _end_epoch(self, iterations_per_epoch):
        """Per-epoch bookkeeping: mean train loss, validation, best parameters, checkpoints."""
        self.train_loss_history.append(float(np.mean(self.loss_history[-iterations_per_epoch:])))
        improved = False
        if self._validating:
            val_loss = self.val_loss() if self.num_val else None
            metrics = dict(self.metrics_fn(self.model)) if self.metrics_fn is not None else {}
            # numpy scalars become Python numbers so that histories stay JSON-serialisable
            metrics = {k: v.item() if isinstance(v, np.generic) else v for k, v in metrics.items()}
            self.val_loss_history.append(val_loss)
            self.val_metrics_history.append(metrics)
            improved = self._update_best(val_loss, metrics)
            if self.verbose:
                parts = ["train loss: %f" % self.train_loss_history[-1]]
                if val_loss is not None:
                    parts.append("val loss: %f" % val_loss)
                parts += ["%s: %f" % (k, v) for k, v in metrics.items()]
                self._print("(Epoch %d / %d) %s" % (self.epoch, self.num_epochs, ", ".join(parts)))
        if self.checkpoint_dir is not None:
            self.save(os.path.join(self.checkpoint_dir, "last.npz"))
            if improved:
                self.save(os.path.join(self.checkpoint_dir, "best.npz"))

    def _update_best(self, val_loss, metrics):
        """Copy the parameters if this epoch is the best so far; return whether it is."""
        if self.best_metric is not None:
            if self.best_metric not in metrics:
                raise ValueError("best_metric %r is not among the metrics %s"
                                 % (self.best_metric, sorted(metrics)))
            score = float(metrics[self.best_metric])
        elif val_loss is not None:
            score = -float(val_loss)
        else:
            return False
        if not np.isfinite(score) or (self._best_score is not None and score <= self._best_score):
            return False
        self._best_score = score
        self.best_epoch = self.epoch
        self.best_val_loss = None if val_loss is None else float(val_loss)
        self.best_params = {p: w.copy() for p, w in self.model.params.items()}
        return True

    def val_loss(self):
        """
        The model's loss on the fixed val sample of num_val captions (the same every epoch).

        Returns:
        - loss: float, the summed caption loss divided by the number of captions, computed in
          minibatches of batch_size
        """
        if not self.num_val:
            raise ValueError("val_loss needs num_val > 0")
        captions, image_idxs = self.data["val_captions"], self.data["val_image_idxs"]
        if self._val_idx is None:
            rng = np.random.default_rng(self.seed)
            n = min(self.num_val, captions.shape[0])
            self._val_idx = np.sort(rng.choice(captions.shape[0], size=n, replace=False))
        total = 0.0
        for i in range(0, len(self._val_idx), self.batch_size):
            idx = self._val_idx[i:i + self.batch_size]
            features = _rows(self.data["val_features"], np.asarray(image_idxs[idx]))
            loss, _ = self.model.loss(features, np.asarray(captions[idx]))
            total += float(loss) * len(idx)
        return total / len(self._val_idx)

    def save(self, path, extra_meta=None):
        """
        Write a checkpoint of the model and the training state (optimizer state, histories,
        epoch, iteration, best parameters, the global np.random state) to an .npz file,
        atomically. extra_meta: optional JSON-serialisable dict stored in the checkpoint's JSON
        under its own keys (not 'model', 'solver' or 'state'). Returns the path written.
        """
        if self._writing_best_copy:
            return self._save_best_copy(path, extra_meta)
        arrays = model_arrays(self.model)
        scalars = {}
        for p, config in self.optim_configs.items():
            scalars[p] = {}
            for k, v in config.items():
                if isinstance(v, np.ndarray):
                    arrays["optim/%s/%s" % (p, k)] = v
                else:
                    scalars[p][k] = v.item() if isinstance(v, np.generic) else v
        for p, w in self.best_params.items():
            arrays["best/" + p] = w
        rng_name, keys, pos, has_gauss, cached = np.random.get_state()
        arrays["rng/keys"] = keys
        meta = {
            "model": model_meta(self.model),
            "solver": self._config(),
            "state": {
                "epoch": self.epoch, "iteration": self._iterations_done,
                "loss_history": [float(x) for x in self.loss_history],
                "train_loss_history": self.train_loss_history,
                "val_loss_history": self.val_loss_history,
                "val_metrics_history": self.val_metrics_history,
                "best_epoch": self.best_epoch, "best_val_loss": self.best_val_loss,
                "best_score": self._best_score,
                "optim_scalars": scalars,
                "global_rng": {"name": rng_name, "pos": int(pos), "has_gauss": int(has_gauss),
                               "cached_gaussian": float(cached)},
            },
        }
        for key, value in (extra_meta or {}).items():
            if key in meta:
                raise ValueError("extra_meta must not use the reserved key %r" % key)
            meta[key] = value
        return save_checkpoint(path, arrays, meta)

    def _save_best_copy(self, path, extra_meta):
        """best.npz rebuilt from the best parameters that last.npz carries: the model and the
        best epoch, without training state (the optimizer state of that epoch is gone)."""
        meta = {"model": model_meta(self.model),
                "best_copy": {"epoch": self.best_epoch, "val_loss": self.best_val_loss,
                              "score": self._best_score}}
        for key, value in (extra_meta or {}).items():
            if key in meta:
                raise ValueError("extra_meta must not use the reserved key %r" % key)
            meta[key] = value
        return save_checkpoint(path, model_arrays(self.model), meta)

    def _best_is_consistent(self, path):
        """Whether best.npz at path holds this solver's best epoch and parameters."""
        try:
            arrays, meta = load_checkpoint(path)
        except (OSError, ValueError):
            return False
        epoch = (meta.get("state") or meta.get("best_copy") or {}).get("epoch")
        return epoch == self.best_epoch and all(
            np.array_equal(arrays.get("params/" + p), w) for p, w in self.best_params.items())

    def repair_best(self):
        """
        Make checkpoint_dir/best.npz agree with the best epoch this solver records: rewrite it
        from best_params when it is missing, unreadable, or from another epoch or run (a crash
        between writing last.npz and best.npz). Returns the path rewritten, or None.
        """
        if self.checkpoint_dir is None or self.best_epoch is None or not self.best_params:
            return None
        path = os.path.join(self.checkpoint_dir, "best.npz")
        if self._best_is_consistent(path):
            return None
        params = self.model.params
        self.model.params, self._writing_best_copy = self.best_params, True
        try:
            return self.save(path)
        finally:
            self.model.params, self._writing_best_copy = params, False

    def _config(self):
        """The solver's options as JSON (metrics_fn cannot be stored and is left out)."""
        return {"update_rule": self.update_rule_name, "optim_config": self.optim_config,
                "lr_decay": self.lr_decay, "batch_size": self.batch_size,
                "num_epochs": self.num_epochs, "print_every": self.print_every,
                "verbose": self.verbose, "clip_norm": self.clip_norm, "num_val": self.num_val,
                "best_metric": self.best_metric, "restore_best": self.restore_best,
                "checkpoint_dir": self.checkpoint_dir, "progress": self.progress,
                "seed": self.seed}

    def load(self, path, restore_rng=True):
        """
        Restore a checkpoint written by save() into this solver and its model, so that the
        next train() resumes where the checkpoint was taken (same iteration count, learning
        rates, optimizer state and histories). The model must have the checkpoint's cell type,
        vocabulary and parameter shapes.

        Inputs:
        - path: The .npz checkpoint
        - restore_rng: If True (default), also restore the global np.random state saved with
          it, so that a resumed run draws the same minibatches as an uninterrupted one.

        With checkpoint_dir set, it also removes the temporary files of killed saves there and
        rewrites a missing or stale best.npz (see repair_best; the path is in repaired_best).
        """
        arrays, meta = load_checkpoint(path)
        if "state" not in meta:
            raise ValueError("%s is a model checkpoint without training state" % path)
        stored = model_from_checkpoint(arrays, meta, path)
        self._check_compatible(stored, path)
        state = meta["state"]
        self.model.params = {p: w.copy() for p, w in stored.params.items()}
        self.optim_configs = {}
        for p in self.model.params:
            config = dict(state["optim_scalars"].get(p, {}))
            prefix = "optim/%s/" % p
            config.update({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})
            self.optim_configs[p] = config
        self.best_params = {k[len("best/"):]: v for k, v in arrays.items() if k.startswith("best/")}
        self.epoch = state["epoch"]
        self._start_iteration = self._iterations_done = state["iteration"]
        self.loss_history = list(state["loss_history"])
        self.train_loss_history = list(state["train_loss_history"])
        self.val_loss_history = list(state["val_loss_history"])
        self.val_metrics_history = list(state["val_metrics_history"])
        self.best_epoch, self.best_val_loss = state["best_epoch"], state["best_val_loss"]
        self._best_score = state["best_score"]
        if restore_rng:
            g = state["global_rng"]
            np.random.set_state((g["name"], arrays["rng/keys"], g["pos"], g["has_gauss"],
                                 g["cached_gaussian"]))
        remove_stale_temporaries(os.path.dirname(os.path.abspath(os.fspath(path))))
        if self.checkpoint_dir is not None:
            remove_stale_temporaries(self.checkpoint_dir)
        self.repaired_best = self.repair_best()

    def _check_compatible(self, stored, path):
        """Raise ValueError unless the stored model matches self.model."""
        model = self.model

        def kind(m):  # 'transformer', or a CaptioningRNN's cell type
            return getattr(m, "cell_type", None) or getattr(m, "kind", None)

        if kind(model) != kind(stored):
            raise ValueError("%s holds a %r model, this solver's model is %r"
                             % (path, kind(stored), kind(model)))
        if getattr(model, "word_to_idx", None) != stored.word_to_idx:
            raise ValueError("%s has a different vocabulary from this solver's model" % path)
        for p, w in stored.params.items():
            mine = model.params.get(p)
            if mine is None or mine.shape != w.shape or mine.dtype != w.dtype:
                raise ValueError("%s: params['%s'] is %s %s, this solver's model has %s"
                                 % (path, p, w.dtype, w.shape,
                                    "none" if mine is None else "%s %s" % (mine.dtype, mine.shape)))

    @classmethod
    def from_checkpoint(cls, path, data, **overrides):
        """
        Rebuild the model and solver stored in a checkpoint and restore its training state, to
        resume training (e.g. with num_epochs raised). Draws no random numbers; restores the
        global np.random state saved with the checkpoint.

        Inputs:
        - path: An .npz checkpoint written by CaptioningSolver.save
        - data: The dataset dictionary, as for the constructor
        - overrides: Solver options replacing the stored ones (e.g. num_epochs, metrics_fn)

        Returns:
        - solver: A CaptioningSolver whose model is solver.model
        """
        arrays, meta = load_checkpoint(path)
        if "solver" not in meta:
            raise ValueError("%s is a model checkpoint without solver state" % path)
        model = model_from_checkpoint(arrays, meta, path)
        options = dict(meta["solver"], **overrides)
        solver = cls(model, data, **options)
        solver.load(path)
        return solver


def _rows(features, idx):
    """features[idx] for an array or an HDF5-like dataset (which needs sorted unique indices)."""
    if isinstance(features, np.ndarray):
        return features[idx]
    unique, inverse = np.unique(idx, return_inverse=True)
    return np.asarray(features[unique])[inverse]
