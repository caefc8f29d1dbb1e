"""CaptioningTransformer written the ordinary PyTorch way, for bench_transformer.py to time against.

nn.Embedding + the sinusoidal table -> nn.TransformerDecoder of post-norm nn.TransformerDecoderLayer
(batch_first, dropout 0) reading memory = nn.Linear(features) -> nn.Linear to the vocabulary ->
cross-entropy at the non-<NULL> targets, summed and divided by N*T: the same computation as
CaptioningTransformer.loss. Weights are copied from an rnncap parameter dictionary; rnncap stores
every weight as (in, out), torch as (out, in), and torch stacks the attention's q, k, v
projections into one in_proj matrix.
"""
import numpy as np
import torch
from torch import nn

from rnncap.transformer_layers import positional_encoding


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


class TorchCaptioningTransformer(nn.Module):
    """CaptioningTransformer's loss (vector features) in PyTorch eager, built from rnncap params."""

    def __init__(self, params, num_heads, activation="relu", null=0):
        super().__init__()
        V, W = params["W_embed"].shape
        D = params["W_proj"].shape[0]
        F = params["layers.0.ffn.W1"].shape[1]
        L = sum(1 for k in params if k.endswith(".ffn.W1"))
        dtype = _t(params["W_proj"]).dtype
        self.null = null
        self.embed = nn.Embedding(V, W, padding_idx=null).to(dtype)
        self.proj = nn.Linear(D, W).to(dtype)
        layer = nn.TransformerDecoderLayer(W, num_heads, dim_feedforward=F, dropout=0.0,
                                           activation=activation, batch_first=True,
                                           norm_first=False)
        self.decoder = nn.TransformerDecoder(layer, L).to(dtype)
        self.vocab = nn.Linear(W, V).to(dtype)
        self.register_buffer("positions", _t(positional_encoding(512, W)).to(dtype))
        with torch.no_grad():
            self.embed.weight.copy_(_t(params["W_embed"]))
            self.proj.weight.copy_(_t(params["W_proj"].T))
            self.proj.bias.copy_(_t(params["b_proj"]))
            for l, mod in enumerate(self.decoder.layers):
                p = {k[len("layers.%d." % l):]: v for k, v in params.items()
                     if k.startswith("layers.%d." % l)}
                for attn, name in ((mod.self_attn, "self_attn"),
                                   (mod.multihead_attn, "cross_attn")):
                    attn.in_proj_weight.copy_(_t(np.concatenate(
                        [p[name + ".Wq"].T, p[name + ".Wk"].T, p[name + ".Wv"].T])))
                    attn.in_proj_bias.copy_(_t(np.concatenate(
                        [p[name + ".bq"], p[name + ".bk"], p[name + ".bv"]])))
                    attn.out_proj.weight.copy_(_t(p[name + ".Wo"].T))
                    attn.out_proj.bias.copy_(_t(p[name + ".bo"]))
                for i in (1, 2, 3):
                    getattr(mod, "norm%d" % i).weight.copy_(_t(p["norm%d.gamma" % i]))
                    getattr(mod, "norm%d" % i).bias.copy_(_t(p["norm%d.beta" % i]))
                mod.linear1.weight.copy_(_t(p["ffn.W1"].T))
                mod.linear1.bias.copy_(_t(p["ffn.b1"]))
                mod.linear2.weight.copy_(_t(p["ffn.W2"].T))
                mod.linear2.bias.copy_(_t(p["ffn.b2"]))
            self.vocab.weight.copy_(_t(params["W_vocab"].T))
            self.vocab.bias.copy_(_t(params["b_vocab"]))

    def scores(self, features, captions_in):
        T = captions_in.shape[1]
        x = self.embed(captions_in) + self.positions[:T]
        memory = self.proj(features).unsqueeze(1)
        # torch's boolean mask marks the *blocked* pairs: the future
        causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        return self.vocab(self.decoder(x, memory, tgt_mask=causal))

    def loss(self, features, captions):
        """(loss, {rnncap name: grad}) for numpy features (N, D) and captions (N, T + 1)."""
        self.zero_grad(set_to_none=True)
        captions = torch.from_numpy(np.asarray(captions, dtype=np.int64))
        captions_in, captions_out = captions[:, :-1], captions[:, 1:]
        N, T = captions_in.shape
        scores = self.scores(_t(features), captions_in)
        loss = nn.functional.cross_entropy(scores.reshape(N * T, -1), captions_out.reshape(-1),
                                           ignore_index=self.null, reduction="sum") / (N * T)
        loss.backward()
        return loss.detach(), self.named_grads()

    def named_grads(self):
        g = {"W_embed": self.embed.weight.grad, "W_proj": self.proj.weight.grad.T,
             "b_proj": self.proj.bias.grad, "W_vocab": self.vocab.weight.grad.T,
             "b_vocab": self.vocab.bias.grad}
        for l, mod in enumerate(self.decoder.layers):
            pre = "layers.%d." % l
            for attn, name in ((mod.self_attn, "self_attn"), (mod.multihead_attn, "cross_attn")):
                Wq, Wk, Wv = attn.in_proj_weight.grad.chunk(3)
                bq, bk, bv = attn.in_proj_bias.grad.chunk(3)
                g.update({pre + name + ".Wq": Wq.T, pre + name + ".Wk": Wk.T,
                          pre + name + ".Wv": Wv.T, pre + name + ".bq": bq,
                          pre + name + ".bk": bk, pre + name + ".bv": bv,
                          pre + name + ".Wo": attn.out_proj.weight.grad.T,
                          pre + name + ".bo": attn.out_proj.bias.grad})
            for i in (1, 2, 3):
                g[pre + "norm%d.gamma" % i] = getattr(mod, "norm%d" % i).weight.grad
                g[pre + "norm%d.beta" % i] = getattr(mod, "norm%d" % i).bias.grad
            g.update({pre + "ffn.W1": mod.linear1.weight.grad.T,
                      pre + "ffn.b1": mod.linear1.bias.grad,
                      pre + "ffn.W2": mod.linear2.weight.grad.T,
                      pre + "ffn.b2": mod.linear2.bias.grad})
        return g

    @torch.inference_mode()
    def sample(self, features, max_length, start, end):
        """Greedy captions as CS231n's sample() computes them (the whole partial caption through
        the decoder at every step), with CaptioningTransformer.sample's conventions: <NULL>
        after a row's <END>. Returns a numpy array (N, max_length)."""
        features = _t(features)
        N = features.shape[0]
        memory = self.proj(features).unsqueeze(1)
        captions = torch.full((N, max_length), self.null, dtype=torch.int64)
        partial = torch.full((N, 1), start, dtype=torch.int64)
        done = torch.zeros(N, dtype=torch.bool)
        for t in range(max_length):
            x = self.embed(partial) + self.positions[:t + 1]
            causal = torch.triu(torch.ones(t + 1, t + 1, dtype=torch.bool), diagonal=1)
            words = self.vocab(self.decoder(x, memory, tgt_mask=causal)[:, -1]).argmax(dim=1)
            captions[~done, t] = words[~done]
            done |= words == end
            if bool(done.all()):
                break
            partial = torch.cat([partial, words[:, None]], dim=1)
        return captions.numpy()
