"""One module per `bench` subcommand. Each defines `register(subparsers)`, which adds its parser
and sets `func`; `bench/cli.py` lists the modules. Adding a command is one new file and one line."""
