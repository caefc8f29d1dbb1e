"""rnncap: recurrent image captioning in pure NumPy, CS231n-compatible.

Where things live:
  rnn_layers.py          RNN / LSTM / GRU layers with hand-written backward passes
  transformer_layers.py  attention, layer norm, positions, the Transformer decoder layer
  classifiers/rnn.py     CaptioningRNN (features -> h0 -> cell -> vocabulary scores); fast=
  classifiers/transformer.py  CaptioningTransformer (features -> memory; words -> decoder layers)
  kernels/               the fast paths of both models, proven equal to the readable code
  optim.py               update rules (sgd, sgd_momentum, rmsprop, adam)
  captioning_solver.py   CaptioningSolver (the training loop)
  coco_utils.py          COCO captioning data in the CS231n layout (also loads the built-in data)
  image_utils.py         image_from_url
  gradient_check.py      numeric gradients and rel_error
  checks.py              the registry of checks: every graded function's inputs and thresholds
  decoding.py            beam search and temperature sampling
  attention_maps.py      the attention model's maps per word and how well they find objects
  metrics.py             BLEU and CIDEr-D
  checkpoint.py          saving and loading models (and the solver's training state)
  plots.py               the training loss curve as a PNG
  _validate.py           input checks that raise a clear ValueError
  shapes/                the built-in "shapes" dataset; shapes/features.py, its feature extractor;
                         shapes/facts.py, what a caption asserts and caption accuracy
  teaching/              instructor tooling: the student copy, the sandboxed grader, Gradescope
  cli.py, commands/      the `rnncap` command line; commands/common.py, the subcommands' helpers
  __main__.py            `python -m rnncap`
"""

__version__ = "0.1.0"

# Imported lazily so that `import rnncap` stays cheap (no h5py, no matplotlib).
_LAZY = {
    "CaptioningRNN": "rnncap.classifiers.rnn",
    "CaptioningTransformer": "rnncap.classifiers.transformer",
    "CaptioningSolver": "rnncap.captioning_solver",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError("module 'rnncap' has no attribute %r" % name)


__all__ = ["CaptioningRNN", "CaptioningTransformer", "CaptioningSolver", "__version__"]
