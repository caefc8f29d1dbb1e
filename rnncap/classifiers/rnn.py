"""CaptioningRNN: image features -> initial hidden state -> recurrent cell -> vocabulary scores.

The CS231n assignment-3 model, with the same constructor, parameter names, initialisation order
and scale (so a seeded run reproduces the published numbers), plus a GRU cell, beam search and
temperature sampling (see rnncap/decoding.py).
"""
from pathlib import Path

import numpy as np

from .._validate import NonFiniteError, check_array, check_indices
from ..rnn_layers import (
    affine_backward, affine_forward,
    gru_backward, gru_forward, gru_step_forward,
    lstm_backward, lstm_forward, lstm_step_forward,
    rnn_backward, rnn_forward, rnn_step_forward,
    temporal_affine_backward, temporal_affine_forward, temporal_softmax_loss,
    word_embedding_backward, word_embedding_forward,
)

try:  # the fast path; the student copy ships without it and runs the readable code
    from .. import kernels
except ImportError:
    kernels = None
# Only kernels shipped beside this package count: an editable install of another rnncap (the
# instructor's) can answer the import above for a student copy.
if kernels is not None and Path(kernels.__file__).parents[1] != Path(__file__).parents[1]:
    kernels = None

# cell type -> (gate multiplier k: the cell's weights are (., kH), sequence forward, backward)
_CELLS = {
    "rnn": (1, rnn_forward, rnn_backward),
    "lstm": (4, lstm_forward, lstm_backward),
    "gru": (3, gru_forward, gru_backward),
}

PARAM_NAMES = ("W_embed", "W_proj", "b_proj", "Wx", "Wh", "b", "W_vocab", "b_vocab")


class CaptioningRNN:
    """
    A CaptioningRNN produces captions from image features using a recurrent neural network.

    The RNN receives input vectors of size D, has a vocab size of V, works on sequences of
    length T, has an RNN hidden dimension of H, uses word vectors of dimension W, and operates
    on minibatches of size N. No regularisation is applied.

    Parameters (model.params), created in this order with the global np.random:
    - W_embed: (V, W) word vectors, randn / 100
    - W_proj: (D, H) image features -> initial hidden state, randn / sqrt(D); b_proj: (H,) zeros
    - Wx: (W, kH) randn / sqrt(W); Wh: (H, kH) randn / sqrt(H); b: (kH,) zeros, where k is
      1 for 'rnn', 4 for 'lstm' (gates i, f, o, g) and 3 for 'gru' (gates r, z, n)
    - W_vocab: (H, V) hidden state -> word scores, randn / sqrt(H); b_vocab: (V,) zeros
    """

    def __init__(self, word_to_idx, input_dim=512, wordvec_dim=128, hidden_dim=128,
                 cell_type="rnn", dtype=np.float32, fast=True):
        """
        Construct a new CaptioningRNN instance.

        Inputs:
        - word_to_idx: A dictionary giving the vocabulary. It contains V entries, and maps each
          string to a unique integer in the range [0, V). It must contain '<NULL>'; '<START>'
          and '<END>' are needed only for sampling.
        - input_dim: Dimension D of input image feature vectors.
        - wordvec_dim: Dimension W of word vectors.
        - hidden_dim: Dimension H for the hidden state of the RNN.
        - cell_type: What type of RNN to use; either 'rnn', 'lstm' or 'gru'.
        - dtype: numpy floating datatype to use; use float32 for training and float64 for
          numeric gradient checking.
        - fast: Use the fast kernels (rnncap/kernels/) for loss() and greedy sample() when they
          are installed; False always runs the readable code below. Both give the same loss,
          gradients and captions. Also settable later as model.fast.
        """
        self._setup(word_to_idx, cell_type, dtype, fast)
        for name, value in (("input_dim", input_dim), ("wordvec_dim", wordvec_dim),
                            ("hidden_dim", hidden_dim)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError("%s must be a positive integer, got %r" % (name, value))
        V, D, W, H = len(word_to_idx), input_dim, wordvec_dim, hidden_dim
        k = _CELLS[cell_type][0]

        # The order and scale of these draws are part of the seeded CS231n protocol.
        self.params = {}
        self.params["W_embed"] = np.random.randn(V, W) / 100
        self.params["W_proj"] = np.random.randn(D, H) / np.sqrt(D)
        self.params["b_proj"] = np.zeros(H)
        self.params["Wx"] = np.random.randn(W, k * H) / np.sqrt(W)
        self.params["Wh"] = np.random.randn(H, k * H) / np.sqrt(H)
        self.params["b"] = np.zeros(k * H)
        self.params["W_vocab"] = np.random.randn(H, V) / np.sqrt(H)
        self.params["b_vocab"] = np.zeros(V)
        for name, value in self.params.items():
            self.params[name] = value.astype(self.dtype)

    @classmethod
    def from_params(cls, word_to_idx, params, cell_type="rnn", fast=True):
        """
        Build a model around existing parameters (e.g. from a checkpoint); draws no random numbers.

        Inputs:
        - word_to_idx: The vocabulary, as for the constructor.
        - params: Dictionary with exactly the keys of model.params and consistent shapes; all
          arrays share one float dtype, which becomes the model's dtype.
        - cell_type: 'rnn', 'lstm' or 'gru'.
        - fast: As for the constructor.

        Returns:
        - model: A CaptioningRNN using copies of the given arrays.
        """
        if not isinstance(params, dict) or set(params) != set(PARAM_NAMES):
            got = sorted(params) if isinstance(params, dict) else type(params).__name__
            raise ValueError("params must have exactly the keys %s, got %s"
                             % (list(PARAM_NAMES), got))
        arrays = {name: check_array("params['%s']" % name, params[name]) for name in PARAM_NAMES}
        model = cls.__new__(cls)
        model._setup(word_to_idx, cell_type, arrays["W_embed"].dtype, fast)
        model.params = {name: arrays[name].copy() for name in PARAM_NAMES}
        model._check_params()
        return model

    def _setup(self, word_to_idx, cell_type, dtype, fast):
        """Set the vocabulary, cell type, dtype and fast attributes (shared by both constructors)."""
        if not isinstance(fast, (bool, np.bool_)):
            raise ValueError("fast must be True or False, got %r" % (fast,))
        if cell_type not in _CELLS:
            raise ValueError("cell_type must be one of 'rnn', 'lstm', 'gru', got %r" % (cell_type,))
        if not isinstance(word_to_idx, dict) or "<NULL>" not in word_to_idx:
            raise ValueError("word_to_idx must be a dict containing '<NULL>', got %s"
                             % (type(word_to_idx).__name__ if not isinstance(word_to_idx, dict)
                                else "a dict without '<NULL>'"))
        for word, idx in word_to_idx.items():
            if isinstance(idx, bool) or not isinstance(idx, (int, np.integer)) or idx < 0:
                raise ValueError("word_to_idx values must be non-negative integers, got %r: %r"
                                 % (word, idx))
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise ValueError("dtype must be a numpy floating dtype, got %r" % (dtype,))
        if dtype.kind != "f":
            raise ValueError("dtype must be a numpy floating dtype, got %s" % dtype)
        self.cell_type = cell_type
        self.fast = bool(fast)
        self.dtype = dtype.type
        self.word_to_idx = word_to_idx
        self.idx_to_word = {i: w for w, i in word_to_idx.items()}
        self._null = word_to_idx["<NULL>"]
        self._start = word_to_idx.get("<START>", None)
        self._end = word_to_idx.get("<END>", None)

    # ------------------------------------------------------------------ dimensions and checks

    @property
    def vocab_size(self):
        """V: the number of words, len(word_to_idx)."""
        return len(self.word_to_idx)

    @property
    def input_dim(self):
        """D: the size of an image feature vector."""
        return self.params["W_proj"].shape[0]

    @property
    def wordvec_dim(self):
        """W: the size of a word vector."""
        return self.params["W_embed"].shape[1]

    @property
    def hidden_dim(self):
        """H: the size of the hidden state."""
        return self.params["W_proj"].shape[1]

    def _check_params(self):
        """Raise ValueError unless params have the expected keys, shapes and the model's dtype."""
        if set(self.params) != set(PARAM_NAMES):
            raise ValueError("model.params must have exactly the keys %s, got %s"
                             % (list(PARAM_NAMES), sorted(self.params)))
        V, W = self.params["W_embed"].shape
        D, H = self.params["W_proj"].shape
        kH = _CELLS[self.cell_type][0] * H
        expected = {"W_embed": (len(self.word_to_idx), W), "W_proj": (D, H), "b_proj": (H,),
                    "Wx": (W, kH), "Wh": (H, kH), "b": (kH,), "W_vocab": (H, V), "b_vocab": (V,)}
        for name, shape in expected.items():
            value = self.params[name]
            if not isinstance(value, np.ndarray) or value.shape != shape:
                raise ValueError("params['%s'] must have shape %s, got %s"
                                 % (name, shape, getattr(value, "shape", type(value).__name__)))
            if value.dtype != self.dtype:
                raise ValueError("params['%s'] must have the model's dtype %s, got %s"
                                 % (name, np.dtype(self.dtype), value.dtype))

    def _check_features(self, features):
        """features as an (N, D) array of the model's dtype (a copy only when casting)."""
        features = check_array("features", features, shape=("N", self.input_dim), finite=True)
        return features.astype(self.dtype, copy=False)

    def _nonfinite(self):
        """The (loss, grads) returned when parameters or activations are not finite."""
        nan = self.dtype(np.nan)
        return nan, {name: np.full_like(value, np.nan) for name, value in self.params.items()}

    # ------------------------------------------------------------------ training loss

    def loss(self, features, captions):
        """
        Compute training-time loss for the RNN. We input image features and ground-truth
        captions for those images, and use an RNN (or LSTM, or GRU) to compute loss and
        gradients on all parameters.

        The input to the cell is captions[:, :-1] and its target is captions[:, 1:]; target
        positions holding <NULL> are masked out. The loss is summed over time and divided by N.

        Inputs:
        - features: Input image features, of shape (N, D); cast to the model's dtype
        - captions: Ground-truth captions; an integer array of shape (N, T + 1) where each
          element is in the range 0 <= y[i, t] < V

        Returns a tuple of:
        - loss: Scalar loss, in the model's dtype
        - grads: Dictionary of gradients parallel to self.params

        If non-finite parameters or overflowing activations (diverged training) put a NaN or
        inf into the computation, the loss and every gradient are NaN instead of an error, so
        that a solver can stop cleanly.
        """
        self._check_params()
        features = self._check_features(features)
        captions = check_indices("captions", captions, self.vocab_size,
                                 shape=(features.shape[0], "T + 1"))
        if captions.shape[1] < 2:
            raise ValueError("captions must have shape (N, T + 1) with T >= 1, got %s"
                             % (captions.shape,))
        if self._use_kernels():
            result = kernels.captioning.loss(self, features, captions)
            return self._nonfinite() if result is None else result

        p = self.params
        _, cell_forward, cell_backward = _CELLS[self.cell_type]
        grads = {}
        try:
            # BEGIN SOLUTION
            # HINT: the cell reads captions[:, :-1] and predicts captions[:, 1:], masking <NULL> targets; forward: affine_forward for h0, word_embedding_forward, cell_forward, temporal_affine_forward, temporal_softmax_loss; then each layer's backward in reverse order
            captions_in, captions_out = captions[:, :-1], captions[:, 1:]
            mask = captions_out != self._null  # <NULL> targets are padding

            # Forward: features -> h0 -> hidden states over the words -> scores -> loss
            h0, cache_proj = affine_forward(features, p["W_proj"], p["b_proj"])
            x, cache_embed = word_embedding_forward(captions_in, p["W_embed"])
            h, cache_cell = cell_forward(x, h0, p["Wx"], p["Wh"], p["b"])
            scores, cache_vocab = temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
            loss, dscores = temporal_softmax_loss(scores, captions_out, mask)

            # Backward: the same layers in reverse order
            dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, cache_vocab)
            dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = cell_backward(dh, cache_cell)
            grads["W_embed"] = word_embedding_backward(dx, cache_embed)
            _, grads["W_proj"], grads["b_proj"] = affine_backward(dh0, cache_proj)
            # END SOLUTION
        except NonFiniteError:
            # Inputs and parameter shapes are checked above, so a layer rejecting a NaN or inf
            # means non-finite parameters or overflowing activations: a NaN loss, not an error.
            return self._nonfinite()
        return loss, grads

    def _use_kernels(self):
        """Whether loss() and greedy sample() take the fast path (model.fast and kernels present)."""
        return self.fast and kernels is not None

    # ------------------------------------------------------------------ test-time sampling

    def sample(self, features, max_length=30, beam_size=None, length_norm=False,
               temperature=None, rng=None):
        """
        Run a test-time forward pass for the model, sampling captions for input feature vectors.

        Greedy (the default, as in CS231n): at each timestep, embed the current word, pass it
        and the previous hidden state to the cell, score the vocabulary and choose the word with
        the highest score as the next word. The initial hidden state is features·W_proj + b_proj,
        the first word is <START>, and the LSTM's initial cell state is zero.

        The captions array is pre-filled with <NULL>; its first column is the first generated
        word (not <START>). Once a row emits <END>, its remaining positions stay <NULL>
        (the classic code kept writing argmax words after <END>; decoding stops at <END>
        either way).

        Other decoders (rnncap/decoding.py):
        - beam_size=K: beam search keeping the K best partial captions per image; returns the
          most probable finished caption. beam_size=1 gives exactly the greedy result.
          length_norm=True ranks finished captions by log-probability per generated word.
        - temperature=tau > 0: sample each word from softmax(scores / tau) using rng, a
          np.random.Generator or an int seed (never the global np.random).

        Inputs:
        - features: Array of input image features of shape (N, D).
        - max_length: Maximum length T of generated captions.
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
            return kernels.captioning.greedy_sample(self, features, max_length)

        N = features.shape[0]
        captions = np.full((N, max_length), self._null, dtype=np.int32)
        # BEGIN SOLUTION
        # HINT: start from _initial_state and <START>; each step calls self._step on the current words and picks the highest score; write a word only into rows that have not emitted <END> yet, and stop once every row has
        h, c = self._initial_state(features)
        words = np.full(N, self._start)
        done = np.zeros(N, dtype=bool)  # rows that have emitted <END>
        for t in range(max_length):
            scores, h, c = self._step(words, h, c)
            words = scores.argmax(axis=1)
            captions[~done, t] = words[~done]
            if self._end is not None:
                done |= words == self._end
            if done.all():
                break
        # END SOLUTION
        return captions

    def _prepare_sampling(self, features, max_length):
        """Check the sampling inputs; return features in the model's dtype."""
        if self._start is None:
            raise ValueError("sampling needs '<START>' in word_to_idx")
        if isinstance(max_length, bool) or not isinstance(max_length, (int, np.integer)) \
                or max_length < 1:
            raise ValueError("max_length must be a positive integer, got %r" % (max_length,))
        self._check_params()
        return self._check_features(features)

    def _initial_state(self, features):
        """
        The decoder's state before the first word.

        Inputs:
        - features: (N, D) array in the model's dtype

        Returns a tuple of:
        - h: Initial hidden state features·W_proj + b_proj, of shape (N, H)
        - c: Initial LSTM cell state, zeros of shape (N, H); None for 'rnn' and 'gru'
        """
        h, _ = affine_forward(features, self.params["W_proj"], self.params["b_proj"])
        c = np.zeros_like(h) if self.cell_type == "lstm" else None
        return h, c

    def _step(self, words, prev_h, prev_c):
        """
        One decoding step: embed words, advance the cell, score the vocabulary.

        Inputs:
        - words: Integer array of shape (N,), the current word of each row
        - prev_h: Hidden state, of shape (N, H)
        - prev_c: LSTM cell state, of shape (N, H), or None for 'rnn' and 'gru'

        Returns a tuple of:
        - scores: Unnormalised scores for the next word, of shape (N, V)
        - next_h: Next hidden state, of shape (N, H)
        - next_c: Next cell state, of shape (N, H), or None
        """
        p = self.params
        next_c = None
        # BEGIN SOLUTION
        # HINT: pick the words' rows of W_embed, advance the cell with its step forward (rnn, lstm or gru), then affine_forward for the scores
        x = p["W_embed"][words]
        if self.cell_type == "rnn":
            next_h, _ = rnn_step_forward(x, prev_h, p["Wx"], p["Wh"], p["b"])
        elif self.cell_type == "lstm":
            next_h, next_c, _ = lstm_step_forward(x, prev_h, prev_c, p["Wx"], p["Wh"], p["b"])
        else:
            next_h, _ = gru_step_forward(x, prev_h, p["Wx"], p["Wh"], p["b"])
        scores, _ = affine_forward(next_h, p["W_vocab"], p["b_vocab"])
        # END SOLUTION
        return scores, next_h, next_c
