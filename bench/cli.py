"""The `bench` command: parses flags and dispatches to one module per subcommand
(`bench/commands/`). Heavy imports (torch, timm) happen inside the commands that need them, so
`--help`, `--version` and mistakes in the command line (a misspelled command, a suite file that
does not exist) are answered at once. User errors print one message and exit 2, without a
traceback."""

from __future__ import annotations

import argparse
import importlib
import sys

from rich.text import Text

from bench import __version__
from bench.commands.common import check_paths, err
from bench.errors import BenchError, did_you_mean

COMMANDS = [
    "run",
    "plan",
    "status",
    "leaderboard",
    "compare",
    "robustness",
    "visualize",
    "evaluate",
    "perf",
    "import-logs",
    "data",
    "ls",
    "worker",  # the internal `_worker` and `_rank` (child processes), left out of help and hints
]


def public_commands(sub: argparse._SubParsersAction) -> list[str]:
    """The commands a user may type: every registered one but the internal `_name`s."""
    return [name for name in sub.choices if not name.startswith("_")]


class CommandParser(argparse.ArgumentParser):
    """argparse, but a mistyped command gets close matches and the public commands only."""

    def _check_value(self, action: argparse.Action, value: object) -> None:
        if isinstance(action, argparse._SubParsersAction) and value not in action.choices:
            public = public_commands(action)
            raise argparse.ArgumentError(
                action,
                f"unknown command {value!r}{did_you_mean(str(value), public)}; commands: {', '.join(public)}",
            )
        super()._check_value(action, value)


def parser() -> argparse.ArgumentParser:
    p = CommandParser(
        prog="bench",
        description="Benchmark harness for mixup augmentation. `bench COMMAND --help` gives a command's options.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__} (mixup-bench)")
    p.add_argument(
        "--config", help="bench.toml to use (default: the nearest one above the working directory)"
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"bench.commands.{name.replace('-', '_')}").register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    from bench import signals

    args = parser().parse_args(argv)
    try:
        check_paths(args)  # before any command imports torch
        with signals.stop_like_ctrl_c():
            return args.func(args)
    except BenchError as exc:
        err.print(Text("error: ", style="red") + Text(str(exc)), soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        err.print("interrupted: finished epochs are checkpointed; run the same command again to resume")
        return signals.exit_code(exc)


if __name__ == "__main__":
    sys.exit(main())
