"""Suites: a YAML file of axes, one shared recipe, method parameters and per-cell overrides.

`load(path)` reads and validates a suite file; `expand(suite)` is the one pure function that turns
it into the ordered list of jobs. Nothing downstream reads YAML. Every error names the file and
the key path, and nothing runs until the whole suite has been validated.

Resolution order for each cell, later wins:
  dataset defaults (image size, augmentation) < `recipe` < matching `overrides` (in file order)
  method defaults < `method_params[<method>]` < the axis item's `params` < matching `overrides`
  `resources` (GPUs per job) < matching `overrides`
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from bench import registry, safe_io, schema
from bench.errors import BenchError, ConfigError, did_you_mean
from bench.evaluate.config import RobustnessConfig
from bench.job import Job, Report, cell_label
from bench.recipe import Recipe

AXES = ("method", "backbone", "dataset", "seed")
OVERRIDE_KEYS = ("recipe", "params", "report", "resources")


@dataclass(frozen=True)
class MethodItem:
    """A methods-axis entry: a registered method, optionally a labelled variant with its own params."""

    method: str
    label: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.label or self.method


@dataclass(frozen=True)
class Axes:
    methods: list[str | MethodItem]
    backbones: list[str]
    datasets: list[str]
    seeds: list[int]


@dataclass(frozen=True)
class Override:
    match: dict[str, Any]  # axis -> a value or a list of values; every listed axis must match
    set: dict[str, Any]  # keys under recipe / params / report / resources, nested or dotted
    source: str = ""  # where the setting comes from (paper, config, log)


@dataclass(frozen=True)
class Resources:
    """What one job needs from the machine. `gpus` > 1 trains it data-parallel, one process per GPU
    (on a machine without GPUs, that many CPU processes), with `batch_size` the global batch."""

    gpus: int = 1

    def __post_init__(self) -> None:
        if self.gpus < 1:
            raise ValueError(f"gpus must be >= 1, got {self.gpus}")


@dataclass(frozen=True)
class Cell:
    method: str
    backbone: str
    dataset: str
    seed: int


@dataclass(frozen=True)
class SuiteFile:
    name: str
    axes: Axes
    description: str = ""
    recipe: dict[str, Any] = field(default_factory=dict)
    method_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    overrides: list[Override] = field(default_factory=list)
    include: list[dict[str, Any]] = field(default_factory=list)
    exclude: list[dict[str, Any]] = field(default_factory=list)
    resources: Resources = field(default_factory=Resources)
    report: Report = field(default_factory=Report)
    robustness: RobustnessConfig | None = None  # evaluated by `bench run` after training (bench robustness)


@dataclass(frozen=True)
class Suite:
    """A validated suite: its file, its data, and the scale it is run at."""

    path: str
    data: SuiteFile
    scale: float = 1.0
    only: tuple[tuple[str, tuple[Any, ...]], ...] = ()  # a slice of the cells: (axis, values kept)

    @property
    def name(self) -> str:
        return self.data.name

    @property
    def slice_text(self) -> str:
        """The slice as `--only` arguments ('method=mixup,adautomix dataset=cifar100'), or ''."""
        return " ".join(f"{axis}={','.join(map(str, values))}" for axis, values in self.only)

    def method_items(self) -> list[MethodItem]:
        return [m if isinstance(m, MethodItem) else MethodItem(method=m) for m in self.data.axes.methods]

    def with_scale(self, scale: float) -> Suite:
        if not 0 < scale <= 1:
            raise BenchError(f"--scale must be in (0, 1], got {scale}")
        return replace(self, scale=scale)

    def with_only(self, filters: Sequence[str]) -> Suite:
        """The slice of cells matching every `AXIS=V1,V2` filter (`--only`); a second filter on the
        same axis adds values. Unknown axes and values, and a slice with no cell, are refused."""
        cells = _cells(self)
        kept: dict[str, list[Any]] = {}
        for text in filters:
            axis, sep, values = (part.strip() for part in text.partition("="))
            if not sep or not values:
                raise BenchError(
                    f"--only {text}: expected AXIS=VALUE[,VALUE...], e.g. --only method=mixup,adautomix"
                )
            if axis not in AXES:
                raise BenchError(
                    f"--only {text}: unknown axis {axis!r}{did_you_mean(axis, AXES)}; axes: {', '.join(AXES)}"
                )
            present = list(dict.fromkeys(getattr(c, axis) for c in cells))
            for raw in (v.strip() for v in values.split(",")):
                value = int(raw) if axis == "seed" and raw.lstrip("-").isdigit() else raw
                if value not in present:
                    choices = [str(v) for v in present]
                    raise BenchError(
                        f"--only {axis}={raw}: not a {axis} of suite {self.name!r}{did_you_mean(raw, choices)}; "
                        f"its {axis}s: {', '.join(choices)}"
                    )
                kept.setdefault(axis, []).append(value)
        only = tuple((axis, tuple(dict.fromkeys(values))) for axis, values in kept.items())
        sliced = replace(self, only=only)
        if not any(sliced.selects(c) for c in cells):
            raise BenchError(
                f"--only {sliced.slice_text}: no cell of suite {self.name!r} has this combination "
                f"(`bench plan {self.path}` lists its cells)"
            )
        return sliced

    def selects(self, cell: Cell) -> bool:
        return all(getattr(cell, axis) in values for axis, values in self.only)

    @cached_property
    def jobs(self) -> tuple[Job, ...]:
        """The jobs (see `expand`) of the cells in the slice, resolved once per Suite: validation,
        `bench run` and the leaderboard all need them, and a 1,000-job suite takes a quarter second
        to resolve."""
        return tuple(resolve_cell(self, cell) for cell in _cells(self) if self.selects(cell))


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that rejects duplicate keys instead of silently keeping the last one."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


MAX_YAML_VALUES = 100_000  # values a suite may hold once its aliases are expanded (real ones: < 5,000)


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """Values under `node` with every alias expanded, computed once per node (an alias is the
    same node object again, so a billion-laughs file is measured without being expanded)."""
    key = id(node)
    if key not in sizes:
        sizes[key] = 0  # a recursive alias counts once instead of looping
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        total = 1
        for child in children:
            total += _expanded_size(child, sizes)
            if total > MAX_YAML_VALUES:
                break
        sizes[key] = total
    return sizes[key]


def _read_suite_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BenchError(f"{path}: no such suite file") from None
    except IsADirectoryError:
        raise BenchError(
            f"{path}: is a folder, not a suite file (give a .yaml file, e.g. suites/smoke.yaml)"
        ) from None
    except OSError as exc:
        raise BenchError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BenchError(
            f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); save it as UTF-8"
        ) from None


def read_yaml(path: Path) -> Any:
    text = _read_suite_text(path)
    try:
        loader = _UniqueKeyLoader(text)  # a SafeLoader: no Python objects
        try:
            node = loader.get_single_node()
            if node is not None and _expanded_size(node, {}) > MAX_YAML_VALUES:
                raise BenchError(
                    f"{path}: its aliases (*name) expand to more than {MAX_YAML_VALUES:,} values; a suite "
                    "this large is a mistake or an attack (a 'billion laughs' file): write the values out"
                )
            return loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise BenchError(f"{path}: invalid YAML{where}: {problem}") from None


def load(path: str | Path) -> Suite:
    """Read, validate and return a suite; raises ConfigError naming the file and key path."""
    path = Path(path)
    raw = read_yaml(path)
    try:
        data = schema.build(SuiteFile, raw)
        suite = Suite(str(path), data)
        validate(suite)
    except ConfigError as exc:
        raise exc.located(str(path)) from None
    return suite


# --- validation -------------------------------------------------------------------------------


def _axis_values(suite: Suite) -> dict[str, list[Any]]:
    axes = suite.data.axes
    return {
        "method": [m.name for m in suite.method_items()],
        "backbone": list(axes.backbones),
        "dataset": list(axes.datasets),
        "seed": list(axes.seeds),
    }


def _check_registered(kind: str, names: list[str], key: str) -> None:
    for i, name in enumerate(names):
        try:
            registry.get(kind, name)
        except BenchError as exc:
            raise ConfigError(str(exc), key=f"{key}[{i}]") from None


def _method_class(name: str, key: str) -> Any:
    try:
        return registry.get("methods", name).load()
    except BenchError as exc:
        raise ConfigError(str(exc), key=key) from None


def _check_cell_keys(cell: Any, key: str, allowed: dict[str, list[Any]], plural_seed: bool) -> None:
    if not isinstance(cell, Mapping):
        raise ConfigError(f"expected a mapping of axis values, got {schema.show(cell)}", key=key)
    valid = [*AXES, "seeds"] if plural_seed else list(AXES)
    for axis, value in cell.items():
        if axis not in valid:
            raise ConfigError(
                f"unknown axis {axis!r}{did_you_mean(axis, valid)}; valid: {', '.join(valid)}",
                key=f"{key}.{axis}",
            )
        if allowed and axis in allowed and axis != "seeds":
            for v in value if isinstance(value, list) else [value]:
                if v not in allowed[axis]:
                    choices = ", ".join(map(str, allowed[axis]))
                    raise ConfigError(
                        f"{schema.show(v)} is not on the {axis} axis{did_you_mean(schema.show(v), map(str, allowed[axis]))}; axis values: {choices}",
                        key=f"{key}.{axis}",
                    )


def _check_names(suite: Suite) -> None:
    """The suite's name and its method labels become folder names: single safe path components."""
    try:
        safe_io.check_component(suite.data.name, "suite name")
    except BenchError as exc:
        raise ConfigError(str(exc), key="name") from None
    for i, item in enumerate(suite.method_items()):
        try:
            safe_io.check_component(item.name, "method label")
        except BenchError as exc:
            raise ConfigError(str(exc), key=f"axes.methods[{i}]") from None


def _check_unique_axes(axes: Axes) -> None:
    for axis_name in ("backbones", "datasets", "seeds"):
        values = list(getattr(axes, axis_name))
        repeated = sorted({v for v in values if values.count(v) > 1}, key=str)
        if repeated:
            raise ConfigError(
                f"lists {', '.join(map(str, repeated))} more than once; each value is one column or "
                "seed of the table, so list it once",
                key=f"axes.{axis_name}",
            )


def validate(suite: Suite) -> None:
    """Everything that can be checked without touching data: names, keys, types, ranges."""
    data = suite.data
    axes = data.axes
    for axis_name in ("methods", "backbones", "datasets", "seeds"):
        if not getattr(axes, axis_name):
            raise ConfigError("must not be empty", key=f"axes.{axis_name}")
    _check_names(suite)
    _check_unique_axes(axes)
    labels = [m.name for m in suite.method_items()]
    duplicates = {name for name in labels if labels.count(name) > 1}
    if duplicates:
        raise ConfigError(
            f"duplicate method label(s) {sorted(duplicates)}; give variants distinct labels",
            key="axes.methods",
        )
    for i, item in enumerate(suite.method_items()):
        _method_class(item.method, f"axes.methods[{i}]")
    _check_registered("backbones", list(axes.backbones), "axes.backbones")
    _check_registered("datasets", list(axes.datasets), "axes.datasets")
    schema.check_partial(Recipe, data.recipe, "recipe")
    used_methods = {m.method for m in suite.method_items()} | set(labels)
    for name in data.method_params:
        if name not in used_methods:
            raise ConfigError(
                f"{name!r} is not a method on the methods axis{did_you_mean(name, used_methods)}",
                key=f"method_params.{name}",
            )
    allowed = _axis_values(suite)
    for i, ov in enumerate(data.overrides):
        _check_cell_keys(ov.match, f"overrides[{i}].match", allowed, plural_seed=False)
        settings = schema.expand_dotted(ov.set)
        for key in settings:
            if key not in OVERRIDE_KEYS:
                raise ConfigError(
                    f"unknown key {key!r}{did_you_mean(key, OVERRIDE_KEYS)}; valid keys: {', '.join(OVERRIDE_KEYS)}",
                    key=f"overrides[{i}].set.{key}",
                )
        schema.check_partial(Recipe, settings.get("recipe", {}), f"overrides[{i}].set.recipe")
        schema.check_partial(Report, settings.get("report", {}), f"overrides[{i}].set.report")
        schema.check_partial(Resources, settings.get("resources", {}), f"overrides[{i}].set.resources")
    for i, cell in enumerate(data.include):
        _check_cell_keys(cell, f"include[{i}]", {}, plural_seed=True)
        for axis in ("method", "backbone", "dataset"):
            if axis not in cell:
                raise ConfigError("this key is required", key=f"include[{i}].{axis}")
    for i, cell in enumerate(data.exclude):
        _check_cell_keys(cell, f"exclude[{i}]", allowed, plural_seed=False)
    if not expand(suite):  # resolves every cell: catches bad parameter values and incompatible cells
        raise ConfigError(
            "the suite has no job: its exclude list removes every cell of the axes (and include adds "
            "none); remove an exclude entry or add to the axes",
            key="exclude",
        )


# --- expansion --------------------------------------------------------------------------------


def _matches(pattern: Mapping[str, Any], cell: Cell) -> bool:
    for axis, wanted in pattern.items():
        values = wanted if isinstance(wanted, list) else [wanted]
        if getattr(cell, axis) not in values:
            return False
    return True


def _cells(suite: Suite) -> list[Cell]:
    data = suite.data
    labels = [m.name for m in suite.method_items()]
    cells = [
        Cell(method, backbone, dataset, seed)
        for dataset, backbone, method, seed in itertools.product(
            data.axes.datasets, data.axes.backbones, labels, data.axes.seeds
        )
    ]
    for extra in data.include:
        seeds = extra.get("seeds", [extra["seed"]] if "seed" in extra else list(data.axes.seeds))
        cells += [Cell(extra["method"], extra["backbone"], extra["dataset"], seed) for seed in seeds]
    cells = [c for c in cells if not any(_matches(ex, c) for ex in data.exclude)]
    return list(dict.fromkeys(cells))  # drop duplicates, keep order


def _scaled(recipe: Recipe, scale: float) -> Recipe:
    if scale == 1.0:
        return recipe
    return replace(
        recipe,
        epochs=max(1, math.ceil(recipe.epochs * scale)),
        train_fraction=recipe.train_fraction * scale,
        test_fraction=recipe.test_fraction * scale,
        schedule=replace(recipe.schedule, warmup_epochs=recipe.schedule.warmup_epochs * scale),
    )


def resolve_cell(suite: Suite, cell: Cell) -> Job:
    """The job for one cell: defaults, suite settings and matching overrides merged and validated."""
    data = suite.data
    items = {m.name: m for m in suite.method_items()}
    item = items.get(cell.method) or MethodItem(method=cell.method)
    method_cls = _method_class(item.method, "include.method")
    dataset = registry.get("datasets", cell.dataset).load()
    recipe_data = schema.deep_merge(dataset.recipe_defaults(), data.recipe)
    params_data = schema.deep_merge(
        data.method_params.get(item.method, {}), data.method_params.get(item.name, {})
    )
    params_data = schema.deep_merge(params_data, item.params)
    report_data = schema.to_plain(data.report)
    resources_data = schema.to_plain(data.resources)
    where = f"cell {cell_label(cell.method, cell.backbone, cell.dataset, cell.seed)}"
    for ov in data.overrides:
        if _matches(ov.match, cell):
            settings = schema.expand_dotted(ov.set)
            recipe_data = schema.deep_merge(recipe_data, settings.get("recipe", {}))
            params_data = schema.deep_merge(params_data, settings.get("params", {}))
            report_data = schema.deep_merge(report_data, settings.get("report", {}))
            resources_data = schema.deep_merge(resources_data, settings.get("resources", {}))
    full_recipe = schema.build(Recipe, recipe_data, f"recipe ({where})")
    recipe = _scaled(full_recipe, suite.scale)
    dataset.check_recipe(recipe, where)
    resources = schema.build(Resources, resources_data, f"resources ({where})")
    if recipe.batch_size % resources.gpus:
        raise ConfigError(
            f"batch_size {recipe.batch_size} does not split evenly over {resources.gpus} GPUs; "
            "batch_size is the global batch, and every GPU must get the same number of images",
            key=f"resources.gpus ({where})",
        )
    params = schema.build(method_cls.Params, params_data, f"params of {item.method} ({where})")
    try:
        method_cls.check_compatible(
            backbone=cell.backbone, dataset=cell.dataset, image_size=recipe.image_size, params=params
        )
    except ValueError as exc:
        raise ConfigError(f"{item.method} cannot run here: {exc}", key=where) from None
    return Job(
        suite=suite.name,
        method=cell.method,
        method_name=item.method,
        method_version=method_cls.version,
        params=schema.to_plain(params),
        backbone=cell.backbone,
        dataset=cell.dataset,
        seed=cell.seed,
        recipe=recipe,
        scale=suite.scale,
        report=schema.build(Report, report_data, f"report ({where})"),
        budget_epochs=full_recipe.epochs,
        gpus=resources.gpus,
    )


def expand(suite: Suite) -> list[Job]:
    """The suite's jobs in a stable order (dataset, backbone, method, seed). Pure: no I/O."""
    return list(suite.jobs)
