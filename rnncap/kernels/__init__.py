"""Fast kernels: the same results as the readable code, with less work and fewer passes.

Readers start with rnncap/rnn_layers.py and rnncap/classifiers/rnn.py (or transformer_layers.py
and classifiers/transformer.py); nothing here is needed to understand the math.
CaptioningRNN(fast=True) and CaptioningTransformer(fast=True) (the defaults) run these when the
package is installed; the student copy ships without it and runs the student's own layers. Every
kernel names the reference it equals, and tests/test_kernels.py (tests/test_transformer_model.py
for transformer.py) proves each equal on random inputs (float32 and float64, N = 1, T = 1, fully
masked rows, repeated words).

  captioning.py  the model's loss and greedy sampling   = CaptioningRNN.loss / .sample (fast=False)
  attention.py   the attention model's loss             = CaptioningRNN.loss, cell_type='attention'
  cells.py       RNN / LSTM / GRU sequences and steps    = rnn_forward, lstm_backward, ...
  words.py       word-sharing input products, scatter-add = x·Wx + b, np.add.at
  output.py      fused output layer                      = temporal_affine + temporal_softmax_loss
  transformer.py incremental greedy decoding (KV cache)  = CaptioningTransformer.sample (fast=False)
  _arrays.py     layouts and exp-based squashing used by the others

benchmarks/bench_model.py, bench_attention.py and bench_transformer.py time them against PyTorch CPU.
"""
from . import attention, captioning, cells, output, transformer, words  # noqa: F401
