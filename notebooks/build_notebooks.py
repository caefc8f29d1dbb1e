"""Write RNN_Captioning.ipynb, LSTM_Captioning.ipynb, Attention_Captioning.ipynb and
Transformer_Captioning.ipynb from the cell texts in this file.

Edit the cells here, then run `python notebooks/build_notebooks.py`. The notebooks are written
without outputs and with fixed cell ids, so that a rebuild of unchanged text is byte-identical
and diffs stay readable. tests/test_notebooks.py checks that the committed notebooks match.

Answers to inline questions sit between solution markers (`# BEGIN SOLUTION` / `# END SOLUTION`
in code cells, `<!-- BEGIN SOLUTION -->` / `<!-- END SOLUTION -->` in markdown cells), which the
exercise mode cuts out for students.
"""
import os
import sys
import textwrap

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = os.path.dirname(os.path.abspath(__file__))
NOTEBOOKS = ("RNN_Captioning.ipynb", "LSTM_Captioning.ipynb", "Attention_Captioning.ipynb",
             "Transformer_Captioning.ipynb")


def md(text):
    return ("markdown", textwrap.dedent(text).strip("\n"))


def code(text):
    return ("code", textwrap.dedent(text).strip("\n"))


def answer(text):
    """A markdown answer cell; the answer itself is a solution region."""
    body = textwrap.dedent(text).strip("\n")
    return ("markdown", "**Your answer:**\n\n<!-- BEGIN SOLUTION -->\n%s\n<!-- END SOLUTION -->"
            % body)


# ============================================================================ shared sections

def setup_cells(title, intro):
    return [
        md("# %s\n\n%s" % (title, intro)),
        code("""
            # The CS231n imports, with cs231n. -> rnncap.
            import textwrap
            import time

            import numpy as np
            import matplotlib.pyplot as plt

            from rnncap.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array
            from rnncap.gradient_check import rel_error
            from rnncap.rnn_layers import *
            from rnncap.captioning_solver import CaptioningSolver
            from rnncap.classifiers.rnn import CaptioningRNN
            from rnncap.coco_utils import load_coco_data, sample_coco_minibatch, decode_captions
            from rnncap.image_utils import image_from_url

            %matplotlib inline
            plt.rcParams['figure.figsize'] = (10.0, 8.0)
            plt.rcParams['image.interpolation'] = 'nearest'
            plt.rcParams['image.cmap'] = 'gray'
            """),
        md("""
            A helper for looking at images with captions. Many COCO images are Flickr URLs that no
            longer exist; `image_from_url` then warns and returns `None`, and we draw a grey
            placeholder instead of crashing.
            """),
        code("""
            def show_captioned_images(urls, titles, ncols=4):
                \"\"\"Draw the images at `urls`, ncols to a row, each under its title (a string).\"\"\"
                titles = ['\\n'.join(textwrap.fill(line, 36) for line in title.split('\\n'))
                          for title in titles]
                title_lines = max(title.count('\\n') + 1 for title in titles)
                for first in range(0, len(urls), ncols):  # one figure per row: titles never overlap
                    fig, axes = plt.subplots(1, ncols, squeeze=False,
                                             figsize=(3.6 * ncols, 3.4 + 0.15 * title_lines))
                    for ax in axes.ravel():
                        ax.axis('off')
                    for ax, url, title in zip(axes.ravel(), urls[first:first + ncols],
                                              titles[first:first + ncols]):
                        img = image_from_url(url)
                        if img is None:  # dead link: say so instead of failing
                            img = np.full((64, 64, 3), 200, dtype=np.uint8)
                            ax.text(32, 32, 'image unavailable', ha='center', va='center')
                        ax.imshow(img)
                        ax.set_title(title, fontsize=8, loc='left')
                    plt.tight_layout()
                    plt.show()

            # A dead link (here a file that does not exist) gives a warning and the placeholder.
            show_captioned_images(['file:///nonexistent/COCO_val2014_000000000000.jpg'],
                                  ['an image that cannot be had'], ncols=1)
            """),
    ]


def data_cells():
    return [
        md("""
            ## The data

            The classic assignment uses COCO 2014 captions with image features precomputed by a
            VGG-16 network (fc7, 4096 numbers per image, or 512 after PCA). Run
            `get_coco_captioning.sh` to fetch it (about 1 GB). Without it this notebook uses the
            built-in **shapes** dataset: small pictures of coloured geometric objects, five
            captions each, stored in exactly the same files and layout, so every line below works
            unchanged on either. `resolve_dataset()` picks COCO when it is present.

            Captions are integer arrays: each word is an index into the vocabulary, with the
            special tokens `<NULL>` (padding), `<START>`, `<END>` and `<UNK>` (a rare word).
            """),
        code("""
            from rnncap.coco_utils import resolve_dataset

            data_dir, data_kind = resolve_dataset()
            print('Using the %s dataset in %s' % (data_kind, data_dir))

            data = load_coco_data(data_dir, pca_features=True)
            for k, v in data.items():
                if isinstance(v, np.ndarray):
                    print(k, type(v), v.shape, v.dtype)
                else:
                    print(k, type(v), len(v))
            """),
        md("""
            ### Look at the data

            A few training captions, decoded back to words, over their images. Run the cell a few
            times to see others. Note that every caption starts with `<START>` and ends with
            `<END>`.
            """),
        code("""
            batch_size = 4
            captions, features, urls = sample_coco_minibatch(data, batch_size=batch_size)
            show_captioned_images(urls, decode_captions(captions, data['idx_to_word']))
            """),
    ]


def rnn_layer_cells():
    return [
        md("""
            ## Vanilla RNN: one step

            A recurrent network reads a sequence one element at a time and keeps a hidden state
            $h_t$ that summarises what it has read so far. The vanilla RNN updates it with

            $$h_t = \\tanh(x_t W_x + h_{t-1} W_h + b).$$

            `rnn_step_forward` does this for a minibatch of N sequences at once. As in the
            CS231n assignment, we run it on fixed, evenly spaced inputs and compare with the
            values the assignment publishes; the error should be around `1e-8` or less (the
            expected values are rounded to 8 digits).
            """),
        code("""
            N, D, H = 3, 10, 4
            x = np.linspace(-0.4, 0.7, num=N * D).reshape(N, D)
            prev_h = np.linspace(-0.2, 0.5, num=N * H).reshape(N, H)
            Wx = np.linspace(-0.1, 0.9, num=D * H).reshape(D, H)
            Wh = np.linspace(-0.3, 0.7, num=H * H).reshape(H, H)
            b = np.linspace(-0.2, 0.4, num=H)

            next_h, _ = rnn_step_forward(x, prev_h, Wx, Wh, b)

            expected_next_h = np.asarray([
                [-0.58172089, -0.50182032, -0.41232771, -0.31410098],
                [0.66854692, 0.79562378, 0.87755553, 0.92795967],
                [0.97934501, 0.99144213, 0.99646691, 0.99854353]])

            print('next_h relative error: %.2e' % rel_error(expected_next_h, next_h))
            """),
        md("""
            ## Vanilla RNN: one step backward

            Every backward pass is checked against numeric gradients: centred differences
            $(f(x + h) - f(x - h)) / 2h$ of the forward function, one input entry at a time. In
            float64 the relative errors should be around `1e-8` or smaller.
            """),
        code("""
            np.random.seed(231)
            N, D, H = 4, 5, 6
            x = np.random.randn(N, D)
            h = np.random.randn(N, H)
            Wx = np.random.randn(D, H)
            Wh = np.random.randn(H, H)
            b = np.random.randn(H)

            out, cache = rnn_step_forward(x, h, Wx, Wh, b)
            dnext_h = np.random.randn(*out.shape)

            fx = lambda x: rnn_step_forward(x, h, Wx, Wh, b)[0]
            fh = lambda h: rnn_step_forward(x, h, Wx, Wh, b)[0]
            fWx = lambda Wx: rnn_step_forward(x, h, Wx, Wh, b)[0]
            fWh = lambda Wh: rnn_step_forward(x, h, Wx, Wh, b)[0]
            fb = lambda b: rnn_step_forward(x, h, Wx, Wh, b)[0]

            dx_num = eval_numerical_gradient_array(fx, x, dnext_h)
            dprev_h_num = eval_numerical_gradient_array(fh, h, dnext_h)
            dWx_num = eval_numerical_gradient_array(fWx, Wx, dnext_h)
            dWh_num = eval_numerical_gradient_array(fWh, Wh, dnext_h)
            db_num = eval_numerical_gradient_array(fb, b, dnext_h)

            dx, dprev_h, dWx, dWh, db = rnn_step_backward(dnext_h, cache)

            print('dx relative error: %.2e' % rel_error(dx_num, dx))
            print('dprev_h relative error: %.2e' % rel_error(dprev_h_num, dprev_h))
            print('dWx relative error: %.2e' % rel_error(dWx_num, dWx))
            print('dWh relative error: %.2e' % rel_error(dWh_num, dWh))
            print('db relative error: %.2e' % rel_error(db_num, db))
            """),
        md("""
            ## Vanilla RNN: a whole sequence

            `rnn_forward` runs the step over all T timesteps, starting from the initial state
            `h0`, and returns every hidden state, shape (N, T, H). Again the expected values are
            the published ones of the assignment.
            """),
        code("""
            N, T, D, H = 2, 3, 4, 5
            x = np.linspace(-0.1, 0.3, num=N * T * D).reshape(N, T, D)
            h0 = np.linspace(-0.3, 0.1, num=N * H).reshape(N, H)
            Wx = np.linspace(-0.2, 0.4, num=D * H).reshape(D, H)
            Wh = np.linspace(-0.4, 0.1, num=H * H).reshape(H, H)
            b = np.linspace(-0.7, 0.1, num=H)

            h, _ = rnn_forward(x, h0, Wx, Wh, b)

            expected_h = np.asarray([
                [[-0.42070749, -0.27279261, -0.11074945, 0.05740409, 0.22236251],
                 [-0.39525808, -0.22554661, -0.0409454, 0.14649412, 0.32397316],
                 [-0.42305111, -0.24223728, -0.04287027, 0.15997045, 0.35014525]],
                [[-0.55857474, -0.39065825, -0.19198182, 0.02378408, 0.23735671],
                 [-0.27150199, -0.07088804, 0.13562939, 0.33099728, 0.50158768],
                 [-0.51014825, -0.30524429, -0.06755202, 0.17806392, 0.40333043]]])

            print('h relative error: %.2e' % rel_error(expected_h, h))
            """),
        md("""
            ## Vanilla RNN: backward through time

            The upstream gradient `dh` has shape (N, T, H): in a captioning model every hidden
            state feeds a word prediction, so every timestep receives gradient from the loss, on
            top of what flows back from the later timesteps.
            """),
        code("""
            np.random.seed(231)
            N, D, T, H = 2, 3, 10, 5
            x = np.random.randn(N, T, D)
            h0 = np.random.randn(N, H)
            Wx = np.random.randn(D, H)
            Wh = np.random.randn(H, H)
            b = np.random.randn(H)

            out, cache = rnn_forward(x, h0, Wx, Wh, b)
            dout = np.random.randn(*out.shape)
            dx, dh0, dWx, dWh, db = rnn_backward(dout, cache)

            fx = lambda x: rnn_forward(x, h0, Wx, Wh, b)[0]
            fh0 = lambda h0: rnn_forward(x, h0, Wx, Wh, b)[0]
            fWx = lambda Wx: rnn_forward(x, h0, Wx, Wh, b)[0]
            fWh = lambda Wh: rnn_forward(x, h0, Wx, Wh, b)[0]
            fb = lambda b: rnn_forward(x, h0, Wx, Wh, b)[0]

            dx_num = eval_numerical_gradient_array(fx, x, dout)
            dh0_num = eval_numerical_gradient_array(fh0, h0, dout)
            dWx_num = eval_numerical_gradient_array(fWx, Wx, dout)
            dWh_num = eval_numerical_gradient_array(fWh, Wh, dout)
            db_num = eval_numerical_gradient_array(fb, b, dout)

            print('dx relative error: %.2e' % rel_error(dx_num, dx))
            print('dh0 relative error: %.2e' % rel_error(dh0_num, dh0))
            print('dWx relative error: %.2e' % rel_error(dWx_num, dWx))
            print('dWh relative error: %.2e' % rel_error(dWh_num, dWh))
            print('db relative error: %.2e' % rel_error(db_num, db))
            """),
        md("""
            ## Word embedding

            The network cannot read word indices directly. Each vocabulary word gets a learned
            vector, a row of the matrix `W` of shape (V, D); `word_embedding_forward` replaces every
            index in the (N, T) array of captions by its row. The expected values are the
            published ones (`W` holds the multiples of 1/14, so row k is k*3/14, (k*3+1)/14,
            (k*3+2)/14).
            """),
        code("""
            N, T, V, D = 2, 4, 5, 3
            x = np.array([[0, 3, 1, 2], [2, 1, 0, 3]])
            W = np.linspace(0, 1, num=V * D).reshape(V, D)

            out, _ = word_embedding_forward(x, W)

            expected_out = np.asarray([
                [[0., 0.07142857, 0.14285714],
                 [0.64285714, 0.71428571, 0.78571429],
                 [0.21428571, 0.28571429, 0.35714286],
                 [0.42857143, 0.5, 0.57142857]],
                [[0.42857143, 0.5, 0.57142857],
                 [0.21428571, 0.28571429, 0.35714286],
                 [0., 0.07142857, 0.14285714],
                 [0.64285714, 0.71428571, 0.78571429]]])

            print('out relative error: %.2e' % rel_error(expected_out, out))
            """),
        md("""
            In the backward pass a word that appears several times in the batch collects the
            gradient of every appearance.
            """),
        code("""
            np.random.seed(231)
            N, T, V, D = 50, 3, 5, 6
            x = np.random.randint(V, size=(N, T))
            W = np.random.randn(V, D)

            out, cache = word_embedding_forward(x, W)
            dout = np.random.randn(*out.shape)
            dW = word_embedding_backward(dout, cache)

            f = lambda W: word_embedding_forward(x, W)[0]
            dW_num = eval_numerical_gradient_array(f, W, dout)

            print('dW relative error: %.2e' % rel_error(dW, dW_num))
            """),
        md("""
            ## Temporal affine layer

            At every timestep the hidden state is turned into one score per vocabulary word by
            the same affine map; `temporal_affine_forward` applies it to all N x T vectors at once.

            Two properties that any correct implementation has check the forward pass: an input
            vector that is the d-th unit vector gives row d of `w` plus `b` (here the T = D
            timesteps of one sequence hold the D unit vectors), and the layer is affine, so
            doubling the input gives twice the output minus `b`. The numeric gradients check
            the rest.
            """),
        code("""
            np.random.seed(231)
            N, T, D, M = 2, 3, 4, 5
            x = np.random.randn(N, T, D)
            w = np.random.randn(D, M)
            b = np.random.randn(M)

            out, cache = temporal_affine_forward(x, w, b)
            print('out shape:', out.shape)

            unit_vectors = np.eye(D)[None]  # one sequence, D timesteps
            rows, _ = temporal_affine_forward(unit_vectors, w, b)
            print('unit-vector out relative error: %.2e' % rel_error(w + b, rows[0]))
            doubled, _ = temporal_affine_forward(2 * x, w, b)
            print('doubled-input out relative error: %.2e' % rel_error(2 * out - b, doubled))

            dout = np.random.randn(*out.shape)
            dx, dw, db = temporal_affine_backward(dout, cache)

            fx = lambda x: temporal_affine_forward(x, w, b)[0]
            fw = lambda w: temporal_affine_forward(x, w, b)[0]
            fb = lambda b: temporal_affine_forward(x, w, b)[0]

            dx_num = eval_numerical_gradient_array(fx, x, dout)
            dw_num = eval_numerical_gradient_array(fw, w, dout)
            db_num = eval_numerical_gradient_array(fb, b, dout)

            print('dx relative error: %.2e' % rel_error(dx_num, dx))
            print('dw relative error: %.2e' % rel_error(dw_num, dw))
            print('db relative error: %.2e' % rel_error(db_num, db))
            """),
        md("""
            ## Temporal softmax loss

            At each timestep the model predicts the next word, and the loss is the softmax
            cross-entropy of that prediction. Captions have different lengths and are padded with
            `<NULL>`; the boolean `mask` says which positions hold a real target, and only those
            count. The sum over the unmasked positions is divided by N, the number of captions
            (not by the number of words).

            First a sanity check: with small random scores every one of V words is about equally
            likely, so each counted position costs about $\\log V$ and the loss is about
            $\\log V$ times the average number of unmasked positions per caption.
            """),
        code("""
            def random_loss(N, T, V, p):
                x = 0.001 * np.random.randn(N, T, V)
                y = np.random.randint(V, size=(N, T))
                mask = np.random.rand(N, T) <= p
                return temporal_softmax_loss(x, y, mask)[0], np.log(V) * mask.sum() / N

            np.random.seed(231)
            for N, T, V, p in [(100, 1, 10, 1.0), (100, 10, 10, 1.0), (5000, 10, 10, 0.1)]:
                loss, expected = random_loss(N, T, V, p)
                print('N=%4d T=%2d V=%2d p=%.1f   loss %.4f   log(V) * tokens / N = %.4f'
                      % (N, T, V, p, loss, expected))
            """),
        md("""
            Next an exact value: when all V scores of a position are equal (whatever their value),
            every word has probability exactly 1/V, so the loss is exactly $\\log V$ times the
            number of unmasked positions, divided by N. Then the gradient with respect to random
            scores. One caption is fully masked: it must add nothing to the loss and get zero
            gradient.
            """),
        code("""
            np.random.seed(231)
            N, T, V = 4, 5, 7
            y = np.random.randint(V, size=(N, T))
            mask = np.random.rand(N, T) > 0.3
            mask[2] = False  # a caption with nothing to predict

            loss, _ = temporal_softmax_loss(np.full((N, T, V), 3.0), y, mask)
            expected_loss = np.log(V) * mask.sum() / N
            print('loss relative error: %.2e' % rel_error(expected_loss, loss))

            x = np.random.randn(N, T, V)
            loss, dx = temporal_softmax_loss(x, y, mask)

            dx_num = eval_numerical_gradient(lambda x: temporal_softmax_loss(x, y, mask)[0], x,
                                             verbose=False)
            print('dx relative error: %.2e' % rel_error(dx, dx_num))
            print('gradient of the masked caption is zero:', np.all(dx[2] == 0))
            """),
    ]


def lstm_layer_cells():
    return [
        md("""
            ## LSTM: one step

            An LSTM keeps two vectors per sequence: the hidden state $h_t$ and the cell state
            $c_t$. From the input and the previous hidden state it computes one activation vector
            $a = x_t W_x + h_{t-1} W_h + b$ of size 4H and cuts it into four blocks, in the order
            $a_i, a_f, a_o, a_g$:

            $$i = \\sigma(a_i), \\quad f = \\sigma(a_f), \\quad o = \\sigma(a_o), \\quad
              g = \\tanh(a_g),$$
            $$c_t = f \\odot c_{t-1} + i \\odot g, \\qquad h_t = o \\odot \\tanh(c_t).$$

            The input gate $i$ decides how much of the candidate $g$ to write, the forget gate
            $f$ how much of the old cell to keep, the output gate $o$ how much of the cell to
            show. $\\sigma$ is the logistic sigmoid. As in the CS231n assignment, the check runs
            the step on fixed, evenly spaced inputs and compares with the values the assignment
            publishes; the errors should be around `1e-8` or less.
            """),
        code("""
            N, D, H = 3, 4, 5
            x = np.linspace(-0.4, 1.2, num=N * D).reshape(N, D)
            prev_h = np.linspace(-0.3, 0.7, num=N * H).reshape(N, H)
            prev_c = np.linspace(-0.4, 0.9, num=N * H).reshape(N, H)
            Wx = np.linspace(-2.1, 1.3, num=4 * D * H).reshape(D, 4 * H)
            Wh = np.linspace(-0.7, 2.2, num=4 * H * H).reshape(H, 4 * H)
            b = np.linspace(0.3, 0.7, num=4 * H)

            next_h, next_c, cache = lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)

            expected_next_h = np.asarray([
                [0.24635157, 0.28610883, 0.32240467, 0.35525807, 0.38474904],
                [0.49223563, 0.55611431, 0.61507696, 0.66844003, 0.7159181],
                [0.56735664, 0.66310127, 0.74419266, 0.80889665, 0.858299]])
            expected_next_c = np.asarray([
                [0.32986176, 0.39145139, 0.451556, 0.51014116, 0.56717407],
                [0.66382255, 0.76674007, 0.87195994, 0.97902709, 1.08751345],
                [0.74192008, 0.90592151, 1.07717006, 1.25120233, 1.42395676]])

            print('next_h relative error: %.2e' % rel_error(expected_next_h, next_h))
            print('next_c relative error: %.2e' % rel_error(expected_next_c, next_c))
            """),
        md("""
            ## LSTM: one step backward

            The step has two outputs, so its backward pass receives two upstream gradients,
            `dnext_h` and `dnext_c`. We check each input's gradient numerically through both
            outputs: the numeric gradient of `sum(next_h * dnext_h) + sum(next_c * dnext_c)`.
            """),
        code("""
            np.random.seed(231)
            N, D, H = 4, 5, 6
            x = np.random.randn(N, D)
            prev_h = np.random.randn(N, H)
            prev_c = np.random.randn(N, H)
            Wx = np.random.randn(D, 4 * H)
            Wh = np.random.randn(H, 4 * H)
            b = np.random.randn(4 * H)

            next_h, next_c, cache = lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
            dnext_h = np.random.randn(*next_h.shape)
            dnext_c = np.random.randn(*next_c.shape)
            dx, dh, dc, dWx, dWh, db = lstm_step_backward(dnext_h, dnext_c, cache)

            def numeric(name, value):
                \"\"\"Numeric gradient with respect to one input, through both outputs.\"\"\"
                inputs = {'x': x, 'prev_h': prev_h, 'prev_c': prev_c, 'Wx': Wx, 'Wh': Wh, 'b': b}
                def outputs(v, k):
                    args = dict(inputs, **{name: v})
                    return lstm_step_forward(args['x'], args['prev_h'], args['prev_c'],
                                             args['Wx'], args['Wh'], args['b'])[k]
                through_h = eval_numerical_gradient_array(lambda v: outputs(v, 0), value, dnext_h)
                through_c = eval_numerical_gradient_array(lambda v: outputs(v, 1), value, dnext_c)
                return through_h + through_c

            print('dx relative error: %.2e' % rel_error(numeric('x', x), dx))
            print('dh relative error: %.2e' % rel_error(numeric('prev_h', prev_h), dh))
            print('dc relative error: %.2e' % rel_error(numeric('prev_c', prev_c), dc))
            print('dWx relative error: %.2e' % rel_error(numeric('Wx', Wx), dWx))
            print('dWh relative error: %.2e' % rel_error(numeric('Wh', Wh), dWh))
            print('db relative error: %.2e' % rel_error(numeric('b', b), db))
            """),
        md("""
            ## LSTM: a whole sequence

            `lstm_forward` starts from the hidden state `h0` and a cell state of zeros, and
            returns the hidden states of all timesteps. The expected values are again the
            published ones.
            """),
        code("""
            N, D, H, T = 2, 5, 4, 3
            x = np.linspace(-0.4, 0.6, num=N * T * D).reshape(N, T, D)
            h0 = np.linspace(-0.4, 0.8, num=N * H).reshape(N, H)
            Wx = np.linspace(-0.2, 0.9, num=4 * D * H).reshape(D, 4 * H)
            Wh = np.linspace(-0.3, 0.6, num=4 * H * H).reshape(H, 4 * H)
            b = np.linspace(0.2, 0.7, num=4 * H)

            h, _ = lstm_forward(x, h0, Wx, Wh, b)

            expected_h = np.asarray([
                [[0.01764008, 0.01823233, 0.01882671, 0.0194232],
                 [0.11287491, 0.12146228, 0.13018446, 0.13902939],
                 [0.31358768, 0.33338627, 0.35304453, 0.37250975]],
                [[0.45767879, 0.4761092, 0.4936887, 0.51041945],
                 [0.6704845, 0.69350089, 0.71486014, 0.7346449],
                 [0.81733511, 0.83677871, 0.85403753, 0.86935314]]])

            print('h relative error: %.2e' % rel_error(expected_h, h))
            """),
        md("""
            ## LSTM: backward through time

            `rel_error` reports the largest relative error over all entries. An entry that
            happens to be small (a few entries of `dWh` here are around 2e-5) carries the
            absolute rounding error of the numeric estimate, about 1e-10, as a relative error
            of 1e-6 or so: that is fine, a wrong backward pass gives 1e-2 or more. The weights
            are scaled by one over the square root of their fan-in, as in a real
            initialisation; with unit-variance weights many gates saturate, more entries are
            tiny and the maximum grows further.
            """),
        code("""
            np.random.seed(231)
            N, D, T, H = 2, 3, 10, 6
            x = np.random.randn(N, T, D)
            h0 = np.random.randn(N, H)
            Wx = np.random.randn(D, 4 * H) / np.sqrt(D)
            Wh = np.random.randn(H, 4 * H) / np.sqrt(H)
            b = np.random.randn(4 * H)

            out, cache = lstm_forward(x, h0, Wx, Wh, b)
            dout = np.random.randn(*out.shape)
            dx, dh0, dWx, dWh, db = lstm_backward(dout, cache)

            fx = lambda x: lstm_forward(x, h0, Wx, Wh, b)[0]
            fh0 = lambda h0: lstm_forward(x, h0, Wx, Wh, b)[0]
            fWx = lambda Wx: lstm_forward(x, h0, Wx, Wh, b)[0]
            fWh = lambda Wh: lstm_forward(x, h0, Wx, Wh, b)[0]
            fb = lambda b: lstm_forward(x, h0, Wx, Wh, b)[0]

            dx_num = eval_numerical_gradient_array(fx, x, dout)
            dh0_num = eval_numerical_gradient_array(fh0, h0, dout)
            dWx_num = eval_numerical_gradient_array(fWx, Wx, dout)
            dWh_num = eval_numerical_gradient_array(fWh, Wh, dout)
            db_num = eval_numerical_gradient_array(fb, b, dout)

            print('dx relative error: %.2e' % rel_error(dx_num, dx))
            print('dh0 relative error: %.2e' % rel_error(dh0_num, dh0))
            print('dWx relative error: %.2e' % rel_error(dWx_num, dWx))
            print('dWh relative error: %.2e' % rel_error(dWh_num, dWh))
            print('db relative error: %.2e' % rel_error(db_num, db))
            """),
    ]


# The published CS231n model-loss checks: the features' linspace range and the expected loss.
PUBLISHED_LOSS = {"rnn": {"lo": -1.5, "hi": 0.3, "loss": "9.83235591003"},
                  "lstm": {"lo": -0.5, "hi": 1.7, "loss": "9.82445935443"}}
LR_DECAY = {"rnn": 0.95, "lstm": 0.995}  # the classic overfit protocol
# The short real training run: small enough for about half a minute on 2 cores.
TRAIN_RUN = {"rnn": {"hidden_dim": 256, "wordvec_dim": 128},
             "lstm": {"hidden_dim": 128, "wordvec_dim": 128}}


def model_cells(cell):
    return [
        md("""
            ## The captioning model

            `CaptioningRNN` in `rnncap/classifiers/rnn.py` puts the layers together:

            1. an affine layer turns the image features (N, D) into the initial hidden state `h0`;
            2. the caption without its last word, `captions[:, :-1]`, goes through the word
               embedding;
            3. the recurrent cell (`cell_type='%s'`) reads the word vectors starting from `h0`;
            4. a temporal affine layer scores every vocabulary word at every timestep;
            5. the temporal softmax loss compares the scores with the caption shifted by one,
               `captions[:, 1:]`: at each step the target is the next word. Positions whose
               target is `<NULL>` are padding and are masked out.

            We check the loss the CS231n way: every parameter and the input are set to fixed,
            evenly spaced values, and the loss must equal the value the assignment publishes
            (to the 12 digits given, a relative error around `1e-12`). The captions count
            0, 1, 2, 0, 1, ... so some targets are `<NULL>` (index 0) and masking is exercised.
            """ % cell),
        code("""
            N, D, W, H = 10, 20, 30, 40
            word_to_idx = {{'<NULL>': 0, 'cat': 2, 'dog': 3}}
            V = len(word_to_idx)
            T = 13

            model = CaptioningRNN(word_to_idx,
                                  input_dim=D,
                                  wordvec_dim=W,
                                  hidden_dim=H,
                                  cell_type='{c}',
                                  dtype=np.float64)

            # Set all model parameters to fixed values
            for k, v in model.params.items():
                model.params[k] = np.linspace(-1.4, 1.3, num=v.size).reshape(*v.shape)

            features = np.linspace({lo}, {hi}, num=N * D).reshape(N, D)
            captions = (np.arange(N * T) % V).reshape(N, T)

            loss, grads = model.loss(features, captions)
            expected_loss = {loss}

            print('loss: %.11f   expected loss: %.11f' % (loss, expected_loss))
            print('loss relative error: %.2e' % rel_error(expected_loss, loss))
            """.format(c=cell, **PUBLISHED_LOSS[cell])),
        md("""
            Now the gradient of the loss with respect to every parameter, checked numerically on
            a tiny model. Some of the random target words are `<NULL>`, so masking is exercised
            too.

            Two remarks on the numbers. The word vectors start tiny (randn / 100), which makes
            the gradient of `Wx` tiny as well, so small that the rounding error of the loss
            dominates its numeric estimate; for the check we give them unit scale. And a whole
            model has a few gradient entries close to zero, whose *relative* error is large
            although their absolute error is about 1e-11: the maximum over entries (what
            `rel_error` reports) can reach 1e-5 here, while the error relative to the size of the
            whole gradient stays below 1e-8. A mistake in a backward pass shows up as 1e-2 or
            more in both.
            """),
        code("""
            np.random.seed(231)
            batch_size = 2
            timesteps = 3
            input_dim = 4
            wordvec_dim = 5
            hidden_dim = 6
            word_to_idx = {'<NULL>': 0, '<START>': 1, '<END>': 2, 'circle': 3, 'square': 4}
            vocab_size = len(word_to_idx)

            captions = np.random.randint(vocab_size, size=(batch_size, timesteps))
            features = np.random.randn(batch_size, input_dim)

            model = CaptioningRNN(word_to_idx,
                                  input_dim=input_dim,
                                  wordvec_dim=wordvec_dim,
                                  hidden_dim=hidden_dim,
                                  cell_type='%s',
                                  dtype=np.float64)

            model.params['W_embed'] *= 100  # unit-scale word vectors (see above)

            loss, grads = model.loss(features, captions)

            for param_name in sorted(grads):
                f = lambda _: model.loss(features, captions)[0]
                param_grad_num = eval_numerical_gradient(f, model.params[param_name], verbose=False)
                grad = grads[param_name]
                e = rel_error(param_grad_num, grad)
                e_whole = (np.linalg.norm(param_grad_num - grad)
                           / (np.linalg.norm(param_grad_num) + np.linalg.norm(grad)))
                print('%%-8s max relative error: %%.2e   whole-gradient relative error: %%.2e'
                      %% (param_name, e, e_whole))
            """ % cell),
        md("""
            ## Overfit a small dataset

            A model that is correct can memorise a tiny training set: with only 50 captions the
            loss should fall close to zero (not quite to zero when two of the captions describe
            the same image in different words: the model cannot predict both exactly, and the
            smaller the learning rate gets, the more slowly it settles between them). This is the
            classic protocol, seeded so that its log
            is reproducible: seed 231, 50 training captions, hidden size 512, word vectors of size
            256, Adam with learning rate 5e-3, 50 epochs of 2 minibatches of 25, and the learning
            rate multiplied by %s after each epoch.
            """ % LR_DECAY[cell]),
        code("""
            np.random.seed(231)

            small_data = load_coco_data(data_dir, max_train=50)

            small_{c}_model = CaptioningRNN(
                cell_type='{c}',
                word_to_idx=data['word_to_idx'],
                input_dim=data['train_features'].shape[1],
                hidden_dim=512,
                wordvec_dim=256,
            )

            small_{c}_solver = CaptioningSolver(
                small_{c}_model, small_data,
                update_rule='adam',
                num_epochs=50,
                batch_size=25,
                optim_config={{
                    'learning_rate': 5e-3,
                }},
                lr_decay={decay},
                verbose=True, print_every=10,
            )

            tic = time.time()
            small_{c}_solver.train()
            print('Training took %.1f s' % (time.time() - tic))

            # Plot the training losses
            plt.plot(small_{c}_solver.loss_history)
            plt.xlabel('Iteration')
            plt.ylabel('Loss')
            plt.title('Training loss history')
            plt.show()
            """.format(c=cell, decay=LR_DECAY[cell])),
        code("""
            print('Final loss: %f' % small_{c}_solver.loss_history[-1])
            """.format(c=cell)),
        md("""
            ## Test-time sampling

            At training time the model always reads the true previous word. At test time there is
            no caption to read: the model starts from `<START>`, picks the most likely next word,
            feeds it back in as the next input, and so on until it writes `<END>` (greedy
            decoding, `model.sample`). On the training images the overfit model should reproduce
            its captions; on validation images, which it has never seen, it should do poorly: 50
            captions are far too few to learn anything general.
            """),
        code("""
            for split in ['train', 'val']:
                minibatch = sample_coco_minibatch(small_data, split=split, batch_size=4)
                gt_captions, features, urls = minibatch
                gt_captions = decode_captions(gt_captions, data['idx_to_word'])

                sample_captions = small_{c}_model.sample(features)
                sample_captions = decode_captions(sample_captions, data['idx_to_word'])

                titles = ['%s\\nsampled: %s\\ntruth: %s' % (split, sample, gt)
                          for sample, gt in zip(sample_captions, gt_captions)]
                show_captioned_images(urls, titles)
            """.format(c=cell)),
    ]


def beyond_cells(cell):
    run = TRAIN_RUN[cell]
    return [
        md("""
            # Beyond the classic exercise

            ## Measuring caption quality: BLEU and CIDEr-D

            Looking at captions does not scale, so captioning papers report automatic metrics
            that compare a generated caption with the human references of the same image.
            `rnncap.metrics` computes them exactly as the coco-caption toolkit does:

            * **BLEU-n** counts how many of the caption's word n-grams (for every length up to n)
              appear in the references, clipping each n-gram at the most times any single
              reference uses it; it combines the precisions of lengths 1..n by a geometric mean
              and multiplies by a brevity penalty when the captions are shorter than the
              references. Counts are summed over the whole corpus before dividing.
            * **CIDEr-D** weights each n-gram by TF-IDF, so that words that say something about
              this particular image count more than words every caption uses ("a", "the"), and
              takes the cosine similarity with each reference, with a penalty for a different
              length. Because of the IDF weights it only makes sense over many images.

            A small example computed by hand: the hypothesis "a red square" against the references
            "a red circle" and "a blue square". All three of its words occur in a reference, so
            the unigram precision is 3/3; of its two bigrams only "a red" occurs, so the bigram
            precision is 1/2; its length equals the closest reference length, so there is no
            brevity penalty. BLEU-1 = 1 and BLEU-2 = (1 * 1/2)^(1/2) = 0.7071. It has no matching
            3-gram, so BLEU-3 and BLEU-4 are (nearly) zero.
            """),
        code("""
            from rnncap.metrics import bleu, cider_d, evaluate_model

            refs = {0: ['a red circle', 'a blue square']}
            hyps = {0: 'a red square'}
            print('BLEU-1..4:', np.round(bleu(refs, hyps), 4))
            print('by hand:   ', np.round([1.0, np.sqrt(1.0 * 0.5), 0.0, 0.0], 4))
            """),
        md("""
            `evaluate_model(model, data, split, ...)` captions each image of a split once (greedy
            or beam search) and scores the captions against all references of their images.
            The overfit model from above has memorised 50 captions; on the images it was trained
            on it scores well, on the validation images it does not.
            """),
        code("""
            overfit_scores = {{
                'train images': evaluate_model(small_{c}_model, small_data, split='train'),
                'val images': evaluate_model(small_{c}_model, data, split='val', num_images=500),
            }}
            for which, scores in overfit_scores.items():
                print('%-13s' % which, '  '.join('%s %.3f' % (k, scores[k])
                                                for k in ['BLEU-1', 'BLEU-4', 'CIDEr-D']))
            """.format(c=cell)),
        md("""
            ## A short real training run

            Now we train on the whole training split (capped at 20,000 captions, which is all of
            the built-in data; a full COCO epoch takes far longer in NumPy) for two epochs, and
            measure the loss on validation captions after every epoch (`num_val`). The model is
            smaller than in the overfit run ({H} hidden units, word vectors of size {W}), which is
            plenty for the built-in data and keeps the run to about half a minute.
            """.format(H=run["hidden_dim"], W=run["wordvec_dim"])),
        code("""
            max_captions = 20000
            num_train = data['train_captions'].shape[0]
            if num_train > max_captions:  # COCO: a random subset, drawn with its own generator
                keep = np.random.default_rng(0).choice(num_train, max_captions, replace=False)
                train_data = dict(data, train_captions=data['train_captions'][keep],
                                  train_image_idxs=data['train_image_idxs'][keep])
            else:
                train_data = data

            np.random.seed(0)
            {c}_model = CaptioningRNN(
                cell_type='{c}',
                word_to_idx=data['word_to_idx'],
                input_dim=data['train_features'].shape[1],
                hidden_dim={H},
                wordvec_dim={W},
            )
            {c}_solver = CaptioningSolver(
                {c}_model, train_data,
                update_rule='adam',
                num_epochs=2,
                batch_size=100,
                optim_config={{'learning_rate': 1e-2}},
                lr_decay=0.9,
                num_val=500,
                verbose=True, print_every=50,
            )
            tic = time.time()
            {c}_solver.train()
            print('Training took %.1f s' % (time.time() - tic))
            """.format(c=cell, H=run["hidden_dim"], W=run["wordvec_dim"])),
        code("""
            import tempfile
            from IPython.display import display
            from rnncap.plots import plot_loss_curve

            with tempfile.TemporaryDirectory() as tmp:
                fig = plot_loss_curve({c}_solver.loss_history, tmp + '/loss.png',
                                      val_loss_history={c}_solver.val_loss_history)
            display(fig)
            """.format(c=cell)),
        md("""
            The validation loss follows the training loss down: the model is learning what the
            captions have in common with the images, not memorising them. The metrics on the 500
            validation images (never used for training) say the same:
            """),
        code("""
            val_greedy = evaluate_model({c}_model, data, split='val', num_images=500,
                                        return_captions=True)
            val_beam = evaluate_model({c}_model, data, split='val', num_images=500,
                                      decode='beam', beam_size=3, return_captions=True)
            print('%-22s %8s %8s %8s %8s %8s' % ('val, %d images' % val_greedy['num_images'],
                                             'BLEU-1', 'BLEU-2', 'BLEU-3', 'BLEU-4', 'CIDEr-D'))
            for label, scores in [('overfit model, greedy', overfit_scores['val images']),
                                  ('trained, greedy', val_greedy),
                                  ('trained, beam 3', val_beam)]:
                print('%-22s' % label, ' '.join('%8.3f' % scores[k] for k in
                                                ['BLEU-1', 'BLEU-2', 'BLEU-3', 'BLEU-4', 'CIDEr-D']))
            """.format(c=cell)),
        md("""
            ## What BLEU does not see: are the captions true?

            How high can BLEU go here? The references themselves are the yardstick: score each
            image's first reference against its other four. Every reference is true, yet it
            reaches a BLEU-4 of only about 0.7, because the template, the word order and the
            synonyms are drawn at random. A model near that figure writes captions that read
            like the references; BLEU cannot say whether they are *right*.

            The built-in data knows what each image shows (`load_objects`: every object's
            colour, shape, size, cell and box), so we can check each caption exactly.
            `rnncap.shapes.caption_facts` parses a caption with the dataset's grammar into what
            it asserts (each object's size, colour and shape, and a lone object's cell or the
            relation between two objects, with "a left of b" equal to "b right of a");
            `caption_accuracy` compares those facts with the image's. `rnncap evaluate` prints
            the same line.

            Below: the true references; the same references with the relation turned around in
            every two-object caption (one word each, "left" for "right", "over" for "under", so
            every one of them is false); and our model.
            """),
        code("""
            from rnncap.coco_utils import load_objects
            from rnncap.shapes import (caption_accuracy, caption_facts, format_caption_accuracy,
                                       scene_facts)

            if data_kind != 'shapes':
                print('COCO does not record what its images show: no caption accuracy here')
            else:
                records = load_objects(data_dir, 'val')
                ids = sorted(val_greedy['captions'])
                references = {i: [] for i in ids}
                for row, image_id in enumerate(data['val_image_idxs']):
                    if int(image_id) in references:  # decoded without <START> and <END>
                        words = decode_captions(data['val_captions'][row], data['idx_to_word'])
                        references[int(image_id)].append(' '.join(words.split()[1:-1]))
                first = {i: refs[0] for i, refs in references.items()}
                others = {i: refs[1:] for i, refs in references.items()}
                opposite = {'left': 'right', 'right': 'left', 'above': 'below', 'below': 'above',
                            'over': 'under', 'under': 'over'}
                turned = {i: ' '.join(opposite.get(w, w) for w in c.split())
                             if caption_facts(c)['relation'] else c for i, c in first.items()}
                rows = [('references', bleu(others, first)[3], first),
                        ('turned', bleu(others, turned)[3], turned),
                        ('greedy', val_greedy['BLEU-4'], val_greedy['captions']),
                        ('beam 3', val_beam['BLEU-4'], val_beam['captions'])]
                for label, bleu4, captions in rows:
                    accuracy = caption_accuracy([captions[i] for i in ids], [records[i] for i in ids])
                    print('%-10s BLEU-4 %.3f   %s' % (label, bleu4, format_caption_accuracy(accuracy)))
                wrong = [i for i in ids
                         if caption_facts(val_greedy['captions'][i]) != scene_facts(records[i])]
                print()
                for i in wrong[:6]:
                    print('model: %s\\ntruth: %s\\n' % (val_greedy['captions'][i], first[i]))
            """),
        md("""
            The turned references keep almost all of BLEU while more than half of them are
            false: BLEU counts shared words, and one wrong word in a caption costs little. Our
            short run is far from the ceiling and mostly wrong, worst on two objects. Longer
            training closes the BLEU gap but not the truth gap: the default `rnncap train` run
            (a GRU, 8 epochs) reaches a val BLEU-4 of 0.70, the references' level, yet only about
            55% of its greedy captions are fully correct (over 90% of lone objects, under 30% of
            pairs, which it often gets a colour, a shape or the relation wrong). The model reads
            one feature vector at the start and must carry both objects through every word;
            attention, which looks at the image again for each word, is the usual remedy.
            """),
        md("""
            ## Beam search against greedy decoding

            Greedy decoding commits to the single most likely word at every step. A word that
            looks best now can lead to a sentence that is less likely as a whole. Beam search
            keeps the `K` most probable partial captions at each step, extends each by every
            word, and keeps the `K` best of those; the result is the most probable finished
            caption found (`model.sample(features, beam_size=K)`; `beam_size=1` is exactly greedy).

            The training loss of a single caption is its negative log-probability under the
            model, so `model.loss` tells us which of two captions the model prefers. Beam search is
            a heuristic too: the partial caption that greedy decoding would have completed can drop
            out of the beam, so on some images the beam returns a less probable caption than
            greedy. On average it finds more probable ones.
            """),
        code("""
            def caption_log_prob(model, feature, caption):
                \"\"\"log p(caption | image): minus the loss of <START> + caption (N = 1).\"\"\"
                start = np.array([[model.word_to_idx['<START>']]])
                words = np.concatenate([start, caption[None, :]], axis=1)
                return -float(model.loss(feature[None, :], words)[0])

            image_ids = np.unique(data['val_image_idxs'])[:200]
            features = data['val_features'][image_ids]
            greedy = {c}_model.sample(features)
            beam = {c}_model.sample(features, beam_size=3)
            greedy_lp = np.array([caption_log_prob({c}_model, f, g) for f, g in zip(features, greedy)])
            beam_lp = np.array([caption_log_prob({c}_model, f, b) for f, b in zip(features, beam)])

            differ = np.any(greedy != beam, axis=1)
            print('beam search and greedy differ on %d of %d val images' % (differ.sum(), len(differ)))
            print('mean log-probability: greedy %.3f, beam %.3f' % (greedy_lp.mean(), beam_lp.mean()))
            print('beam found a caption at least as probable on %d of %d images'
                  % (np.sum(beam_lp >= greedy_lp - 1e-4), len(differ)))
            """.format(c=cell)),
        md("""
            Captions of validation images, none of which the model has seen, with the greedy and
            the beam caption (and their log-probabilities) over one of the human references. The
            images where the two decoders disagree come first.
            """),
        code("""
            order = np.argsort(~differ, kind='stable')[:8]  # disagreements first
            first_ref = {{}}
            for row, image_id in enumerate(data['val_image_idxs']):
                first_ref.setdefault(int(image_id), row)
            greedy_text = decode_captions(greedy, data['idx_to_word'])
            beam_text = decode_captions(beam, data['idx_to_word'])
            titles = []
            for k in order:
                truth = decode_captions(data['val_captions'][first_ref[int(image_ids[k])]],
                                        data['idx_to_word'])
                titles.append('greedy (%.2f): %s\\nbeam (%.2f): %s\\ntruth: %s'
                              % (greedy_lp[k], greedy_text[k], beam_lp[k], beam_text[k], truth))
            show_captioned_images(data['val_urls'][image_ids[order]], titles)
            """.format(c=cell)),
    ]


def rnn_question_cells():
    return [
        md("""
            ## Inline Question 1

            Our model works with words: every token is one word of a fixed vocabulary. A
            character-level model would read and write one character at a time (letters, digits,
            space, punctuation) instead. Give one advantage and one disadvantage of a
            character-level captioning model compared with a word-level one.
            """),
        answer("""
            *Advantages:* the vocabulary is tiny (tens of symbols instead of thousands), so the
            embedding matrix and the output softmax are small and cheap. Nothing is out of
            vocabulary: the model can spell rare words, names and numbers instead of writing
            `<UNK>`.

            *Disadvantages:* sequences get about five times longer (a ten-word caption is some
            fifty characters), so training and sampling take more steps, and the model has to
            carry information across many more timesteps, which is exactly what recurrent
            networks find hard (question 2). It must also learn to spell before it can learn
            meaning, so it needs more data and training, and it can produce words that do not
            exist.
            """),
        md("""
            ## Inline Question 2: vanishing gradients

            Backpropagation through time multiplies the gradient by the Jacobian of one step,
            $\\partial h_t / \\partial h_{t-1} = \\mathrm{diag}(1 - h_t^2)\\, W_h^T$, once per
            timestep. Measure what is left of it: for sequences of growing length T, use
            `rnn_forward` and `rnn_backward` to get the gradient with respect to `h0` of a loss
            that depends only on the last hidden state (upstream gradient 1 at the last
            timestep, 0 elsewhere), and print its norm per sequence. Then explain what you see
            and what it means for learning.
            """),
        code("""
            np.random.seed(231)
            N, D, H = 10, 20, 32
            Wx = np.random.randn(D, H) / np.sqrt(D)
            Wh = np.random.randn(H, H) / np.sqrt(H)
            b = np.zeros(H)

            for T in [1, 5, 10, 20, 40, 80]:
                x = np.random.randn(N, T, D)
                h0 = np.random.randn(N, H)
                # BEGIN SOLUTION
                # HINT: run rnn_forward, give only the last hidden state a gradient of 1, run rnn_backward, and measure dh0's norm per sequence
                h, cache = rnn_forward(x, h0, Wx, Wh, b)
                dh = np.zeros_like(h)
                dh[:, -1] = 1.0  # the loss looks only at the last hidden state
                dh0 = rnn_backward(dh, cache)[1]
                grad_norm = np.linalg.norm(dh0) / np.sqrt(N)
                # END SOLUTION
                print('T = %2d   |dL/dh0| per sequence: %.2e' % (T, grad_norm))
            """),
        answer("""
            The gradient shrinks geometrically, by a factor of five to ten every five steps: it
            is of order 1 for T = 1, a few times 1e-3 at T = 20, below 1e-6 at T = 40 and about
            1e-14 at T = 80. Each step multiplies it by $\\mathrm{diag}(1 - h_t^2)\\, W_h^T$; the tanh derivative is at
            most 1 (and much smaller for saturated units), so unless $W_h$ is large the product
            shrinks exponentially with the number of steps (when it is large enough the gradient
            explodes instead, which gradient clipping handles). As a result, a word late in the
            caption sends almost no learning signal back to the early words or to the image
            features in `h0`: a vanilla RNN can hardly learn dependencies longer than a few tens
            of steps. The LSTM's additive cell state is the remedy (see the LSTM notebook).
            """),
    ]


def lstm_question_cells():
    return [
        md("""
            ## Inline Question 1

            The LSTM's gates $i$, $f$ and $o$ use the sigmoid. Why not ReLU, which works so well
            in convolutional networks?
            """),
        answer("""
            A gate is a multiplicative switch: it says what fraction of a signal gets through,
            so it must lie between 0 (block) and 1 (pass). The sigmoid gives exactly that,
            smoothly and with a gradient everywhere. A ReLU gate is unbounded: a forget gate
            above 1 would amplify the cell state at every step ($c_t$ grows like $f^t$), so
            activations and gradients explode over long sequences, and input or output gates
            above 1 amplify as well; the cell would stop being a stable memory. Below zero a
            ReLU gate is exactly 0 with zero gradient, so a gate that has closed can never learn
            to open again. (The candidate $g$ uses tanh rather than a sigmoid because it is
            content, which may be negative, not a fraction.)
            """),
    ]


def lstm_gradient_cells():
    return [
        md("""
            ## Inline Question 2: why LSTM gradients survive

            As in the RNN notebook, we measure the gradient that reaches `h0` from a loss on the
            last hidden state only, now for a vanilla RNN, an LSTM with all biases zero (the
            initialisation rnncap and CS231n use), and the same LSTM with the forget-gate
            biases set to 3.
            """),
        code("""
            np.random.seed(231)
            N, D, H = 10, 20, 32
            Wx = np.random.randn(D, H) / np.sqrt(D)
            Wh = np.random.randn(H, H) / np.sqrt(H)
            b = np.zeros(H)
            Wx4 = np.random.randn(D, 4 * H) / np.sqrt(D)
            Wh4 = np.random.randn(H, 4 * H) / np.sqrt(H)
            b4 = np.zeros(4 * H)
            b4_forget = b4.copy()
            b4_forget[H:2 * H] = 3.0  # the f block of the i, f, o, g layout

            def last_state_grad(forward, backward, x, h0, *weights):
                \"\"\"Norm per sequence of d(sum of the last hidden state)/dh0.\"\"\"
                h, cache = forward(x, h0, *weights)
                dh = np.zeros_like(h)
                dh[:, -1] = 1.0
                return np.linalg.norm(backward(dh, cache)[1]) / np.sqrt(len(h0))

            print('   T   vanilla RNN   LSTM, b_f = 0   LSTM, b_f = 3')
            for T in [1, 5, 10, 20, 40, 80]:
                x = np.random.randn(N, T, D)
                h0 = np.random.randn(N, H)
                print('%4d %13.2e %15.2e %15.2e' % (
                    T,
                    last_state_grad(rnn_forward, rnn_backward, x, h0, Wx, Wh, b),
                    last_state_grad(lstm_forward, lstm_backward, x, h0, Wx4, Wh4, b4),
                    last_state_grad(lstm_forward, lstm_backward, x, h0, Wx4, Wh4, b4_forget)))
            """),
        md("""
            Explain the three columns: why does the gradient survive 80 steps in the LSTM with
            forget-gate bias 3, but vanish in the vanilla RNN and in the LSTM with bias 0?
            """),
        answer("""
            Along the cell state, the backward pass multiplies the gradient elementwise by the
            forget gate, $\\partial c_t / \\partial c_{t-1} = f_t$: no weight matrix and no tanh
            derivative lie on this path. With bias 3 the forget gates sit near
            $\\sigma(3) \\approx 0.95$ and take only about 5% off the gradient per step (the table
            still shows it of order 0.1 to 1 after 80 steps), and the network can learn to push
            $f$ towards 1 wherever it needs a long memory. With bias 0 the gates start near 0.5 and $0.5^{40} \\approx 10^{-12}$: the
            cell forgets quickly and its gradient vanishes about as fast as the RNN's, whose
            gradient passes through $W_h$ and the tanh derivative at every step. This is why a
            positive forget-gate bias is a common LSTM initialisation.
            """),
    ]


# ============================================================================ notebooks

def rnn_notebook():
    cells = []
    cells += setup_cells(
        "Image captioning with a vanilla RNN",
        """In this notebook you build a recurrent neural network that writes a caption for an
image. The image enters as a feature vector computed by a convolutional network; the RNN turns it
into an initial hidden state and then generates the caption one word at a time.

You will check each layer (`rnncap/rnn_layers.py`) against the published values of the CS231n
assignment, simple properties and numeric gradients, put the layers together in a captioning model (`rnncap/classifiers/rnn.py`), check its
loss and gradients, overfit it to a tiny training set, and then look at what it says about images
it has never seen. The last part goes beyond the classic exercise: beam search, the BLEU and
CIDEr-D caption metrics, and a short training run that generalises to new images.""")
    cells += data_cells()
    cells += rnn_layer_cells()
    cells += model_cells("rnn")
    cells += rnn_question_cells()
    cells += beyond_cells("rnn")
    return cells


def lstm_notebook():
    cells = []
    cells += setup_cells(
        "Image captioning with an LSTM",
        """The vanilla RNN struggles with long sequences: the gradient that reaches early
timesteps is multiplied by the recurrent Jacobian once per step and tends to vanish (or explode).
The Long Short-Term Memory network (LSTM) fixes this with a separate cell state that is updated
additively, under the control of gates.

This notebook follows the same path as the RNN one: check the LSTM layers against the published
values of the CS231n assignment and numeric gradients, use them in the captioning model, overfit a tiny training set
and caption images; then compare decoding strategies, measure caption quality with BLEU and
CIDEr-D, and train on the whole dataset to caption images the model has never seen.""")
    cells += data_cells()
    cells += lstm_layer_cells()
    cells += lstm_question_cells()
    cells += model_cells("lstm")
    cells += lstm_gradient_cells()
    cells += beyond_cells("lstm")
    return cells


def attention_notebook():
    return [
        md("""
            # Image captioning with attention

            The RNN and LSTM notebooks give the decoder one feature vector per image, at the
            start. Everything the caption needs, both objects with their colours and shapes and
            where they are, must be squeezed into that vector and carried through every word.
            *Show, Attend and Tell* (Xu et al., 2015) keeps a grid of feature vectors instead,
            one per image region, and before each word lets the decoder look at the grid again:
            it scores every region against its hidden state, turns the scores into weights with a
            softmax and reads the weighted average, the *attention embedding*. The weights are a
            map of where the model looks, word by word.

            This notebook follows the attention LSTM of Michigan's EECS 498 (same names and
            arguments), with the backward passes written by hand: you check the forward passes
            on properties that pin them down and every backward pass against numeric gradients,
            overfit a small training set, train on the built-in data and look at the maps.
            """),
        code("""
            import math
            import time

            import numpy as np
            import matplotlib.pyplot as plt
            from IPython.display import display

            from rnncap.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array
            from rnncap.gradient_check import rel_error
            from rnncap.rnn_layers import *
            from rnncap.captioning_solver import CaptioningSolver
            from rnncap.classifiers.rnn import CaptioningRNN
            from rnncap.coco_utils import (load_coco_data, load_objects, resolve_dataset,
                                           sample_coco_minibatch, decode_captions)
            from rnncap.image_utils import image_from_url
            from rnncap.plots import plot_attention

            %matplotlib inline
            plt.rcParams['figure.figsize'] = (10.0, 8.0)
            """),
        md("""
            ## The data: a grid of features per image

            The COCO files of the classic assignment hold one fc7 vector per image and no grid,
            so this notebook uses the built-in **shapes** data, whose feature extractor keeps its
            spatial map: `load_coco_data(..., grid_features=True)` adds `train_grid` and
            `val_grid` of shape (N, C, G, G), a C-vector for each of G x G cells of the image
            (see `docs/data.md` for what the channels hold).

            One preparation step matters. The grid features are non-negative, so every cell
            shares a large common part. Attention scores compare the hidden state with each
            cell; if all cells look alike in one big direction, the first scores are dominated
            by it and the first attention maps come out nearly one-hot on whichever cell is
            largest, and training stalls. Subtracting each channel's mean over the training
            grids (as the PCA vectors are centred) removes that part. `rnncap train` and
            `rnncap overfit` do the same.
            """),
        code("""
            data_dir, data_kind = resolve_dataset('shapes')
            data = load_coco_data(data_dir, pca_features=True, grid_features=True)
            channel_mean = data['train_grid'].mean(axis=(0, 2, 3), keepdims=True)
            for split in ['train', 'val']:
                data[split + '_features'] = data[split + '_grid'] - channel_mean  # the model's input
            N_img, C, G, _ = data['train_features'].shape
            print('train grid features:', data['train_features'].shape, data['train_features'].dtype)
            print('val grid features:  ', data['val_features'].shape)
            print('%d channels at each of %d x %d cells' % (C, G, G))
            """),
        md("""
            ## Dot-product attention

            `dot_product_attention_forward(prev_h, A)` in `rnncap/rnn_layers.py` takes the hidden
            state `prev_h` (N, H) and the projected grid `A` (N, H, D_a, D_a). For every cell it
            computes the score `prev_h · A[:, :, i, j] / sqrt(H)`, takes the softmax over the
            D_a * D_a cells to get `attn_weights` (N, D_a, D_a), and returns the weighted average
            `attn` (N, H) of the cells' vectors.

            Three properties pin it down: a zero hidden state scores every cell 0, so the weights
            are uniform and `attn` is the grid's mean; a cell whose score is far above the others
            takes all the weight; and two cells whose scores differ by `s` have weights in the
            ratio `e^s`, where the division by `sqrt(H)` shows.
            """),
        code("""
            np.random.seed(231)
            N, H, D_a = 3, 8, 4
            A = np.random.randn(N, H, D_a, D_a)

            attn, attn_weights, _ = dot_product_attention_forward(np.zeros((N, H)), A)
            print('uniform weights relative error: %.2e'
                  % rel_error(attn_weights, np.full((N, D_a, D_a), 1 / D_a ** 2)))
            print('uniform attn relative error: %.2e' % rel_error(attn, A.mean(axis=(2, 3))))

            prev_h = np.random.randn(N, H)
            A_peak = A.copy()
            A_peak[:, :, 1, 2] = 100 * prev_h  # a score far above every other cell's
            attn, attn_weights, _ = dot_product_attention_forward(prev_h, A_peak)
            print('peaked weight relative error: %.2e' % rel_error(attn_weights[:, 1, 2], np.ones(N)))
            print('peaked attn relative error: %.2e' % rel_error(attn, A_peak[:, :, 1, 2]))

            # Two cells only (a 1 x 2 grid would not be square: the other two are far below).
            A_two = np.full((1, H, 2, 2), -100.0)
            A_two[0, :, 0, 0] = 1.0
            A_two[0, :, 1, 1] = 0.5
            h_two = np.ones((1, H))  # scores H / sqrt(H) and (H / 2) / sqrt(H)
            _, w, _ = dot_product_attention_forward(h_two, A_two)
            ratio = math.exp((H - H / 2) / math.sqrt(H))
            print('weight ratio relative error: %.2e' % rel_error(w[0, 0, 0] / w[0, 1, 1], ratio))
            """),
        md("""
            ## The attention LSTM step

            `attention_step_forward(x, prev_h, prev_c, Wx, Wh, b, attn, Wattn)` is an LSTM step
            whose pre-activation has one more term: `a = x·Wx + prev_h·Wh + attn·Wattn + b`, then
            the gates `i, f, o, g` as in `lstm_step_forward`. So with `Wattn = 0` it *is* the LSTM
            step, and an attention embedding that is the same for every example acts like a
            bias: it equals the LSTM step with `b + attn·Wattn`.
            """),
        code("""
            np.random.seed(231)
            N, D, H = 3, 5, 4
            x, prev_h, prev_c = np.random.randn(N, D), np.random.randn(N, H), np.random.randn(N, H)
            Wx, Wh = np.random.randn(D, 4 * H), np.random.randn(H, 4 * H)
            Wattn, b = np.random.randn(H, 4 * H), np.random.randn(4 * H)
            attn = np.random.randn(N, H)

            h_lstm, c_lstm, _ = lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
            h_att, c_att, _ = attention_step_forward(x, prev_h, prev_c, Wx, Wh, b, attn,
                                                     np.zeros_like(Wattn))
            print('Wattn = 0 next_h relative error: %.2e' % rel_error(h_att, h_lstm))
            print('Wattn = 0 next_c relative error: %.2e' % rel_error(c_att, c_lstm))

            same = np.tile(attn[:1], (N, 1))  # one embedding for every example
            h_att, c_att, _ = attention_step_forward(x, prev_h, prev_c, Wx, Wh, b, same, Wattn)
            h_bias, c_bias, _ = lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b + same[0] @ Wattn)
            print('as-a-bias next_h relative error: %.2e' % rel_error(h_att, h_bias))
            print('as-a-bias next_c relative error: %.2e' % rel_error(c_att, c_bias))
            """),
        md("""
            `attention_forward(x, A, Wx, Wh, Wattn, b)` runs it over a sequence: the hidden and
            cell states start as the grid's mean vector, `h0 = c0 = A.mean(axis=(2, 3))`, and
            each step first attends from the previous hidden state, then takes the step. One
            step by hand, from the two functions above, must give the same hidden state.
            """),
        code("""
            np.random.seed(231)
            N, T, D, H, D_a = 2, 1, 3, 4, 3
            x = np.random.randn(N, T, D)
            A = np.random.randn(N, H, D_a, D_a)
            Wx, Wh, Wattn = (np.random.randn(k, 4 * H) for k in (D, H, H))
            b = np.random.randn(4 * H)

            h, _ = attention_forward(x, A, Wx, Wh, Wattn, b)
            h0 = A.mean(axis=(2, 3))
            attn, _, _ = dot_product_attention_forward(h0, A)
            h1, _, _ = attention_step_forward(x[:, 0], h0, h0, Wx, Wh, b, attn, Wattn)
            print('one step relative error: %.2e' % rel_error(h[:, 0], h1))
            """),
        md("""
            ## Backward passes, checked numerically

            Each backward pass is written by hand. The gradient reaches `A` three ways in the
            sequence: through the weighted average, through the scores that chose the weights
            (both inside `dot_product_attention_backward`, at every step), and through the
            initial state `h0 = c0 = A.mean(axis=(2, 3))`. The checks below compare every
            gradient with centred differences.
            """),
        code("""
            np.random.seed(231)
            N, D, H, D_a, T = 2, 3, 4, 3, 3

            def check(name, f, x, dout, analytic):
                print('%-22s relative error: %.2e'
                      % (name, rel_error(eval_numerical_gradient_array(f, x, dout), analytic)))

            prev_h, A = np.random.randn(N, H), np.random.randn(N, H, D_a, D_a)
            attn, _, cache = dot_product_attention_forward(prev_h, A)
            dattn = np.random.randn(*attn.shape)
            dprev_h, dA = dot_product_attention_backward(dattn, cache)
            check('attention dprev_h', lambda z: dot_product_attention_forward(z, A)[0], prev_h, dattn, dprev_h)
            check('attention dA', lambda z: dot_product_attention_forward(prev_h, z)[0], A, dattn, dA)

            step = [np.random.randn(N, D), np.random.randn(N, H), np.random.randn(N, H),
                    np.random.randn(D, 4 * H), np.random.randn(H, 4 * H), np.random.randn(4 * H),
                    np.random.randn(N, H), np.random.randn(H, 4 * H)]
            next_h, next_c, cache = attention_step_forward(*step)
            dnext_h, dnext_c = np.random.randn(*next_h.shape), np.random.randn(*next_c.shape)
            grads = attention_step_backward(dnext_h, dnext_c, cache)
            names = ['x', 'prev_h', 'prev_c', 'Wx', 'Wh', 'b', 'attn', 'Wattn']
            for k, (name, grad) in enumerate(zip(names, grads)):
                def f(z, k=k):
                    args = list(step)
                    args[k] = z
                    out_h, out_c, _ = attention_step_forward(*args)
                    return out_h * dnext_h + out_c * dnext_c  # sum of both outputs' terms
                check('step d' + name, f, step[k], np.ones_like(next_h), grad)

            seq = [np.random.randn(N, T, D), np.random.randn(N, H, D_a, D_a),
                   np.random.randn(D, 4 * H), np.random.randn(H, 4 * H),
                   np.random.randn(H, 4 * H), np.random.randn(4 * H)]
            h, cache = attention_forward(*seq)
            dh = np.random.randn(*h.shape)
            grads = attention_backward(dh, cache)
            for k, (name, grad) in enumerate(zip(['x', 'A', 'Wx', 'Wh', 'Wattn', 'b'], grads)):
                def f(z, k=k):
                    args = list(seq)
                    args[k] = z
                    return attention_forward(*args)[0]
                check('sequence d' + name, f, seq[k], dh, grad)
            """),
        md("""
            ## The attention captioning model

            `CaptioningRNN(..., cell_type='attention')` takes grid features (N, C, G, G). It
            projects every cell with `W_proj` (C, H) and `b_proj` to get `A` (N, H, G, G), runs
            `attention_forward` over the caption's word vectors, and scores the vocabulary from
            every hidden state, with the same loss as the other cells. Its parameters are the
            LSTM's plus `Wattn` (H, 4H). A numeric check of every parameter's gradient:
            """),
        code("""
            np.random.seed(231)
            word_to_idx = {'<NULL>': 0, '<START>': 1, '<END>': 2, 'circle': 3, 'square': 4}
            model = CaptioningRNN(word_to_idx, input_dim=3, wordvec_dim=4, hidden_dim=5,
                                  cell_type='attention', dtype=np.float64)
            model.params['W_embed'] *= 100  # unit-scale word vectors, as in the LSTM notebook
            features = np.random.randn(2, 3, 2, 2)  # 2 images, 3 channels on a 2 x 2 grid
            captions = np.random.randint(len(word_to_idx), size=(2, 4))

            loss, grads = model.loss(features, captions)
            for name in sorted(grads):
                numeric = eval_numerical_gradient(lambda _: model.loss(features, captions)[0],
                                                  model.params[name], verbose=False)
                whole = (np.linalg.norm(numeric - grads[name])
                         / (np.linalg.norm(numeric) + np.linalg.norm(grads[name])))
                print('%-8s max relative error: %.2e   whole-gradient relative error: %.2e'
                      % (name, rel_error(numeric, grads[name]), whole))
            """),
        md("""
            ## Overfit a small dataset

            `rnncap overfit --cell attention` runs the classic protocol (seed 231, 50 training
            captions, hidden size 512, word vectors of size 256, Adam with learning rate 5e-3
            and decay 0.995, minibatches of 25) but for 100 epochs where the LSTM needs 50, and
            with the gradient norm clipped to 5: the model starts from the grid's average, which
            says little about objects that cover 4% of the image, and must first learn where to
            look; one large early step can throw that off. It ends below 0.1. Here, to keep the
            notebook quick, the same run with half the hidden and word-vector sizes: it falls
            from about 40 to well below 1.
            """),
        code("""
            np.random.seed(231)
            small_data = load_coco_data(data_dir, max_train=50, grid_features=True)
            for split in ['train', 'val']:
                small_data[split + '_features'] = small_data[split + '_grid'] - channel_mean

            small_model = CaptioningRNN(cell_type='attention', word_to_idx=data['word_to_idx'],
                                        input_dim=C, hidden_dim=256, wordvec_dim=128)
            small_solver = CaptioningSolver(small_model, small_data, update_rule='adam',
                                            num_epochs=100, batch_size=25,
                                            optim_config={'learning_rate': 5e-3},
                                            lr_decay=0.995, clip_norm=5.0, verbose=True,
                                            print_every=20)
            tic = time.time()
            small_solver.train()
            print('Training took %.1f s' % (time.time() - tic))
            print('Final loss: %f' % small_solver.loss_history[-1])
            plt.plot(small_solver.loss_history)
            plt.xlabel('Iteration')
            plt.ylabel('Loss')
            plt.show()
            """),
        md("""
            ## A short training run and where the model looks

            One epoch on the whole training split with a smaller model. `model.sample(features,
            return_attention=True)` returns, beside the greedy captions, the attention weights
            of every step, (N, max_length, G, G): `attn_weights[n, t]` is the map the model
            looked at when it chose word `t`. `rnncap.attention_maps.word_maps` cuts them to the
            words of each caption, and `plot_attention` draws each word over its map, upsampled
            to the image.
            """),
        code("""
            np.random.seed(0)
            attn_model = CaptioningRNN(cell_type='attention', word_to_idx=data['word_to_idx'],
                                       input_dim=C, hidden_dim=128, wordvec_dim=128)
            attn_solver = CaptioningSolver(attn_model, data, update_rule='adam', num_epochs=1,
                                           batch_size=100, optim_config={'learning_rate': 5e-3},
                                           clip_norm=5.0, num_val=500, verbose=True,
                                           print_every=50)
            tic = time.time()
            attn_solver.train()
            print('Training took %.1f s' % (time.time() - tic))
            """),
        code("""
            import tempfile
            from rnncap.attention_maps import word_maps

            val_ids = np.unique(data['val_image_idxs'])[:6]
            words, maps = word_maps(attn_model, data['val_features'][val_ids])
            images = [image_from_url(url) for url in data['val_urls'][val_ids]]
            with tempfile.TemporaryDirectory() as tmp:
                fig = plot_attention(images, words, maps, tmp + '/maps.png',
                                     title='val images: each word over the map it was chosen with')
            display(fig)
            """),
        md("""
            ## Measuring it: caption accuracy and localisation

            The built-in data records every object's colour, shape, size and box (`load_objects`),
            so two numbers go beyond BLEU. **Caption accuracy** parses each caption with the
            dataset's grammar and compares its facts with the image's. **Localisation** asks
            whether the maps point at the object: on val images with a single object, average the
            maps of the steps that say a colour or a shape, and count the image when the cell
            where that map is largest has its centre inside the object's box. Chance is the share
            of cells whose centre lies inside the box. `rnncap evaluate` prints both.
            """),
        code("""
            from rnncap.attention_maps import format_localisation, localisation
            from rnncap.metrics import evaluate_model
            from rnncap.shapes import caption_accuracy, format_caption_accuracy

            records = load_objects(data_dir, 'val')
            scores = evaluate_model(attn_model, data, split='val', return_captions=True)
            ids = sorted(scores['captions'])
            print('val, %d images: BLEU-4 %.3f' % (scores['num_images'], scores['BLEU-4']))
            print(format_caption_accuracy(caption_accuracy([scores['captions'][i] for i in ids],
                                                           [records[i] for i in ids])))
            print(format_localisation(localisation(attn_model, data['val_features'][ids],
                                                   [records[i] for i in ids])))
            """),
        md("""
            One epoch is a short run. The default `rnncap train --cell attention` (8 epochs)
            goes much further; `docs/cli.md` compares it with the RNN, the LSTM and the GRU on
            all three numbers.
            """),
    ]


def _indented(text):
    """A literal's continuation lines indented like the code cell templates (12 spaces)."""
    return text.replace("\n", "\n" + " " * 12)


# PyTorch's outputs (tests/fixtures/transformer/make_fixtures.py prints them).
SELF = """expected_self_attn_out = np.asarray([
    [[-1.33043851, 3.67381468, -0.10130833, -0.60094935, -1.74181314,
      0.70437331, 2.05483977, -1.46110731],
     [-1.95656144, 1.68946931, -2.52267445, 0.10501076, -1.14246746,
      -0.64669877, 2.53444439, -5.28056701],
     [-2.55247898, 1.99361894, -3.52973720, 0.07346353, -1.39109940,
      -0.68433181, 2.76658444, -6.18162292]],
    [[-1.20245385, 0.70016180, -0.96390008, -1.30838862, -0.43747377,
      0.56780382, -0.07218875, -6.15804374],
     [-2.71998210, 0.70464585, -5.41942579, 1.84430789, -1.67977958,
      -1.75653662, 4.14321559, -8.71048069],
     [-2.00679222, 0.72053110, -3.21893962, 0.53990833, -1.06912303,
      -0.75101534, 2.45579583, -7.82086771]]])"""
MASKED = """expected_masked_attn_out = np.asarray([
    [[0.02557318, 2.88498228, 1.58995965, -2.03346865, -1.43508930,
      2.10584043, -0.52717518, -1.28342796],
     [-1.05576151, 2.73083901, 0.67154871, -0.30840650, -1.08429187,
      0.99284598, 1.43060743, -2.96208983],
     [-1.51843371, 3.18869947, 1.45131097, -2.37393808, 0.83725279,
      2.66351404, -2.27838502, -3.59876654]],
    [[-0.48972772, 1.18529447, 0.39903132, -1.56730384, -0.70347752,
      1.52616748, -0.04642370, -2.69651795],
     [0.26273931, 2.30320338, 2.74580514, -1.47970862, -1.75209327,
      2.40703937, 0.70839797, 0.46325023],
     [0.00570808, 2.03543907, 2.41521328, -2.06167170, -0.47680387,
      2.53855184, -0.79151848, -0.27128139]]])"""
POSITIONS = """expected_positions = np.asarray([
    [0.00000000, 1.00000000, 0.00000000, 1.00000000, 0.00000000,
     1.00000000],
    [0.84147098, 0.54030231, 0.04639922, 0.99892298, 0.00215443,
     0.99999768],
    [0.90929743, -0.41614684, 0.09269850, 0.99569422, 0.00430886,
     0.99999072],
    [0.14112001, -0.98999250, 0.13879810, 0.99032070, 0.00646326,
     0.99997911]])"""
DECODER = """expected_decoder_out = np.asarray([
    [[1.47312958, -1.81335662, 0.39076261, 0.74288951, 0.71374335,
      -0.82939151, -0.15670500, 0.22052703],
     [1.03052686, -1.66026895, 0.94729641, -0.38977814, 1.37660426,
      -0.64143693, -0.45597667, 0.58362702],
     [1.32652463, -1.72031102, -0.06031557, 0.33080183, 0.88312430,
      -0.54776743, -0.50666086, 0.99896527]],
    [[-0.46218897, -1.48427814, -0.21060782, 0.27076163, 2.22797197,
      0.67171923, -0.07317855, -0.13329527],
     [-0.45745350, -0.56255801, 0.15848119, -0.92570105, 2.07500374,
      1.42607854, -0.00807307, -0.88415077],
     [-0.46032899, -0.40462371, -0.08375133, -0.75675245, 1.93105010,
      1.45302819, 0.40521564, -1.28266588]]])"""


# ============================================================================ the Transformer
# The expected values of the forward checks come from PyTorch: the CS231n modules, written in
# tests/fixtures/transformer/make_fixtures.py, run on the same numpy draws (that script prints
# them). The model's loss is the CS231n notebook's check (every parameter set to linspace values).

def transformer_setup_cells():
    return [
        md("""
            ## The layers

            `rnncap/transformer_layers.py` holds the layers of a Transformer decoder, written in
            NumPy with their backward passes, in the CS231n API: every forward returns
            `(out, cache)`, every weight `W` has shape (in, out) and is applied as `x @ W + b`.
            """),
        code("""
            from rnncap.transformer_layers import *
            from rnncap.classifiers.transformer import CaptioningTransformer
            """),
    ]


def transformer_layer_cells():
    return [
        md("""
            ## Multi-head attention

            Attention lets every position of a sequence gather information from the positions of
            another one (or of itself). Each query vector is compared with every key vector; the
            softmax of the scaled scores gives weights, and the output is the weighted sum of the
            value vectors. With query $Q$ (S, E) and key and value $K$, $V$ (T, E) of one image:

            $$\\text{Attention}(Q, K, V) = \\text{softmax}\\left(\\frac{Q W_q (K W_k)^T}{\\sqrt{d}}\\right) V W_v$$

            (biases left out). **Multi-head** attention splits the E columns of the projections
            into H heads of $d = E / H$ columns, runs attention in every head on its own, puts
            the H results side by side again and mixes them with $W_o$. Each head can look for
            something else. Dividing by $\\sqrt{d}$ keeps the scores from growing with the head
            size, where the softmax would saturate.

            A **mask** of shape (S, T) blocks pairs: where it is 0 or False, query $i$ may not
            look at key $j$ (its score becomes $-\\infty$, its weight 0). The decoder uses this to
            stop a word from looking at the words after it.

            `multihead_attention_forward(query, key, value, params, num_heads, attn_mask)`: the
            expected values below come from PyTorch (CS231n's `MultiHeadAttention` module with
            the same weights), so the errors should be around `1e-8` (the values are rounded to
            8 digits).
            """),
        code("""
            np.random.seed(231)
            N, S, T, E = 2, 3, 4, 8
            query, key, value = (np.random.randn(N, L, E) for L in (S, T, T))
            attn_params = {k: 0.5 * np.random.randn(*((E, E) if k[0] == 'W' else (E,)))
                           for k in ['Wq', 'bq', 'Wk', 'bk', 'Wv', 'bv', 'Wo', 'bo']}
            mask = np.array([[1, 0, 0, 1], [1, 1, 0, 0], [1, 1, 1, 1]])

            self_attn_out, _ = multihead_attention_forward(query, query, query, attn_params, 2)
            masked_attn_out, _ = multihead_attention_forward(query, key, value, attn_params, 2,
                                                             attn_mask=mask)

            @SELF@

            @MASKED@

            print('self_attn_out relative error: %.2e' % rel_error(expected_self_attn_out, self_attn_out))
            print('masked_attn_out relative error: %.2e' % rel_error(expected_masked_attn_out, masked_attn_out))
            """.replace("@SELF@", _indented(SELF)).replace("@MASKED@", _indented(MASKED))),
        md("""
            ### Its backward pass

            Backward through a softmax: for one row with weights $w$ and upstream gradient $g$,
            $\\partial L / \\partial s = w \\odot (g - \\sum_j g_j w_j)$. Every input and every
            parameter gets a gradient; we compare each with centred differences.

            One of them is special: the gradient of the key bias `bk` is exactly zero. (Why?
            That is Inline Question 1.) Its numeric estimate is pure rounding noise, around
            `1e-11`, so we print its largest entry instead of a relative error.
            """),
        code("""
            out, cache = multihead_attention_forward(query, key, value, attn_params, 2, attn_mask=mask)
            dout = np.random.randn(*out.shape)
            dquery, dkey, dvalue, dparams = multihead_attention_backward(dout, cache)

            f = lambda: multihead_attention_forward(query, key, value, attn_params, 2, attn_mask=mask)[0]
            for name, x, dx in [('dquery', query, dquery), ('dkey', key, dkey), ('dvalue', value, dvalue)]:
                dx_num = eval_numerical_gradient_array(lambda _: f(), x, dout)
                print('%-7s relative error: %.2e' % (name, rel_error(dx_num, dx)))
            for name in attn_params:
                num = eval_numerical_gradient_array(lambda _: f(), attn_params[name], dout)
                if name == 'bk':
                    print('d%s    largest entry: %.1e (numeric: %.1e)'
                          % (name, np.abs(dparams[name]).max(), np.abs(num).max()))
                else:
                    print('d%-6s relative error: %.2e' % (name, rel_error(num, dparams[name])))
            """),
        md("""
            ## Positional encoding

            Attention itself does not know the order of the words: permute the keys and values
            and the output does not change. The Transformer therefore adds to every word vector
            a vector that depends on its position $t$, with sines and cosines of different
            frequencies:

            $$P_{t, 2i} = \\sin\\left(t \\cdot 10000^{-2i/E}\\right), \\qquad
              P_{t, 2i+1} = \\cos\\left(t \\cdot 10000^{-2i/E}\\right).$$

            `positional_encoding(max_len, embed_dim)` returns the table $P$; the model adds its
            first T rows to the word vectors. The expected values are PyTorch's.
            """),
        code("""
            @POSITIONS@

            P = positional_encoding(4, 6)
            print('positions relative error: %.2e' % rel_error(expected_positions, P))
            """.replace("@POSITIONS@", _indented(POSITIONS))),
        md("""
            ## Layer normalisation

            Each sublayer's output is normalised over its E features, one position at a time:
            subtract the mean, divide by the standard deviation (with the biased variance and a
            small `eps`), then scale by $\\gamma$ and shift by $\\beta$. With $\\gamma = 1$ and
            $\\beta = 0$ every row of the output has mean 0 and variance 1 (up to `eps`).

            The gradient `dx` sums to zero over each row (shifting a row does not change its
            normalised values), so some of its entries are close to zero; their relative errors,
            and with them the largest one that `rel_error` reports, come out around `1e-7`.
            """),
        code("""
            np.random.seed(231)
            x = np.random.randn(4, 5, 6)
            gamma, beta = 1 + 0.1 * np.random.randn(6), 0.1 * np.random.randn(6)

            out, _ = layernorm_forward(x, np.ones(6), np.zeros(6))
            print('row means, largest:     %.1e' % np.abs(out.mean(axis=-1)).max())
            print('row variances - 1, largest: %.1e' % np.abs(out.var(axis=-1) - 1).max())

            out, cache = layernorm_forward(x, gamma, beta)
            dout = np.random.randn(*out.shape)
            dx, dgamma, dbeta = layernorm_backward(dout, cache)
            f = lambda _: layernorm_forward(x, gamma, beta)[0]
            print('dx relative error: %.2e' % rel_error(eval_numerical_gradient_array(f, x, dout), dx))
            print('dgamma relative error: %.2e' % rel_error(eval_numerical_gradient_array(f, gamma, dout), dgamma))
            print('dbeta relative error: %.2e' % rel_error(eval_numerical_gradient_array(f, beta, dout), dbeta))
            """),
        md("""
            ## ReLU and the exact GELU

            The feed-forward network of each layer applies an activation between its two affine
            maps: ReLU in the CS231n notebooks of 2021-2024, the exact GELU, $x \\Phi(x)$ with
            $\\Phi$ the standard normal CDF, since 2025. $\\Phi(x) = (1 + \\mathrm{erf}(x /
            \\sqrt{2})) / 2$, and NumPy has no `erf`: `rnncap.transformer_layers.erf` computes it
            (a power series for small $|x|$, a continued fraction beyond) to double precision.
            Python's `math.erf` is our yardstick.
            """),
        code("""
            import math

            x = np.linspace(-8, 8, 100001)
            print('erf, largest absolute error: %.1e' % np.abs(erf(x) - np.vectorize(math.erf)(x)).max())

            np.random.seed(231)
            x = np.random.randn(4, 5)
            for name, forward, backward in [('relu', relu_forward, relu_backward),
                                            ('gelu', gelu_forward, gelu_backward)]:
                out, cache = forward(x)
                dout = np.random.randn(*x.shape)
                dx_num = eval_numerical_gradient_array(lambda x: forward(x)[0], x, dout)
                print('%s dx relative error: %.2e' % (name, rel_error(dx_num, backward(dout, cache))))
            """),
        md("""
            ## The decoder layer

            A decoder layer (post-norm, as in CS231n and PyTorch's default) has three sublayers,
            each followed by a residual connection and a layer norm:

            $$x_1 = \\text{LN}_1(\\text{tgt} + \\text{SelfAttn}(\\text{tgt}, \\text{tgt}, \\text{tgt}, \\text{mask}))$$
            $$x_2 = \\text{LN}_2(x_1 + \\text{CrossAttn}(x_1, \\text{memory}, \\text{memory}))$$
            $$\\text{out} = \\text{LN}_3(x_2 + \\text{act}(x_2 W_1 + b_1) W_2 + b_2)$$

            Self-attention lets each word look at the words before it (the causal mask);
            cross-attention lets it look at the image, the `memory`. The parameters are one dict
            with the keys `self_attn.Wq` ... `ffn.b2` (`DECODER_LAYER_KEYS`). Again the expected
            output is PyTorch's (CS231n's 2025-2026 layer, with GELU).
            """),
        code("""
            np.random.seed(231)
            for _ in range(3):  # the attention check's query, key and value
                np.random.randn(N, S if _ == 0 else T, E)
            for k in ['Wq', 'bq', 'Wk', 'bk', 'Wv', 'bv', 'Wo', 'bo']:  # and its parameters
                np.random.randn(*((E, E) if k[0] == 'W' else (E,)))
            tgt, memory = np.random.randn(N, S, E), np.random.randn(N, 2, E)
            layer_params = {}
            for attn in ['self_attn', 'cross_attn']:
                for k in ['Wq', 'bq', 'Wk', 'bk', 'Wv', 'bv', 'Wo', 'bo']:
                    layer_params[attn + '.' + k] = 0.5 * np.random.randn(*((E, E) if k[0] == 'W' else (E,)))
            for i in (1, 2, 3):
                layer_params['norm%d.gamma' % i] = 1 + 0.1 * np.random.randn(E)
                layer_params['norm%d.beta' % i] = 0.1 * np.random.randn(E)
            F = 16
            layer_params['ffn.W1'], layer_params['ffn.b1'] = 0.5 * np.random.randn(E, F), 0.5 * np.random.randn(F)
            layer_params['ffn.W2'], layer_params['ffn.b2'] = 0.5 * np.random.randn(F, E), 0.5 * np.random.randn(E)
            causal = np.tril(np.ones((S, S)))

            decoder_out, _ = transformer_decoder_layer_forward(tgt, memory, layer_params, 2, causal,
                                                               activation='gelu')

            @DECODER@

            print('decoder_out relative error: %.2e' % rel_error(expected_decoder_out, decoder_out))
            """.replace("@DECODER@", _indented(DECODER))),
        md("""
            Its backward pass runs the sublayers in reverse. A residual connection $x + f(x)$
            passes its gradient to both terms; the memory feeds cross-attention's key and value,
            and `tgt` self-attention's query, key and value, so those gradients add up.
            """),
        code("""
            out, cache = transformer_decoder_layer_forward(tgt, memory, layer_params, 2, causal,
                                                           activation='gelu')
            dout = np.random.randn(*out.shape)
            dtgt, dmemory, dlayer = transformer_decoder_layer_backward(dout, cache)

            f = lambda _: transformer_decoder_layer_forward(tgt, memory, layer_params, 2, causal,
                                                            activation='gelu')[0]
            print('dtgt relative error: %.2e' % rel_error(eval_numerical_gradient_array(f, tgt, dout), dtgt))
            print('dmemory relative error: %.2e' % rel_error(eval_numerical_gradient_array(f, memory, dout), dmemory))
            worst = max(((rel_error(eval_numerical_gradient_array(f, layer_params[k], dout), dlayer[k]), k)
                         for k in DECODER_LAYER_KEYS if not k.endswith('bk')))
            print('dparams largest relative error: %.2e (%s)' % worst)
            """),
    ]


def transformer_model_cells():
    return [
        md("""
            ## The captioning Transformer

            `CaptioningTransformer` in `rnncap/classifiers/transformer.py` puts the layers
            together:

            1. the image features (N, D) are projected to the model's width W: a memory of one
               vector per image (`W_proj`, `b_proj`);
            2. the caption without its last word, `captions[:, :-1]`, goes through the word
               embedding, plus the positional encoding;
            3. the decoder layers read it, with a causal mask (a word sees the words before it
               and itself) and cross-attention to the memory;
            4. a temporal affine layer scores every word of the vocabulary at every position;
            5. the loss is the softmax cross-entropy at the positions whose target
               (`captions[:, 1:]`) is not `<NULL>`, **summed and divided by N x T**, as CS231n's
               Transformer solver does. That is the RNN's loss (summed, divided by N) divided by
               T, the number of positions.

            The `<NULL>` word's vector gets no gradient: it is padding. The CS231n check sets
            every parameter to evenly spaced values; the expected loss comes from PyTorch
            (CS231n's model in eval mode, ReLU).
            """),
        code("""
            N, D, W = 4, 20, 30
            word_to_idx = {'<NULL>': 0, 'cat': 2, 'dog': 3}
            V = len(word_to_idx)
            T = 3

            transformer = CaptioningTransformer(word_to_idx, input_dim=D, wordvec_dim=W,
                                                num_heads=2, num_layers=2, max_length=30,
                                                dtype=np.float64)

            # Set all model parameters to fixed values (PyTorch keeps a Linear's weight as
            # (out, in), rnncap as (in, out): the same values, transposed)
            for k, v in transformer.params.items():
                values = np.linspace(-1.4, 1.3, num=v.size)
                linear = v.ndim == 2 and k != 'W_embed'
                transformer.params[k] = values.reshape(v.shape[::-1]).T if linear else values.reshape(v.shape)

            features = np.linspace(-1.5, 0.3, num=N * D).reshape(N, D)
            captions = (np.arange(N * T) % V).reshape(N, T)
            captions = np.hstack([captions, [[1], [0], [2], [1]]])  # a target after the last word

            loss, grads = transformer.loss(features, captions)
            expected_loss = 10.993646118016

            print('loss: %.11f   expected loss: %.11f' % (loss, expected_loss))
            print('loss relative error: %.2e' % rel_error(expected_loss, loss))
            """),
        md("""
            Now every gradient of the loss, against centred differences, on a small model. The
            error printed is relative to each gradient's size (the largest entry), because a
            whole model has some entries near zero. Three kinds of parameters have a gradient
            that is exactly zero: the key biases, and, with a single memory vector per image,
            cross-attention's query and key weights (Inline Question 1 again); their numeric
            gradients are only rounding noise.
            """),
        code("""
            np.random.seed(231)
            word_to_idx = {'<NULL>': 0, '<START>': 1, '<END>': 2, 'circle': 3, 'square': 4}
            model = CaptioningTransformer(word_to_idx, input_dim=4, wordvec_dim=6, num_heads=3,
                                          num_layers=2, dim_feedforward=5, max_length=10,
                                          dtype=np.float64)
            for k, v in model.params.items():  # weights of a trained scale, not 0.02
                model.params[k] = 0.5 * np.random.randn(*v.shape) + (1.0 if k.endswith('gamma') else 0.0)
            features = np.random.randn(2, 4)
            captions = np.array([[1, 3, 4, 2, 0], [1, 4, 4, 3, 2]])

            loss, grads = model.loss(features, captions)
            zero, errors = [], {}
            for name in grads:
                f = lambda _: model.loss(features, captions)[0]
                num = eval_numerical_gradient(f, model.params[name], verbose=False)
                if name.endswith('attn.bk') or name.endswith(('cross_attn.Wq', 'cross_attn.bq', 'cross_attn.Wk')):
                    zero.append(max(np.abs(grads[name]).max(), np.abs(num).max()))
                else:
                    errors[name] = np.abs(num - grads[name]).max() / np.max(np.abs(num) + np.abs(grads[name]))
            worst = max(errors, key=errors.get)
            print('%d gradients: largest relative error %.2e (%s)' % (len(errors), errors[worst], worst))
            print('%d exactly-zero gradients: largest entry %.1e' % (len(zero), max(zero)))
            print("<NULL>'s word vector gets no gradient:", not grads['W_embed'][0].any())
            """),
        md("""
            ## Overfit a small dataset

            As in the CS231n notebook, a correct model memorises 50 training captions: Adam with
            learning rate 1e-3, 100 epochs of 2 minibatches of 25. CS231n's model has word
            vectors of 256 and feed-forward networks of 2048 units
            (`rnncap overfit --model transformer` runs exactly that); to keep this notebook
            quick we use 128 and 256, which memorise the captions just as well.
            """),
        code("""
            np.random.seed(231)

            small_data = load_coco_data(data_dir, max_train=50)

            transformer = CaptioningTransformer(
                word_to_idx=data['word_to_idx'],
                input_dim=data['train_features'].shape[1],
                wordvec_dim=128,
                num_heads=2,
                num_layers=2,
                max_length=30,
                dim_feedforward=256,
            )

            transformer_solver = CaptioningSolver(
                transformer, small_data,
                update_rule='adam',
                num_epochs=100,
                batch_size=25,
                optim_config={'learning_rate': 1e-3},
                verbose=True, print_every=20,
            )

            tic = time.time()
            transformer_solver.train()
            print('Training took %.1f s' % (time.time() - tic))
            print('Final loss: %f' % transformer_solver.loss_history[-1])

            plt.plot(transformer_solver.loss_history)
            plt.xlabel('Iteration')
            plt.ylabel('Loss')
            plt.title('Training loss history')
            plt.show()
            """),
        md("""
            Greedy sampling: start from `<START>`, run the caption so far through the decoder,
            append the highest-scoring word at the last position, repeat until `<END>`. On the
            training images the captions are the memorised ones; on validation images the model
            knows nothing yet.
            """),
        code("""
            for split in ['train', 'val']:
                minibatch = sample_coco_minibatch(small_data, split=split, batch_size=4)
                gt_captions, features, urls = minibatch
                gt_captions = decode_captions(gt_captions, data['idx_to_word'])
                sample_captions = decode_captions(transformer.sample(features, max_length=30),
                                                  data['idx_to_word'])
                show_captioned_images(urls, ['%s\\n%s\\nGT: %s' % (split, s, g)
                                             for s, g in zip(sample_captions, gt_captions)])
            """),
    ]


def transformer_question_cells():
    return [
        md("""
            ## Inline Question 1

            The gradient of every attention's key bias `bk` is exactly zero, whatever the data.
            And in the captioning model, whose memory is a single vector per image,
            cross-attention's query and key weights `Wq`, `bq`, `Wk` get no gradient either.
            Explain both.
            """),
        answer("""
            The key bias adds $q \\cdot b_k$ to the score of query $q$ with *every* key: the same
            constant for all the entries of one row of scores. Softmax ignores a constant added
            to all its inputs ($e^{s_j + c} / \\sum_k e^{s_k + c} = e^{s_j} / \\sum_k e^{s_k}$), so
            the weights, and the output, do not depend on $b_k$ at all: its gradient is zero.

            With one memory vector there is one key: the softmax over a single score is 1,
            whatever the score. The output of cross-attention is then just the projected value
            $(m W_v + b_v) W_o + b_o$ at every position, and the queries and keys, which only
            shape the weights, have no influence. (The fast sampler uses this: it computes that
            output once per image.)
            """),
        md("""
            ## Inline Question 2

            Why does the decoder need the causal mask during training, and why does greedy
            sampling, which only ever reads words it has generated itself, give the same result
            with or without recomputing the earlier positions at every step?
            """),
        answer("""
            In training the whole caption is fed at once and position $t$ must predict word
            $t + 1$. Without the mask, self-attention at position $t$ could look at the input at
            position $t + 1$, which *is* the target: the model would learn to copy it and would
            be useless at test time, when the future words do not exist yet.

            With the mask, position $t$ depends only on positions $0..t$, in every layer. So
            appending a word changes nothing at the earlier positions: recomputing them at every
            step (as the readable `sample` does, like CS231n) gives the same numbers as keeping
            each layer's keys and values of the earlier positions and running only the newest
            one (what `fast=True` does, `rnncap/kernels/transformer.py`), at a fraction of the
            cost.
            """),
    ]


# The short training run: the model of `rnncap train --model transformer` on fewer captions and
# epochs.
def transformer_beyond_cells():
    return [
        md("""
            # Beyond CS231n

            ## A short training run

            The model of `rnncap train --model transformer` (word vectors 64, 4 heads, 2 layers,
            feed-forward networks of 256, Adam at 2e-3), on 5,000 training captions for two
            epochs, to keep this notebook quick (the command trains eight epochs on all 20,000
            and reaches a val BLEU-4 of about 0.7). Greedy decoding uses the fast sampler
            (`fast=True`, the default): the same captions as the readable loop, checked below.
            """),
        code("""
            np.random.seed(231)
            keep = np.random.default_rng(0).choice(data['train_captions'].shape[0], 5000, replace=False)
            train_data = dict(data, train_captions=data['train_captions'][keep],
                              train_image_idxs=data['train_image_idxs'][keep])
            model = CaptioningTransformer(data['word_to_idx'], input_dim=data['train_features'].shape[1],
                                          wordvec_dim=64, num_heads=4, num_layers=2,
                                          dim_feedforward=256, max_length=30)
            solver = CaptioningSolver(model, train_data, update_rule='adam', num_epochs=2,
                                      batch_size=100, optim_config={'learning_rate': 2e-3},
                                      lr_decay=0.9, clip_norm=5.0, num_val=500, verbose=True,
                                      print_every=25)
            tic = time.time()
            solver.train()
            print('Training took %.1f s' % (time.time() - tic))
            """),
        code("""
            from rnncap.metrics import evaluate_model

            val = evaluate_model(model, data, split='val', num_images=200, return_captions=True)
            print('val, %d images, greedy:' % val['num_images'],
                  '  '.join('%s %.3f' % (k, val[k]) for k in ['BLEU-1', 'BLEU-2', 'BLEU-3', 'BLEU-4', 'CIDEr-D']))

            features = data['val_features'][np.unique(data['val_image_idxs'])[:50]]
            readable = CaptioningTransformer.from_params(model.word_to_idx, model.params, num_heads=4,
                                                         max_length=30, fast=False)
            tic = time.time(); fast_captions = model.sample(features); fast_time = time.time() - tic
            tic = time.time(); slow_captions = readable.sample(features); slow_time = time.time() - tic
            print('fast and readable greedy captions equal:', np.array_equal(fast_captions, slow_captions),
                  '(%.2f s and %.2f s for 50 images)' % (fast_time, slow_time))
            """),
        md("""
            Captions of validation images the model has never seen, and whether they are true
            (`rnncap.shapes.caption_accuracy`, as `rnncap evaluate` prints it: the built-in data
            records what each image shows).
            """),
        code("""
            from rnncap.coco_utils import load_objects
            from rnncap.shapes import caption_accuracy, format_caption_accuracy

            ids = sorted(val['captions'])
            if data_kind == 'shapes':
                records = load_objects(data_dir, 'val')
                accuracy = caption_accuracy([val['captions'][i] for i in ids], [records[i] for i in ids])
                print('greedy', format_caption_accuracy(accuracy))
            show_captioned_images(data['val_urls'][ids[:8]], [val['captions'][i] for i in ids[:8]])
            """),
    ]


def transformer_notebook():
    cells = []
    cells += setup_cells(
        "Image captioning with a Transformer",
        """The recurrent models read a caption one word at a time and carry everything in a hidden
state. A Transformer decoder instead lets every word look directly at every earlier word
(self-attention) and at the image (cross-attention), all positions at once.

This notebook follows the CS231n Transformer notebook: multi-head attention, the positional
encoding, the decoder layer, the captioning model, overfitting a small dataset and sampling. Here
every layer is NumPy with its backward pass written out, so each backward is checked against
numeric gradients too (CS231n's uses PyTorch's autograd). The end trains the model on the
built-in data.""")
    cells += data_cells()
    cells += transformer_setup_cells()
    cells += transformer_layer_cells()
    cells += transformer_model_cells()
    cells += transformer_question_cells()
    cells += transformer_beyond_cells()
    return cells


def to_notebook(cells, prefix):
    nb = new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for i, (kind, source) in enumerate(cells):
        cell = new_markdown_cell(source) if kind == "markdown" else new_code_cell(source)
        cell.id = "%s-%02d" % (prefix, i)  # fixed ids: rebuilding gives the same file
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def build():
    """Return {file name: notebook JSON text}."""
    notebooks = {"RNN_Captioning.ipynb": to_notebook(rnn_notebook(), "rnn"),
                 "LSTM_Captioning.ipynb": to_notebook(lstm_notebook(), "lstm"),
                 "Attention_Captioning.ipynb": to_notebook(attention_notebook(), "attn"),
                 "Transformer_Captioning.ipynb": to_notebook(transformer_notebook(), "transformer")}
    return {name: nbformat.writes(nb) + "\n" for name, nb in notebooks.items()}


def main(argv=None):
    for name, text in build().items():
        with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
            f.write(text)
        print("wrote", os.path.join(HERE, name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
