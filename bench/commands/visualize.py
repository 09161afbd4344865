"""`bench visualize`: the same image pairs mixed by each method, with the label weights, as a PNG.

Rows are methods, columns are pairs (A, B), like the mixed-sample figures of the papers; the top two
rows show the sources. Each method mixes A with B as in training (its own lambda, boxes, masks and
saliency; one independent draw per column), except that the partners are fixed so that every row
shows the same pairs, and that lambda ~ Beta(alpha, alpha) is drawn with alpha = 1 (uniform) unless
`--alpha default` asks for each method's own: with the CIFAR defaults (alpha = 0.2) most draws are
so close to 0 or 1 that the mix cannot be seen. Methods that need a model (PuzzleMix's saliency,
ManifoldMix's features) get a small backbone, freshly initialised or briefly trained on the dataset
(the caption says which; an untrained timm ResNet has zero-initialised residual branches and
gradients only on a sparse pixel lattice, so PuzzleMix's saliency needs a few training steps).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.commands.common import load_settings, out

DEFAULT_OUT = "reports/figures/mixed.png"
TRAIN_BATCH = 32  # images per step when the figure's classifier is trained


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("visualize", help="draw image pairs mixed by each method (a PNG grid)")
    cmd.add_argument(
        "--methods", default="all", help="comma-separated method names (default: all but vanilla)"
    )
    cmd.add_argument("--dataset", default="synthetic", help="a registered dataset whose files are present")
    cmd.add_argument("--out", default=DEFAULT_OUT, help=f"PNG to write (default: {DEFAULT_OUT})")
    cmd.add_argument("--samples", type=int, default=6, help="number of pairs (columns)")
    cmd.add_argument(
        "--image-size",
        type=int,
        help="resolution to mix at (default: the dataset's, at least 64 for synthetic)",
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
        help="vanilla SGD steps on the dataset before mixing (0: untrained)",
    )
    cmd.add_argument("--data-root", help="folder with the dataset releases (overrides bench.toml)")
    cmd.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench.errors import BenchError

    if args.samples < 1:
        raise BenchError(f"--samples must be at least 1, got {args.samples}")
    if args.train_steps < 0:
        raise BenchError(f"--train-steps must be >= 0, got {args.train_steps}")
    try:
        alpha = None if args.alpha == "default" else float(args.alpha)
    except ValueError:
        raise BenchError(f"--alpha must be a number or 'default', got {args.alpha!r}") from None
    if alpha is not None and alpha <= 0:
        raise BenchError(f"--alpha must be > 0, got {alpha}")
    settings = load_settings(args)
    path = draw(
        methods=None if args.methods == "all" else [m.strip() for m in args.methods.split(",") if m.strip()],
        dataset=args.dataset,
        out=Path(args.out),
        samples=args.samples,
        image_size=args.image_size,
        split=args.split,
        seed=args.seed,
        backbone=args.backbone,
        train_steps=args.train_steps,
        alpha=alpha,
        data_root=settings.data_root,
    )
    out.print(f"wrote {path}")
    return 0


def draw(
    *,
    methods: list[str] | None,
    dataset: str,
    out: Path,
    samples: int = 6,
    image_size: int | None = None,
    split: str = "test",
    seed: int = 0,
    backbone: str = "tiny_resnet",
    train_steps: int = 50,
    alpha: float | None = 1.0,
    data_root: Path = Path("data"),
) -> Path:
    """Mix `samples` fixed pairs of `dataset` images with every method and save the grid to `out`."""
    from bench import registry

    spec = registry.get("datasets", dataset).load()
    size = image_size or (64 if spec.image_size < 32 else spec.image_size)
    jobs = _jobs(methods, spec, size, backbone, alpha, seed)
    images, labels = _pairs(spec, data_root, split, size, samples, seed)
    model = _model(jobs[0], spec, data_root, train_steps)
    rows = [(job.method, _mixed(job, spec, model, images, labels, data_root, train_steps)) for job in jobs]
    notes = [f"{dataset} {split} images at {size} px, seed {seed}"]
    notes.append(
        "lambda ~ Beta(1, 1) for every method"
        if alpha == 1
        else f"Beta alpha = {alpha}"
        if alpha
        else "each method's default alpha"
    )
    notes += _model_notes(jobs, dataset, backbone, train_steps)
    _save(out, spec, images, samples, rows, "; ".join(notes))
    return out


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
        _train(built, spec, data_root, train_steps, job.seed)
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


def _model_notes(jobs, dataset: str, backbone: str, train_steps: int) -> list[str]:
    """What the caption says about the network the model-guided methods read."""
    from bench import registry

    guided = [j.method for j in jobs if registry.get("methods", j.method_name).load().kind.uses_model]
    learned = [j.method for j in jobs if _is_learned(j)]
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


def _train(built, spec, data_root: Path, steps: int, seed: int) -> None:
    """`steps` steps of the built method's loss and optimizer on the training split (flip only),
    calling its `after_step` after each (a learned method's EMA update)."""
    import torch
    import torch.nn.functional as F

    from bench.data.pipeline import make_loader

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
            if done == steps:
                return


def _save(out: Path, spec, images, samples: int, rows, caption: str) -> None:
    """Rows: A, B, then one per method; columns: the pairs. Titles give the label weights."""
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from bench.safe_io import atomic_write

    mean, std = torch.tensor(spec.mean).view(3, 1, 1), torch.tensor(spec.std).view(3, 1, 1)

    def shown(x: torch.Tensor):
        return (x.detach().float().cpu() * std + mean).clamp(0, 1).permute(1, 2, 0).numpy()

    cell = 1.6
    width = 2.0 + cell * samples
    # The caption is wrapped to the figure's width and gets its own strip below the grid.
    caption_lines = textwrap.wrap(caption, width=int(width * 13))
    caption_height = 0.15 + 0.16 * len(caption_lines)
    height = 0.6 + (cell + 0.35) * (2 + len(rows)) + caption_height
    fig, axes = plt.subplots(2 + len(rows), samples, figsize=(width, height), squeeze=False)
    for col in range(samples):
        for row, label in enumerate("AB"):
            axes[row, col].imshow(shown(images[row * samples + col]), interpolation="nearest")
            axes[row, col].set_title(f"{label}{col + 1}", fontsize=9)
    for r, (name, cells) in enumerate(rows, start=2):
        for col, (mixed, sources, weights, note) in enumerate(cells):
            axes[r, col].imshow(shown(mixed), interpolation="nearest")
            tags = {0: "A", 1: "B"}
            title = " + ".join(
                f"{w:.2f} {tags.get(s, s)}" for s, w in zip(sources.tolist(), weights.tolist())
            )
            axes[r, col].set_title(title, fontsize=7.5)
            axes[r, col].set_xlabel(note, fontsize=7)  # what the picture shows, when it is not the input
        axes[r, 0].set_ylabel(name, fontsize=10, rotation=0, ha="right", va="center", labelpad=8)
    axes[0, 0].set_ylabel("source A", fontsize=10, rotation=0, ha="right", va="center", labelpad=8)
    axes[1, 0].set_ylabel("source B", fontsize=10, rotation=0, ha="right", va="center", labelpad=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Mixed samples (label weights above each image)", fontsize=11)
    fig.text(0.5, 0.05 / height, "\n".join(caption_lines), ha="center", va="bottom", fontsize=8)
    fig.tight_layout(rect=(0, caption_height / height, 1, 1 - 0.3 / height))
    atomic_write(out, lambda f: fig.savefig(f, format="png", dpi=90), mode="wb")
    plt.close(fig)
