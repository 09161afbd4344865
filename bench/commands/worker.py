"""`bench _worker RUN_DIR` and `bench _rank RUN_DIR`: internal entry points of child processes.

`_worker` runs one job under its lock (the local executor starts one per job); `_rank` is one
process of a multi-GPU job, started by the job's worker.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("_worker")
    cmd.add_argument("run_dir")
    cmd.set_defaults(func=run_worker)
    cmd = sub.add_parser("_rank")
    cmd.add_argument("run_dir")
    cmd.set_defaults(func=run_rank)


def run_worker(args: argparse.Namespace) -> int:
    from bench.executors.worker import main

    return main(args.run_dir)


def run_rank(args: argparse.Namespace) -> int:
    from bench.distributed import rank_main

    return rank_main(args.run_dir)
