"""A small fake Slurm for tests: `sbatch`, `srun`, `scontrol` and `sacct` on PATH, backed by a folder.

`sbatch SCRIPT` keeps a copy of the script (so tests can read what was submitted), answers
"Submitted batch job N" and starts a detached runner that executes every array task the way
Slurm does: `bash SCRIPT` with the SLURM_* variables of that task, at most `%P` tasks at once
(from `--array=0-N%P`); a script without `--array` (submitit submits a single job that way) is
one task named N. `srun` runs its command with stdout and stderr in the files `--output` and
`--error` name (%A, %a, %j, %t expanded). `scontrol requeue ID` marks a task: when it exits, the
runner starts it again with SLURM_RESTART_COUNT + 1. `sacct` reports each task's state.
With FAKE_SLURM_SIGNAL_WHEN=GLOB, srun sends SIGUSR2 (Slurm's warning before the time limit, as
submitit asks for it) to the task's first run as soon as a file matches GLOB.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

FIRST_JOB_ID = 4242

SBATCH = r'''
import os, re, subprocess, sys
from pathlib import Path

HELP = """Usage: sbatch [OPTIONS(0)...] [ : [OPTIONS(N)...]] script(0) [args(0)...]
  -A, --account=name          charge job to specified account
  -a, --array=indexes         job array index values
  -c, --cpus-per-task=ncpus   number of cpus required per task
  -C, --constraint=list       specify a list of constraints
      --comment=name          arbitrary comment
  -e, --error=err             file for batch script's standard error
      --exclusive             allocate nodes in exclusive mode
  -G, --gpus=n                count of GPUs required for the job
      --gpus-per-node=n       number of GPUs required per allocated node
      --gres=list             required generic resources
  -J, --job-name=jobname      name of job
      --mail-type=type        notify on state change: BEGIN, END, FAIL or ALL
      --mail-user=user        who to send email notification for job state changes
      --mem=MB                minimum amount of real memory
  -N, --nodes=N               number of nodes on which to run (N = min[-max])
      --ntasks-per-node=n     number of tasks to invoke on each node
      --open-mode=append|truncate output and error open mode
  -o, --output=out            file for batch script's standard output
  -p, --partition=partition   partition requested
  -q, --qos=qos               quality of service
      --requeue               if set, permit the job to be requeued
      --signal=[[R][B]:]num[@time] send signal when time limit within time seconds
  -t, --time=minutes          time limit
      --wckey=wckey           wckey to run job under
"""
if "--help" in sys.argv:
    print(HELP)
    sys.exit(0)
state = Path(STATE)
(state / "submitted").mkdir(parents=True, exist_ok=True)
counter = state / "counter"
job_id = int(counter.read_text()) + 1 if counter.exists() else FIRST_JOB_ID
counter.write_text(str(job_id))
(state / "submitted" / f"{job_id}.sh").write_text(Path(sys.argv[-1]).read_text())
runner = Path(__file__).with_name("fake-slurm-runner")
log = (state / f"runner-{job_id}.log").open("w")
subprocess.Popen([sys.executable, str(runner), str(job_id)], stdout=log, stderr=log, start_new_session=True)
print(f"Submitted batch job {job_id}")
'''

RUNNER = r"""
import os, re, subprocess, sys, threading
from pathlib import Path

state = Path(STATE)
job_id = sys.argv[1]
script = state / "submitted" / f"{job_id}.sh"
text = script.read_text()
array = re.search(r"#SBATCH --array=(\d+)-(\d+)(?:%(\d+))?", text)
cpus = re.search(r"#SBATCH --cpus-per-task=(\d+)", text)
(state / "tasks").mkdir(exist_ok=True)
(state / "requeue").mkdir(exist_ok=True)
indices = range(int(array.group(1)), int(array.group(2)) + 1) if array else [None]
for i in indices:
    (state / "tasks" / (job_id if i is None else f"{job_id}_{i}")).write_text("PENDING")
slots = threading.Semaphore(int(array.group(3) or len(indices)) if array else 1)

def run(i):
    task = job_id if i is None else f"{job_id}_{i}"
    ids = dict(SLURM_JOB_ID=job_id) if i is None else dict(
        SLURM_JOB_ID=f"{job_id}{i:03d}", SLURM_ARRAY_JOB_ID=job_id, SLURM_ARRAY_TASK_ID=str(i))
    with slots:
        restarts = 0
        while True:
            (state / "tasks" / task).write_text("RUNNING")
            env = dict(os.environ, **ids, SLURM_NTASKS="1", SLURM_PROCID="0", SLURM_LOCALID="0",
                       SLURM_NODEID="0", SLURM_JOB_NUM_NODES="1", SLURM_JOB_NODELIST="localhost",
                       SLURM_RESTART_COUNT=str(restarts), SLURM_CPUS_PER_TASK=cpus.group(1) if cpus else "1")
            code = subprocess.call(["bash", str(script)], env=env)
            requeue = state / "requeue" / task
            if requeue.exists():
                requeue.unlink()
                restarts += 1
                (state / "restarts").mkdir(exist_ok=True)
                (state / "restarts" / task).write_text(str(restarts))
                continue
            (state / "tasks" / task).write_text("COMPLETED" if code == 0 else "FAILED")
            return

threads = [threading.Thread(target=run, args=(i,)) for i in indices]
for t in threads:
    t.start()
for t in threads:
    t.join()
(state / "done").mkdir(exist_ok=True)
(state / "done" / job_id).touch()
"""

SRUN = r"""
import glob, os, signal, subprocess, sys, threading, time

args, files = sys.argv[1:], {}
while args and args[0].startswith("-"):
    option = args.pop(0)
    if option in ("--output", "--error"):
        files[option] = args.pop(0)

def expand(pattern):
    e = os.environ
    return (pattern.replace("%A", e.get("SLURM_ARRAY_JOB_ID", "")).replace("%a", e.get("SLURM_ARRAY_TASK_ID", ""))
            .replace("%j", e["SLURM_JOB_ID"]).replace("%t", e["SLURM_PROCID"]))

stdout = open(expand(files["--output"]), "ab")
stderr = open(expand(files["--error"]), "ab") if "--error" in files else stdout
task = subprocess.Popen(args, stdout=stdout, stderr=stderr)
when = os.environ.get("FAKE_SLURM_SIGNAL_WHEN")
if when and os.environ.get("SLURM_RESTART_COUNT") == "0":
    def warn():
        while task.poll() is None:
            if glob.glob(when, recursive=True):
                task.send_signal(signal.SIGUSR2)
                return
            time.sleep(0.05)
    threading.Thread(target=warn, daemon=True).start()
sys.exit(task.wait())
"""

SCONTROL = r"""
import sys
from pathlib import Path

if sys.argv[1:2] == ["requeue"]:
    (Path(STATE) / "requeue").mkdir(parents=True, exist_ok=True)
    (Path(STATE) / "requeue" / sys.argv[2]).touch()
"""

SACCT = r"""
import sys
from pathlib import Path

wanted = [sys.argv[i + 1] for i, a in enumerate(sys.argv) if a == "-j"]
print("JobID|State|NodeList")
tasks = Path(STATE) / "tasks"
for path in sorted(tasks.iterdir()) if tasks.exists() else []:
    if path.name.split("_")[0] in wanted:
        print(f"{path.name}|{path.read_text()}|localhost")
"""

SCRIPTS = {
    "sbatch": SBATCH,
    "fake-slurm-runner": RUNNER,
    "srun": SRUN,
    "scontrol": SCONTROL,
    "sacct": SACCT,
}


def install(bin_dir: Path, state: Path) -> None:
    """Write the fake commands into `bin_dir` (put it first on PATH); their state lives in `state`."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    state.mkdir(parents=True, exist_ok=True)
    for name, source in SCRIPTS.items():
        path = bin_dir / name
        header = f"#!{sys.executable}\nSTATE = {str(state)!r}\nFIRST_JOB_ID = {FIRST_JOB_ID}\n"
        path.write_text(header + source)
        path.chmod(0o755)


def submitted_scripts(state: Path) -> list[str]:
    folder = state / "submitted"
    return [p.read_text() for p in sorted(folder.iterdir())] if folder.exists() else []


def wait_for_array(state: Path, job_id: int, timeout: float = 600.0) -> None:
    deadline = time.time() + timeout
    while not (state / "done" / str(job_id)).exists():
        if time.time() > deadline:
            logs = "\n".join(p.read_text() for p in state.glob("runner-*.log"))
            raise AssertionError(f"array {job_id} did not finish in {timeout:.0f} s; runner logs:\n{logs}")
        time.sleep(0.1)
