"""`rnncap sample CHECKPOINT`: caption some images of a split, print the captions, save a figure.

Images are chosen by index (--index 3 17 42) or at random (--num N, drawn with a private
np.random.Generator seeded by --seed). Decoding is greedy (default), beam search (--beam-size K)
or temperature sampling (--temperature T, random numbers from the same private Generator).
With --attention (attention models, greedy decoding) the figure is the Show, Attend and Tell
picture instead: each image, then every generated word over its attention map.
"""
from rnncap.cli import check_output_file, integer, number
from rnncap.commands.common import add_data_argument, one_line_os_errors

MAX_LENGTH = 1000  # longest caption --max-length allows (COCO's have at most 16 words)


def configure(parser):
    parser.add_argument("checkpoint", metavar="CHECKPOINT",
                        help="an .npz checkpoint, e.g. runs/gru/best.npz from `rnncap train`")
    add_data_argument(parser, "default: the data the checkpoint was trained on")
    parser.add_argument("--split", default="val", choices=["train", "val"],
                        help="split whose images are captioned (default %(default)s)")
    parser.add_argument("--index", type=integer(0), nargs="+", default=None, metavar="I",
                        help="image indices of the split to caption (default: random images)")
    parser.add_argument("--num", type=integer(1), default=8, metavar="N",
                        help="number of random images when no --index is given "
                             "(default %(default)s)")
    parser.add_argument("--seed", type=integer(0), default=0,
                        help="seed of the random image choice and of temperature sampling "
                             "(default %(default)s)")
    parser.add_argument("--decode", choices=["greedy", "beam", "temperature"], default=None,
                        help="decoder (default: beam if --beam-size is given, temperature if "
                             "--temperature is given, else greedy)")
    parser.add_argument("--beam-size", type=integer(1), default=None, metavar="K",
                        help="beam width for beam search (default 3)")
    parser.add_argument("--temperature", type=number(0, strict_minimum=True), default=None, metavar="T",
                        help="softmax temperature for sampling (default 1.0)")
    parser.add_argument("--max-length", type=integer(1, MAX_LENGTH), default=30,
                        help="longest caption generated (default %(default)s)")
    parser.add_argument("--out", default=None, metavar="FILE",
                        help="PNG figure of the images with sampled and ground-truth captions "
                             "(default: samples_SPLIT.png beside the checkpoint; with "
                             "--attention, attention_SPLIT.png)")
    parser.add_argument("--attention", action="store_true",
                        help="attention models: draw each generated word over the attention "
                             "map it was chosen with (greedy decoding)")


def decoder_settings(args):
    """
    The decoder and its keyword arguments for model.sample, from the command-line options.

    Returns a tuple of:
    - name: 'greedy', 'beam' or 'temperature'
    - kwargs: dict for model.sample (beam_size or temperature; rng is added by the caller)
    """
    decode = args.decode
    if decode is None:
        if args.beam_size is not None and args.temperature is not None:
            raise ValueError("give --beam-size or --temperature, not both")
        decode = ("beam" if args.beam_size is not None
                  else "temperature" if args.temperature is not None else "greedy")
    if decode != "beam" and args.beam_size is not None:
        raise ValueError("--beam-size applies only to --decode beam, got --decode %s" % decode)
    if decode != "temperature" and args.temperature is not None:
        raise ValueError("--temperature applies only to --decode temperature, got --decode %s"
                         % decode)
    if decode == "beam":
        beam_size = 3 if args.beam_size is None else args.beam_size
        if beam_size < 1:
            raise ValueError("--beam-size must be a positive integer, got %d" % beam_size)
        return decode, {"beam_size": beam_size}
    if decode == "temperature":
        temperature = 1.0 if args.temperature is None else args.temperature
        if not temperature > 0:
            raise ValueError("--temperature must be positive, got %g" % temperature)
        return decode, {"temperature": temperature}
    return decode, {}


def choose_images(data, split, indices, num, rng):
    """
    The image indices to caption: the given ones (checked) or `num` distinct random ones.

    Inputs:
    - data: dict from load_coco_data
    - split: 'train' or 'val'
    - indices: list of ints, or None for a random choice
    - num: how many random images (at most all images of the split)
    - rng: np.random.Generator used for the random choice

    Returns:
    - ids: 1-D int array of image indices
    """
    import numpy as np

    from rnncap.commands.common import split_images

    available = split_images(data, split)
    if indices is None:
        if num < 1:
            raise ValueError("--num must be a positive integer, got %d" % num)
        return rng.choice(available, size=min(num, available.size), replace=False)
    missing = [i for i in indices if i not in set(available.tolist())]
    if missing:
        raise ValueError("--index %d is not a captioned image of split %s (images %d..%d)"
                         % (missing[0], split, available.min(), available.max()))
    return np.asarray(indices, dtype=np.int64)


def check_beam_memory(model, beam_size, max_length):
    """Refuse a --beam-size whose search (per image: each beam's word scores and hidden state
    (a Transformer's keys and values) at every step, and its words so far) would not fit in
    memory."""
    from rnncap._validate import check_memory

    if getattr(model, "kind", "rnn") == "transformer":  # the KV cache grows with the caption
        state = 2 * model.num_layers * max_length * model.wordvec_dim + 4 * model.wordvec_dim
    else:
        state = 8 * model.hidden_dim
    per_beam = (3 * model.vocab_size + state) * 8 + 16 * max_length
    check_memory("--beam-size %d" % beam_size, beam_size * per_beam)


@one_line_os_errors
def run(args):
    import os

    import numpy as np

    from rnncap.plots import plot_attention, plot_captions_grid
    from rnncap.commands.common import (caption_text, check_model_fits_data, check_split,
                                 data_of_checkpoint, load_data, load_images, load_model,
                                 needs_grid, output_path, reads_grid, reference_captions)

    decode, kwargs = decoder_settings(args)
    if args.max_length < 1:
        raise ValueError("--max-length must be a positive integer, got %d" % args.max_length)
    if args.attention and decode != "greedy":
        raise ValueError("--attention draws the maps of greedy decoding; drop --decode %s"
                         % decode)
    stem = "attention_%s.png" if args.attention else "samples_%s.png"
    path = args.out or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)),
                                    stem % args.split)
    check_output_file("--out", path)  # before any work, not after it
    model, meta = load_model(args.checkpoint)
    if args.attention and not needs_grid(getattr(model, "cell_type", None)):
        kind = "%s cell" % model.cell_type if hasattr(model, "cell_type") else "Transformer"
        raise ValueError("--attention needs an attention model; checkpoint %s holds a %s"
                         % (args.checkpoint, kind))
    if decode == "beam":
        check_beam_memory(model, kwargs["beam_size"], args.max_length)
    data, label, _ = load_data(data_of_checkpoint(meta, args.data),
                               grid=reads_grid(model))
    check_split(data, args.split)
    check_model_fits_data(model, data, args.checkpoint, label)

    rng = np.random.default_rng(args.seed)  # never the global np.random
    ids = choose_images(data, args.split, args.index, args.num, rng)
    if decode == "temperature":
        kwargs["rng"] = rng
    features = data["%s_features" % args.split][ids]
    if args.attention:
        from rnncap.attention_maps import word_maps

        words, maps = word_maps(model, features, max_length=args.max_length)
        sampled = [" ".join(w) for w in words]
    else:
        rows = model.sample(features, max_length=args.max_length, **kwargs)
        sampled = [caption_text(row, model.idx_to_word) for row in rows]
    truth = [reference_captions(data, args.split, int(i)) for i in ids]

    how = decode + " decoding" + "".join(", %s %s" % (k.replace("_", " "), v)
                                         for k, v in kwargs.items() if k != "rng")
    print("checkpoint %s (%s), data %s, split %s, %s"
          % (args.checkpoint, getattr(model, "cell_type", "transformer"), label, args.split, how))
    for image_id, caption, refs in zip(ids, sampled, truth):
        print("%s image %d" % (args.split, image_id))
        print("  sampled: %s" % (caption or "(empty caption)"))
        print("  truth:   %s" % (refs[0] if refs else ""))
    images = load_images(data["%s_urls" % args.split][ids])
    if args.attention:
        plot_attention(images, words, maps, output_path(path),
                       title="%s images, %s: each word over the map it was chosen with"
                       % (args.split, how))
    else:
        plot_captions_grid(images, sampled, [refs[0] if refs else "" for refs in truth],
                           output_path(path), title="%s images, %s" % (args.split, how))
    print("wrote %s" % path)
    return 0
