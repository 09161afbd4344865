"""The run store and every file of a run folder: names, typed records, one writer and one reader each.

A job's folder is named by its id (a hash of everything that determines its numbers), so a job
that two suites share is trained once and read by both. Under the runs root:

    _jobs/<job id>/                                   the run folder (below)
    <suite>/<dataset>/<backbone>/<label>/s<seed>-<id8>   the suite's view: a link to the run folder

A run folder holds (docs/run-records.md has every field):

    spec.json       what the job is (`Job.to_record`); written once, before it first runs
    metrics.jsonl   one `MetricsRow` per completed epoch, rewritten atomically every epoch
    result.json     the `Result`: ok or error, final metrics, versions, the machine
    last.pt         the checkpoint of the last completed epoch (torch.save, loaded weights_only)
    log.txt         the training log (appended); worker.log: the local worker's stdout and stderr
    lock            held by the process running the job (bench/locks.py)
    submitted.json  the Slurm task waiting in the queue
    robustness.json the `RobustnessStore`: evaluations of the finished networks

Records are believed only when they agree with each other (`read_run`): a result.json that says
ok is trusted only if metrics.jsonl parses line by line, holds the epochs the result claims and
ends on the result's final values, and the checkpoint (if kept) is a whole archive (a cut file
lacks the directory at its end). Anything else is a `Problem`: the job counts as interrupted, the next `bench run`
resumes it (or retrains it if its checkpoint is gone), and reports say which cells they left out.

Every write goes through bench/safe_io.py: atomic, never through a link, a full disk named.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import time
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from bench import safe_io
from bench.errors import BenchError

if TYPE_CHECKING:
    from bench.job import Job

STORE = "_jobs"  # cannot clash with a suite's name: those start with a letter or digit
SPEC, METRICS, RESULT, CHECKPOINT = "spec.json", "metrics.jsonl", "result.json", "last.pt"
LOG, WORKER_LOG, LOCK, SUBMITTED = "log.txt", "worker.log", "lock", "submitted.json"
ROBUSTNESS = "robustness.json"
WRITTEN = (SPEC, METRICS, RESULT, CHECKPOINT, LOG, SUBMITTED)  # what training writes or removes
ROBUSTNESS_VERSION = 1


class RecordError(BenchError):
    """A record that cannot be read (spec.json of a run folder, most often)."""


# --- the layout ----------------------------------------------------------------------------------


def run_dir(runs_root: Path, job_id: str) -> Path:
    """The run folder of job `job_id`: `<runs root>/_jobs/<id>`."""
    return Path(runs_root) / STORE / job_id


def view_dir(job: Job, runs_root: Path) -> Path:
    """Where the job appears in its suite's view (and where run folders lived before the store)."""
    return Path(runs_root) / job.suite / job.dataset / job.backbone / job.method / f"s{job.seed}-{job.id[:8]}"


def prepare(job: Job, runs_root: Path) -> Path:
    """The job's run folder, created if needed, with spec.json written if it is not there yet."""
    if (
        getattr(job, "kind", "") == "evaluation"
    ):  # an EvaluationJob: its folder is inside the run it evaluates
        return job.prepare()  # type: ignore[attr-defined]
    folder = job.run_dir(runs_root)
    safe_io.make_folder(Path(runs_root) / STORE)
    safe_io.make_folder(folder)
    safe_io.check_inside(runs_root, folder)
    try:
        current = _read_json(folder / SPEC)
    except _Unreadable:
        current = None
    if not (isinstance(current, dict) and current.get("id") == job.id):
        safe_io.write_json(folder / SPEC, job.to_record())
    return folder


def link_view(job: Job, runs_root: Path) -> None:
    """Point the suite's view at the run folder (a relative link, replaced atomically). Best effort:
    views are for people browsing; nothing in bench reads through them."""
    view = view_dir(job, runs_root)
    target = os.path.relpath(job.run_dir(runs_root), view.parent)
    with contextlib.suppress(OSError, BenchError):
        if view.is_symlink() and os.readlink(view) == target:
            return
        if view.exists() and not view.is_symlink():
            return  # a real folder from before the store (see `adopt_legacy`), or a user's
        for part in (job.suite, job.dataset, job.backbone, job.method):
            safe_io.check_component(part, "view path component")
        safe_io.make_folder(view.parent)
        safe_io.check_inside(runs_root, view.parent)
        tmp = view.parent / f".{view.name}.{os.getpid()}.link"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(target, target_is_directory=True)
        os.replace(tmp, view)


def adopt_legacy(job: Job, runs_root: Path) -> bool:
    """Move a run folder of the layout before the store (`<suite>/.../s<seed>-<id8>`, a real folder)
    into the store and leave the view's link in its place. True if it moved."""
    legacy, store = view_dir(job, runs_root), job.run_dir(runs_root)
    if legacy.is_symlink() or not legacy.is_dir() or store.exists():
        return False
    try:
        spec = _read_json(legacy / SPEC)
    except _Unreadable:
        return False
    if not (isinstance(spec, dict) and spec.get("id") == job.id):
        return False
    from bench import locks

    lock = locks.JobLock(legacy)
    try:
        if not lock.acquire():
            return False  # an older bench is running it there; adopted on a later run
        safe_io.make_folder(store.parent)
        os.rename(legacy, store)
    except OSError:
        return False
    finally:
        lock.release()
    link_view(job, runs_root)
    return True


def locate(job: Job, runs_root: Path) -> Path:
    """The folder holding the job's records: the store's, or a not yet adopted folder of the layout
    before the store (read-only commands never move folders)."""
    store = job.run_dir(runs_root)
    if store.exists():
        return store
    legacy = view_dir(job, runs_root)
    if not legacy.is_symlink() and (legacy / SPEC).is_file():
        return legacy
    return store


def run_folders(path: Path) -> list[Path]:
    """Run folders (holding spec.json) at or below `path`, following suite views to the store;
    each folder once, in path order."""
    found: dict[str, Path] = {}
    for top, dirs, files in os.walk(path):
        here = Path(top)
        if SPEC in files:
            found[os.path.realpath(here)] = here  # the folder itself, rather than a view's path to it
            dirs.clear()
            continue
        for name in list(dirs):
            sub = here / name
            if sub.is_symlink() and (sub / SPEC).is_file():
                real = os.path.realpath(sub)
                found.setdefault(real, Path(real))
    return sorted(found.values())


# --- typed records -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricsRow:
    """One completed epoch: a line of metrics.jsonl."""

    epoch: int  # 1-based
    lr: float | None = None  # the backbone's learning rate at the epoch's last step
    train_loss: float | None = None  # mean over the epoch's steps
    train: dict[str, float] = field(default_factory=dict)  # the method's logs, averaged over steps
    train_seconds: float = 0.0  # the training pass alone
    seconds: float = 0.0  # the epoch with its evaluation
    test_top1: dict[str, float] = field(default_factory=dict)  # network -> top-1 (%); {}: not evaluated

    def to_dict(self) -> dict[str, Any]:
        row = asdict(self)
        if not self.test_top1:
            del row["test_top1"]
        return row

    @classmethod
    def from_dict(cls, data: Any) -> MetricsRow:
        """ValueError if `data` is not a metrics row."""
        if (
            not isinstance(data, dict)
            or isinstance(data.get("epoch"), bool)
            or not isinstance(data.get("epoch"), int)
        ):
            raise ValueError("not a metrics row (no integer 'epoch')")
        top1 = data.get("test_top1", {})
        if not isinstance(top1, dict) or not all(_is_number(v) for v in top1.values()):
            raise ValueError("test_top1 is not a mapping of network to a number")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Machine:
    """What produced a result, for reports to print."""

    cpu: str  # CPU model
    gpu: str | None  # GPU model, None on a CPU run
    gpus: int  # GPUs the job trained on (0 on a CPU run)
    torch: str
    cuda: str | None  # the CUDA version torch was built with, None for a CPU build

    def describe(self) -> str:
        gpu = f"{self.gpus} x {self.gpu}" if self.gpu else "no GPU"
        cuda = f", CUDA {self.cuda}" if self.cuda else ""
        return f"{self.cpu}, {gpu}, torch {self.torch}{cuda}"


@dataclass(frozen=True)
class Result:
    """result.json: how the job ended. `status` 'ok' carries the metrics; 'error' the message."""

    id: str
    status: str  # "ok" | "error"
    error: str | None = None
    suite: str = ""  # the suite and label the job ran under (a job shared by suites runs once)
    label: str = ""
    wall_seconds: float = 0.0
    epochs_completed: int = 0
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # network -> reducer -> top-1
    primary_network: str = ""
    train_seconds: float = 0.0
    versions: dict[str, Any] = field(default_factory=dict)  # bench, git commit, torch, timm, python, device
    machine: Machine | None = None
    images: dict[str, int] = field(default_factory=dict)  # images read per split
    pretrained: dict[str, Any] | None = None  # file and sha256 of the starting weights

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def first_line(self) -> str:
        """The error's first line (for tables)."""
        return (str(self.error or "").splitlines() or ["failed without a message"])[0]

    def final(self) -> tuple[str, float] | None:
        """(network, final top-1) of the primary network, if recorded."""
        network = (self.primary_network or "online").split("|")[0]
        value = self.metrics.get(network, {}).get("final")
        return (network, value) if _is_number(value) else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: v for k, v in data.items() if v is not None or k == "error"}

    @classmethod
    def from_dict(cls, data: Any) -> Result:
        """ValueError if `data` is not a result record; unknown keys (later versions) are ignored."""
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise ValueError("not a result record (no string 'id')")
        if data.get("status") not in ("ok", "error"):
            raise ValueError(f"status is {data.get('status')!r}, not 'ok' or 'error'")
        metrics = data.get("metrics") or {}
        if not isinstance(metrics, dict) or not all(isinstance(v, dict) for v in metrics.values()):
            raise ValueError("metrics is not a mapping of network to reducer values")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known and v is not None}
        if isinstance(values.get("machine"), dict):
            try:
                values["machine"] = Machine(**values["machine"])
            except TypeError:
                values["machine"] = None
        else:
            values.pop("machine", None)
        return cls(**values)


@dataclass(frozen=True)
class RobustnessStore:
    """robustness.json: `evaluations[<evaluator>][<network>]` = the numbers, the settings that
    produced them and where and when they were computed (bench/evaluate writes the entries)."""

    run_id: str = ""
    version: int = ROBUSTNESS_VERSION
    evaluations: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) if self.run_id else {}


@dataclass(frozen=True)
class Problem:
    """Why a run folder's records are not believed: the file, and what is wrong with it."""

    file: str  # e.g. "metrics.jsonl"
    path: Path
    reason: str  # e.g. "line 5 is cut short (not valid JSON)"

    def __str__(self) -> str:
        return f"{self.file}: {self.reason}"


@dataclass(frozen=True)
class RunRecords:
    """What a run folder says about one job, checked for consistency (see `read_run`)."""

    run_dir: Path
    result: Result | None  # this job's result.json; None if absent, unreadable or another job's
    metrics: tuple[MetricsRow, ...]  # the rows before the first bad line
    problem: Problem | None  # why the records are not believed (None: they are, or nothing is there)
    started: bool  # anything of a run is there (metrics, checkpoint, log)

    @property
    def state(self) -> str:
        """'done', 'error', 'interrupted' (started, or records not believed) or 'absent'."""
        if self.result is not None and self.problem is None:
            return "done" if self.result.ok else "error"
        if self.problem is not None or self.started:
            return "interrupted"
        return "absent"

    @property
    def done(self) -> bool:
        return self.state == "done"


# --- readers --------------------------------------------------------------------------------------


class _Unreadable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _read_bytes(path: Path) -> bytes | None:
    """The file's bytes, None if absent; _Unreadable for a folder, a link or anything not a file."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _Unreadable(f"cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        raise _Unreadable(f"is {safe_io._kind(mode)}, not a regular file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _Unreadable(f"cannot be read ({exc.strerror})") from None


def _read_json(path: Path) -> Any | None:
    data = _read_bytes(path)
    if data is None:
        return None
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _Unreadable(f"is not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise _Unreadable(f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None


def read_spec(folder: Path) -> Job:
    """The job of a run folder, rebuilt from spec.json; RecordError if it is missing or unreadable."""
    from bench.job import Job

    path = Path(folder) / SPEC
    try:
        data = _read_json(path)
    except _Unreadable as exc:
        raise RecordError(f"{path} {exc.reason}") from None
    if data is None:
        raise RecordError(f"{folder}: no {SPEC}; is this a run folder?")
    try:
        return Job.from_record(data)
    except (KeyError, TypeError, ValueError, AttributeError, BenchError) as exc:
        raise RecordError(f"{path}: cannot rebuild the job ({type(exc).__name__}: {exc})") from None


def read_metrics(folder: Path) -> tuple[list[MetricsRow], Problem | None]:
    """The rows of metrics.jsonl up to the first bad line, and what is wrong with that line."""
    path = Path(folder) / METRICS
    try:
        data = _read_bytes(path)
    except _Unreadable as exc:
        return [], Problem(METRICS, path, exc.reason)
    rows: list[MetricsRow] = []
    if not data:
        return rows, None
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    for number, raw in enumerate(lines, 1):
        try:
            row = MetricsRow.from_dict(json.loads(raw.decode("utf-8")))
        except UnicodeDecodeError:
            return rows, Problem(METRICS, path, f"line {number} is not UTF-8 text")
        except json.JSONDecodeError:
            return rows, Problem(METRICS, path, f"line {number} is cut short or not JSON")
        except ValueError as exc:
            return rows, Problem(METRICS, path, f"line {number}: {exc}")
        if row.epoch != len(rows) + 1:
            return rows, Problem(
                METRICS, path, f"line {number} is epoch {row.epoch}, expected {len(rows) + 1}"
            )
        rows.append(row)
    return rows, None


def count_metrics(folder: Path) -> int:
    """Completed epochs as lines of metrics.jsonl (cheap: for progress while a job runs)."""
    try:
        with (Path(folder) / METRICS).open("rb") as f:
            return sum(1 for _ in f)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        return 0


def read_result(folder: Path) -> Result | Problem | None:
    """result.json as a Result; None if there is none, a Problem if it cannot be read."""
    path = Path(folder) / RESULT
    try:
        data = _read_json(path)
    except _Unreadable as exc:
        return Problem(RESULT, path, exc.reason)
    if data is None:
        return None
    try:
        return Result.from_dict(data)
    except (TypeError, ValueError) as exc:
        return Problem(RESULT, path, str(exc))


def read_submitted(folder: Path) -> dict[str, Any] | None:
    """submitted.json (the Slurm task id and when it was queued), None if absent or unreadable."""
    try:
        data = _read_json(Path(folder) / SUBMITTED)
    except _Unreadable:
        return None
    return data if isinstance(data, dict) else None


def read_robustness(folder: Path) -> RobustnessStore:
    """robustness.json (empty if absent or unreadable: evaluations are recomputed, never trusted blind)."""
    try:
        data = _read_json(Path(folder) / ROBUSTNESS)
    except _Unreadable:
        return RobustnessStore()
    if not isinstance(data, dict) or not isinstance(data.get("evaluations", {}), dict):
        return RobustnessStore()
    return RobustnessStore(
        run_id=str(data.get("run_id", "")),
        version=int(data.get("version", ROBUSTNESS_VERSION)),
        evaluations={k: v for k, v in data.get("evaluations", {}).items() if isinstance(v, dict)},
    )


def _checkpoint_problem(folder: Path, result: Result) -> Problem | None:
    path = folder / CHECKPOINT
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None  # removed to save space: the numbers stand, only evaluating the networks needs it
    if not stat.S_ISREG(info.st_mode):
        return Problem(CHECKPOINT, path, f"is {safe_io._kind(info.st_mode)}, not a regular file")
    try:
        whole = zipfile.is_zipfile(path)  # reads only the archive's directory at the end
    except OSError:
        whole = False
    return (
        None if whole else Problem(CHECKPOINT, path, "is not a whole checkpoint (its archive is cut short)")
    )


def _agreement_problem(folder: Path, result: Result, rows: list[MetricsRow], epochs: int) -> Problem | None:
    path = folder / METRICS
    claimed = result.epochs_completed  # 0: a record made by hand or by a tool, which does not say
    if claimed and len(rows) != claimed:
        return Problem(METRICS, path, f"holds {len(rows)} epochs, but {RESULT} says {claimed} were completed")
    if claimed and claimed != epochs:
        return Problem(
            RESULT, folder / RESULT, f"says {claimed} epochs were completed, but the job has {epochs}"
        )
    if not rows:
        return Problem(METRICS, path, f"holds no epoch, but {RESULT} says the job finished")
    curves = curves_from(rows)
    for network, values in result.metrics.items():
        final = values.get("final")
        if final is not None and (network not in curves or curves[network][-1] != final):
            last = curves.get(network, [None])[-1]
            return Problem(METRICS, path, f"ends on {network} top-1 {last}, but {RESULT} says {final}")
    return None


def read_run(folder: Path, job: Job) -> RunRecords:
    """Every record of `job` in `folder`, and whether they agree with each other (see the module)."""
    folder = Path(folder)
    rows, problem = read_metrics(folder)
    result = read_result(folder)
    if isinstance(result, Problem):
        problem, result = result, None
    elif result is not None and result.id != job.id:
        problem, result = Problem(RESULT, folder / RESULT, f"belongs to job {result.id}, not {job.id}"), None
    if result is not None and result.ok:
        problem = (
            problem
            or _agreement_problem(folder, result, rows, job.recipe.epochs)
            or _checkpoint_problem(folder, result)
        )
    elif result is not None:
        problem = None  # a failed run's metrics are not reported; its error is what counts
    started = bool(rows) or any(os.path.lexists(folder / name) for name in (CHECKPOINT, LOG, METRICS))
    return RunRecords(folder, result, tuple(rows), problem, started)


def is_finished(folder: Path, job: Job) -> bool:
    """The folder holds a successful result for `job` that its other records agree with."""
    return read_run(folder, job).done


# --- writers --------------------------------------------------------------------------------------


def write_metrics(folder: Path, rows: Sequence[MetricsRow]) -> None:
    safe_io.atomic_write(
        Path(folder) / METRICS,
        lambda f: f.writelines(json.dumps(r.to_dict(), sort_keys=True, allow_nan=True) + "\n" for r in rows),
    )


def write_result(folder: Path, result: Result) -> None:
    safe_io.write_json(Path(folder) / RESULT, result.to_dict())


def write_submitted(folder: Path, marker: dict[str, Any]) -> None:
    safe_io.write_json(Path(folder) / SUBMITTED, marker)


def write_robustness(folder: Path, store: RobustnessStore) -> None:
    safe_io.write_json(Path(folder) / ROBUSTNESS, store.to_dict())


def merge_robustness(folder: Path, job_id: str, evaluator: str, entries: dict[str, dict[str, Any]]) -> None:
    """Store `entries` (network -> record) for `evaluator`, keeping everything else stored for this job."""
    store = read_robustness(folder)
    evaluations = store.evaluations if store.run_id == job_id else {}
    evaluations = {**evaluations, evaluator: {**evaluations.get(evaluator, {}), **entries}}
    write_robustness(
        folder, RobustnessStore(run_id=job_id, version=ROBUSTNESS_VERSION, evaluations=evaluations)
    )


def write_checkpoint(folder: Path, state: dict[str, Any]) -> None:
    import torch

    safe_io.atomic_write(Path(folder) / CHECKPOINT, lambda f: torch.save(state, f), mode="wb")


def read_checkpoint(folder: Path) -> dict[str, Any] | None:
    """last.pt on the CPU, loaded with weights_only=True (a checkpoint cannot run code); None if absent.
    Any other failure (cut short, corrupt) raises, for the caller to say what it does about it."""
    import torch

    path = Path(folder) / CHECKPOINT
    if not os.path.lexists(path):
        return None
    if not stat.S_ISREG(os.lstat(path).st_mode):
        raise RecordError(f"{path} is not a regular file")
    return torch.load(path, map_location="cpu", weights_only=True)


def remove(folder: Path, *names: str) -> None:
    """Delete these records of the folder (an earlier attempt's), never following a link."""
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            (Path(folder) / name).unlink()


def open_log(folder: Path, name: str = LOG) -> IO[str]:
    """A log of the run folder, opened for appending without following links."""
    return safe_io.open_append(Path(folder) / name)


def log_line(folder: Path, message: str, name: str = LOG) -> None:
    """Append one time-stamped line to a log of the run folder."""
    with open_log(folder, name) as f:
        f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")


def curves_from(rows: Iterable[MetricsRow | dict[str, Any]]) -> dict[str, list[float]]:
    """network -> top-1 of every evaluated epoch, in order."""
    curves: dict[str, list[float]] = {}
    for row in rows:
        top1 = row.test_top1 if isinstance(row, MetricsRow) else row.get("test_top1", {})
        for network, value in top1.items():
            curves.setdefault(network, []).append(value)
    return curves
