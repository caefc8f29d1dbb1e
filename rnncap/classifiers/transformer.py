"""CaptioningTransformer: image features -> memory; words + positions -> decoder layers -> scores.

The CS231n (2021-2026) captioning Transformer in NumPy, with the same constructor arguments and
its loss convention, written on the layers of rnncap/transformer_layers.py and the word
embedding, temporal affine and temporal softmax layers of rnncap/rnn_layers.py. Beyond CS231n:
grid features (N, C, G, G), whose G*G locations become the memory that cross-attention reads.
"""
from pathlib import Path

import numpy as np

from .._validate import NonFiniteError, check_array, check_indices
from ..rnn_layers import (
    temporal_affine_backward, temporal_affine_forward, temporal_softmax_loss,
    word_embedding_backward, word_embedding_forward,
)
from ..transformer_layers import (
    DECODER_LAYER_KEYS, _ACTIVATIONS,
    dropout_backward, dropout_forward, positional_encoding,
    transformer_decoder_layer_backward, transformer_decoder_layer_forward,
)

try:  # the fast sampler; absent from the student copy, where fast=True runs the readable code
    from ..kernels import transformer as _kernels
except ImportError:
    _kernels = None
# Only kernels shipped beside this package count: an editable install of another rnncap (the
# instructor's) can answer the import above for a student copy.
if _kernels is not None and Path(_kernels.__file__).parents[1] != Path(__file__).parents[1]:
    _kernels = None


def layer_key(layer, name):
    """The model.params key of a decoder layer's parameter, e.g. 'layers.0.ffn.W1'."""
    return "layers.%d.%s" % (layer, name)


def param_shapes(V, D, W, F, num_layers, grid_size=None):
    """{name: shape} of a CaptioningTransformer's parameters, in their initialisation order.

    Inputs:
    - V, D, W, F: vocabulary size, feature size (channels of a grid), word vector size, the
      feed-forward width
    - num_layers: number of decoder layers
    - grid_size: G for grid features (adds W_pos (G*G, W)), None for vector features
    """
    shapes = {"W_embed": (V, W), "W_proj": (D, W), "b_proj": (W,)}
    if grid_size is not None:
        shapes["W_pos"] = (grid_size * grid_size, W)
    for l in range(num_layers):
        for name in DECODER_LAYER_KEYS:
            kind = name.split(".")[-1]
            shapes[layer_key(l, name)] = {"W1": (W, F), "b1": (F,), "W2": (F, W)}.get(
                kind, (W, W) if kind.startswith("W") else (W,))
    shapes["W_vocab"], shapes["b_vocab"] = (W, V), (V,)
    return shapes


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError("%s must be a positive integer, got %r" % (name, value))


class CaptioningTransformer:
    """
    A CaptioningTransformer produces captions from image features using a Transformer decoder.

    The Transformer receives input vectors of size D, has a vocab size of V, works on sequences
    of length T, uses word vectors of dimension W, and operates on minibatches of size N.
    Image features are a vector per image, (N, D), as in CS231n, or a grid per image,
    (N, C, G, G) with D = C, when the model is built with grid_size=G.

    Parameters (model.params), created in this order; every weight is drawn N(0, 0.02) with the
    global np.random (randn * 0.02), biases and betas are zeros, gammas ones:
    - W_embed: (V, W) word vectors; the <NULL> row is padding and never receives a gradient
    - W_proj: (D, W), b_proj: (W,) image features -> memory
    - W_pos: (G*G, W) a learned embedding per grid location (grid models only)
    - for each layer l, 'layers.{l}.' + each key of transformer_layers.DECODER_LAYER_KEYS:
      self_attn.Wq (W, W), self_attn.bq (W,), ... cross_attn.bo, norm1.gamma (W,), ...,
      ffn.W1 (W, F), ffn.b1 (F,), ffn.W2 (F, W), ffn.b2 (W,), with F = dim_feedforward
    - W_vocab: (W, V), b_vocab: (V,) decoder output -> word scores
    """

    kind = "transformer"  # what checkpoints record (a CaptioningRNN is 'rnn')

    def __init__(self, word_to_idx, input_dim, wordvec_dim, num_heads=4, num_layers=2,
                 max_length=50, dim_feedforward=2048, activation="relu", dtype=np.float32,
                 grid_size=None, dropout=0.0, seed=None, fast=True):
        """
        Construct a new CaptioningTransformer instance.

        Inputs:
        - word_to_idx: A dictionary giving the vocabulary. It contains V entries, and maps each
          string to a unique integer in the range [0, V). It must contain '<NULL>'; '<START>'
          and '<END>' are needed only for sampling.
        - input_dim: Dimension D of input image feature vectors (C, the channels, for a grid).
        - wordvec_dim: Dimension W of word vectors (the model's width).
        - num_heads: Number of attention heads; must divide wordvec_dim.
        - num_layers: Number of decoder layers.
        - max_length: Longest caption the model reads (the positional table's length).
        - dim_feedforward: Width F of each layer's feed-forward network.
        - activation: 'relu' (CS231n 2021-2024) or 'gelu' (exact GELU, CS231n 2025-2026).
        - dtype: numpy floating datatype to use; use float32 for training and float64 for
          numeric gradient checking.
        - grid_size: None for vector features (N, D), the exact CS231n model; G for grid
          features (N, D, G, G), which adds W_pos.
        - dropout: Dropout probability used by loss() (training); sample() never drops.
          Default 0, so that loss() is deterministic. CS231n trains with 0.1.
        - seed: Seed of the model's private np.random.Generator for dropout (the global
          np.random is used only for the initial weights).
        - fast: Let sample() use the fast kernel (rnncap/kernels/transformer.py: incremental
          decoding) when it is installed; the captions equal the readable code's. loss() always
          runs the readable layers (they match PyTorch CPU's speed).
        """
        for name, value in (("input_dim", input_dim), ("wordvec_dim", wordvec_dim),
                            ("num_layers", num_layers), ("dim_feedforward", dim_feedforward)):
            _positive_int(name, value)
        if grid_size is not None:
            _positive_int("grid_size", grid_size)
        self._setup(word_to_idx, num_heads, wordvec_dim, max_length, activation, dtype,
                    dropout, seed, fast)
        V, D, W, F = len(word_to_idx), input_dim, wordvec_dim, dim_feedforward

        def weight(*shape):
            return np.random.randn(*shape) * 0.02

        # The order of these draws is part of the seeded protocol.
        self.params = {}
        self.params["W_embed"] = weight(V, W)
        self.params["W_proj"] = weight(D, W)
        self.params["b_proj"] = np.zeros(W)
        if grid_size is not None:
            self.params["W_pos"] = weight(grid_size * grid_size, W)
        for l in range(num_layers):
            for name in DECODER_LAYER_KEYS:
                kind = name.split(".")[-1]
                if kind == "gamma":
                    value = np.ones(W)
                elif kind == "W1":
                    value = weight(W, F)
                elif kind == "W2":
                    value = weight(F, W)
                elif kind.startswith("W"):
                    value = weight(W, W)
                else:  # biases and betas
                    value = np.zeros(F if kind == "b1" else W)
                self.params[layer_key(l, name)] = value
        self.params["W_vocab"] = weight(W, V)
        self.params["b_vocab"] = np.zeros(V)
        for name, value in self.params.items():
            self.params[name] = value.astype(self.dtype)

    @classmethod
    def from_params(cls, word_to_idx, params, num_heads=4, max_length=50, activation="relu",
                    dropout=0.0, seed=None, fast=True):
        """
        Build a model around existing parameters (e.g. from a checkpoint); draws no random numbers.

        The sizes (W, D, F, the number of layers, grid or vector features) are read from the
        parameters' shapes.

        Inputs:
        - word_to_idx: The vocabulary, as for the constructor.
        - params: Dictionary with the keys of a model's params and consistent shapes; all
          arrays share one float dtype, which becomes the model's dtype.
        - num_heads, max_length, activation, dropout, seed, fast: as for the constructor.

        Returns:
        - model: A CaptioningTransformer using copies of the given arrays.
        """
        if not isinstance(params, dict) or "W_embed" not in params:
            got = sorted(params) if isinstance(params, dict) else type(params).__name__
            raise ValueError("params must be a CaptioningTransformer's parameter dict "
                             "(W_embed, W_proj, ...), got %s" % (got,))
        arrays = {name: check_array("params['%s']" % name, value)
                  for name, value in params.items()}
        W = arrays["W_embed"].shape[-1]
        model = cls.__new__(cls)
        model._setup(word_to_idx, num_heads, W, max_length, activation,
                     arrays["W_embed"].dtype, dropout, seed, fast)
        model.params = {name: value.copy() for name, value in arrays.items()}
        model._check_params()
        return model

    def _setup(self, word_to_idx, num_heads, wordvec_dim, max_length, activation, dtype,
               dropout, seed, fast):
        """Set the vocabulary and every attribute but params (shared by both constructors)."""
        if not isinstance(word_to_idx, dict) or "<NULL>" not in word_to_idx:
            raise ValueError("word_to_idx must be a dict containing '<NULL>', got %s"
                             % (type(word_to_idx).__name__ if not isinstance(word_to_idx, dict)
                                else "a dict without '<NULL>'"))
        for word, idx in word_to_idx.items():
            if isinstance(idx, bool) or not isinstance(idx, (int, np.integer)) or idx < 0:
                raise ValueError("word_to_idx values must be non-negative integers, got %r: %r"
                                 % (word, idx))
        _positive_int("num_heads", num_heads)
        _positive_int("max_length", max_length)
        if wordvec_dim % num_heads:
            raise ValueError("num_heads must divide wordvec_dim = %d, got num_heads = %d"
                             % (wordvec_dim, num_heads))
        if activation not in _ACTIVATIONS:
            raise ValueError("activation must be 'relu' or 'gelu', got %r" % (activation,))
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise ValueError("dtype must be a numpy floating dtype, got %r" % (dtype,))
        if dtype.kind != "f":
            raise ValueError("dtype must be a numpy floating dtype, got %s" % dtype)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float, np.floating)) \
                or not 0 <= dropout < 1:
            raise ValueError("dropout must be a probability in [0, 1), got %r" % (dropout,))
        self.num_heads = int(num_heads)
        self.max_length = int(max_length)
        self.activation = activation
        self.dtype = dtype.type
        self.dropout = float(dropout)
        self.rng = np.random.default_rng(seed)
        self.fast = bool(fast)
        self.word_to_idx = word_to_idx
        self.idx_to_word = {i: w for w, i in word_to_idx.items()}
        self._null = word_to_idx["<NULL>"]
        self._start = word_to_idx.get("<START>", None)
        self._end = word_to_idx.get("<END>", None)
        # The sinusoidal positions, computed once as CS231n's PositionalEncoding does.
        self._positions = positional_encoding(self.max_length, wordvec_dim).astype(self.dtype)

    # ------------------------------------------------------------------ dimensions and checks

    @property
    def vocab_size(self):
        """V: the number of words, len(word_to_idx)."""
        return len(self.word_to_idx)

    @property
    def input_dim(self):
        """D: the size of an image feature vector (C, the channels of a grid)."""
        return self.params["W_proj"].shape[0]

    @property
    def wordvec_dim(self):
        """W: the size of a word vector, the width of every layer."""
        return self.params["W_embed"].shape[1]

    @property
    def num_layers(self):
        """The number of decoder layers."""
        return sum(1 for name in self.params if name.endswith(".ffn.W1"))

    @property
    def dim_feedforward(self):
        """F: the width of each feed-forward network."""
        return self.params[layer_key(0, "ffn.W1")].shape[1]

    @property
    def grid_size(self):
        """G for a model of grid features (N, D, G, G); None for vector features (N, D)."""
        if "W_pos" not in self.params:
            return None
        return int(round(np.sqrt(self.params["W_pos"].shape[0])))

    def layer_params(self, layer):
        """The parameters of decoder layer `layer`, under the keys DECODER_LAYER_KEYS."""
        return {name: self.params[layer_key(layer, name)] for name in DECODER_LAYER_KEYS}

    def expected_params(self):
        """{name: shape} of every parameter, in their initialisation order (param_shapes)."""
        p = self.params
        F = p[layer_key(0, "ffn.W1")].shape[1] if layer_key(0, "ffn.W1") in p else None
        return param_shapes(self.vocab_size, self.input_dim, self.wordvec_dim, F,
                            self.num_layers, self.grid_size)

    def _check_params(self):
        """Raise ValueError unless params have the expected keys, shapes and the model's dtype."""
        p = self.params
        for name in ("W_embed", "W_proj", "W_vocab"):
            if name not in p or np.ndim(p[name]) != 2:
                raise ValueError("model.params['%s'] must be a 2-D array" % name)
        if layer_key(0, "ffn.W1") not in p:
            raise ValueError("model.params has no decoder layer (no 'layers.0.*' keys)")
        if p["W_embed"].shape[0] != len(self.word_to_idx):
            raise ValueError("params['W_embed'] must have one row per word (%d), got %s"
                             % (len(self.word_to_idx), p["W_embed"].shape))
        if "W_pos" in p:
            G = self.grid_size
            if np.ndim(p["W_pos"]) != 2 or G * G != p["W_pos"].shape[0]:
                raise ValueError("params['W_pos'] must have G*G rows for a grid size G, got %s"
                                 % (np.shape(p["W_pos"]),))
        expected = self.expected_params()
        if set(p) != set(expected):
            raise ValueError("model.params must have exactly the keys %s, got %s"
                             % (list(expected), sorted(p)))
        for name, shape in expected.items():
            value = p[name]
            if not isinstance(value, np.ndarray) or value.shape != shape:
                raise ValueError("params['%s'] must have shape %s, got %s"
                                 % (name, shape, getattr(value, "shape", type(value).__name__)))
            if value.dtype != self.dtype:
                raise ValueError("params['%s'] must have the model's dtype %s, got %s"
                                 % (name, np.dtype(self.dtype), value.dtype))
        if self.wordvec_dim % self.num_heads:
            raise ValueError("num_heads = %d must divide wordvec_dim = %d"
                             % (self.num_heads, self.wordvec_dim))

    def _check_features(self, features):
        """features in the model's dtype: (N, D) for a vector model, (N, D, G, G) for a grid."""
        G, D = self.grid_size, self.input_dim
        features = np.asarray(features)
        if G is None and features.ndim != 2:
            raise ValueError("features must have shape (N, D) = (N, %d) for this vector-feature "
                             "model, got %s (grid features need a model built with grid_size)"
                             % (D, features.shape))
        if G is not None and features.ndim != 4:
            raise ValueError("features must have shape (N, D, G, G) = (N, %d, %d, %d) for this "
                             "grid model, got %s" % (D, G, G, features.shape))
        shape = ("N", D) if G is None else ("N", D, G, G)
        features = check_array("features", features, shape=shape, finite=True)
        return features.astype(self.dtype, copy=False)

    def _check_captions(self, captions, N):
        captions = check_indices("captions", captions, self.vocab_size, shape=(N, "T + 1"))
        T = captions.shape[1] - 1
        if not 1 <= T <= self.max_length:
            raise ValueError("captions must have shape (N, T + 1) with 1 <= T <= max_length = %d,"
                             " got %s" % (self.max_length, captions.shape))
        return captions

    def _nonfinite(self):
        """The (loss, grads) returned when parameters or activations are not finite."""
        nan = self.dtype(np.nan)
        return nan, {name: np.full_like(value, np.nan) for name, value in self.params.items()}

    def _use_kernels(self):
        """Whether sample() takes the fast path (model.fast and the kernel present)."""
        return self.fast and _kernels is not None

    # ------------------------------------------------------------------ training loss

    def loss(self, features, captions):
        """
        Compute training-time loss for the Transformer. We input image features and
        ground-truth captions for those images, and compute loss and gradients on all
        parameters.

        The decoder reads captions[:, :-1] (a causal mask lets position t see words 0..t only)
        and its target is captions[:, 1:]. The loss is the softmax cross-entropy at target
        positions that are not <NULL>, summed and divided by N*T: the convention of CS231n's
        Transformer solver, which differs from CaptioningRNN's sum / N (a Transformer loss is
        CaptioningRNN's loss on the same scores divided by T). With dropout > 0 the model's own
        Generator drops units as CS231n does in training mode.

        Inputs:
        - features: Input image features, of shape (N, D), or (N, D, G, G) for a grid model;
          cast to the model's dtype
        - captions: Ground-truth captions; an integer array of shape (N, T + 1) where each
          element is in the range 0 <= y[i, t] < V and T <= max_length

        Returns a tuple of:
        - loss: Scalar loss, in the model's dtype
        - grads: Dictionary of gradients parallel to self.params

        If non-finite parameters or overflowing activations (diverged training) put a NaN or
        inf into the computation, the loss and every gradient are NaN instead of an error, so
        that a solver can stop cleanly.
        """
        self._check_params()
        features = self._check_features(features)
        captions = self._check_captions(captions, features.shape[0])
        p = self.params
        grads = {}
        try:
            # BEGIN SOLUTION
            # HINT: the decoder reads captions[:, :-1] and predicts captions[:, 1:], masking <NULL> targets; forward: the memory (temporal_affine_forward on the features as (N, 1, D), or the grid's (N, G*G, D) locations plus W_pos), word_embedding_forward plus self._positions[:T], dropout_forward, each layer with a causal mask (np.tril), temporal_affine_forward to scores, temporal_softmax_loss divided by T (it divides by N); then every backward in reverse, adding the layers' memory gradients, and zero W_embed's <NULL> row
            captions_in, captions_out = captions[:, :-1], captions[:, 1:]
            mask = captions_out != self._null  # <NULL> targets are padding
            N, T = captions_in.shape

            # The memory cross-attention reads: one vector per image, or one per grid location
            # (row-major) plus that location's embedding.
            if self.grid_size is None:
                locations = features[:, None, :]  # (N, 1, D)
            else:
                locations = features.reshape(N, self.input_dim, -1).transpose(0, 2, 1)
            memory, cache_proj = temporal_affine_forward(locations, p["W_proj"], p["b_proj"])
            if self.grid_size is not None:
                memory = memory + p["W_pos"]

            words, cache_embed = word_embedding_forward(captions_in, p["W_embed"])
            x, cache_drop = dropout_forward(words + self._positions[:T], self.dropout, self.rng)
            causal = np.tril(np.ones((T, T), dtype=bool))  # position t sees words 0..t
            layer_caches = []
            for l in range(self.num_layers):
                x, cache = transformer_decoder_layer_forward(
                    x, memory, self.layer_params(l), self.num_heads, causal, self.activation,
                    self.dropout, self.rng)
                layer_caches.append(cache)
            scores, cache_vocab = temporal_affine_forward(x, p["W_vocab"], p["b_vocab"])
            loss, dscores = temporal_softmax_loss(scores, captions_out, mask)  # sum / N
            loss, dscores = loss / T, dscores / T  # sum / (N * T)

            dx, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, cache_vocab)
            dmemory = np.zeros_like(memory)
            for l in reversed(range(self.num_layers)):
                dx, dmemory_l, dlayer = transformer_decoder_layer_backward(dx, layer_caches[l])
                dmemory += dmemory_l  # every layer reads the same memory
                for name, value in dlayer.items():
                    grads[layer_key(l, name)] = value
            dwords = dropout_backward(dx, cache_drop)
            grads["W_embed"] = word_embedding_backward(dwords, cache_embed)
            grads["W_embed"][self._null] = 0  # padding: <NULL>'s vector is never trained
            if self.grid_size is not None:
                grads["W_pos"] = dmemory.sum(axis=0)
            _, grads["W_proj"], grads["b_proj"] = temporal_affine_backward(dmemory, cache_proj)
            # END SOLUTION
        except NonFiniteError:
            # Inputs and parameter shapes are checked above, so a layer rejecting a NaN or inf
            # means non-finite parameters or overflowing activations: a NaN loss, not an error.
            return self._nonfinite()
        return loss, {name: grads[name] for name in p}

    # ------------------------------------------------------------------ test-time sampling

    def sample(self, features, max_length=30, beam_size=None, length_norm=False,
               temperature=None, rng=None):
        """
        Run a test-time forward pass for the model, sampling captions for input feature vectors.

        Greedy (the default, as in CS231n): starting from <START>, the decoder reads the caption
        so far (with the causal mask), and the highest-scoring word at the last position is
        appended. No dropout.

        The captions array is pre-filled with <NULL>; its first column is the first generated
        word (not <START>). Once a row emits <END>, its remaining positions stay <NULL>; the
        loop stops when every row has ended.

        Other decoders (rnncap/decoding.py, as for CaptioningRNN; they read one word at a time
        through the incremental decoder of rnncap/kernels/transformer.py, so they need it):
        - beam_size=K: beam search keeping the K best partial captions per image; returns the
          most probable finished caption. beam_size=1 gives exactly the greedy result.
          length_norm=True ranks finished captions by log-probability per generated word.
        - temperature=tau > 0: sample each word from softmax(scores / tau) using rng, a
          np.random.Generator or an int seed (never the global np.random).

        Inputs:
        - features: Array of input image features of shape (N, D) ((N, D, G, G) for a grid).
        - max_length: Maximum length T of generated captions; at most the model's max_length.
        - beam_size, length_norm: see above (beam search when beam_size is not None).
        - temperature, rng: see above (sampling when temperature is not None).

        Returns:
        - captions: Array of shape (N, max_length) giving sampled captions, where each element
          is an integer in the range [0, V).
        """
        from .. import decoding

        features = self._prepare_sampling(features, max_length)
        if beam_size is not None and temperature is not None:
            raise ValueError("give beam_size or temperature, not both (got %r and %r)"
                             % (beam_size, temperature))
        if rng is not None and temperature is None:
            raise ValueError("rng is used only with temperature sampling (temperature is None)")
        if length_norm and beam_size is None:
            raise ValueError("length_norm applies only to beam search (beam_size is None)")
        if beam_size is not None:
            return decoding.beam_search(self, features, beam_size, max_length, length_norm)[0]
        if temperature is not None:
            return decoding.temperature_sample(self, features, temperature, max_length, rng)
        if self._use_kernels():
            return _kernels.sample(self, features, max_length)

        N = features.shape[0]
        captions = np.full((N, max_length), self._null, dtype=np.int32)
        p = self.params
        # BEGIN SOLUTION
        # HINT: the memory as in loss(); start every caption with <START>; at each step embed the words so far plus their positions, run the layers with a causal mask, score the last position and append the highest-scoring word; write a word only into rows that have not emitted <END> yet, and stop once every row has
        if self.grid_size is None:
            locations = features[:, None, :]
        else:
            locations = features.reshape(N, self.input_dim, -1).transpose(0, 2, 1)
        memory, _ = temporal_affine_forward(locations, p["W_proj"], p["b_proj"])
        if self.grid_size is not None:
            memory = memory + p["W_pos"]

        partial = np.full((N, 1), self._start)  # the words read so far, <START> first
        done = np.zeros(N, dtype=bool)
        for t in range(max_length):
            x = p["W_embed"][partial] + self._positions[:t + 1]
            causal = np.tril(np.ones((t + 1, t + 1), dtype=bool))
            for l in range(self.num_layers):
                x, _ = transformer_decoder_layer_forward(
                    x, memory, self.layer_params(l), self.num_heads, causal, self.activation)
            scores = x[:, -1] @ p["W_vocab"] + p["b_vocab"]  # only the newest position counts
            words = scores.argmax(axis=1)
            captions[~done, t] = words[~done]
            if self._end is not None:
                done |= words == self._end
            if done.all():
                break
            partial = np.concatenate([partial, words[:, None]], axis=1)
        # END SOLUTION
        return captions

    def _initial_state(self, features):
        """
        The decoder's state before the first word, for rnncap/decoding.py.

        Inputs:
        - features: Features in the model's dtype, (N, D) or (N, D, G, G)

        Returns a tuple of:
        - state: The incremental decoder's state (rows selectable as state[rows])
        - None, None: (CaptioningRNN's LSTM cell state and attention grid; a Transformer has none)
        """
        if _kernels is None:
            raise ValueError("beam search and temperature sampling of a CaptioningTransformer "
                             "read one word at a time through rnncap/kernels/transformer.py, "
                             "which this copy of rnncap does not have; use greedy sample()")
        return _kernels.initial_state(self, features), None, None

    def _step(self, words, state, _unused=None, _grid=None):
        """
        One decoding step for rnncap/decoding.py: read each row's newest word.

        Inputs:
        - words: Integer array of shape (n,), the newest word of each row (<START> first)
        - state: From _initial_state or the previous step (n rows); advanced in place

        Returns a tuple of:
        - scores: Unnormalised scores for the next word, of shape (n, V)
        - state: The advanced state
        - None, None: (no cell state, no attention weights)
        """
        scores, state = _kernels.step(self, words, state)
        return scores, state, None, None

    def _prepare_sampling(self, features, max_length):
        """Check the sampling inputs; return features in the model's dtype."""
        if self._start is None:
            raise ValueError("sampling needs '<START>' in word_to_idx")
        if isinstance(max_length, bool) or not isinstance(max_length, (int, np.integer)) \
                or not 1 <= max_length <= self.max_length:
            raise ValueError("max_length must be an integer in [1, %d] (the model's max_length),"
                             " got %r" % (self.max_length, max_length))
        self._check_params()
        return self._check_features(features)
