"""`rnncap evaluate CHECKPOINT`: BLEU-1..4, CIDEr-D and caption accuracy of a model, greedy and beam.

Prints one line per metric, starting with its name, e.g.

    metric    greedy  beam-3
    BLEU-1     0.912   0.915
    ...
    CIDEr-D    3.841   3.902

and, on data that records what each image shows (the built-in data), one line per decoding:

    greedy  caption accuracy: 50.2% fully correct (one object 93.0%, two objects 21.0%; ...)

and for attention models one more line (greedy decoding, the split's one-object images; see
rnncap.attention_maps.localisation):

    attention localisation: 91.3% (chance 4.0%)
"""
from rnncap.cli import integer
from rnncap.commands.common import add_data_argument, one_line_os_errors
from rnncap.commands.sample import MAX_LENGTH, check_beam_memory

METRICS = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "CIDEr-D")


def configure(parser):
    parser.add_argument("checkpoint", metavar="CHECKPOINT",
                        help="an .npz checkpoint, e.g. runs/gru/best.npz from `rnncap train`")
    add_data_argument(parser, "default: the data the checkpoint was trained on")
    parser.add_argument("--split", default="val", choices=["train", "val"],
                        help="split to score (default %(default)s)")
    parser.add_argument("--beam-size", type=integer(1), default=3,
                        help="beam width of the beam column (default %(default)s)")
    parser.add_argument("--num-images", type=integer(1), default=None, metavar="N",
                        help="score only the first N images of the split (default: all)")
    parser.add_argument("--max-length", type=integer(1, MAX_LENGTH), default=30,
                        help="longest caption generated (default %(default)s)")


def format_table(columns):
    """
    The metrics table as text.

    Inputs:
    - columns: list of (title, scores) pairs; scores is a dict with the keys of METRICS

    Returns:
    - text: a header line, then one line per metric that starts with the metric's name
    """
    lines = ["%-8s" % "metric" + "".join("  %8s" % title for title, _ in columns)]
    for name in METRICS:
        lines.append("%-8s" % name + "".join("  %8.3f" % scores[name] for _, scores in columns))
    return "\n".join(lines)


@one_line_os_errors
def run(args):
    from rnncap.metrics import evaluate_model
    from rnncap.commands.common import (check_model_fits_data, check_split, data_of_checkpoint,
                                        describe_model, load_data, load_model, needs_grid,
                                        reads_grid)
    from rnncap.coco_utils import load_objects

    for name in ("beam_size", "max_length", "num_images"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError("--%s must be a positive integer, got %d"
                             % (name.replace("_", "-"), value))
    model, meta = load_model(args.checkpoint)
    check_beam_memory(model, args.beam_size, args.max_length)
    data, label, spec_used = load_data(data_of_checkpoint(meta, args.data),
                                       grid=reads_grid(model))
    check_split(data, args.split)
    check_model_fits_data(model, data, args.checkpoint, label)

    common = dict(split=args.split, num_images=args.num_images, max_length=args.max_length,
                  return_captions=True)
    greedy = evaluate_model(model, data, decode="greedy", **common)
    beam = evaluate_model(model, data, decode="beam", beam_size=args.beam_size, **common)
    print("checkpoint %s: %s" % (args.checkpoint, describe_model(model)))
    print("data %s, split %s, %d images" % (label, args.split, greedy["num_images"]))
    print(format_table([("greedy", greedy), ("beam-%d" % args.beam_size, beam)]))
    try:
        records = load_objects(spec_used, args.split)
    except FileNotFoundError:
        return 0  # COCO: no record of what the images show
    for title, scores in (("greedy", greedy), ("beam-%d" % args.beam_size, beam)):
        print("%-7s %s" % (title, accuracy_line(scores["captions"], records)))
    if needs_grid(getattr(model, "cell_type", None)):
        print(localisation_line(model, data, records, args.split, sorted(greedy["captions"]),
                                args.max_length))
    return 0


def localisation_line(model, data, records, split, image_ids, max_length):
    """
    The attention-localisation line of an attention model.

    Inputs:
    - model: the attention CaptioningRNN
    - data: dict from load_data(..., grid=True) (features are grids)
    - records: scene records of the split (load_objects)
    - split: 'train' or 'val'
    - image_ids: sorted image indices that were scored
    - max_length: longest caption generated

    Returns:
    - line: str, "attention localisation: P% (chance Q%)"
    """
    import numpy as np

    from rnncap.attention_maps import format_localisation, localisation

    if image_ids and image_ids[-1] >= len(records):
        raise ValueError("the objects file records %d images, but image %d was captioned"
                         % (len(records), image_ids[-1]))
    features = data["%s_features" % split][np.asarray(image_ids, dtype=np.int64)]
    result = localisation(model, features, [records[i] for i in image_ids], max_length)
    return format_localisation(result)


def captions_accuracy(captions, records):
    """
    rnncap.shapes.caption_accuracy of evaluate_model's captions.

    Inputs:
    - captions: dict image index -> generated caption (evaluate_model's 'captions')
    - records: list of scene records, one per image of the split (load_objects)

    Returns:
    - accuracy: caption_accuracy's dict; ValueError when an image has no record
    """
    from rnncap.shapes import caption_accuracy

    ids = sorted(captions)
    if ids and ids[-1] >= len(records):
        raise ValueError("the objects file records %d images, but image %d was captioned"
                         % (len(records), ids[-1]))
    return caption_accuracy([captions[i] for i in ids], [records[i] for i in ids])


def accuracy_line(captions, records):
    """The caption-accuracy line of one decoding (inputs as for captions_accuracy):
    "caption accuracy: X% fully correct (one object Y%, ...)"."""
    from rnncap.shapes import format_caption_accuracy

    return format_caption_accuracy(captions_accuracy(captions, records))
