"""Command line: ``mnist-small evaluate|predict|table`` (or ``python -m mnist_small ...``).

mnist-small evaluate --data-dir ../shared/mnist [--drawn] [--pen [DIR]] [--record] [--json]
mnist-small predict digit.png other.jpg [--json]
mnist-small table
mnist-small class export OUT_DIR | import DIR | finetune MODEL  [--class CODE]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from .checkpoints import LoadedModel, load_all, save_run
from .classroom import cli as classcli
from .data import DataError, load_mnist, normalize
from .handwriting.drawn import cached_drawn_inputs
from .handwriting.pen import VALIDATION_WRITERS
from .handwriting.render import validation_set
from .inference import probabilities
from .preprocess import load_image, prepare
from .records import RunRecord
from .registry import PEN, twin
from .settings import CHECKPOINTS_ENV, DATA_ENV, checkpoint_dir, data_dir, pen_dir
from .training import evaluate


def load_zoo(ckpt_dir: Path) -> dict[str, LoadedModel]:
    """All loadable checkpoints; broken ones are reported on stderr and skipped."""
    loaded, failed = load_all(ckpt_dir)
    for reason in failed.values():
        print(f"warning: skipped {reason}", file=sys.stderr)
    if not loaded:
        raise SystemExit(f"error: no usable checkpoints in {ckpt_dir}/; train them with: python train.py")
    return loaded


def record_accuracies(ckpt_dir: Path, loaded: LoadedModel, row: dict) -> None:
    """Store re-measured drawn-MNIST and pen accuracies in a checkpoint's JSON (atomically).
    Both go through the app's preprocessing, so a change there changes them; the weights and
    the training history stay as the training run wrote them."""
    measured = {"drawn_acc": row.get("drawn_accuracy", loaded.run.drawn_acc), "pen_acc": row.get("pen_accuracy", loaded.run.pen_acc)}
    save_run(dataclasses.replace(loaded.run, **measured), ckpt_dir)


def cmd_evaluate(args: argparse.Namespace) -> int:
    if args.record and not (args.drawn or args.pen):
        print("error: --record stores the drawn-MNIST and pen accuracies; use it with --drawn or --pen", file=sys.stderr)
        return 2
    models = load_zoo(args.checkpoints)
    try:
        data = load_mnist(args.data_dir)
        pen = validation_set(args.pen) if args.pen is not None else None  # the validation writers' pen digits
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    images = normalize(data.test_images)
    drawn = normalize(cached_drawn_inputs(data.test_images[:, 0])) if args.drawn else None
    pen_x = normalize(pen.images[:, None]) if pen is not None else None
    report = {}
    for name, loaded in models.items():
        _, accuracy, _ = evaluate(loaded.model, images, data.test_labels)
        report[name] = {"params": loaded.run.params, "accuracy": round(accuracy, 4), "recorded_accuracy": loaded.run.final_acc}
        if drawn is not None:
            report[name]["drawn_accuracy"] = round(evaluate(loaded.model, drawn, data.test_labels)[1], 4)
        if pen is not None:
            report[name]["pen_accuracy"] = round(evaluate(loaded.model, pen_x, pen.labels)[1], 4)
        if args.record:
            record_accuracies(args.checkpoints, loaded, report[name])
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(
        f"{'model':<28} {'params':>7} {'accuracy':>9} {'recorded':>9}"
        + (f" {'drawn':>8}" if args.drawn else "")
        + (f" {'pen':>8}" if pen is not None else "")
    )
    for name, row in report.items():
        drawn_column = f" {row['drawn_accuracy']:>7.2f}%" if args.drawn else ""
        pen_column = f" {row['pen_accuracy']:>7.2f}%" if pen is not None else ""
        print(f"{name:<28} {row['params']:>7,} {row['accuracy']:>8.2f}% {row['recorded_accuracy']:>8.2f}%{drawn_column}{pen_column}")
    print(
        f"\n{len(data.test_labels):,} test images from {args.data_dir}"
        + ("; drawn: the same digits re-drawn as on the canvas" if args.drawn else "")
        + (
            f"\npen: {len(pen.labels):,} pen-written digits of the validation writers {', '.join(map(str, VALIDATION_WRITERS))} "
            f"from {args.pen}, drawn as on the canvas"
            if pen is not None
            else ""
        )
    )
    return 0


def predict_file(path: str, models: dict[str, LoadedModel]) -> dict:
    try:
        prepared = prepare(load_image(path))
    except ValueError as err:
        return {"file": path, "message": str(err), "models": {}}
    if not prepared.has_digit:
        entry = {name: {"label": None, "probabilities": [0.0] * 10} for name in models}
        return {"file": path, "message": "blank image: no digit found", "models": entry}
    x = prepared.tensor()
    result = {}
    for name, loaded in models.items():
        probs = probabilities(loaded.model, x)[0]
        result[name] = {"label": int(probs.argmax()), "probabilities": [round(float(p), 6) for p in probs]}
    entry = {"file": path, "models": result}
    if prepared.warning:
        entry["message"] = prepared.warning
    return entry


def cmd_predict(args: argparse.Namespace) -> int:
    models = load_zoo(args.checkpoints)
    results = [predict_file(path, models) for path in args.files]
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for entry in results:
            print(entry["file"] + (f"  ({entry['message']})" if "message" in entry else ""))
            for name, out in entry["models"].items():
                if out["label"] is not None:
                    print(f"  {name:<24} {out['label']}  {100 * out['probabilities'][out['label']]:5.1f}%")
    return 1 if any(not e["models"] for e in results) else 0


def cmd_table(args: argparse.Namespace) -> int:
    """The zoo as a Markdown table, from the checkpoints' own records (for the README): one row
    per architecture, its MNIST-only model and, after an arrow, its +pen variant."""
    models = load_zoo(args.checkpoints)

    def both(name: str, figure: Callable[[RunRecord], float | None], bold: bool = False) -> str:
        runs = [models[n].run for n in (name, twin(name)) if n in models]
        text = " → ".join(f"{value:.2f}%" if (value := figure(run)) is not None else "-" for run in runs)
        return f"**{text}**" if bold else text

    print(
        "| model | write-up | params | reads real handwriting: MNIST → +pen | MNIST test, final epoch | drawn MNIST "
        "| best (epoch) | write-up's best | epochs | train time |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, loaded in models.items():
        if name.endswith(PEN) and twin(name) in models:
            continue  # on its MNIST-only twin's row
        run, spec = loaded.run, loaded.spec
        reported = f"{spec.reported_best_acc:.2f}%" if spec.reported_best_acc is not None else "-"
        tuning = f" + {models[twin(name)].run.train_seconds:.0f} s" if twin(name) in models else ""
        print(
            f"| `{name}` | {spec.writeup or 'ours'} | {run.params:,} | {both(name, lambda r: r.pen_acc, bold=True)} | "
            f"{both(name, lambda r: r.final_acc)} | {both(name, lambda r: r.drawn_acc)} | {run.best.test_acc:.2f}% ({run.best.epoch}) | "
            f"{reported} | {len(run.history)} | {run.train_seconds:.0f} s{tuning} |"
        )
    return 0


def cmd_published(args: argparse.Namespace) -> int:
    """The per-epoch figures the write-ups publish (mnist_small/published.json): a table per model, or JSON."""
    from .published import FIELDS, load_published

    runs = load_published()
    if args.json:
        print(json.dumps({name: run.to_dict() for name, run in runs.items()}, indent=2))
        return 0

    def cell(value: float | None, field: str) -> str:
        if value is None:
            return "-"
        return f"{value:.2f}%" if field.endswith("_acc") else f"{value:g}"

    for name, run in runs.items():
        best, final = run.best(), run.final()
        best_text = f"{best.test_acc:.2f}% (epoch {best.epoch})" if best else "-"
        final_text = f"{cell(final.test_acc, 'test_acc')} (epoch {final.epoch})" if final else "-"
        print(f"{name}  [{run.source}, {run.params:,} params]  {len(run.epochs)} epochs, best {best_text}, final {final_text}")
        print(f"  {run.epoch_note}")
        print("  " + " ".join(f"{h:>10}" for h in ("epoch", *FIELDS)))
        for e in run.epochs:
            print("  " + " ".join(f"{c:>10}" for c in (str(e.epoch), *(cell(getattr(e, f), f) for f in FIELDS))))
        print()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mnist-small", description="Evaluate the shipped models or classify image files.")
    parser.add_argument(
        "--checkpoints", type=Path, default=checkpoint_dir(), help=f"checkpoint folder (default: ${CHECKPOINTS_ENV}, else checkpoints)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="accuracy of every checkpoint on the 10,000 MNIST test images")
    ev.add_argument(
        "--data-dir", type=Path, default=data_dir(), help=f"folder with MNIST/raw/ (default: ${DATA_ENV}, else data; downloaded if missing)"
    )
    ev.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    ev.add_argument(
        "--drawn", action="store_true", help="also measure accuracy on drawn MNIST: the test digits re-drawn as on the app's canvas"
    )
    ev.add_argument(
        "--record",
        action="store_true",
        help="with --drawn or --pen: write each model's drawn or pen accuracy into its checkpoint JSON (after a preprocessing change)",
    )
    ev.add_argument(
        "--pen",
        type=Path,
        nargs="?",
        const=pen_dir(),
        metavar="DIR",
        help="also measure accuracy on the validation writers' real pen-written digits (UCI pendigits) in DIR "
        "(default: $MNIST_SMALL_PEN, else data/pendigits)",
    )
    pr = sub.add_parser("predict", help="classify digit images (PNG/JPG, light-on-dark or dark-on-light)")
    pr.add_argument("files", nargs="+", help="image files")
    pr.add_argument("--json", action="store_true", help="print a JSON list, one entry per file")
    sub.add_parser("table", help="the zoo as a Markdown table, from the checkpoints' records")
    pu = sub.add_parser("published", help="the per-epoch figures the write-ups publish, per model")
    pu.add_argument("--json", action="store_true", help="print one JSON object instead of a table per model")
    classcli.add_parser(sub)
    args = parser.parse_args(argv)
    commands = {"evaluate": cmd_evaluate, "predict": cmd_predict, "table": cmd_table, "published": cmd_published, "class": classcli.run}
    with torch.set_grad_enabled(args.command == "class"):  # only a class fine-tune trains; restored after, for callers in-process
        return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
