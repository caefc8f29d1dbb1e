"""A fixed NumPy image-feature extractor: the built-in dataset's stand-in for VGG-16 fc7.

    image (64, 64, 3) uint8
      -> conv 5x5 stride 2, 32 random filters, ReLU         -> (32, 32, 32)
      -> conv 3x3, 64 random filters, ReLU, 4x4 max-pool   -> (8, 8, 64)
      -> flatten, scale                                     -> 4096-d "fc7" (non-negative, like VGG)

The filters come from a np.random.Generator with a fixed seed, so the extractor is one fixed
function of the pixels (like a pretrained network whose weights never change); it never looks at
captions. Layer 1 mixes the colour channels randomly, so colour survives as which filters fire;
layer 2 combines edge responses, which separates outlines (round, straight, diagonal); the 8 x 8
grid of the last pooling keeps where things are. `fit_pca` then gives the 512-d `_pca` features.

The grid features (`extract_features(..., grid=True)`) keep that 8 x 8 grid for attention models:

      conv 3x3 map (32, 32, 64) -> 4x4 max-pool and 4x4 mean-pool  -> (8, 8, 64 + 64)
      + 8 edge-orientation channels: a histogram of gradient directions around each cell
      + 16 position channels: one-hot of the cell's row (8) and column (8)  -> (152, 8, 8)

Their first 64 channels hold exactly the numbers of the 4096-d vector, rearranged. The mean-pooled
channels describe an outline better than the maxima alone (a shape's size and corners); the
position channels tell an attention model where it looked, which a weighted sum of cell vectors
would otherwise lose (a large pretrained CNN leaks position through padding and wide receptive
fields; these small filters barely do). The orientation channels are what names a shape: random
filters with a 9-pixel field see pieces of an outline, while the directions in which brightness
changes across it (the gradient's) tell a square (0 and 90 degrees) from a diamond (45 and 135),
a triangle (90 and about 27 and 153) and a circle (every direction), whatever its size or colour.
"""
import numpy as np

from rnncap._validate import check_array

FILTER_SEED = 20240229  # fixed forever: changing it changes every feature file
IMAGE_SIZE = 64
FEATURE_DIM = 4096
NOISE_VARIANCE = 1e-6  # fit_pca: relative variance below which a direction is round-off
_OUT_SCALE = 12.0  # mean activation ~1.3; larger initial hidden states help a vanilla RNN overfit
GRID_SIZE = 8
ORIENTATION_BINS = 8  # edge directions 0, 22.5, ..., 157.5 degrees (a line has no sign)
GRID_CHANNELS = 64 + 64 + ORIENTATION_BINS + 2 * GRID_SIZE  # max, mean, edges, row and column
_ORIENTATION_MARGIN = 4  # each cell's histogram covers it and 4 pixels around: a whole small object
_ORIENTATION_SCALE = 0.7  # gives the edge channels a spread like the others (std ~1.6)
_POSITION_VALUE = 2.0  # below the content channels (std ~1.6): see docs/data.md


def _filters():
    """The fixed weights: (w1 (75, 32), b1 (32,), w2 (288, 64), b2 (64,))."""
    rng = np.random.Generator(np.random.PCG64(FILTER_SEED))
    w1 = rng.standard_normal((5 * 5 * 3, 32)) / np.sqrt(5 * 5 * 3)
    b1 = 0.05 * rng.standard_normal(32)
    w2 = rng.standard_normal((3 * 3 * 32, 64)) / np.sqrt(3 * 3 * 32)
    b2 = -0.02 + 0.02 * rng.standard_normal(64)
    return [a.astype(np.float32) for a in (w1, b1, w2, b2)]


def _conv_relu(x, w, b, k, stride=1):
    """'Same' convolution with a k x k window (k odd), then ReLU.

    Inputs:
    - x: (N, H, W, C) float32, H and W divisible by stride
    - w: (k * k * C, F) weights in (row, col, channel) order
    - b: (F,) biases
    - stride: 1 or 2
    Returns (N, H // stride, W // stride, F) float32.
    """
    N, H, W, C = x.shape
    p = k // 2
    xp = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    # windows: (N, H, W, C, k, k) view -> rows of (k, k, C) patches
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(1, 2))[:, ::stride, ::stride]
    Ho, Wo = win.shape[1], win.shape[2]
    cols = win.transpose(0, 1, 2, 4, 5, 3).reshape(N * Ho * Wo, k * k * C)
    out = cols @ w + b
    np.maximum(out, 0, out=out)
    return out.reshape(N, Ho, Wo, -1)


def _max_pool(x, s):
    """Non-overlapping s x s max-pool of (N, H, W, C) -> (N, H // s, W // s, C)."""
    N, H, W, C = x.shape
    return x.reshape(N, H // s, s, W // s, s, C).max(axis=(2, 4))


def extract_features(images, batch_size=64, grid=False):
    """Compute the 4096-d features of a stack of images (and, with grid=True, the grid features).

    Inputs:
    - images: (N, 64, 64, 3) uint8 array
    - batch_size: images per chunk (bounds the memory of the patch matrices)
    - grid: also return the spatial grid features (see the module docstring)

    Returns:
    - features: (N, 4096) float32, non-negative
    - grid_features (only if grid=True): (N, 152, 8, 8) float32 in the CS231n (N, C, G, G)
      layout; [:, :64] are the features rearranged, [:, 64:128] the mean-pooled map,
      [:, 128:136] the edge orientations and [:, 136:] the position one-hots (rows, then columns)
    """
    images = check_array("images", images, shape=("N", IMAGE_SIZE, IMAGE_SIZE, 3), dtype_kind=None)
    if images.dtype != np.uint8:
        raise ValueError("images must be uint8, got dtype %s" % images.dtype)
    if not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
        raise ValueError("batch_size must be a positive integer, got %r" % (batch_size,))
    w1, b1, w2, b2 = _filters()
    N, G = images.shape[0], GRID_SIZE
    out = np.empty((N, FEATURE_DIM), dtype=np.float32)
    if grid:
        grid_out = np.empty((N, GRID_CHANNELS, G, G), dtype=np.float32)
        grid_out[:, 136:] = _position_channels()
    for start in range(0, N, batch_size):
        x = images[start:start + batch_size].astype(np.float32) / 255.0 - 0.5
        h1 = _conv_relu(x, w1, b1, 5, stride=2)
        conv = _conv_relu(h1, w2, b2, 3)
        h2 = _max_pool(conv, 4)
        out[start:start + x.shape[0]] = _OUT_SCALE * h2.reshape(x.shape[0], -1)
        if grid:
            n, s = x.shape[0], conv.shape[1] // G
            mean = conv.reshape(n, G, s, G, s, 64).mean(axis=(2, 4))
            pooled = _OUT_SCALE * np.concatenate([h2, mean], axis=3)  # (n, G, G, 128)
            grid_out[start:start + n, :128] = pooled.transpose(0, 3, 1, 2)
            grid_out[start:start + n, 128:136] = _orientation_channels(x)
    return (out, grid_out) if grid else out


def _orientation_channels(x):
    """Histograms of edge directions, the classic HOG recipe on a (2 * margin + 8)-pixel window.

    Input: x (n, 64, 64, 3) float32 pixels in [-0.5, 0.5].
    Returns (n, ORIENTATION_BINS, G, G) float32: for the window of cell (i, j) (its 8 x 8 pixels
    and _ORIENTATION_MARGIN around), the gradient magnitude summed by the gradient's direction
    (modulo 180 degrees), each pixel split between the two nearest bins.
    """
    n = x.shape[0]
    gx, gy = np.zeros_like(x), np.zeros_like(x)
    gx[:, :, 1:-1] = x[:, :, 2:] - x[:, :, :-2]  # central differences, per colour channel
    gy[:, 1:-1] = x[:, 2:] - x[:, :-2]
    mag = np.sqrt(gx ** 2 + gy ** 2)
    strongest = mag.argmax(axis=3)[..., None]  # the colour channel with the clearest edge
    gx, gy, mag = (np.take_along_axis(a, strongest, axis=3)[..., 0] for a in (gx, gy, mag))
    position = (np.arctan2(gy, gx) % np.pi) / np.pi * ORIENTATION_BINS  # in [0, bins)
    hist = np.empty((n, IMAGE_SIZE, IMAGE_SIZE, ORIENTATION_BINS), dtype=np.float32)
    for b in range(ORIENTATION_BINS):
        distance = np.abs(position - b)
        distance = np.minimum(distance, ORIENTATION_BINS - distance)  # 0 and 180 degrees meet
        hist[..., b] = mag * np.maximum(1 - distance, 0)
    # window sums: 2 x 2 pixel blocks, then every window of w blocks starting every 4th block
    m, G = _ORIENTATION_MARGIN, GRID_SIZE
    hist = np.pad(hist, ((0, 0), (m, m), (m, m), (0, 0)))
    k, w = hist.shape[1] // 2, (IMAGE_SIZE // G + 2 * m) // 2
    blocks = hist.reshape(n, k, 2, k, 2, ORIENTATION_BINS).sum(axis=(2, 4))  # (n, k, k, bins)
    rows = sum(blocks[:, d:d + 4 * (G - 1) + 1:4] for d in range(w))  # (n, G, k, bins)
    cells = sum(rows[:, :, d:d + 4 * (G - 1) + 1:4] for d in range(w))  # (n, G, G, bins)
    return _ORIENTATION_SCALE * cells.transpose(0, 3, 1, 2)


def _position_channels():
    """(16, 8, 8): channel r is on in grid row r, channel 8 + c in grid column c."""
    G = GRID_SIZE
    pos = np.zeros((2 * G, G, G), dtype=np.float32)
    for k in range(G):
        pos[k, k, :] = _POSITION_VALUE
        pos[G + k, :, k] = _POSITION_VALUE
    return pos


def _orthonormalize(Y):
    """Orthonormal basis of the columns of Y (n, k), via the eigenvectors of the small Y^T Y.
    (Matrix products only: LAPACK's threaded QR/SVD crawl on a busy 2-core machine.)"""
    lam, U = np.linalg.eigh((Y.T @ Y).astype(np.float64))
    keep = lam > lam.max() * 1e-8
    return Y @ (U[:, keep] / np.sqrt(lam[keep])).astype(Y.dtype)


def fit_pca(X, dim=512, seed=0):
    """Fit a PCA basis: exactly for small N, by randomized SVD otherwise (a seeded Generator;
    never the global RNG).

    Inputs:
    - X: (N, D) float array, the training features, with dim <= min(N, D)
    - dim: number of components
    - seed: seed of the Generator drawing the random test matrix

    Returns:
    - mean: (D,) float32, the column means of X
    - components: (dim, D) float32, orthonormal rows, by decreasing variance; each row's
      largest-magnitude entry is positive (fixes the sign ambiguity, for determinism). Rows
      beyond X's numerical rank (variance below NOISE_VARIANCE times the top one) are zero.
    """
    X = check_array("X", X, ndim=2, finite=True)
    N, D = X.shape
    if not (isinstance(dim, (int, np.integer)) and 1 <= dim <= min(N, D)):
        raise ValueError("dim must be an integer in [1, min(N, D)] = [1, %d], got %r" % (min(N, D), dim))
    mean = X.mean(axis=0, dtype=np.float64)
    Xc = (X - mean).astype(np.float32)  # float32 halves the time; plenty for a fixed projection
    if N <= dim + 64:
        Q = np.eye(N, dtype=np.float32)  # the whole column space: the result is exact
    else:
        rng = np.random.Generator(np.random.PCG64(seed))
        Q = _orthonormalize(Xc @ rng.standard_normal((D, dim + 32), dtype=np.float32))
        for _ in range(2):  # power iterations sharpen the spectrum's top
            Q = _orthonormalize(Xc @ (Xc.T @ Q))
    B = Q.T @ Xc  # (k, D): X's rows projected on the basis
    lam, U = np.linalg.eigh((B @ B.T).astype(np.float64))
    order = np.argsort(lam)[::-1][:dim]
    # A direction with under a millionth of the top variance is float32 round-off (centring
    # leaves N - 1 directions at most): dividing by its tiny root would blow it up to ~1e11.
    order = order[lam[order] > lam[order[0]] * NOISE_VARIANCE]
    comps = (U[:, order].T.astype(np.float32) @ B) / np.sqrt(lam[order])[:, None]
    signs = np.sign(comps[np.arange(len(order)), np.abs(comps).argmax(axis=1)])
    comps = comps * signs[:, None]
    if comps.shape[0] < dim:  # rank-deficient X: pad with zero rows
        comps = np.vstack([comps, np.zeros((dim - comps.shape[0], D))])
    return mean.astype(np.float32), comps.astype(np.float32)


def apply_pca(X, mean, components):
    """Project features onto a PCA basis.

    Inputs:
    - X: (N, D) float array
    - mean: (D,) from fit_pca
    - components: (K, D) from fit_pca

    Returns:
    - (N, K) float32, (X - mean) @ components.T
    """
    components = check_array("components", components, ndim=2)
    D = components.shape[1]
    X = check_array("X", X, shape=("N", D))
    mean = check_array("mean", mean, shape=(D,))
    return ((X - mean) @ components.T).astype(np.float32)
