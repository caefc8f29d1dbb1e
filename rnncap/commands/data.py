"""`rnncap data`: where the data is, and building the built-in dataset.

    rnncap data                      where COCO is expected, whether it is complete, where the
                                     built-in shapes dataset is cached
    rnncap data shapes [--out DIR]   generate the built-in dataset (default: into the cache)
"""
from rnncap.cli import check_output_dir, integer

# Memory per image while the built-in data is generated: the 64x64 RGB image, its 4096-d float32
# features (and a float64 centred copy for the PCA), the 512-d projections, captions.
BYTES_PER_IMAGE = 64 * 64 * 3 + 4096 * (4 + 4 + 8) + 512 * 4 * 2 + 5 * 17 * 4


def configure(parser):
    parser.add_argument("action", nargs="?", choices=("shapes",),
                        help="'shapes': generate the built-in dataset; omit to report the status")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="directory for the shapes dataset (default: the cache, "
                             "$RNNCAP_CACHE/shapes or ~/.cache/rnncap/shapes)")
    parser.add_argument("--num-train", type=integer(2), default=None, metavar="N",
                        help="number of train images (default: 4000)")
    parser.add_argument("--num-val", type=integer(1), default=None, metavar="N",
                        help="number of val images (default: 500)")
    parser.add_argument("--seed", type=integer(0, 2 ** 32 - 1), default=0,
                        help="dataset seed (default: 0)")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing shapes dataset with other sizes or seed")


def _report():
    import os

    from rnncap import shapes
    from rnncap.coco_utils import coco_dir, missing_files

    d = coco_dir()
    origin = "$RNNCAP_DATA" if os.environ.get("RNNCAP_DATA") else "default"
    missing = missing_files(d)
    print("COCO:   %s (%s)" % (d, origin))
    if not missing:
        print("        complete")
    elif not os.path.isdir(d):
        print("        not downloaded: run ./get_coco_captioning.sh (about 1 GB), "
              "or set RNNCAP_DATA")
    else:
        print("        incomplete, missing: %s" % ", ".join(missing))
    s = shapes.default_dir()
    meta = shapes.read_meta(s)
    print("shapes: %s" % s)
    if shapes.is_complete(s):
        print("        present: %d train / %d val images, seed %d"
              % (meta["num_train"], meta["num_val"], meta["seed"]))
    else:
        print("        not generated yet: `rnncap data shapes` (or generated on first use)")
    return 0


def run(args):
    if args.action is None:
        if any(v is not None for v in (args.out, args.num_train, args.num_val)) or args.force:
            raise ValueError("--out, --num-train, --num-val and --force go with `rnncap data shapes`")
        return _report()
    from rnncap import shapes

    sizes = dict(shapes.DEFAULT_SIZES)
    if args.num_train is not None:
        sizes["num_train"] = args.num_train
    if args.num_val is not None:
        sizes["num_val"] = args.num_val
    out = shapes.default_dir() if args.out is None else args.out
    check_output_dir("--out", out)
    from rnncap._validate import check_memory

    for option, key in (("--num-train", "num_train"), ("--num-val", "num_val")):
        check_memory("%s %d" % (option, sizes[key]), sizes[key] * BYTES_PER_IMAGE)
    check_memory("--num-train %d with --num-val %d" % (sizes["num_train"], sizes["num_val"]),
                 (sizes["num_train"] + sizes["num_val"]) * BYTES_PER_IMAGE)
    # The cache is ours to replace; a directory the user named is replaced only with --force.
    overwrite = args.force or args.out is None
    d = shapes.generate_shapes(out, seed=args.seed, overwrite=overwrite, verbose=True, **sizes)
    print("shapes dataset: %s" % d)
    return 0
