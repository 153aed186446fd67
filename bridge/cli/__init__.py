"""The `bridge` command: each subcommand parses its options and calls one function elsewhere."""
