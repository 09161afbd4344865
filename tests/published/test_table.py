"""The published table: the shipped CSV is valid and says what the sources say; bad rows are refused."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bench.errors import BenchError
from bench.published import table
from bench.report.published import registry_name

SHIPPED = Path(__file__).parent.parent.parent / "results" / "published"
HEADER = ",".join(table.COLUMNS)
GOOD = "T,cifar100,resnet18,mixup,800,top1,79.12,openmixup_median10,online,primary,src,line 3,found: 79.12,,"


@pytest.fixture(scope="module")
def rows() -> list[table.PublishedRow]:
    return table.load(SHIPPED)


def write(tmp_path: Path, *lines: str, header: str = HEADER) -> Path:
    (tmp_path / table.FILE).write_text("\n".join([header, *lines]) + "\n")
    return tmp_path


def test_a_good_row_loads_with_typed_fields(tmp_path: Path) -> None:
    (row,) = table.load(write(tmp_path, GOOD))
    assert (row.value, row.epochs, row.cell) == (79.12, 800, ("cifar100", "resnet18", "mixup", 800))
    assert row.checks == {"found": "79.12"}
    assert table.read(tmp_path / table.FILE) == [row]
    # to_csv writes what read accepts
    (tmp_path / table.FILE).write_text(table.to_csv([row]))
    assert table.load(tmp_path) == [row]


@pytest.mark.parametrize(
    ("column", "bad", "message"),
    [
        ("metric", "top1_clean", "valid: top1, top1_corruption"),
        ("value", "NOT_RETRIEVED", "a finite number"),
        ("value", "nan", "a finite number"),
        ("epochs", "", "empty"),
        ("epochs", "800.5", "an integer"),
        ("reducer", "median", "unknown reducer"),
        ("network", "EMA teacher", "'online', 'ema|ema_mix'"),
        ("role", "main", "valid: primary, secondary"),
        ("source", "", "empty"),
        ("locator", "", "empty"),
        ("verification", "checked by hand", "kinds: found, agrees"),
        ("dataset", "CIFAR-100", "a registry name or a normalised spelling"),
        ("suite", "Paper Table 1", "a suite name"),
    ],
)
def test_a_malformed_row_is_refused_naming_line_column_and_choices(
    tmp_path: Path, column: str, bad: str, message: str
) -> None:
    fields = GOOD.split(",")
    fields[table.COLUMNS.index(column)] = bad
    with pytest.raises(BenchError) as err:
        table.load(write(tmp_path, GOOD, ",".join(fields)))
    text = str(err.value)
    assert f"{table.FILE}: line 3: column {column!r}" in text and message in text


def test_header_extra_fields_and_duplicate_primaries_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="missing notes"):
        table.load(write(tmp_path, GOOD, header=HEADER.removesuffix(",notes")))
    with pytest.raises(BenchError, match="more fields than columns"):
        table.load(write(tmp_path, GOOD + ",extra"))
    with pytest.raises(BenchError, match=r"second primary row .* line 2"):
        table.load(write(tmp_path, GOOD, GOOD.replace("79.12", "79.20")))
    table.load(write(tmp_path, GOOD, GOOD.replace("79.12", "79.20").replace("primary", "secondary")))


def test_old_csvs_without_the_table_get_a_clear_error(tmp_path: Path) -> None:
    assert table.load(tmp_path) == []  # no published values at all
    (tmp_path / "adautomix_published.csv").write_text("source,dataset\n")
    with pytest.raises(BenchError, match=r"now live in one table, published\.csv"):
        table.load(tmp_path)


def test_the_shipped_table_is_valid_and_every_row_is_provenanced(rows: list[table.PublishedRow]) -> None:
    assert len(rows) > 1000
    for row in rows:
        assert row.source and row.locator and "paper" in row.checks, row
        assert "found" in row.checks or row.source.startswith("Qin et al."), row
    # registry names where the registry knows the thing
    for kind, attr in (("datasets", "dataset"), ("backbones", "backbone"), ("methods", "method")):
        for name in {getattr(r, attr) for r in rows}:
            assert registry_name(kind, name) in (None, name), f"{kind}: {name} is not the registry's name"


def test_the_paper_is_primary_where_the_readme_disagrees(rows: list[table.PublishedRow]) -> None:
    known = {  # (dataset, backbone, method, epochs): (paper, README)
        ("cifar100", "resnext50_32x4d", "cutmix", 800): (81.67, 78.32),
        ("cifar100", "resnext50_32x4d", "saliencymix", 800): (81.53, 78.77),
        ("cifar100", "resnext50_32x4d", "fmix", 800): (81.90, 79.02),
        ("cifar100", "resnext50_32x4d", "resizemix", 800): (81.82, 80.35),
        ("tiny_imagenet", "resnet18", "saliencymix", 400): (64.60, 64.40),
        ("tiny_imagenet", "resnet18", "resizemix", 400): (63.74, 63.17),
        ("cub200", "resnet50", "saliencymix", 200): (81.71, 82.02),
    }
    paper_tables = [r for r in rows if r.table.startswith("AdAutoMix Table") and r.metric == "top1"]
    for cell, (paper, readme) in known.items():
        (primary,) = [r for r in paper_tables if r.cell == cell and r.role == "primary"]
        (secondary,) = [r for r in paper_tables if r.cell == cell and r.role == "secondary"]
        assert primary.value == paper and primary.source.startswith("Qin et al.")
        assert secondary.value == readme and "README.md" in secondary.source
    assert Counter(r.role for r in paper_tables)["secondary"] == len(known)
    # one primary per cell of the paper's tables: 36 + 18 + 27 (Table 1), 60 (Table 2), 5 (Table 3)
    cells = Counter(r.table for r in paper_tables if r.role == "primary")
    assert cells == {"AdAutoMix Table 1": 81, "AdAutoMix Table 2": 60, "AdAutoMix Table 3": 5}


def test_table3_is_resnet18_at_200_epochs_and_cars_r18_is_the_online_network(
    rows: list[table.PublishedRow],
) -> None:
    table3 = [r for r in rows if r.table == "AdAutoMix Table 3"]
    assert len(table3) == 15
    assert {(r.dataset, r.backbone, r.epochs, r.suite) for r in table3} == {
        ("cifar100", "resnet18", 200, "paper_table3_robustness")
    }
    assert Counter(r.metric for r in table3) == {"top1": 5, "top1_corruption": 5, "fgsm_error": 5}
    cars = [r for r in rows if r.cell == ("stanford_cars", "resnet18", "adautomix", 200)]
    assert cars and {(r.value, r.network) for r in cars} == {(89.19, "online|online_mix")}
