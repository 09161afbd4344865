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
    save the figure to `out` in each format."""
    import copy
    import dataclasses

    from bench import registry
    from bench.errors import BenchError
    from bench.methods.base import InputMix
    from bench.methods.learned import LearnedMix
    from bench.progress import progress
    from bench.report import mixed_figure

    names = methods if methods is not None else [m for m in registry.METHODS if m != "vanilla"]
    if not names:
        raise BenchError("--methods: name at least one method")
    spec = registry.get("datasets", dataset).load()
    if photos is not None:
        size = image_size or PHOTO_SIZE
        samples = len(photos) // 2
    else:
        size = image_size or (64 if spec.image_size < 32 else spec.image_size)
    methods_ = []
    for name in names:
        cls = registry.get("methods", name).load()
        fields = {f.name for f in dataclasses.fields(cls.Params)}
        params = cls.Params(alpha=alpha) if alpha is not None and "alpha" in fields else cls.Params()
        try:
            cls.check_compatible(backbone=backbone, dataset=dataset, image_size=size, params=params)
        except ValueError as exc:
            raise BenchError(f"{name} cannot be shown at {size} px with {backbone}: {exc}") from None
        methods_.append((name, cls, params))

    if photos is not None:
        images, labels, source_names = _photo_pairs(photos, spec, size)
    else:
        images, labels = _pairs(spec, data_root, split, size, samples, seed)
        source_names = [f"{dataset} {split} image"] * (2 * samples)
    learned = [name for name, cls, _ in methods_ if issubclass(cls, LearnedMix)]
    guided = [name for name, cls, _ in methods_ if not issubclass(cls, InputMix)]  # they use a network
    model, trained = _model(spec, data_root, backbone, size, train_steps if guided else 0, seed)
    rows = []
    with progress("mixing", total=len(methods_)) as bar:
        for name, cls, params in methods_:
            bar.describe(f"mixing: {name}")
            method = _method(cls, params, spec, size, backbone, seed)
            net = model
            if (
                issubclass(cls, LearnedMix) and train_steps
            ):  # train the Mix Block with a copy of the classifier
                net = copy.deepcopy(model)
                method.setup(net)
                loss = lambda x, y, m=method, n=net: m.loss(n, x, y)[0]  # noqa: E731
                _train(
                    net,
                    loss,
                    method.param_groups(),
                    spec,
                    data_root,
                    size,
                    train_steps,
                    seed,
                    method.after_step,
                    label=f"training {name}'s Mix Block",
                )
            else:
                method.setup(net)
            rows.append(_mixed_row(name, method, net, images, labels, samples, spec))
            bar.advance()
    caption = _caption(
        dataset, split, size, seed, alpha, photos, guided, learned, backbone, trained, train_steps
    )
    pairs = [_source_pair(images, spec, i, samples, source_names) for i in range(samples)]
    return mixed_figure.draw(pairs, rows, caption, out, width=width, formats=formats)


def _shown(x, spec):
    """A normalised (3, H, W) tensor as an (H, W, 3) array in [0, 1]."""
    import torch

    mean, std = torch.tensor(spec.mean).view(3, 1, 1), torch.tensor(spec.std).view(3, 1, 1)
    return (x.detach().float().cpu() * std + mean).clamp(0, 1).permute(1, 2, 0).numpy()


def _source_pair(images, spec, i: int, samples: int, names: list[str]):
    from bench.report.mixed_figure import SourcePair

    return SourcePair(
        _shown(images[i], spec), _shown(images[samples + i], spec), names[i], names[samples + i]
    )


def _mixed_row(name: str, method, net, images, labels, samples: int, spec):
    """One figure row: `method`'s mix of each pair (A_i, B_i), one independent draw per pair."""
    import torch

    from bench import registry
    from bench.report.mixed_figure import MixedCell, MixedRow, summed_weights

    cells = []
    for i in range(samples):
        pair = torch.stack([images[i], images[samples + i]])
        with method.fixed_partners(torch.tensor([1, 0])):
            preview = method.preview(net, pair, labels[[i, samples + i]])
        weights = summed_weights(preview.sources[0].tolist(), preview.weights[0].tolist(), {0: "A", 1: "B"})
        cells.append(MixedCell(_shown(preview.images[0], spec), weights, preview.note))
    return MixedRow(registry.published_name("methods", name), cells)


def _caption(
    dataset, split, size, seed, alpha, photos, guided, learned, backbone, trained, train_steps
) -> str:
    from bench import registry

    def names(methods: list[str]) -> str:
        return ", ".join(registry.published_name("methods", m) for m in methods)

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
    if guided:
        model_note = (
            f"trained for {trained} vanilla SGD steps on {dataset}"
            if trained
            else "freshly initialised (untrained)"
        )
        verb = "uses" if len(guided) == 1 else "use"
        notes.append(f"{names(guided)} {verb} {backbone} {model_note}")
    if learned:  # their generator trains with the classifier
        notes.append(
            f"{names(learned)}: Mix Block trained with the classifier for {train_steps} more steps"
            if train_steps
            else f"{names(learned)}: Mix Block untrained (near-uniform masks)"
        )
    return "; ".join(notes) + "."


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


def _model(spec, data_root: Path, backbone: str, size: int, steps: int, seed: int):
    """The backbone for model-guided methods: trained for `steps` vanilla steps (0: untrained)."""
    import torch
    import torch.nn.functional as F

    from bench.models.backbones import build_backbone

    torch.manual_seed(seed)
    model = build_backbone(backbone, num_classes=spec.num_classes, image_size=size)
    if steps:
        _train(model, lambda x, y: F.cross_entropy(model(x), y), [], spec, data_root, size, steps, seed)
    return model.train(), steps


def _train(
    model,
    loss_fn,
    extra_groups,
    spec,
    data_root: Path,
    size: int,
    steps: int,
    seed: int,
    after=None,
    label: str = "training the network",
) -> None:
    """`steps` SGD steps of `loss_fn(images, labels)` on the training split (flip only), calling
    `after(model)` after each (a learned method's EMA update), on a progress bar."""
    import torch
    import torch.nn.functional as F

    from bench.data.pipeline import make_loader
    from bench.progress import progress

    loader = make_loader(
        spec,
        spec.load(data_root, "train", size),
        "flip",
        size,
        32,
        torch.device("cpu"),
        generator=torch.Generator().manual_seed(seed),
    )
    groups = [{"params": list(model.parameters())}, *extra_groups]
    optimizer = torch.optim.SGD(groups, lr=0.05, momentum=0.9, weight_decay=5e-4)
    done = 0
    with progress(f"{label} ({spec.name}, {size} px)", total=steps) as bar:
        while done < steps:
            for x, y in loader:
                if x.shape[-1] != size:
                    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
                loss = loss_fn(x, y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if after is not None:
                    after(model)
                done += 1
                bar.advance()
                if done == steps:
                    return


def _method(cls, params, spec, size: int, backbone: str, seed: int):
    import torch

    from bench.methods.base import MethodContext

    ctx = MethodContext(
        num_classes=spec.num_classes,
        image_size=size,
        label_smoothing=0.0,
        generator=torch.Generator().manual_seed(seed),
        device=torch.device("cpu"),
        steps_per_epoch=1,
        total_steps=1,
        backbone=backbone,
        mean=spec.mean,
        std=spec.std,
    )
    return cls(params, ctx)
