"""Suite expansion (one pure function) and validation (errors that name the file and key path)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import suite as suite_mod
from bench.errors import BenchError, ConfigError
from tests.conftest import write_suite

BASE = """
name: s
axes:
  methods: [vanilla, mixup, cutmix]
  backbones: [tiny_resnet, resnet18]
  datasets: [synthetic]
  seeds: [0, 1]
recipe:
  epochs: 10
  batch_size: 32
"""


def test_expand_is_the_product_of_the_axes_in_a_stable_order(project: Path) -> None:
    jobs = suite_mod.expand(suite_mod.load(write_suite(project, BASE)))
    assert len(jobs) == 3 * 2 * 2
    assert [(j.backbone, j.method, j.seed) for j in jobs[:4]] == [
        ("tiny_resnet", "vanilla", 0),
        ("tiny_resnet", "vanilla", 1),
        ("tiny_resnet", "mixup", 0),
        ("tiny_resnet", "mixup", 1),
    ]
    assert all(j.recipe.epochs == 10 and j.recipe.batch_size == 32 for j in jobs)
    # dataset defaults fill what the suite leaves open
    assert all(j.recipe.image_size == 16 and j.recipe.augmentation == "crop_flip" for j in jobs)
    assert [j.id for j in jobs] == [
        j.id for j in suite_mod.expand(suite_mod.load(write_suite(project, BASE)))
    ]


def test_method_defaults_suite_params_and_overrides_resolve_in_order(project: Path) -> None:
    text = (
        BASE
        + """
method_params:
  mixup: {alpha: 0.5}
overrides:
  - match: {method: mixup, backbone: resnet18}
    set: {params.alpha: 2.0, recipe.optimizer.lr: 0.05}
    source: a comment citing where the value comes from
  - match: {seed: 1}
    set: {recipe: {epochs: 20}}
"""
    )
    jobs = {
        (j.method, j.backbone, j.seed): j
        for j in suite_mod.expand(suite_mod.load(write_suite(project, text)))
    }
    assert jobs[("cutmix", "tiny_resnet", 0)].params == {"alpha": 0.2}  # the method's default
    assert jobs[("mixup", "tiny_resnet", 0)].params == {"alpha": 0.5}  # method_params
    assert jobs[("mixup", "resnet18", 0)].params == {"alpha": 2.0}  # override
    assert jobs[("mixup", "resnet18", 0)].recipe.optimizer.lr == 0.05
    assert jobs[("mixup", "tiny_resnet", 0)].recipe.optimizer.lr == 0.1
    assert jobs[("vanilla", "tiny_resnet", 1)].recipe.epochs == 20
    assert jobs[("vanilla", "tiny_resnet", 0)].recipe.epochs == 10


def test_include_exclude_and_labelled_variants(project: Path) -> None:
    text = """
name: s
axes:
  methods: [vanilla, {method: mixup, label: mixup-a2, params: {alpha: 2.0}}]
  backbones: [tiny_resnet]
  datasets: [synthetic]
  seeds: [0, 1]
exclude:
  - {method: vanilla, seed: 1}
include:
  - {method: cutmix, backbone: tiny_resnet, dataset: synthetic, seeds: [7]}
"""
    jobs = suite_mod.expand(suite_mod.load(write_suite(project, text)))
    cells = [(j.method, j.seed) for j in jobs]
    assert cells == [("vanilla", 0), ("mixup-a2", 0), ("mixup-a2", 1), ("cutmix", 7)]
    variant = next(j for j in jobs if j.method == "mixup-a2")
    assert variant.method_name == "mixup" and variant.params == {"alpha": 2.0}


def test_scale_reduces_epochs_and_data_and_is_recorded(project: Path) -> None:
    suite = suite_mod.load(write_suite(project, BASE)).with_scale(0.25)
    job = suite_mod.expand(suite)[0]
    assert job.recipe.epochs == 3 and job.nominal_epochs == 10
    assert job.recipe.train_fraction == 0.25 and job.scale == 0.25
    full = suite_mod.expand(suite_mod.load(write_suite(project, BASE)))[0]
    assert job.id != full.id


@pytest.mark.parametrize(
    ("patch", "key", "words"),
    [
        ("recipe:\n  epoch: 10\n", "recipe.epoch", ["unknown key 'epoch'", "did you mean 'epochs'"]),
        ("recipe:\n  epochs: ten\n", "recipe.epochs", ["expected an integer"]),
        ("recipe:\n  optimizer: {lr: -1}\n", "recipe", ["lr must be > 0"]),
        ("method_params:\n  mixup: {alpha: 0}\n", "params of mixup", ["alpha must be > 0"]),
        ("method_params:\n  mixpu: {alpha: 1}\n", "method_params.mixpu", ["did you mean 'mixup'"]),
        (
            "overrides:\n  - {match: {method: mixupp}, set: {params.alpha: 1}}\n",
            "overrides[0].match.method",
            ["did you mean 'mixup'"],
        ),
        (
            "overrides:\n  - {match: {method: mixup}, set: {recipe.lr: 1}}\n",
            "overrides[0].set.recipe.lr",
            ["unknown key 'lr'"],
        ),
        ("overrides:\n  - {match: {methd: mixup}, set: {}}\n", "overrides[0].match.methd", ["unknown axis"]),
        ("report:\n  reducer: median\n", "report", ["unknown reducer 'median'"]),
        ("unexpected: 1\n", "unexpected", ["unknown key 'unexpected'"]),
    ],
)
def test_validation_errors_name_the_file_and_key(
    project: Path, patch: str, key: str, words: list[str]
) -> None:
    recipe = "recipe:\n  epochs: 10\n  batch_size: 32\n"
    text = BASE.replace(recipe, patch) if patch.startswith("recipe:") else BASE + patch
    path = write_suite(project, text)
    with pytest.raises(ConfigError) as info:
        suite_mod.load(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert key in message
    for word in words:
        assert word in message


def test_unknown_method_lists_close_matches_and_all_valid_names(project: Path) -> None:
    path = write_suite(project, BASE.replace("[vanilla, mixup, cutmix]", "[vanilla, mixupp]"))
    with pytest.raises(ConfigError) as info:
        suite_mod.load(path)
    message = str(info.value)
    assert "axes.methods[1]" in message and "did you mean 'mixup'" in message and "valid: " in message
    assert "cutmix" in message


def test_empty_axis_and_duplicate_labels_are_rejected(project: Path) -> None:
    with pytest.raises(ConfigError, match=r"axes\.seeds: must not be empty"):
        suite_mod.load(write_suite(project, BASE.replace("seeds: [0, 1]", "seeds: []")))
    with pytest.raises(ConfigError, match="duplicate method label"):
        suite_mod.load(write_suite(project, BASE.replace("[vanilla, mixup, cutmix]", "[mixup, mixup]")))


def test_invalid_yaml_duplicate_keys_and_missing_file(project: Path) -> None:
    with pytest.raises(BenchError, match=r"invalid YAML \(line \d+"):
        suite_mod.load(write_suite(project, BASE + "recipe: [unclosed\n"))
    with pytest.raises(BenchError, match="duplicate key 'recipe'"):
        suite_mod.load(write_suite(project, BASE + "recipe:\n  epochs: 3\n"))
    with pytest.raises(BenchError, match="no such suite file"):
        suite_mod.load(project / "suites" / "absent.yaml")


def test_yaml_is_loaded_safely(project: Path) -> None:
    path = write_suite(project, "!!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(BenchError, match="invalid YAML"):
        suite_mod.load(path)


def test_repository_suites_validate() -> None:
    for path in sorted(Path(__file__).parent.parent.joinpath("suites").glob("*.yaml")):
        assert suite_mod.expand(suite_mod.load(path)), path


def test_resources_gpus_set_by_overrides_and_validated(project: Path) -> None:
    text = (
        BASE
        + """
resources: {gpus: 1}
overrides:
  - match: {backbone: resnet18}
    set: {resources.gpus: 4}
"""
    )
    jobs = suite_mod.expand(suite_mod.load(write_suite(project, text)))
    assert {j.backbone: j.gpus for j in jobs} == {"tiny_resnet": 1, "resnet18": 4}
    one_gpu = suite_mod.expand(suite_mod.load(write_suite(project, BASE)))
    assert [j.id for j in jobs if j.gpus == 1] == [j.id for j in one_gpu if j.backbone == "tiny_resnet"]
    for patch, key, words in [
        ("resources: {gpus: 0}\n", "resources", ["gpus must be >= 1"]),
        ("resources: {gpu: 2}\n", "resources.gpu", ["did you mean 'gpus'"]),
        ("resources: {gpus: 3}\n", "resources.gpus", ["batch_size 32 does not split evenly over 3 GPUs"]),
        (
            "overrides:\n  - {match: {method: mixup}, set: {resource.gpus: 2}}\n",
            "overrides[0].set.resource",
            ["did you mean 'resources'"],
        ),
    ]:
        with pytest.raises(ConfigError) as info:
            suite_mod.load(write_suite(project, BASE + patch))
        assert key in str(info.value) and all(word in str(info.value) for word in words), str(info.value)
