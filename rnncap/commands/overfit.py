"""`rnncap overfit`: the classic small-data overfit run of CS231n assignment 3.

Protocol (seeded, so that on COCO it prints the published logs digit for digit): seed 231,
load_coco_data(max_train=50), CaptioningRNN(hidden 512, wordvec 256, float32), adam with learning
rate 5e-3, 50 epochs of batch 25 (100 iterations), lr_decay 0.95 for rnn and 0.995 for lstm (and
gru and attention), print_every 10. Then it prints the final loss, ground-truth vs sampled
captions for a few train and val examples, and saves a loss-curve PNG.

The attention model reads the grid features (load_coco_data(..., grid_features=True), centred as
in rnncap.commands.common.use_grid_features), which only the built-in data has. It gets 200
epochs (400 iterations, a log line every 20): it starts from the grid's average, which says
little about objects that cover 4% of the image, so it must learn where to look before it can
memorise (after 100 iterations its loss is still about 0.4, after 200 its minibatches still
range from 0.02 to 0.3). And its gradients are clipped to norm 5, as in `rnncap train`: without
that, one early step can throw the attention off, and a run whose features differ only by
rounding ended near 1 instead of 0.02. The 50 captions include two of one image (train image
2633 of the built-in data), so no model reaches 0: about 0.03 on average stays.

--model transformer runs the Transformer notebook's protocol instead: seed 231,
load_coco_data(max_train=50), CaptioningTransformer(wordvec 256, 2 heads, 2 layers, max_length
30, float32), adam with learning rate 1e-3, 100 epochs of batch 25 (200 iterations), no decay,
print_every 10.
"""

from rnncap.cli import check_output_file, integer

LR_DECAY = {"rnn": 0.95, "lstm": 0.995, "gru": 0.995, "attention": 0.995}
EPOCHS = {"rnn": 50, "lstm": 50, "gru": 50, "attention": 200}
PRINT_EVERY = {"attention": 20}  # 10 for the others
CLIP_NORM = {"attention": 5.0}  # None (no clipping) for the classic cells
NUM_EXAMPLES = 3


def configure(parser):
    parser.add_argument("--model", choices=("rnn", "transformer"), default="rnn",
                        help="a recurrent model (--cell) or the Transformer (default: rnn)")
    parser.add_argument("--cell", choices=tuple(LR_DECAY), default="rnn",
                        help="recurrent cell of --model rnn; 'attention' reads grid features, "
                             "which only the built-in data has (default: rnn)")
    parser.add_argument("--data", default=None, metavar="coco|shapes|DIR",
                        help="dataset: COCO, the built-in shapes dataset or a directory in the "
                             "COCO layout (default: COCO when found, else shapes)")
    parser.add_argument("--seed", type=integer(0, 2 ** 32 - 1), default=231,
                        help="seed of the global np.random (default: 231, the classic one)")
    parser.add_argument("--plot", default=None, metavar="FILE",
                        help="where to save the loss curve (default: overfit_CELL.png, "
                             "overfit_transformer.png)")


def run(args):
    import numpy as np

    from rnncap.captioning_solver import CaptioningSolver
    from rnncap.classifiers.rnn import CaptioningRNN
    from rnncap.coco_utils import decode_captions, load_coco_data, resolve_dataset, \
        sample_coco_minibatch
    from rnncap.plots import plot_loss_curve

    name = args.cell if args.model == "rnn" else "transformer"
    path = args.plot if args.plot is not None else "overfit_%s.png" % name
    check_output_file("--plot", path)  # before the run, not after it
    from rnncap.commands.common import data_option, needs_grid, use_grid_features

    with data_option(args.data):
        directory, kind = resolve_dataset(args.data)
    names = {"coco": "COCO", "shapes": "the built-in shapes dataset", "dir": "the dataset"}
    print("Data: %s in %s" % (names.get(kind, kind), directory))

    np.random.seed(args.seed)
    with data_option(args.data):
        grid = args.model == "rnn" and needs_grid(args.cell)
        data = load_coco_data(directory, max_train=50, grid_features=grid)
    if args.model == "transformer":
        from rnncap.classifiers.transformer import CaptioningTransformer

        model = CaptioningTransformer(data["word_to_idx"], data["train_features"].shape[1],
                                      wordvec_dim=256, num_heads=2, num_layers=2, max_length=30,
                                      dtype=np.float32)
        solver = CaptioningSolver(model, data, update_rule="adam", num_epochs=100, batch_size=25,
                                  optim_config={"learning_rate": 1e-3}, verbose=True,
                                  print_every=10)
    else:
        if grid:
            use_grid_features(data)
        model = CaptioningRNN(cell_type=args.cell, word_to_idx=data["word_to_idx"],
                              input_dim=data["train_features"].shape[1], hidden_dim=512,
                              wordvec_dim=256, dtype=np.float32)
        solver = CaptioningSolver(model, data, update_rule="adam", num_epochs=EPOCHS[args.cell],
                                  batch_size=25,
                                  optim_config={"learning_rate": 5e-3},
                                  lr_decay=LR_DECAY[args.cell],
                                  clip_norm=CLIP_NORM.get(args.cell),
                                  verbose=True, print_every=PRINT_EVERY.get(args.cell, 10))
    solver.train()
    print("Final loss: %f" % solver.loss_history[-1])

    for split in ("train", "val"):
        gt, features, _ = sample_coco_minibatch(data, batch_size=NUM_EXAMPLES, split=split)
        gt = decode_captions(gt, data["idx_to_word"])
        sampled = decode_captions(model.sample(features), data["idx_to_word"])
        for gt_caption, sample_caption in zip(gt, sampled):
            print("%-5s  sampled: %s" % (split, sample_caption))
            print("       truth:   %s" % gt_caption)

    num_train = data["train_captions"].shape[0]
    plot_loss_curve(solver.loss_history, path, iterations_per_epoch=max(num_train // 25, 1))
    print("Loss curve: %s" % path)
    return 0
