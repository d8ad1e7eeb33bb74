"""``mnist-small class export|import|finetune``: the class set on the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ..checkpoints import CheckpointError
from ..classset.folder import export_set, import_folder
from ..classset.store import DEFAULT_CLASS, ClassSet, ClassSetError
from ..settings import DATA_ENV, DB_ENV, class_db_url, data_dir
from .finetune import STEPS, FinetuneError
from .jobs import run_job


def add_parser(sub: argparse._SubParsersAction) -> None:
    cl = sub.add_parser("class", help="the class set: export it, import one, fine-tune a model on it")
    cl.add_argument("--db", default=None, help=f"the class set's database URL (default: ${DB_ENV}, else a SQLite file in DATA/class/)")
    cl.add_argument("--data", type=Path, default=data_dir(), help=f"the data folder (default: ${DATA_ENV}, else data)")
    actions = cl.add_subparsers(dest="action", required=True)
    one_class = argparse.ArgumentParser(add_help=False)  # after the action, as `class export OUT --class 7b` reads
    one_class.add_argument("--class", dest="code", default=DEFAULT_CLASS, help=f"the class's code (default: {DEFAULT_CLASS})")
    ex = actions.add_parser(
        "export", parents=[one_class], help="write labels.csv, the PNGs and inputs.npz (the 28x28 model inputs) to OUT_DIR"
    )
    ex.add_argument("out_dir", type=Path)
    im = actions.add_parser("import", parents=[one_class], help="add the drawings of an exported folder to this class set")
    im.add_argument("in_dir", type=Path)
    ft = actions.add_parser(
        "finetune",
        parents=[one_class],
        help="fine-tune MODEL on the class's drawings (held out by student); keeps MODEL+class in the database",
    )
    ft.add_argument("model")
    ft.add_argument("--steps", type=int, default=STEPS, help=f"training steps (default {STEPS})")
    ft.add_argument("--job", default=None, help=argparse.SUPPRESS)  # the claim the app made when it started this job


def run(args: argparse.Namespace) -> int:
    url = args.db or class_db_url(args.data)
    try:
        store = ClassSet(url, args.code)
        if args.action == "export":
            count = export_set(store, args.out_dir)
            print(
                f"exported {count} drawings of class {store.code} from {store.where} to {args.out_dir}/ (labels.csv, drawings/, inputs.npz)"
            )
        elif args.action == "import":
            added, known = import_folder(store, args.in_dir)
            skipped = f" ({known} already in the set)" if known else ""
            print(f"imported {added} drawings from {args.in_dir}/ into class {store.code} in {store.where}{skipped}")
        else:
            torch.set_num_threads(1)  # a job beside the app: the class's answers come first
            result = run_job(args.model, url, store.code, args.checkpoints, args.data, steps=args.steps, token=args.job)
            data = result.class_data or {}
            print(f"kept {result.name} for class {store.code} in {store.where}: {data.get('before')} -> {data.get('after')}")
    except (ClassSetError, FinetuneError, CheckpointError, ValueError) as err:
        raise SystemExit(f"error: {err}") from err
    return 0
