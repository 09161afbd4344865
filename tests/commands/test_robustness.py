"""`bench robustness` end to end over tiny suites' runs: the table, merged records, bad input."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch

from bench import records
from bench.cli import main
from bench.data.cifar import CIFAR100
from bench.evaluate.calibration import DIAGRAM
from bench.evaluate.store import STORE
from tests.conftest import write_suite
from tests.fixtures.cifar import write_cifar100
from tests.fixtures.corruptions import write_cifar_c

ROOT = Path(__file__).parent.parent.parent

SYNTHETIC = """
name: rob
axes: {methods: [vanilla, mixup], backbones: [tiny_resnet], datasets: [synthetic], seeds: [0]}
recipe: {epochs: 2, batch_size: 32, train_fraction: 0.125, test_fraction: 0.03125, image_size: 16}
report: {reducer: final}
robustness: {fgsm: true, corruption: true, ece: true, batch_size: 32}
"""


def bench(*args: str) -> int:
    return main(list(args))


def run_dirs(project: Path) -> dict[str, Path]:
    """Method label -> run folder in the store, found through the suite's view."""
    views = (project / "results" / "runs").glob("*/*/*/*/s*")
    return {view.parent.name: view.resolve() for view in views if view.is_symlink()}


def number(cell: str) -> float:
    """The value of a table cell, without its rank marks and remarks ('**51.2** (n=1 of 2)' -> 51.2)."""
    return float(re.search(r"-?\d+(\.\d+)?", cell).group())


def table_row(markdown: str, method: str) -> list[str]:
    line = next(line for line in markdown.splitlines() if line.startswith(f"| {method} | "))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_run_evaluates_the_suites_robustness_section_and_the_command_merges_more(
    project: Path, capsys: pytest.CaptureFixture
) -> None:
    write_suite(project, SYNTHETIC, "rob.yaml")
    assert bench("run", "suites/rob.yaml") == 0
    board = (project / "reports" / "rob-robustness.md").read_text()
    header = next(line for line in board.splitlines() if line.startswith("| Method |"))
    assert "Clean Acc ↑ | pub. | Δ | Corruption Acc ↑ | pub. | Δ | FGSM Error ↓" in header
    assert "Corrupted test set: generated (ImageNet-C parameters)." in board
    assert (
        "imagecorruptions' warnings caught" in board and "no GPU, torch" in board.split("Evaluated on: ")[1]
    )
    for method in ("Vanilla", "MixUp"):
        cells = table_row(board, method)
        clean, corruption, fgsm = number(cells[2]), number(cells[5]), number(cells[8])  # every column filled
        assert 0 <= fgsm <= 100 and 0 <= corruption <= 100 and 0 < clean <= 100
    dirs = run_dirs(project)
    for run_dir in dirs.values():
        store = json.loads((run_dir / STORE).read_text())
        assert set(store["evaluations"]) == {"clean", "ece", "fgsm", "corruption"}
        fgsm = store["evaluations"]["fgsm"]["online"]
        assert fgsm["settings"] == {"eps_255": 8.0, "batch_size": 32, "version": 1}
        assert (
            fgsm["linf_max_255"] == pytest.approx(8, abs=1e-4)
            and 0 <= fgsm["range"][0] <= fgsm["range"][1] <= 1
        )
        corruption = store["evaluations"]["corruption"]["online"]
        assert corruption["generated"] and len(corruption["cells"]) == 19
        assert {"regenerated", "warnings"} <= set(corruption["generation"])
        assert all(len(v) == 5 for v in corruption["cells"].values())
        assert (run_dir / DIAGRAM).read_bytes()[:4] == b"\x89PNG"
    csv_text = (project / "reports" / "rob-robustness.csv").read_text()
    assert csv_text.startswith("method,dataset,backbone") and "generated (ImageNet-C parameters)" in csv_text

    vanilla = dirs["vanilla"] / STORE
    before = json.loads(vanilla.read_text())["evaluations"]
    capsys.readouterr()
    args = [
        "--pgd",
        "--pgd-steps",
        "2",
        "--occlusion",
        "--occlusion-patch",
        "4",
        "--occlusion-ratios",
        "0,0.5,1",
    ]
    assert bench("robustness", "suites/rob.yaml", *args) == 0
    assert "already stored: clean, corruption, fgsm, ece" in capsys.readouterr().out
    after = json.loads(vanilla.read_text())["evaluations"]
    assert {k: after[k] for k in before} == before  # nothing recomputed, nothing lost
    assert after["pgd"]["online"]["settings"]["pgd_steps"] == 2
    occluded = after["occlusion"]["online"]
    assert occluded["grid"] == [4, 4] and occluded["hidden_patches"] == [0, 8, 16]
    assert occluded["curve_top1"][0] == after["clean"]["online"]["top1"]  # nothing hidden: the clean top-1
    board = (project / "reports" / "rob-robustness.md").read_text()
    assert "PGD Error ↓" in board and "Occlusion AUC ↑" in board and "rob-robustness-occlusion.png" in board
    assert (project / "reports" / "rob-robustness-occlusion.png").read_bytes()[:4] == b"\x89PNG"
    assert (dirs["vanilla"] / "occlusion.png").is_file()
    capsys.readouterr()
    assert bench("robustness", "suites/rob.yaml", *args) == 0  # everything stored: no task at all
    assert "2 runs already hold every evaluation asked for" in capsys.readouterr().out


def test_bad_runs_fail_alone_and_lose_nothing(project: Path, capsys: pytest.CaptureFixture) -> None:
    write_suite(
        project,
        SYNTHETIC.replace("robustness: {fgsm: true, corruption: true, ece: true, batch_size: 32}", ""),
        "rob.yaml",
    )
    assert bench("run", "suites/rob.yaml") == 0
    dirs = run_dirs(project)
    assert bench("robustness", str(project / "results" / "runs"), "--fgsm") == 0
    stored = (dirs["mixup"] / STORE).read_bytes()

    state = torch.load(dirs["mixup"] / records.CHECKPOINT, weights_only=True)
    state["model"].pop("fc.weight")
    torch.save(state, dirs["mixup"] / records.CHECKPOINT)
    unfinished = project / "results" / "runs" / "rob" / "synthetic" / "tiny_resnet" / "cutmix" / "s0-00000000"
    shutil.copytree(dirs["vanilla"], unfinished)
    (unfinished / records.RESULT).unlink()
    capsys.readouterr()
    runs = str(project / "results" / "runs")
    code = bench("robustness", runs, "--fgsm", "--ece", "--force", "--executor", "local")
    captured = capsys.readouterr()
    assert code == 1
    assert "missing: fc.weight" in captured.err and str(dirs["mixup"]) in captured.err
    assert "never finished" in captured.err and str(unfinished) in captured.err
    assert "Traceback" not in captured.err
    assert (dirs["mixup"] / STORE).read_bytes() == stored  # the failed run keeps what it had
    assert "ece" in json.loads((dirs["vanilla"] / STORE).read_text())["evaluations"]  # the good run went on
    board = (project / "reports" / "robustness.md").read_text()
    assert "Failed evaluations" in board and "fc.weight" in board

    assert bench("robustness", "suites/rob.yaml") == 2  # no evaluator asked for anywhere
    assert "nothing to evaluate" in capsys.readouterr().err
    write_suite(project, SYNTHETIC.replace("fgsm: true", "fgsmm: true"), "typo.yaml")
    assert bench("robustness", "suites/typo.yaml") == 2
    err = capsys.readouterr().err
    assert "typo.yaml" in err and "robustness.fgsmm" in err and "did you mean 'fgsm'" in err


CIFAR = """
name: c100
axes: {methods: [vanilla, cutmix], backbones: [tiny_resnet], datasets: [cifar100], seeds: [0]}
recipe: {epochs: 1, batch_size: 25}
method_params: {cutmix: {alpha: 1.0}}
report: {reducer: final}
"""


def test_released_cifar_c_with_published_values_and_mce(project: Path, capsys: pytest.CaptureFixture) -> None:
    data = project / "data"
    write_cifar100(data, train=50, test=12)
    test = CIFAR100.load(data, "test")
    # every corrupted image equals its clean image, so each cell's top-1 must equal the clean top-1
    write_cifar_c(data, "CIFAR-100-C", test.images.numpy(), test.labels.numpy())
    published = project / "results" / "published"
    published.mkdir(parents=True)
    shutil.copy(ROOT / "results" / "published" / "published.csv", published)
    write_suite(project, CIFAR, "c100.yaml")
    assert bench("run", "suites/c100.yaml") == 0
    assert bench("robustness", "suites/c100.yaml", "--corruption", "--fgsm", "--mce-baseline", "vanilla") == 0
    dirs = run_dirs(project)
    for run_dir in dirs.values():
        evaluations = json.loads((run_dir / STORE).read_text())["evaluations"]
        clean, corr = evaluations["clean"]["online"]["top1"], evaluations["corruption"]["online"]
        assert corr["source"].startswith("CIFAR-100-C") and not corr["generated"]
        assert all(
            cell["top1"] == clean and cell["total"] == 12
            for c in corr["cells"].values()
            for cell in c.values()
        )
        assert corr["cacc19"] == pytest.approx(clean) and corr["cacc15"] == pytest.approx(clean)
    board = (project / "reports" / "c100-robustness.md").read_text()
    cutmix, vanilla = table_row(board, "CutMix"), table_row(board, "Vanilla")
    assert cutmix[3] == "—" and vanilla[3] == "—"  # Table 3's values are ResNet-18 200-epoch cells
    reference = board.split("## Published (for reference)")[1]
    assert (
        "| AdAutoMix Table 3 | CIFAR-100 · ResNet-18 · 200 epochs | CutMix | 79.45 | 46.66 | 88.24 |"
        in reference
    )
    mce_column = (
        next(line for line in board.splitlines() if line.startswith("| Method |")).split("|").index(" mCE ↓ ")
    )
    assert float(vanilla[mce_column - 1]) == pytest.approx(100.0)
    assert "## Published (for reference)" in board

    (data / "CIFAR-100-C" / "fog.npy").unlink()
    before = {d: json.loads((d / STORE).read_text())["evaluations"]["corruption"] for d in dirs.values()}
    capsys.readouterr()
    assert bench("robustness", "suites/c100.yaml", "--corruption", "--force") == 1
    err = capsys.readouterr().err
    assert "corruption files missing: fog.npy" in err
    for run_dir in dirs.values():  # clean top-1 is re-evaluated (forced); the corruption results survive
        assert json.loads((run_dir / STORE).read_text())["evaluations"]["corruption"] == before[run_dir]

    write_cifar_c(data, "CIFAR-100-C", test.images.numpy(), (test.labels.numpy() + 1) % 100)
    assert bench("robustness", "suites/c100.yaml", "--corruption", "--force") == 1
    assert "labels.npy does not match" in capsys.readouterr().err


def test_flags_that_cannot_be_read_name_the_flag(project: Path, capsys: pytest.CaptureFixture) -> None:
    assert bench("robustness", "suites/tiny.yaml", "--pgd", "--pgd-steps", "ten") == 2
    assert "--pgd-steps: cannot read 'ten' as an integer" in capsys.readouterr().err
    assert bench("robustness", "suites/tiny.yaml", "--occlusion", "--occlusion-ratios", "0,half") == 2
    assert "--occlusion-ratios: cannot read '0,half' as comma-separated numbers" in capsys.readouterr().err
    assert bench("robustness", "suites/tiny.yaml", "--occlusion", "--occlusion-ratios", "0,2") == 2
    assert "occlusion_ratios must be in [0, 1], got [0.0, 2.0]" in capsys.readouterr().err


def test_a_suites_untrained_jobs_are_shown_as_not_evaluated_not_as_failures(
    project: Path, capsys: pytest.CaptureFixture
) -> None:
    text = SYNTHETIC.replace("methods: [vanilla, mixup]", "methods: [vanilla]").replace(
        "seeds: [0]", "seeds: [0, 1]"
    )
    write_suite(
        project,
        text.replace("robustness: {fgsm: true, corruption: true, ece: true, batch_size: 32}", ""),
        "half.yaml",
    )
    assert bench("run", "suites/half.yaml", "--only", "seed=0") == 0
    capsys.readouterr()
    assert bench("robustness", "suites/half.yaml", "--fgsm") == 0
    output = capsys.readouterr().out
    assert "1 job of the suite has not finished training: not evaluated" in output and "[1/1]" in output
    cells = table_row((project / "reports" / "rob-robustness.md").read_text(), "Vanilla")
    assert cells[2].endswith("(n=1 of 2, 1 not evaluated)")
