"""`rnncap data`: where the data is, and building the built-in dataset.

    rnncap data                      where COCO is expected, whether it is complete, where the
                                     built-in shapes dataset is cached
    rnncap data shapes [--out DIR]   generate the built-in dataset (default: into the cache)
"""


def configure(parser):
    parser.add_argument("action", nargs="?", choices=("shapes",),
                        help="'shapes': generate the built-in dataset; omit to report the status")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="directory for the shapes dataset (default: the cache, "
                             "$RNNCAP_CACHE/shapes or ~/.cache/rnncap/shapes)")
    parser.add_argument("--num-train", type=int, default=None, metavar="N",
                        help="number of train images (default: 4000)")
    parser.add_argument("--num-val", type=int, default=None, metavar="N",
                        help="number of val images (default: 500)")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (default: 0)")
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
    # The cache is ours to replace; a directory the user named is replaced only with --force.
    overwrite = args.force or args.out is None
    d = shapes.generate_shapes(out, seed=args.seed, overwrite=overwrite, verbose=True, **sizes)
    print("shapes dataset: %s" % d)
    return 0
