"""`bench import-logs DIR...`: OpenMixup/AdAutoMix training logs -> curve files, each mapped to its suite cell.

Every `.json`/`.log.json` and text `.log` under the folders is parsed (`bench.published.logs`); the
header tells the cell (dataset, backbone, method, epochs) and the hyper-parameters the run used,
which are compared with that cell in each suite (by default the project's `suites/paper_*.yaml`).
A log whose settings differ from its cell is listed with the differing keys, never mapped silently.
The curves are written as compact files (default: results/published/logs/), the form the
leaderboard, `bench status` and `bench compare` read.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from bench.commands.common import load_settings, out
from bench.errors import BenchError


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "import-logs",
        help="read OpenMixup/AdAutoMix training logs, map each to its suite cell, write their curves",
    )
    cmd.add_argument(
        "folders", nargs="+", metavar="DIR", help="folders searched recursively for .json and .log files"
    )
    cmd.add_argument(
        "--suite",
        dest="suites",
        action="append",
        default=[],
        help="suite whose cells the logs are compared with (repeatable; default: suites/paper_*.yaml)",
    )
    cmd.add_argument("--out", help="folder for the curve files (default: <published dir>/logs)")
    cmd.add_argument(
        "--source", default="", help="what to cite as the logs' source, e.g. 'github.com/owner/repo'"
    )
    cmd.add_argument("--commit", default="", help="the source's commit, cited in every curve file")
    cmd.add_argument("--dry-run", action="store_true", help="report the mapping, write nothing")
    cmd.set_defaults(func=run)


def _log_files(folders: list[str]) -> list[tuple[Path, Path]]:
    """(file, the folder it was found under) for every log file, in a stable order."""
    found = []
    for name in folders:
        folder = Path(name)
        if not folder.is_dir():
            raise BenchError(f"{folder}: not a folder (pass folders that hold .json or .log training logs)")
        found += [
            (p, folder) for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix in (".json", ".log")
        ]
    if not found:
        raise BenchError(f"no .json or .log files under {', '.join(folders)}")
    return found


def _same_run_note(log, others) -> str:
    """A note when another log of the same folder and cell exists: where their records differ."""
    for other in others:
        if other is log or other.cell != log.cell or Path(other.file).parent != Path(log.file).parent:
            continue
        differing: dict[str, list[int]] = {}
        for network, curve in log.curves.items():
            theirs = dict(other.curves.get(network, []))
            epochs = [e for e, v in curve if e not in theirs or abs(v - theirs[e]) > 0.006]
            if epochs:
                differing[network] = epochs
        if not differing:
            return f"the same records as {other.file} (to the printed precision)"
        where = "; ".join(
            f"{network} at epochs {', '.join(map(str, epochs[:8]))}{' ...' if len(epochs) > 8 else ''}"
            for network, epochs in differing.items()
        )
        return f"differs from {other.file}: {where}"
    return ""


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from bench.published import cells, logs

    settings = load_settings(args)
    suites = [Path(s) for s in args.suites] or sorted(Path(settings.base_dir).glob("suites/paper_*.yaml"))
    jobs = cells.suite_jobs(suites)
    parsed = []
    for path, folder in _log_files(args.folders):
        source = args.source or str(folder.resolve())
        parsed.append(
            logs.read_log(path, file=str(path.relative_to(folder)), source=source, commit=args.commit)
        )
    parsed = [replace(log, notes=_same_run_note(log, parsed)) for log in parsed]
    table = Table(title=f"{len(parsed)} logs")
    for column in ("log", "cell", "suite", "settings"):
        table.add_column(column)
    differing = 0
    for log in parsed:
        cell_text = " / ".join(str(x) for x in log.cell)
        matches = jobs.get(log.cell, [])
        if not matches:
            table.add_row(escape(log.file), cell_text, "—", "no suite has this cell")
        for job in matches:
            diff = cells.differences(log, job)
            differing += bool(diff)
            table.add_row(escape(log.file), cell_text, job.suite, escape("; ".join(diff)) or "as the cell")
    out.print(table)
    target = Path(args.out) if args.out else settings.published_dir / "logs"
    if not args.dry_run:
        for log in parsed:
            logs.write_curves(log, target)
        out.print(f"wrote {len(parsed)} curve files to {target}")
    if differing:
        out.print(
            f"{differing} log-to-cell mappings differ in the settings listed: the log's run is not the cell's recipe there"
        )
    return 0
