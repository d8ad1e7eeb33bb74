"""Writer-level cross-validation of the +pen twins: how well they read writers they never saw.

    OMP_NUM_THREADS=1 GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824 \\
      nice -n 19 python -m benchmarks.pen_cv --data-dir ../shared/mnist --pen ../shared/pendigits --models depthwise_6.5k+pen
    python -m benchmarks.pen_cv --models depthwise_6.5k+pen --elastic 0.05      # a variant of the recipe, same folds
    python -m benchmarks.pen_cv --report                                         # the saved results as Markdown

The 30 writers of pendigits-orig.tra are dealt into --folds folds (``pen.writer_folds``: a
writer is never split). For each fold the +pen twin is trained as train.py trains it (its
registered recipe, fine-tuned from the MNIST checkpoint in --checkpoints, distilled from it),
with the pen digits of the other folds' writers (drawn --renders times each with distorted
trajectories, as ``render.training_set``), then scored on the held-out writers drawn as the
validation figure is (``render.validation_set``: seed 0, the pen's own trajectory). Fold
models go to --work (a temporary folder), never to checkpoints/; a finished fold is kept there
and read back, so a run stopped half-way continues where it stopped. Results (per fold,
per writer, MNIST test accuracy of each fold's model, wall and CPU time) are merged into
--results (JSON) and a per-writer CSV beside it, under a tag naming the model and variant.
Choices are made on these figures; MNIST's test accuracy is only checked (within 0.15 points
of the MNIST twin).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import shutil
import statistics
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from mnist_small.checkpoints import load_checkpoint, meta_path, read_run, weights_path
from mnist_small.data import load_mnist, normalize
from mnist_small.handwriting.pen import TRAIN_FILE, WRITERS, PenDigit, pen_file, read_pendigits, writer_folds
from mnist_small.handwriting.render import EVAL_SEED, cached, digit_rng, random_look, render, render_set
from mnist_small.registry import PEN, REGISTRY
from mnist_small.training import PEN_RENDERS, PenTensors, Tensors, evaluate, train_model

MNIST_KEEP = 0.15  # points of MNIST test accuracy a +pen model may lose against its MNIST twin (issue 28)
ELASTIC_WAVES = 3  # sine waves summed per axis: a smooth, low-frequency displacement field
ROOT = Path(__file__).resolve().parent.parent


# --- drawing: every writer's digits, once, cached; a fold takes its writers' rows ---------------


def elastic(digit: PenDigit, amount: float, seed: int) -> PenDigit:
    """The digit with a smooth random displacement of its trajectory (an elastic distortion of the
    pen's path, not of pixels): a sum of ELASTIC_WAVES plane sine waves of 0.5-1.5 cycles across
    the digit, up to ``amount`` of the digit's longer side in size. From its own generator, so the
    brush, size, place and affine distortion (``digit_rng``) stay those of the plain renders."""
    rng = np.random.default_rng([seed, digit.writer, digit.sample, digit.label, 1])
    points = digit.points
    centre, longest = (points.min(0) + points.max(0)) / 2, max(float(np.ptp(points, 0).max()), 1e-9)
    size = rng.uniform(0, amount) * longest
    angle = rng.uniform(0, 2 * np.pi, ELASTIC_WAVES)
    waves = np.stack([np.cos(angle), np.sin(angle)]) * rng.uniform(0.5, 1.5, ELASTIC_WAVES) * 2 * np.pi  # (2, waves)
    phase = rng.uniform(0, 2 * np.pi, ELASTIC_WAVES)
    weights = rng.normal(0, 1, (ELASTIC_WAVES, 2)) / np.sqrt(ELASTIC_WAVES)
    strokes = tuple(s + size * np.sin((s - centre) / longest @ waves + phase) @ weights for s in digit.strokes)
    return PenDigit(digit.label, digit.writer, digit.sample, strokes)


def drawn(file: Path, digits: list[PenDigit], seed: int, augment: bool, amount: float = 0.0) -> torch.Tensor:
    """All ``digits`` drawn as ``render_set(digits, seed, augment)`` (with ``elastic`` first if
    ``amount``), (n, 28, 28) uint8, through the pen digits' disk cache. A digit's look depends on
    the digit and seed only, so a training writer's rows equal train.py's training_set's."""
    what = f"cross-validation, all writers, seed {seed} augment {augment}" + (f" elastic {amount:g} x{ELASTIC_WAVES}" if amount else "")

    def draw() -> torch.Tensor:
        if not amount:
            return render_set(digits, seed, augment).images
        looks = (random_look(digit_rng(d, seed), augment) for d in digits)
        return torch.from_numpy(np.stack([render(elastic(d, amount, seed), look) for d, look in zip(digits, looks, strict=True)]))

    return cached(file, what, len(digits), draw, print)


# --- one fold ---------------------------------------------------------------------------------


def run_fold(args: argparse.Namespace, name: str, fold: int, held_out: tuple[int, ...], data: Tensors, pen: dict, folder: Path) -> dict:
    """Train ``name`` (with the variant's changes) on MNIST + the other folds' writers, score it on ``held_out``."""
    base = REGISTRY[name].recipe.init_from
    folder.mkdir(parents=True, exist_ok=True)
    for path in (meta_path(args.checkpoints, base), weights_path(args.checkpoints, base)):  # the base model and teacher
        shutil.copy2(path, folder / path.name)
    train_rows = ~torch.isin(pen["train_writers"], torch.tensor(held_out))
    test_rows = torch.isin(pen["test_writers"], torch.tensor(held_out))
    trained_on = sorted(set(pen["train_writers"][train_rows].tolist()))
    assert not set(trained_on) & set(held_out), "a held-out writer among the training writers"
    pen_tensors = PenTensors(
        normalize(pen["train_images"][train_rows][:, None]),
        pen["train_labels"][train_rows],
        normalize(pen["test_images"][test_rows][:, None]),
        pen["test_labels"][test_rows],
        {"file": TRAIN_FILE, "train_writers": trained_on, "validation_writers": list(held_out), "renders": args.renders},
    )
    spec = REGISTRY[name]
    recipe = dataclasses.replace(spec.recipe, pen_share=args.pen_share or spec.recipe.pen_share, epochs=args.epochs or spec.recipe.epochs)
    wall, cpu = time.perf_counter(), time.process_time()
    run = train_model(
        dataclasses.replace(spec, recipe=recipe),
        dataclasses.replace(data, pen=pen_tensors),
        folder,
        seed=args.seed,
        show_progress=False,
        log=print,
    )
    _, accuracy, predicted = evaluate(load_checkpoint(name, folder).model, pen_tensors.val_x, pen_tensors.val_y)
    labels, writers = pen_tensors.val_y.tolist(), pen["test_writers"][test_rows].tolist()
    per_writer = {w: [0, 0] for w in held_out}
    for w, y, p in zip(writers, labels, predicted.tolist(), strict=True):
        per_writer[w][0] += 1
        per_writer[w][1] += int(y == p)
    confusions = Counter((y, p) for y, p in zip(labels, predicted.tolist(), strict=True) if y != p)
    return {
        "fold": fold,
        "writers": list(held_out),
        "digits": len(labels),
        "pen_acc": round(accuracy, 4),
        "pen_acc_per_epoch": [e.pen_acc for e in run.history],  # shown, never chosen from: the final epoch counts
        "mnist_test": run.final_acc,
        "per_writer": {str(w): {"digits": n, "correct": c} for w, (n, c) in per_writer.items()},
        "confusions": [[y, p, n] for (y, p), n in confusions.most_common()],
        "recipe": {"pen_share": recipe.pen_share, "epochs": recipe.epochs, "renders": args.renders, "elastic": args.elastic},
        "wall_s": round(time.perf_counter() - wall, 1),
        "cpu_s": round(time.process_time() - cpu, 1),
        "threads": torch.get_num_threads(),
    }


def fold_line(r: dict, twin: float) -> str:
    worst = min(r["per_writer"].items(), key=lambda kv: kv[1]["correct"] / kv[1]["digits"])
    epochs = " / ".join(f"{a:.2f}" for a in r["pen_acc_per_epoch"])
    return (
        f"fold {r['fold']}  writers {','.join(map(str, r['writers'])):<18} {r['digits']:>5,} digits  pen {r['pen_acc']:6.2f}%  "
        f"(per epoch {epochs})  MNIST test {r['mnist_test']:.2f}% ({r['mnist_test'] - twin:+.2f})  "
        f"worst writer {worst[0]} {100 * worst[1]['correct'] / worst[1]['digits']:.2f}%  wall {r['wall_s']:.0f} s  CPU {r['cpu_s']:.0f} s"
    )


def summary(folds: list[dict], twin: float) -> dict:
    """Mean and spread across folds, the pooled figure over every held-out digit, and the writers."""
    accs = [f["pen_acc"] for f in folds]
    writers = {int(w): (f["fold"], v["correct"], v["digits"]) for f in folds for w, v in f["per_writer"].items()}
    by_writer = sorted(((100 * c / n, w, fold) for w, (fold, c, n) in writers.items()))
    confusions = Counter()
    for f in folds:
        confusions.update({(y, p): n for y, p, n in f["confusions"]})
    mnist = [f["mnist_test"] for f in folds]
    return {
        "folds": len(folds),
        "mean": round(statistics.mean(accs), 3),
        "std": round(statistics.stdev(accs), 3) if len(accs) > 1 else None,
        "min": min(accs),
        "max": max(accs),
        "pooled": round(100 * sum(c for _, c, _ in writers.values()) / sum(n for *_, n in writers.values()), 3),
        "worst_writers": [{"writer": w, "fold": fold, "acc": round(a, 2)} for a, w, fold in by_writer[:3]],
        "writers_below_97": sum(a < 97 for a, _, _ in by_writer),
        "top_confusions": [f"{y} as {p} ({n})" for (y, p), n in confusions.most_common(6)],
        "mnist_twin": twin,
        "mnist_test_min": min(mnist),
        "mnist_worst_delta": round(min(mnist) - twin, 2),
        "mnist_kept": min(mnist) >= twin - MNIST_KEEP,
        "wall_s_per_fold": round(statistics.mean(f["wall_s"] for f in folds), 1),
        "cpu_s_per_fold": round(statistics.mean(f["cpu_s"] for f in folds), 1),
    }


def summary_line(s: dict) -> str:
    worst = s["worst_writers"][0]
    std = f"{s['std']:.2f}" if s["std"] is not None else "-"
    return (
        f"mean {s['mean']:.2f}% ± {std} (std over {s['folds']} folds), min {s['min']:.2f}%, max {s['max']:.2f}%; pooled {s['pooled']:.2f}%; "
        f"worst writer {worst['writer']} {worst['acc']:.2f}%; {s['writers_below_97']} writers below 97%; "
        f"MNIST worst {s['mnist_test_min']:.2f}% ({s['mnist_worst_delta']:+.2f} vs twin {s['mnist_twin']:.2f}%: "
        f"{'kept' if s['mnist_kept'] else 'LOST'}); confusions {', '.join(s['top_confusions'])}"
    )


# --- results files ----------------------------------------------------------------------------


def save(results_path: Path, tag: str, entry: dict) -> None:
    """Merge ``entry`` under ``tag`` into the JSON file and rewrite the per-writer CSV beside it."""
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    results[tag] = entry
    results_path.write_text(json.dumps(results, indent=1) + "\n")
    with results_path.with_suffix(".csv").open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["tag", "model", "fold", "writer", "digits", "correct", "accuracy", "fold_pen_acc", "fold_mnist_test"])
        for t, e in results.items():
            for r in e["folds"]:
                for w, v in r["per_writer"].items():
                    acc = round(100 * v["correct"] / v["digits"], 2)
                    out.writerow([t, e["model"], r["fold"], w, v["digits"], v["correct"], acc, r["pen_acc"], r["mnist_test"]])


def report(results_path: Path) -> None:
    """The saved results as Markdown: one row per tag, then its folds side by side."""
    results = json.loads(results_path.read_text())
    print(
        "| model, variant | folds: pen accuracy of the held-out writers | mean ± std | min-max | pooled | worst writer | MNIST test, worst fold |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for tag, e in results.items():
        s = e["summary"]
        each = " / ".join(f"{f['pen_acc']:.2f}" for f in e["folds"])
        w = s["worst_writers"][0]
        std = f"{s['std']:.2f}" if s["std"] is not None else "-"
        print(
            f"| `{tag}` | {each} | {s['mean']:.2f} ± {std}% | {s['min']:.2f}-{s['max']:.2f}% | {s['pooled']:.2f}% | "
            f"{w['writer']}: {w['acc']:.2f}% | {s['mnist_test_min']:.2f}% ({s['mnist_worst_delta']:+.2f}) |"
        )


def variant_tag(name: str, args: argparse.Namespace) -> str:
    parts = [f"share {args.pen_share:g}" if args.pen_share else "", f"epochs {args.epochs}" if args.epochs else ""]
    parts += [f"renders {args.renders}" if args.renders != PEN_RENDERS else "", f"elastic {args.elastic:g}" if args.elastic else ""]
    parts += [f"seed {args.seed}" if args.seed else ""]
    return " ".join([name, *(p for p in parts if p)]) if any(parts) else f"{name} (today's recipe)"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    pens = [n for n in REGISTRY if n.endswith(PEN)]
    p.add_argument("--models", nargs="+", default=["depthwise_6.5k+pen"], choices=pens, metavar="NAME", help="+pen twins to cross-validate")
    p.add_argument("--folds", type=int, default=5, help="writer folds (default 5: 6 writers each)")
    p.add_argument("--only", type=int, nargs="+", metavar="FOLD", help="run these folds (1-based) only; the others are read if done")
    p.add_argument("--no-train", action="store_true", help="train nothing: summarise and save the folds already finished in --work")
    p.add_argument("--data-dir", default="../shared/mnist", help="MNIST folder (MNIST/raw/ inside)")
    p.add_argument("--pen", default="../shared/pendigits", help=f"folder with {TRAIN_FILE}")
    p.add_argument("--checkpoints", type=Path, default=ROOT / "checkpoints", help="where the MNIST twins are read from (never written)")
    p.add_argument("--work", type=Path, default=Path("/tmp/pen-cv"), help="fold models and finished folds (default /tmp/pen-cv)")
    p.add_argument("--results", type=Path, default=ROOT / "docs" / "pen-cv.json", help="JSON to merge results into (CSV beside it)")
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0, as train.py)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--pen-share", type=float, help="variant: the pen share of each batch (recipe: 0.25)")
    p.add_argument("--epochs", type=int, help="variant: fine-tuning epochs (recipe: 4)")
    p.add_argument(
        "--renders", type=int, default=PEN_RENDERS, help=f"variant: distorted drawings per training digit (default {PEN_RENDERS})"
    )
    p.add_argument(
        "--elastic", type=float, default=0.0, help="variant: elastic trajectory distortion, up to this share of the digit's size"
    )
    p.add_argument("--report", action="store_true", help="print the saved results as Markdown and stop")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report:
        report(args.results)
        return 0
    torch.set_num_threads(args.threads)
    file = pen_file(args.pen)
    digits = read_pendigits(file)
    started = time.perf_counter(), time.process_time()
    train_images = torch.cat([drawn(file, digits, r, True, args.elastic) for r in range(args.renders)])
    pen = {
        "train_images": train_images,
        "train_labels": torch.tensor([d.label for d in digits]).repeat(args.renders),
        "train_writers": torch.tensor([d.writer for d in digits]).repeat(args.renders),
        "test_images": drawn(file, digits, EVAL_SEED, False),
        "test_labels": torch.tensor([d.label for d in digits]),
        "test_writers": torch.tensor([d.writer for d in digits]),
    }
    print(
        f"pen digits drawn or read from the cache: {time.perf_counter() - started[0]:.0f} s wall, {time.process_time() - started[1]:.0f} s CPU"
    )
    data = Tensors.from_mnist(load_mnist(args.data_dir), torch.device("cpu"))
    folds = writer_folds(WRITERS, args.folds)
    for name in args.models:
        tag = variant_tag(name, args)
        twin = read_run(meta_path(args.checkpoints, REGISTRY[name].recipe.init_from)).final_acc
        work = args.work / tag.replace(" ", "_").replace("(", "").replace(")", "").replace("'", "")
        print(f"\n{tag}: {args.folds} folds, MNIST twin {twin:.2f}%, fold models in {work}")
        done = []
        for fold, held_out in enumerate(folds, 1):
            saved = work / f"fold{fold}" / "result.json"
            if saved.exists():
                result = json.loads(saved.read_text())
            elif args.no_train or (args.only and fold not in args.only):
                continue
            else:
                result = run_fold(args, name, fold, held_out, data, pen, saved.parent)
                saved.write_text(json.dumps(result, indent=1))
            done.append(result)
            print(fold_line(result, twin))
        if not done:
            continue
        entry = {"model": name, "tag": tag, "complete": len(done) == args.folds, "folds": done, "summary": summary(done, twin)}
        entry["command"] = "python -m benchmarks.pen_cv --models " + name + (f" --folds {args.folds}" if args.folds != 5 else "")
        entry["command"] += "".join(
            f" --{k.replace('_', '-')} {getattr(args, k)}" for k in ("pen_share", "epochs", "elastic", "seed") if getattr(args, k)
        )
        entry["command"] += f" --renders {args.renders}" if args.renders != PEN_RENDERS else ""
        print(summary_line(entry["summary"]) + ("" if entry["complete"] else f"  (only {len(done)} of {args.folds} folds)"))
        save(args.results, tag, entry)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
