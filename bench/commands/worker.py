"""`bench _worker RUN_DIR`: internal; runs one job in a worker process of the local executor."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("_worker")
    cmd.add_argument("run_dir")
    cmd.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench.executors.local import worker_main

    return worker_main(args.run_dir)
