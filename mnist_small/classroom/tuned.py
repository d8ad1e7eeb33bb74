"""A class's fine-tuned models (``<model>+class``), kept in the class set's database so every app
replica on every machine loads the same ones: the weights as safetensors bytes and the run
record in one row, written in one transaction (so, unlike a checkpoint's two files, they cannot
disagree), and a stamp that changes with every save, so a replica knows when to load again.

A ``<model>+class`` checkpoint in the checkpoints folder (made before the models moved here) is
the default class's, on the machines whose folder holds it, until a fine-tune of the same model
for the default class replaces it (``class_zoo``)."""

from __future__ import annotations

import json
import time
import uuid

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save
from sqlalchemy import select
from sqlalchemy.engine import Connection

from ..checkpoints import CheckpointError, LoadedModel, built
from ..classset.store import DEFAULT_CLASS, DIALECTS, ClassSet
from ..records import RunRecord
from ..registry import CLASS, REGISTRY, get_spec
from .tables import models, transaction


def save_model(connection: Connection, code: str, model: torch.nn.Module, run: RunRecord) -> str:
    """Keep ``model`` as class ``code``'s ``run.name`` in the caller's transaction, replacing an
    older one of that name; returns its new stamp."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    weights = save(tensors, metadata={"model": run.name, "epoch": str(run.epochs_completed)})  # as save_checkpoint tags its file
    stamp = uuid.uuid4().hex
    row = {"code": code, "name": run.name, "weights": weights, "run": json.dumps(run.to_dict()), "stamp": stamp, "created": time.time()}
    upsert = DIALECTS[connection.dialect.name].insert(models).values(**row)
    upsert = upsert.on_conflict_do_update(index_elements=[models.c.code, models.c.name], set_={k: upsert.excluded[k] for k in row})
    connection.execute(upsert)
    return stamp


def model_stamps(store: ClassSet) -> tuple[tuple[str, str], ...]:
    """(name, stamp) of each of the class's fine-tuned models: one small query, to know whether
    the models loaded before are still the current ones."""
    with transaction(store) as connection:
        rows = connection.execute(select(models.c.name, models.c.stamp).where(models.c.code == store.code).order_by(models.c.name))
        return tuple((r.name, r.stamp) for r in rows)


def _order(name: str) -> int:
    base = name.removesuffix(CLASS)
    return list(REGISTRY).index(base) if base in REGISTRY else len(REGISTRY)


def class_models(store: ClassSet) -> tuple[dict[str, LoadedModel], dict[str, str]]:
    """The class's fine-tuned models, loaded and checked as a checkpoint is (in the zoo's order),
    and the reason each one that cannot be used failed."""
    with transaction(store) as connection:
        rows = connection.execute(select(models.c.name, models.c.weights, models.c.run).where(models.c.code == store.code)).all()
    loaded, failed = {}, {}
    for row in sorted(rows, key=lambda r: _order(r.name)):
        where = f"class {store.code}'s {row.name} in {store.where}"
        try:
            run = RunRecord.from_dict(json.loads(row.run))
            if run.name != row.name or not row.name.endswith(CLASS):
                raise CheckpointError(where, f"its record names {run.name!r}")  # type: ignore[arg-type]
            # the weights' epoch tag is not checked: one row, written in one transaction with its record
            loaded[row.name] = built(get_spec(row.name), run, load(bytes(row.weights)), where, where)
        except (CheckpointError, SafetensorError, KeyError, TypeError, ValueError) as err:
            failed[row.name] = str(err) if isinstance(err, CheckpointError) else f"{where}: {err}"
    return loaded, failed


def class_zoo(zoo: dict[str, LoadedModel], tuned: dict[str, LoadedModel], code: str) -> dict[str, LoadedModel]:
    """The models a class sees: the zoo (loaded from the checkpoints folder), each model followed
    by the class's fine-tuned one. A ``+class`` checkpoint in the folder counts for the default
    class only, and a fine-tune of the same name in the database replaces it."""
    merged: dict[str, LoadedModel] = {}
    for name, loaded in zoo.items():
        if name.endswith(CLASS):
            continue  # placed after its base
        merged[name] = loaded
        own = name + CLASS
        if own in tuned:
            merged[own] = tuned[own]
        elif code == DEFAULT_CLASS and own in zoo:
            merged[own] = zoo[own]
    merged.update((name, loaded) for name, loaded in tuned.items() if name not in merged)  # its base failed to load: still the class's
    return merged
