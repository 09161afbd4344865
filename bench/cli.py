"""The `bench` command: parses flags and dispatches to one module per subcommand
(`bench/commands/`). Heavy imports (torch, timm) happen inside the commands that need them, so
`--help` stays instant. User errors print one message and exit 2, without a traceback."""

from __future__ import annotations

import argparse
import importlib
import sys

from rich.text import Text

from bench.commands.common import err
from bench.errors import BenchError

COMMANDS = [
    "run",
    "plan",
    "leaderboard",
    "compare",
    "ls",
    "worker",
    "evaluate",
    "visualize",
    "data",
    "robustness",
    "status",
    "perf",
    "import-logs",
]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench", description="Benchmark harness for mixup augmentation.")
    p.add_argument(
        "--config", help="bench.toml to use (default: the nearest one above the working directory)"
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"bench.commands.{name.replace('-', '_')}").register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except BenchError as exc:
        err.print(Text("error: ", style="red") + Text(str(exc)), soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted: finished epochs are checkpointed; run the same command again to resume")
        return 130


if __name__ == "__main__":
    sys.exit(main())
