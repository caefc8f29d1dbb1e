"""`rnncap gradcheck`: numerically check every layer and the captioning models, print a table."""
from rnncap.cli import integer


def configure(parser):
    parser.add_argument("--layers-only", action="store_true",
                        help="skip the model checks (CaptioningRNN, CaptioningTransformer)")
    parser.add_argument("--seed", type=integer(0, 2 ** 32 - 1), default=0,
                        help="seed of the random test inputs")


def run(args):
    from rnncap.checks import LAYER_CHECKS, MODEL_CHECKS, MODEL_THRESHOLD, THRESHOLD, run_checks

    checks = LAYER_CHECKS if args.layers_only else LAYER_CHECKS + MODEL_CHECKS
    results = run_checks(checks, seed=args.seed)
    width = max(len(name) for name, _, _ in results)
    print("%-*s  %-14s  %s" % (width, "check", "max rel error", "result"))
    for name, err, ok in results:
        if err is None:
            print("%-*s  %-14s  %s" % (width, name, "-", "not implemented"))
        else:
            print("%-*s  %-14.3e  %s" % (width, name, err, "pass" if ok else "FAIL"))
    failed = sum(not ok for _, _, ok in results)
    print("%d passed, %d failed (threshold %.0e for layers, %.0e for the model)"
          % (len(results) - failed, failed, THRESHOLD, MODEL_THRESHOLD))
    return 1 if failed else 0
