"""`bench visualize`: the same image pairs mixed by each method, with the label weights, as a figure
sized for a paper (bench/report/mixed_figure.py draws it).

Images: real photographs by default (scikit-image's bundled `chelsea`, `coffee`, `astronaut`,
`rocket`), so that the figure shows what each method does to an object; `--images a.jpg b.jpg`
mixes the user's own (or other bundled photographs, by name); `--dataset D` mixes D's test images
instead. Each method mixes A with B as in training (its own lambda, boxes, masks and saliency; one
independent draw per pair), except that the partners are fixed so that every method shows the same
pairs, and that lambda ~ Beta(alpha, alpha) is drawn with alpha = 1 (uniform) unless `--alpha
default` asks for each method's own: with the CIFAR defaults (alpha = 0.2) most draws are so close
to 0 or 1 that the mix cannot be seen. Methods that need a model (PuzzleMix's saliency,
ManifoldMix's features, the learned mixers) get a small backbone trained briefly on `--dataset`
(synthetic by default; the caption says which; an untrained timm ResNet has zero-initialised
residual branches and gradients only on a sparse pixel lattice, so PuzzleMix's saliency needs a
few training steps). Every training step is shown on a progress bar.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.commands.common import add_format_argument, figure_formats, load_settings, out

DEFAULT_NAME = "figures/mixed.png"  # under bench.toml's reports folder
PHOTO_SIZE = 128  # px: the photographs' resolution when mixed (a cell prints at about 0.8 in)
TRAIN_BATCH = 32  # images per step when the figure's classifier is trained


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("visualize", help="draw image pairs mixed by each method (a figure for a paper)")
    cmd.add_argument(
        "--methods", default="all", help="comma-separated method names (default: all but vanilla)"
    )
    cmd.add_argument(
        "--images",
        nargs="+",
        metavar="IMAGE",
        help="photographs to mix, in pairs (A1 B1 A2 B2 ...): files, or names of scikit-image's bundled "
        "photographs (default: chelsea coffee astronaut rocket, unless --dataset is given)",
    )
    cmd.add_argument(
        "--dataset",
        help="a registered dataset whose files are present: without --images, mix its images; always, "
        "the data the model-guided methods' network trains on (default: synthetic)",
    )
    cmd.add_argument(
        "--out",
        help=f"file to write; its suffix is replaced by each --format (default: <reports>/{DEFAULT_NAME})",
    )
    add_format_argument(cmd)
    cmd.add_argument(
        "--width",
        type=float,
        default=5.5,
        help="printed width in inches, text at 7 pt (default 5.5: ICLR/NeurIPS text; 3.25: one column "
        "of a two-column paper; 6.9: its full width)",
    )
    cmd.add_argument("--samples", type=int, default=3, help="with --dataset: number of pairs (default 3)")
    cmd.add_argument(
        "--image-size",
        type=int,
        help=f"resolution to mix at (default: {PHOTO_SIZE} for photographs; the dataset's, at least 64 for synthetic)",
    )
    cmd.add_argument(
        "--alpha",
        default="1",
        help="Beta(alpha, alpha) for every method's lambda in the figure, or 'default' for each method's own",
    )
    cmd.add_argument(
        "--split",
        choices=["train", "test"],
        default="test",
        help="with --dataset: the split the pairs come from (default: test)",
    )
    cmd.add_argument("--seed", type=int, default=0, help="picks the pairs and seeds every method's draws")
    cmd.add_argument("--backbone", default="tiny_resnet", help="the model for model-guided methods")
    cmd.add_argument(
        "--train-steps",
        type=int,
        default=50,
        help="vanilla SGD steps on the dataset before mixing, and Mix Block steps of the learned mixers (0: untrained)",
    )
    cmd.add_argument("--data-root", help="folder with the dataset releases (overrides bench.toml)")
    cmd.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench.errors import BenchError
    from bench.report import mixed_figure

    if args.samples < 1:
        raise BenchError(f"--samples must be at least 1, got {args.samples}")
    if args.train_steps < 0:
        raise BenchError(f"--train-steps must be >= 0, got {args.train_steps}")
    if args.width < 2 * mixed_figure.CELL_MIN_IN:
        raise BenchError(
            f"--width must be at least {2 * mixed_figure.CELL_MIN_IN:g} (inches), got {args.width:g}"
        )
    try:
        alpha = None if args.alpha == "default" else float(args.alpha)
    except ValueError:
        raise BenchError(f"--alpha must be a number or 'default', got {args.alpha!r}") from None
    if alpha is not None and alpha <= 0:
        raise BenchError(f"--alpha must be > 0, got {alpha}")
    formats = figure_formats(args.format)
    photos = args.images if args.images else (None if args.dataset else list(mixed_figure.DEFAULT_PHOTOS))
    if photos is not None:
        mixed_figure.check_pairs(photos)
    settings = load_settings(args)
    paths = draw(
        methods=None if args.methods == "all" else [m.strip() for m in args.methods.split(",") if m.strip()],
        dataset=args.dataset or "synthetic",
        photos=photos,
        out=Path(args.out) if args.out else settings.reports_dir / DEFAULT_NAME,
        samples=args.samples,
        image_size=args.image_size,
        split=args.split,
        seed=args.seed,
        backbone=args.backbone,
        train_steps=args.train_steps,
        alpha=alpha,
        data_root=settings.data_root,
        width=args.width,
        formats=formats,
    )
    out.print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def draw(
    *,
    methods: list[str] | None,
    dataset: str,
    out: Path,
    photos: list[str] | None = None,
    samples: int = 3,
    image_size: int | None = None,
    split: str = "test",
    seed: int = 0,
    backbone: str = "tiny_resnet",
    train_steps: int = 50,
    alpha: float | None = 1.0,
    data_root: Path = Path("data"),
    width: float = 5.5,
    formats: tuple[str, ...] = ("png",),
) -> list[Path]:
    """Mix fixed pairs (`photos`, or `samples` pairs of `dataset` images) with every method and
    save the figure to `out` in each format; returns the paths written."""
    from bench import registry
    from bench.progress import progress
    from bench.report import mixed_figure

    spec = registry.get("datasets", dataset).load()
    if photos is not None:
        size, samples = image_size or PHOTO_SIZE, len(photos) // 2
    else:
        size = image_size or (64 if spec.image_size < 32 else spec.image_size)
    jobs = _jobs(methods, spec, size, backbone, alpha, seed)
    if photos is not None:
        images, labels, names = _photo_pairs(photos, spec, size)
    else:
        images, labels = _pairs(spec, data_root, split, size, samples, seed)
        names = [f"{dataset} {split}"] * (2 * samples)
    guided = any(_uses_model(job) for job in jobs)
    model = _model(jobs[0], spec, data_root, train_steps if guided else 0)
    rows = []
    with progress("mixing", total=len(jobs)) as bar:
        for job in jobs:
            bar.describe(f"mixing: {job.method}")
            cells = _mixed(job, spec, model, images, labels, data_root, train_steps)
            rows.append(_figure_row(job, cells, spec))
            bar.advance()
    shown = (
        f"photographs at {size} px (scikit-image's bundled ones unless files were given)"
        if photos is not None
        else f"{dataset} {split} images at {size} px"
    )
    notes = [f"Mixed samples: {shown}, seed {seed}; label weights of A and B under each image"]
    notes.append(
        "lambda ~ Beta(1, 1) for every method"
        if alpha == 1
        else f"Beta alpha = {alpha:g}"
        if alpha
        else "each method's default alpha"
    )
    notes += _model_notes(jobs, dataset, backbone, train_steps if guided else 0)
    pairs = [
        mixed_figure.SourcePair(
            _shown(images[i], spec), _shown(images[samples + i], spec), names[i], names[samples + i]
        )
        for i in range(samples)
    ]
    return mixed_figure.draw(pairs, rows, "; ".join(notes) + ".", out, width=width, formats=formats)


def _jobs(methods, spec, size: int, backbone: str, alpha, seed: int) -> list:
    """One job per method (alpha set where the method has one), each checked against the backbone."""
    import dataclasses

    from bench import build, registry
    from bench.errors import BenchError

    names = methods if methods is not None else [m for m in registry.METHODS if m != "vanilla"]
    if not names:
        raise BenchError("--methods: name at least one method")
    recipe = _recipe(size)
    jobs = []
    for name in names:
        cls = registry.get("methods", name).load()
        fields = {f.name for f in dataclasses.fields(cls.Params)}
        params = {"alpha": alpha} if alpha is not None and "alpha" in fields else {}
        if cls.missing_dependency():
            raise BenchError(f"{name} cannot be shown here: {cls.missing_dependency()}")
        try:
            cls.check_compatible(
                backbone=backbone, dataset=spec.name, image_size=size, params=cls.Params(**params)
            )
        except ValueError as exc:
            raise BenchError(f"{name} cannot be shown at {size} px with {backbone}: {exc}") from None
        jobs.append(
            build.job_for(name, backbone=backbone, dataset=spec.name, recipe=recipe, seed=seed, params=params)
        )
    return jobs


def _mixed(job, spec, model, images, labels, data_root: Path, train_steps: int) -> list:
    """The method's mix of each pair (A_i, B_i): (image, sources, label weights, note) per column.
    A learned method first trains its Mix Block with a copy of the classifier."""
    import copy

    import torch

    from bench import build

    learned = _is_learned(job)
    net = copy.deepcopy(model) if learned and train_steps else model
    built = build.build(job, spec, steps_per_epoch=max(1, train_steps), net=net)
    if learned and train_steps:
        _train(built, spec, data_root, train_steps, job.seed, label=f"training {job.method}'s Mix Block")
    samples = len(images) // 2
    cells = []
    for i in range(samples):  # one pair per call: every column is an independent draw
        pair = torch.stack([images[i], images[samples + i]])
        with built.method.fixed_partners(torch.tensor([1, 0])):
            preview = built.method.preview(net, pair, labels[[i, samples + i]])
        cells.append((preview.images[0], preview.sources[0], preview.weights[0], preview.note))
    return cells


def _is_learned(job) -> bool:
    from bench import registry
    from bench.methods.base import Kind

    return registry.get("methods", job.method_name).load().kind is Kind.LEARNED


def _uses_model(job) -> bool:
    from bench import registry

    return registry.get("methods", job.method_name).load().kind.uses_model


def _model_notes(jobs, dataset: str, backbone: str, train_steps: int) -> list[str]:
    """What the caption says about the network the model-guided methods read."""
    from bench import registry

    def shown(job) -> str:  # as the figure's titles print it
        return (
            registry.published_name("methods", job.method_name)
            if job.method == job.method_name
            else job.method
        )

    guided = [shown(j) for j in jobs if _uses_model(j)]
    learned = [shown(j) for j in jobs if _is_learned(j)]
    notes = []
    if guided:
        model_note = (
            f"trained for {train_steps} vanilla SGD steps on {dataset}"
            if train_steps
            else "freshly initialised (untrained)"
        )
        verb = "uses" if len(guided) == 1 else "use"
        notes.append(f"{', '.join(guided)} {verb} {backbone} {model_note}")
    if learned:  # their generator trains with the classifier
        notes.append(
            f"{', '.join(learned)}: Mix Block trained with the classifier for {train_steps} more steps"
            if train_steps
            else f"{', '.join(learned)}: Mix Block untrained (near-uniform masks)"
        )
    return notes


def _pairs(spec, data_root: Path, split: str, size: int, samples: int, seed: int):
    """A batch [A_1..A_n, B_1..B_n] of normalised images, each B from a different class than its A."""
    import torch
    import torch.nn.functional as F

    from bench.data import transforms
    from bench.data.base import FileIndex
    from bench.errors import BenchError

    data = spec.load(data_root, split, size)
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(data), generator=g)
    first, second = [], []
    for i in order.tolist():
        if len(first) < samples:
            first.append(i)
        elif len(second) < samples and data.labels[i] != data.labels[first[len(second)]]:
            second.append(i)
        if len(second) == samples:
            break
    if len(second) < samples:
        raise BenchError(f"{spec.name} {split}: not enough images for {samples} pairs of different classes")
    index = torch.tensor(first + second)
    if isinstance(data, FileIndex):  # image files of any size: decode these few at the test transform
        test = transforms.build("none", size, interpolation=spec.interpolation, eval_crop=spec.eval_crop)
        pixels = torch.stack([test.one(data.pil(i), None) for i in index.tolist()]).float() / 255
    else:
        pixels = data.images[index].float() / 255
    if pixels.shape[-1] != size:
        pixels = F.interpolate(
            pixels, size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
    mean, std = torch.tensor(spec.mean).view(1, 3, 1, 1), torch.tensor(spec.std).view(1, 3, 1, 1)
    return (pixels - mean) / std, data.labels[index]


def _recipe(size: int):
    """The figure's training recipe: plain SGD at a constant lr on flipped images."""
    from bench.recipe import Optimizer, Recipe, Schedule

    return Recipe(
        epochs=1,
        batch_size=TRAIN_BATCH,
        image_size=size,
        optimizer=Optimizer(lr=0.05, momentum=0.9, weight_decay=5e-4),
        schedule=Schedule(name="constant"),
        augmentation="flip",
    )


def _model(job, spec, data_root: Path, steps: int):
    """The backbone for model-guided methods, built for `job` (its backbone and seed) and trained
    for `steps` vanilla steps (0: untrained)."""
    from bench import build

    vanilla = build.job_for(
        "vanilla", backbone=job.backbone, dataset=job.dataset, recipe=job.recipe, seed=job.seed
    )
    built = build.build(vanilla, spec, steps_per_epoch=max(1, steps))
    if steps:
        _train(built, spec, data_root, steps, job.seed)
    return built.model.train()


def _train(built, spec, data_root: Path, steps: int, seed: int, label: str = "training the network") -> None:
    """`steps` steps of the built method's loss and optimizer on the training split (flip only),
    calling its `after_step` after each (a learned method's EMA update), on a progress bar."""
    import torch
    import torch.nn.functional as F

    from bench.data.pipeline import make_loader
    from bench.progress import progress

    model, method, optimizer = built.model, built.method, built.optimizer
    size = method.ctx.image_size
    loader = make_loader(
        spec,
        spec.load(data_root, "train", size),
        "flip",
        size,
        TRAIN_BATCH,
        torch.device("cpu"),
        generator=torch.Generator().manual_seed(seed),
    )
    done = 0
    with progress(f"{label} ({spec.name}, {size} px)", total=steps) as bar:
        while done < steps:
            for x, y in loader:
                if x.shape[-1] != size:
                    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
                loss = method.loss(model, x, y)[0]
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                method.after_step(model)
                done += 1
                bar.advance()
                if done == steps:
                    return


def _shown(x, spec):
    """A normalised (3, H, W) tensor as an (H, W, 3) array in [0, 1]."""
    import torch

    mean, std = torch.tensor(spec.mean).view(3, 1, 1), torch.tensor(spec.std).view(3, 1, 1)
    return (x.detach().float().cpu() * std + mean).clamp(0, 1).permute(1, 2, 0).numpy()


def _figure_row(job, cells: list, spec):
    """A method's cells for the figure: each image, and its label weights with each source once."""
    from bench import registry
    from bench.report.mixed_figure import MixedCell, MixedRow, summed_weights

    name = (
        registry.published_name("methods", job.method_name) if job.method == job.method_name else job.method
    )
    return MixedRow(
        name,
        [
            MixedCell(
                _shown(image, spec),
                summed_weights(sources.tolist(), weights.tolist(), {0: "A", 1: "B"}),
                note,
            )
            for image, sources, weights, note in cells
        ],
    )


def _photo_pairs(photos: list[str], spec, size: int):
    """A batch [A_1..A_n, B_1..B_n] of normalised photographs, labels 0 and 1 (any two classes:
    only the model-guided methods read them), and each image's name."""
    import numpy as np
    import torch

    from bench.report.mixed_figure import load_photo, photo_names

    pairs = len(photos) // 2
    order = photos[0::2] + photos[1::2]  # A1 B1 A2 B2 -> A1 A2 B1 B2
    pixels = (
        torch.from_numpy(np.stack([load_photo(p, size) for p in order])).permute(0, 3, 1, 2).float() / 255
    )
    mean, std = torch.tensor(spec.mean).view(1, 3, 1, 1), torch.tensor(spec.std).view(1, 3, 1, 1)
    labels = torch.tensor([0] * pairs + [1 % spec.num_classes] * pairs)
    return (pixels - mean) / std, labels, photo_names(order)
