"""Shared logic of `rnncap train`, `rnncap sample` and `rnncap evaluate`.

Loading a dataset by name, loading a model from a checkpoint and checking that it fits the data,
turning word indices into caption strings, and loading the images behind a split's URLs.
Heavy modules (NumPy, h5py, matplotlib, the model) are imported inside the functions, so that
the command modules that import this one keep `rnncap --help` fast.
"""
import contextlib
import functools
import os

SPECIAL_WORDS = ("<NULL>", "<START>", "<END>")

# Defaults of `rnncap train`. `rnncap train --data shapes` with these reaches val BLEU-4 >= 0.5
# (greedy) on the built-in data well within 5 minutes on 2 cores (see README, "Caption quality").
TRAIN_DEFAULTS = {
    "cell": "gru",
    "epochs": 8,
    "batch_size": 100,
    "lr": 5e-3,
    "lr_decay": 0.9,
    "clip": 5.0,
    "hidden_dim": 128,
    "wordvec_dim": 128,
    "val_images": 200,
    "seed": 231,
}


# Defaults of `rnncap train --model transformer` where they differ from the above (the options
# without a say here, such as --batch-size, share TRAIN_DEFAULTS). With these it reaches val
# BLEU-4 0.69 (greedy, the epoch kept for caption accuracy; 0.72 at the best-BLEU epoch) on the
# built-in data (benchmarks/README.md has the time).
TRANSFORMER_DEFAULTS = {
    "lr": 2e-3,
    "lr_decay": 0.9,
    "clip": 5.0,
    "wordvec_dim": 64,
    "epochs": 8,
    "heads": 4,
    "layers": 2,
    "ffn_dim": 256,
    "activation": "relu",
    "dropout": 0.0,
}
# A Transformer on grid features (--grid) trains longer: relating two objects' places takes it
# about 17 epochs (94.8% of val captions fully correct; 8 epochs: about 70%).
TRANSFORMER_GRID_DEFAULTS = {"epochs": 20, "lr_decay": 0.95}
# The options whose default depends on --model (None on the command line: not given).
MODEL_DEPENDENT = ("lr", "lr_decay", "clip", "wordvec_dim", "epochs")


def model_defaults(model, grid=False):
    """{option: default} of `rnncap train` for --model rnn or transformer (with --grid or not)."""
    defaults = dict(TRAIN_DEFAULTS)
    if model == "transformer":
        defaults.update(TRANSFORMER_DEFAULTS)
        if grid:
            defaults.update(TRANSFORMER_GRID_DEFAULTS)
    return defaults


def describe_model(model):
    """One line naming a model's kind and sizes, e.g. 'gru cell, hidden 128' or 'transformer,
    word vectors 128, 4 heads, 2 layers, feed-forward 512, relu'."""
    if getattr(model, "kind", "rnn") != "transformer":
        return "%s cell, hidden %d" % (model.cell_type, model.hidden_dim)
    grid = "" if model.grid_size is None else ", grid %dx%d" % (model.grid_size, model.grid_size)
    return ("transformer, word vectors %d, %d heads, %d layers, feed-forward %d, %s%s"
            % (model.wordvec_dim, model.num_heads, model.num_layers, model.dim_feedforward,
               model.activation, grid))


def one_line_os_errors(run):
    """Decorate a command's run(args) so that an OSError other than a missing file (an output
    directory that is a file, no permission, a full disk) becomes a ValueError, which the
    dispatcher prints as one line (exit status 2) instead of a traceback."""
    @functools.wraps(run)
    def wrapped(args):
        try:
            return run(args)
        except FileNotFoundError:
            raise
        except OSError as e:
            raise ValueError(str(e)) from None
    return wrapped


def add_data_argument(parser, default_help):
    """Add the shared --data option (None | 'coco' | 'shapes' | DIR) to an argparse parser."""
    parser.add_argument("--data", default=None, metavar="shapes|coco|DIR",
                        help="dataset: 'shapes' (built-in, generated on first use), 'coco', or "
                             "a directory in the COCO layout; " + default_help)


@contextlib.contextmanager
def data_option(spec):
    """Prefix a missing-data or damaged-data error raised inside with the --data that led to
    it (when one was given), so that the one-line message names the option."""
    try:
        yield
    except FileNotFoundError as e:
        if spec is None:
            raise
        raise FileNotFoundError("--data %s: %s" % (spec, e)) from None
    except ValueError as e:
        if spec is None:
            raise
        raise ValueError("--data %s: %s" % (spec, e)) from None


def load_data(spec=None, grid=False):
    """
    Find and load a captioning dataset with its 512-d PCA features, held in memory.

    Inputs:
    - spec: None (COCO when complete, else the built-in data), 'coco', 'shapes' or a directory
    - grid: for a model of grid features (reads_grid): load the grid features too and put them,
      centred, in place of the vectors (see use_grid_features); FileNotFoundError on data
      without them (COCO)

    Returns a tuple of:
    - data: dict from rnncap.coco_utils.load_coco_data
    - label: str naming the data for messages, e.g. "shapes (/home/u/.cache/rnncap/shapes)"
    - spec_used: 'coco', 'shapes' or the absolute directory: what to pass to load again the
      same data later (e.g. recorded in a checkpoint)

    Raises FileNotFoundError (naming the directory or file) when the data is missing.
    """
    from rnncap import shapes
    from rnncap.coco_utils import coco_dir, load_coco_data, missing_files, resolve_dataset

    wants_shapes = spec == "shapes" or (spec is None and missing_files(coco_dir()))
    if wants_shapes and not shapes.is_complete(shapes.default_dir(), seed=0,
                                               **shapes.DEFAULT_SIZES):
        # Say why the first run is slow (resolve_dataset generates it silently).
        print("generating the built-in dataset into %s (first use only)" % shapes.default_dir(),
              flush=True)
    with data_option(spec):
        directory, kind = resolve_dataset(spec)
        data = load_coco_data(directory, pca_features=True, grid_features=grid)
    if grid:
        use_grid_features(data)
    return data, "%s (%s)" % (kind, directory), kind if kind in ("coco", "shapes") else directory


def use_grid_features(data):
    """
    Put a dataset's grid features where the solver, the metrics and sampling read features:
    train_features and val_features become the (num_images, C, G, G) grids of train_grid and
    val_grid (the input of a grid model: the attention LSTM, a Transformer with grid_size),
    centred with the train split's mean of each channel (as the PCA vectors are centred); the
    vectors stay as train_vectors and val_vectors.

    Centring matters: the built-in grids are non-negative, so every location shares a large
    common part; then h0 = A's mean matches every location strongly, the first attention maps
    are nearly one-hot and training stalls (the overfit run ends near 28 instead of below 1).
    The Transformer's memory shares that part too: on centred grids its val captions were fully
    correct 95% of the time after 17 epochs, on raw grids only after about 28 (docs/cli.md).

    Inputs:
    - data: dict from load_coco_data(..., grid_features=True), changed in place (held in memory)

    Returns:
    - data: the same dict
    """
    import numpy as np

    grids = {split: np.asarray(data[split + "_grid"]) for split in ("train", "val")}
    mean = grids["train"].mean(axis=(0, 2, 3), dtype=np.float64)[:, None, None]
    for split in ("train", "val"):
        data[split + "_vectors"] = data[split + "_features"]
        data[split + "_features"] = (grids[split] - mean).astype(grids[split].dtype)
    return data


def needs_grid(cell_type):
    """Whether a model with this cell reads grid features (the attention LSTM) or vectors."""
    return cell_type == "attention"


def reads_grid(model):
    """Whether a model reads grid features: the attention LSTM, or a Transformer with grid_size."""
    return (needs_grid(getattr(model, "cell_type", None))
            or getattr(model, "grid_size", None) is not None)


def check_split(data, split):
    """Raise ValueError unless data holds the captions, image indices and features of split."""
    keys = ["%s_%s" % (split, k) for k in ("captions", "image_idxs", "features", "urls")]
    if any(k not in data for k in keys):
        have = sorted({k.split("_")[0] for k in data if k.endswith("_captions")})
        raise ValueError("split %r is not in the dataset (it has: %s)" % (split, ", ".join(have)))


def split_images(data, split):
    """
    The images of a split that have captions.

    Inputs:
    - data: dict from load_coco_data
    - split: 'train' or 'val'

    Returns:
    - image_ids: sorted 1-D int array of the distinct values of data['<split>_image_idxs']
    """
    import numpy as np

    check_split(data, split)
    return np.unique(np.asarray(data["%s_image_idxs" % split]))


def caption_text(row, idx_to_word):
    """
    One caption as plain words: stop at <END>, drop <START> and <NULL> (keep <UNK>).

    Inputs:
    - row: (T,) integer array of word indices
    - idx_to_word: list or dict index -> word

    Returns:
    - caption: str, the words joined by single spaces ("" for an empty caption)
    """
    import numpy as np

    words = []
    for idx in np.asarray(row).ravel():
        word = idx_to_word[int(idx)]
        if word == "<END>":
            break
        if word not in SPECIAL_WORDS:
            words.append(word)
    return " ".join(words)


def reference_captions(data, split, image_id):
    """
    All ground-truth captions of one image.

    Inputs:
    - data: dict from load_coco_data
    - split: 'train' or 'val'
    - image_id: int, an image index of the split

    Returns:
    - captions: list of str (caption_text of every row of <split>_captions that belongs to it)
    """
    import numpy as np

    rows = np.flatnonzero(np.asarray(data["%s_image_idxs" % split]) == image_id)
    captions = np.asarray(data["%s_captions" % split])
    return [caption_text(captions[r], data["idx_to_word"]) for r in rows]


def load_model(path):
    """
    Load the model stored in a checkpoint written by `rnncap train` (or any rnncap checkpoint).

    Inputs:
    - path: the .npz file

    Returns a tuple of:
    - model: a CaptioningRNN with the stored parameters, cell type and vocabulary
    - meta: the checkpoint's JSON document (dict); meta.get('train') holds what `rnncap train`
      recorded (dataset, options), when present

    Raises FileNotFoundError naming path when it is missing, ValueError when it is not a
    readable rnncap checkpoint.
    """
    from rnncap.checkpoint import load_checkpoint, model_from_checkpoint

    arrays, meta = load_checkpoint(path)
    return model_from_checkpoint(arrays, meta, path), meta


def check_model_fits_data(model, data, checkpoint, label):
    """Raise ValueError unless the model's vocabulary and input size match the dataset's."""
    if model.word_to_idx != data["word_to_idx"]:
        raise ValueError("checkpoint %s was trained with another vocabulary than the data %s "
                         "(pass the --data it was trained on)" % (checkpoint, label))
    dim = data["val_features"].shape[1]
    if model.input_dim != dim and reads_grid(model):
        raise ValueError("checkpoint %s expects grid features with %d channels, the data %s "
                         "has %d" % (checkpoint, model.input_dim, label, dim))
    if model.input_dim != dim:
        raise ValueError("checkpoint %s expects %d-d image features, the data %s has %d-d"
                         % (checkpoint, model.input_dim, label, dim))
    grid = getattr(model, "grid_size", None)
    if grid is not None and tuple(data["val_features"].shape[2:]) != (grid, grid):
        raise ValueError("checkpoint %s expects a %dx%d grid of features, the data %s has %s"
                         % (checkpoint, grid, grid, label, tuple(data["val_features"].shape[2:])))


def data_of_checkpoint(meta, spec):
    """The --data to use with a checkpoint: spec if given, else the one recorded at training."""
    if spec is not None:
        return spec
    return (meta.get("train") or {}).get("data")


def load_images(urls):
    """
    The images behind a list of URLs or paths; None (drawn as a placeholder) where one is gone.

    Inputs:
    - urls: sequence of N str

    Returns:
    - images: list of N entries, each an (H, W, 3) uint8 array or None
    """
    import warnings

    from rnncap.image_utils import image_from_url

    images = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a dead URL is expected; the figure shows a placeholder
        for url in urls:
            images.append(image_from_url(str(url)))
    return images


def output_path(path):
    """Make the directory of an output file; return the path."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    return path
