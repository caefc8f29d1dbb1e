"""Figures written as PNG files: the training loss curve, a captions grid and attention maps.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot), so they work without a
display and never switch the backend of a notebook or script that imports rnncap. Each function
returns the matplotlib Figure, which a notebook can show with IPython.display.display(fig).
"""
import os

import numpy as np


def _new_figure(figsize):
    """A matplotlib Figure attached to an Agg canvas (works with or without a display)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path):
    """Save fig as PNG at path, creating its directory; return the path."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fig.savefig(path, format="png", dpi=100)
    return path


def smooth(values, window=None):
    """
    Trailing moving average, the smoothed line of a noisy loss curve.

    Inputs:
    - values: 1-D sequence of length L
    - window: Averaging window; default max(1, L // 20)

    Returns:
    - smoothed: float array of length L; entry i is the mean of values[max(0, i-window+1):i+1]
    """
    values = np.asarray(values, dtype=np.float64)
    if window is None:
        window = max(1, len(values) // 20)
    cumsum = np.concatenate([[0.0], np.cumsum(values)])
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(idx - window, 0)
    return (cumsum[idx] - cumsum[lo]) / (idx - lo)


def plot_loss_curve(loss_history, path, val_loss_history=None, iterations_per_epoch=None):
    """
    Plot the per-iteration training loss, a smoothed line and the per-epoch val loss; save as PNG.

    Inputs:
    - loss_history: Sequence of L per-iteration training losses (solver.loss_history)
    - path: Output PNG file (its directory is created if needed)
    - val_loss_history: Optional sequence of E per-epoch val losses (None entries are skipped)
    - iterations_per_epoch: Iterations per epoch, placing val loss e (0-based) at iteration
      (e + 1) * iterations_per_epoch; default L // E

    Returns:
    - fig: The matplotlib Figure
    """
    losses = np.asarray(loss_history, dtype=np.float64)
    if losses.ndim != 1 or losses.size == 0:
        raise ValueError("loss_history must be a non-empty 1-D sequence, got shape %s"
                         % (losses.shape,))
    iters = np.arange(1, losses.size + 1)
    fig = _new_figure((7, 4.5))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(iters, losses, color="tab:blue", alpha=0.35, linewidth=1, label="train loss")
    if losses.size > 1:
        ax.plot(iters, smooth(losses), color="tab:blue", linewidth=2, label="train (smoothed)")
    if val_loss_history is not None and len(val_loss_history) > 0:
        E = len(val_loss_history)
        per_epoch = iterations_per_epoch if iterations_per_epoch else max(losses.size // E, 1)
        if isinstance(per_epoch, bool) or not isinstance(per_epoch, (int, np.integer)) \
                or per_epoch < 1:
            raise ValueError("iterations_per_epoch must be a positive integer, got %r"
                             % (iterations_per_epoch,))
        points = [((e + 1) * per_epoch, v) for e, v in enumerate(val_loss_history) if v is not None]
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, "o-", color="tab:orange", linewidth=2, label="val loss (per epoch)")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.set_title("Training loss")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    _save(fig, path)
    return fig


def _wrap(text, width):
    """Text broken into lines of at most `width` characters."""
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) if text else ""


def plot_captions_grid(images, sampled, truth, path, title=None, ncols=4, wrap=34):
    """
    Show images in a grid, each with its sampled and ground-truth caption; save as PNG.

    Inputs:
    - images: Sequence of N images, each (H, W, 3) uint8 or None (e.g. a dead URL), which is
      drawn as a grey placeholder so that a figure never fails for lack of pixels
    - sampled: Sequence of N caption strings from the model
    - truth: Sequence of N ground-truth caption strings, or None to show only sampled ones
    - path: Output PNG file (its directory is created if needed)
    - title: Optional figure title
    - ncols: Images per row; the grid has ceil(N / ncols) rows
    - wrap: Caption line width in characters

    Returns:
    - fig: The matplotlib Figure
    """
    images, sampled = list(images), list(sampled)
    n = len(images)
    if n == 0:
        raise ValueError("images must hold at least one image, got 0")
    if len(sampled) != n:
        raise ValueError("sampled must hold one caption per image (%d), got %d" % (n, len(sampled)))
    if truth is not None:
        truth = list(truth)
        if len(truth) != n:
            raise ValueError("truth must hold one caption per image (%d), got %d" % (n, len(truth)))
    for name, value in (("ncols", ncols), ("wrap", wrap)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError("%s must be a positive integer, got %r" % (name, value))
    ncols = min(ncols, n)
    nrows = -(-n // ncols)

    fig = _new_figure((3.0 * ncols, 4.0 * nrows + 0.4))
    for i in range(n):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        img = images[i]
        if img is None:
            img = np.full((64, 64, 3), 128, dtype=np.uint8)
            ax.text(0.5, 0.5, "image unavailable", ha="center", va="center",
                    transform=ax.transAxes, fontsize=8)
        ax.imshow(np.asarray(img), interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        label = "sampled: " + _wrap(sampled[i], wrap)
        if truth is not None:
            label += "\ntruth: " + _wrap(truth[i], wrap)
        ax.set_title(label, fontsize=8, loc="left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)
    return fig


def plot_attention(images, captions, maps, path, title=None, max_words=None):
    """
    Show, Attend and Tell pictures: one row per image, the image and then, for every generated
    word, that word over its attention map upsampled to the image; save as PNG.

    Inputs:
    - images: Sequence of N images, each (H, W, 3) uint8 or None (drawn as a grey placeholder)
    - captions: Sequence of N lists of words (without <END>)
    - maps: Sequence of N arrays of shape (len(words), G, G), one map per word
      (rnncap.attention_maps.word_maps gives both)
    - path: Output PNG file (its directory is created if needed)
    - title: Optional figure title
    - max_words: Show at most this many words per row (None: all)

    Returns:
    - fig: The matplotlib Figure
    """
    images, captions, maps = list(images), list(captions), list(maps)
    n = len(images)
    if n == 0:
        raise ValueError("images must hold at least one image, got 0")
    if len(captions) != n or len(maps) != n:
        raise ValueError("captions and maps must hold one entry per image (%d), got %d and %d"
                         % (n, len(captions), len(maps)))
    for i, (words, m) in enumerate(zip(captions, maps)):
        m = np.asarray(m)
        if m.ndim != 3 or m.shape[0] != len(words) or m.shape[1] != m.shape[2]:
            raise ValueError("maps[%d] must have shape (len(captions[%d]), G, G) = (%d, G, G), "
                             "got %s" % (i, i, len(words), m.shape))
    if max_words is not None:
        captions = [list(words)[:max_words] for words in captions]
    ncols = 1 + max([len(words) for words in captions] + [1])
    fig = _new_figure((1.6 * ncols, 1.9 * n + 0.4))
    for r, (img, words, word_maps) in enumerate(zip(images, captions, maps)):
        if img is None:
            img = np.full((64, 64, 3), 128, dtype=np.uint8)
        img = np.asarray(img)
        height, width = img.shape[:2]
        ax = fig.add_subplot(n, ncols, r * ncols + 1)
        ax.imshow(img, interpolation="nearest")
        ax.set_title("image", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        for t, word in enumerate(words):
            ax = fig.add_subplot(n, ncols, r * ncols + 2 + t)
            ax.imshow(img, interpolation="nearest")
            # The G x G map stretched over the whole image, smoothed between cell centres.
            ax.imshow(np.asarray(word_maps[t], dtype=np.float64), cmap="gray", alpha=0.6,
                      interpolation="bilinear", extent=(0, width, height, 0))
            ax.set_title(word, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)
    return fig
