"""rnncap: recurrent image captioning in pure NumPy, CS231n-compatible.

Where things live:
  rnn_layers.py          RNN / LSTM / GRU layers with hand-written backward passes
  transformer_layers.py  attention, layer norm, positions, the Transformer decoder layer
  gradient_check.py      numeric gradients and rel_error
  classifiers/rnn.py     CaptioningRNN (features -> h0 -> cell -> vocabulary scores)
  classifiers/transformer.py  CaptioningTransformer (features -> memory; words -> decoder layers)
  kernels/transformer.py fast greedy sampling for CaptioningTransformer (incremental decoding)
  optim.py               update rules (sgd, sgd_momentum, rmsprop, adam)
  captioning_solver.py   CaptioningSolver (the training loop)
  coco_utils.py          COCO captioning data and the built-in "shapes" dataset
  image_utils.py         image_from_url
  metrics.py             BLEU and CIDEr-D
  cli.py, commands/      the `rnncap` command line
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
