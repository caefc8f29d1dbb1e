"""The attention captioning model written the ordinary PyTorch way, for bench_attention.py.

The same computation as CaptioningRNN(cell_type='attention').loss: nn.Linear projects every grid
location (A), h0 = c0 = A's mean over the grid, and at each step scaled dot-product attention
(torch.bmm, softmax) feeds an LSTM step whose pre-activation is x·Wx + h·Wh + attn·Wattn + b
(x·Wx + b for every step in one product before the loop), then nn.Linear to the vocabulary and
masked cross-entropy summed over time and divided by N. Autograd computes the backward pass.
Weights are copied from an rnncap parameter dictionary (gate order i, f, o, g, as rnncap's).
"""
import math

import numpy as np
import torch
from torch import nn


class TorchAttentionCaptioner(nn.Module):
    """CaptioningRNN(cell_type='attention')'s loss and greedy sample in PyTorch eager."""

    def __init__(self, params, null, start, end):
        super().__init__()
        V, W = params["W_embed"].shape
        C, H = params["W_proj"].shape
        dtype = torch.from_numpy(params["W_proj"]).dtype
        self.null, self.start, self.end, self.H = null, start, end, H
        self.embed = nn.Embedding(V, W).to(dtype)
        self.proj = nn.Linear(C, H).to(dtype)
        self.vocab = nn.Linear(H, V).to(dtype)
        self.Wx = nn.Parameter(torch.from_numpy(params["Wx"].copy()))
        self.Wh = nn.Parameter(torch.from_numpy(params["Wh"].copy()))
        self.Wattn = nn.Parameter(torch.from_numpy(params["Wattn"].copy()))
        self.b = nn.Parameter(torch.from_numpy(params["b"].copy()))
        with torch.no_grad():
            self.embed.weight.copy_(torch.from_numpy(params["W_embed"]))
            self.proj.weight.copy_(torch.from_numpy(params["W_proj"].T.copy()))
            self.proj.bias.copy_(torch.from_numpy(params["b_proj"]))
            self.vocab.weight.copy_(torch.from_numpy(params["W_vocab"].T.copy()))
            self.vocab.bias.copy_(torch.from_numpy(params["b_vocab"]))

    def grid(self, features):
        """A flattened to (N, H, G*G) from features (N, C, G, G)."""
        A = self.proj(features.flatten(2).transpose(1, 2))  # (N, G*G, H)
        return A.transpose(1, 2)

    def step(self, xa, h, c, A):
        """Attention, then the LSTM step; xa = x·Wx + b. Returns h, c, weights (N, G*G)."""
        scores = torch.bmm(h.unsqueeze(1), A).squeeze(1) / math.sqrt(self.H)
        weights = torch.softmax(scores, dim=1)
        attn = torch.bmm(A, weights.unsqueeze(2)).squeeze(2)
        a = xa + h @ self.Wh + attn @ self.Wattn
        i, f, o, g = a.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c, weights

    def loss(self, features, captions):
        """Forward and backward; returns the loss (a Python float); gradients land in .grad."""
        for p in self.parameters():
            p.grad = None
        captions_in, captions_out = captions[:, :-1], captions[:, 1:]
        A = self.grid(features)
        h = c = A.mean(dim=2)
        xa = self.embed(captions_in) @ self.Wx + self.b  # (N, T, 4H)
        hs = []
        for t in range(captions_in.shape[1]):
            h, c, _ = self.step(xa[:, t], h, c, A)
            hs.append(h)
        scores = self.vocab(torch.stack(hs, dim=1))
        loss = nn.functional.cross_entropy(scores.reshape(-1, scores.shape[-1]),
                                           captions_out.reshape(-1), ignore_index=self.null,
                                           reduction="sum") / features.shape[0]
        loss.backward()
        return loss.item()

    def grads(self):
        """Gradients as numpy arrays under rnncap's names and layouts (after loss())."""
        return {"W_embed": self.embed.weight.grad.numpy(),
                "W_proj": self.proj.weight.grad.numpy().T, "b_proj": self.proj.bias.grad.numpy(),
                "Wx": self.Wx.grad.numpy(), "Wh": self.Wh.grad.numpy(),
                "Wattn": self.Wattn.grad.numpy(), "b": self.b.grad.numpy(),
                "W_vocab": self.vocab.weight.grad.numpy().T,
                "b_vocab": self.vocab.bias.grad.numpy()}

    @torch.inference_mode()
    def sample(self, features, max_length=30):
        """Greedy decoding, the same rule as CaptioningRNN.sample; returns (N, max_length)."""
        N = features.shape[0]
        captions = torch.full((N, max_length), self.null, dtype=torch.long)
        A = self.grid(features)
        h = c = A.mean(dim=2)
        words = torch.full((N,), self.start, dtype=torch.long)
        done = torch.zeros(N, dtype=torch.bool)
        for t in range(max_length):
            xa = self.embed(words) @ self.Wx + self.b
            h, c, _ = self.step(xa, h, c, A)
            words = self.vocab(h).argmax(dim=1)
            captions[~done, t] = words[~done]
            done |= words == self.end
            if bool(done.all()):
                break
        return captions
