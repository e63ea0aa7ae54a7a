"""One module per `uvguard` subcommand, each with `register(app)`."""
