"""One module per `rnncap` subcommand; each defines configure(parser) and run(args) -> int."""
