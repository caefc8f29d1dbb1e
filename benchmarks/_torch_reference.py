"""The captioning model written the ordinary PyTorch way, for bench_model.py to time against.

nn.Embedding -> nn.RNN/nn.LSTM/nn.GRU (batch_first) with h0 = nn.Linear(features) -> nn.Linear to
the vocabulary -> masked cross-entropy summed over time and divided by N: the same computation as
CaptioningRNN.loss. Greedy sampling uses the matching nn.*Cell with the same weights, under
torch.inference_mode. Weights are copied from an rnncap parameter dictionary; the one layout
difference is the LSTM gate order (PyTorch: i, f, g, o; rnncap: i, f, o, g).
"""
import numpy as np
import torch
from torch import nn

_MODULES = {"rnn": (nn.RNN, nn.RNNCell), "lstm": (nn.LSTM, nn.LSTMCell), "gru": (nn.GRU, nn.GRUCell)}


def _to_torch_gates(W, cell_type):
    """rnncap stacks gates along the last axis (i, f, o, g for LSTM); torch along the first."""
    W = np.asarray(W)
    if cell_type == "lstm":
        i, f, o, g = np.split(W, 4, axis=-1)
        W = np.concatenate([i, f, g, o], axis=-1)
    return torch.from_numpy(np.ascontiguousarray(W.T))


class TorchCaptioner(nn.Module):
    """CaptioningRNN's loss and greedy sample in PyTorch eager, built from rnncap params."""

    def __init__(self, params, cell_type, null, start, end):
        super().__init__()
        V, W = params["W_embed"].shape
        D, H = params["W_proj"].shape
        dtype = torch.from_numpy(params["W_proj"]).dtype
        seq_cls, cell_cls = _MODULES[cell_type]
        self.cell_type, self.null, self.start, self.end = cell_type, null, start, end
        self.embed = nn.Embedding(V, W).to(dtype)
        self.proj = nn.Linear(D, H).to(dtype)
        self.rnn = seq_cls(W, H, batch_first=True).to(dtype)
        self.vocab = nn.Linear(H, V).to(dtype)
        with torch.no_grad():
            self.embed.weight.copy_(torch.from_numpy(params["W_embed"]))
            self.proj.weight.copy_(torch.from_numpy(params["W_proj"].T.copy()))
            self.proj.bias.copy_(torch.from_numpy(params["b_proj"]))
            self.rnn.weight_ih_l0.copy_(_to_torch_gates(params["Wx"], cell_type))
            self.rnn.weight_hh_l0.copy_(_to_torch_gates(params["Wh"], cell_type))
            # rnncap has one bias; for the GRU it sits outside r * (h·Wh_n), i.e. it is b_ih.
            self.rnn.bias_ih_l0.copy_(_to_torch_gates(params["b"][None], cell_type)[:, 0])
            self.rnn.bias_hh_l0.zero_()
            self.vocab.weight.copy_(torch.from_numpy(params["W_vocab"].T.copy()))
            self.vocab.bias.copy_(torch.from_numpy(params["b_vocab"]))
        self.rnn.flatten_parameters()
        self.cell = cell_cls(W, H).to(dtype)  # shares the sequence module's tensors
        self.cell.weight_ih = self.rnn.weight_ih_l0
        self.cell.weight_hh = self.rnn.weight_hh_l0
        self.cell.bias_ih = self.rnn.bias_ih_l0
        self.cell.bias_hh = self.rnn.bias_hh_l0

    def loss(self, features, captions):
        """Forward and backward; returns the loss (a Python float); gradients land in .grad."""
        for p in self.parameters():
            p.grad = None
        captions_in, captions_out = captions[:, :-1], captions[:, 1:]
        h0 = self.proj(features)[None]
        state = (h0, torch.zeros_like(h0)) if self.cell_type == "lstm" else h0
        h, _ = self.rnn(self.embed(captions_in), state)
        scores = self.vocab(h)
        loss = nn.functional.cross_entropy(scores.reshape(-1, scores.shape[-1]),
                                           captions_out.reshape(-1), ignore_index=self.null,
                                           reduction="sum") / features.shape[0]
        loss.backward()
        return loss.item()

    def grads(self):
        """Gradients as numpy arrays under rnncap's names and layouts (after loss())."""
        def back(t, cell=False):
            g = t.grad.numpy().T
            if cell and self.cell_type == "lstm":
                i, f, g_, o = np.split(g, 4, axis=-1)
                g = np.concatenate([i, f, o, g_], axis=-1)
            return g
        return {"W_embed": self.embed.weight.grad.numpy(), "W_proj": back(self.proj.weight),
                "b_proj": self.proj.bias.grad.numpy(),
                "Wx": back(self.rnn.weight_ih_l0, True), "Wh": back(self.rnn.weight_hh_l0, True),
                "b": back(self.rnn.bias_ih_l0, True), "W_vocab": back(self.vocab.weight),
                "b_vocab": self.vocab.bias.grad.numpy()}

    @torch.inference_mode()
    def sample(self, features, max_length=30):
        """Greedy decoding, the same rule as CaptioningRNN.sample; returns (N, max_length)."""
        N = features.shape[0]
        captions = torch.full((N, max_length), self.null, dtype=torch.long)
        h = self.proj(features)
        c = torch.zeros_like(h)
        words = torch.full((N,), self.start, dtype=torch.long)
        done = torch.zeros(N, dtype=torch.bool)
        for t in range(max_length):
            x = self.embed(words)
            if self.cell_type == "lstm":
                h, c = self.cell(x, (h, c))
            else:
                h = self.cell(x, h)
            words = self.vocab(h).argmax(dim=1)
            captions[~done, t] = words[~done]
            done |= words == self.end
            if bool(done.all()):
                break
        return captions
