"""One short real training run, its checkpoint, resume and the train.py command line."""

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import train as train_py
from mnist_small.checkpoints import CheckpointError, load_checkpoint, resume_path, same_recipe
from mnist_small.registry import PEN, REGISTRY, Recipe
from mnist_small.training import PenTensors, Tensors, distillation_loss, evaluate, make_optimizer, make_scheduler, train_model

from .conftest import CHECKPOINTS, MNIST_DIR, ROOT, class_rows

NAME = "three_blocks_9.6k"


@pytest.fixture(scope="module")
def small(mnist):
    """4,000 training images and 2,000 test images, normalised."""
    full = Tensors.from_mnist(mnist, torch.device("cpu"))
    return Tensors(full.train_x[:4000], full.train_y[:4000], full.test_x[:2000], full.test_y[:2000], full.checksum)


@pytest.fixture(scope="module")
def run(small, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    record = train_model(REGISTRY[NAME], small, out, seed=3, epochs=2, show_progress=False, log=lambda _: None)
    return out, record


def test_short_run_beats_chance_and_writes_a_checkpoint(run, small):
    out, record = run
    assert [h.epoch for h in record.history] == [1, 2] and record.epochs_completed == 2
    assert record.complete and record.train_images == 4000 and record.threads == torch.get_num_threads()
    assert record.final_acc > 85.0  # chance is 10%
    assert sum(map(sum, record.confusion_matrix)) == 2000
    assert len(record.misclassified) == sum(record.confusion_matrix[i][j] for i in range(10) for j in range(10) if i != j)
    assert all(m.label != m.predicted and int(small.test_y[m.index]) == m.label for m in record.misclassified)
    assert not resume_path(out, NAME).exists(), "a finished run leaves no resume state"

    loaded = load_checkpoint(NAME, out)
    assert loaded.run == record, "the JSON reads back to the same record"
    _, acc, _ = evaluate(loaded.model, small.test_x, small.test_y)
    assert acc == pytest.approx(record.final_acc, abs=0.051)


def test_interrupted_run_resumes_to_the_same_history(run, small, tmp_path):
    _, uninterrupted = run

    def stop_after_first_epoch(line):
        if "epoch  1/2" in line:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_model(REGISTRY[NAME], small, tmp_path, seed=3, epochs=2, show_progress=False, log=stop_after_first_epoch)
    partial = load_checkpoint(NAME, tmp_path)
    assert partial.run.epochs_completed == 1 and not partial.run.complete
    assert resume_path(tmp_path, NAME).exists()

    lines = []
    resumed = train_model(REGISTRY[NAME], small, tmp_path, seed=3, epochs=2, resume=True, show_progress=False, log=lines.append)
    assert "resuming after epoch 1" in lines[0]
    strip = lambda h: [dataclasses.replace(e, seconds=0.0) for e in h]  # noqa: E731
    assert strip(resumed.history) == strip(uninterrupted.history)

    again = train_model(REGISTRY[NAME], small, tmp_path, seed=3, epochs=2, resume=True, show_progress=False, log=lines.append)
    assert "already trained" in lines[-1] and again.history == resumed.history


def test_train_py_command_line(mnist, tmp_path):
    out = tmp_path / "ckpt"
    cmd = [
        sys.executable,
        "train.py",
        "--models",
        "squeeze1x1_4.2k",
        "--epochs",
        "1",
        "--train-subset",
        "2000",
        "--data-dir",
        str(MNIST_DIR),
        "--out",
        str(out),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "squeeze1x1_4.2k" in proc.stdout and "final acc" in proc.stdout
    assert (out / "squeeze1x1_4.2k.safetensors").exists() and (out / "squeeze1x1_4.2k.json").exists()


def child_pids(pid: int) -> set[int]:
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == pid:
            pids.add(int(stat.parent.name))
    return pids


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; workers end with train.py on Linux only")
def test_killed_train_py_stops_its_workers_and_resumes(mnist, tmp_path):
    out = tmp_path / "ckpt"
    cmd = [sys.executable, "train.py", "--models", NAME, "--epochs", "8", "--train-subset", "3000"]
    cmd += ["--data-dir", str(MNIST_DIR), "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (out / f"{NAME}.json").exists():  # the first epoch is saved
            assert proc.poll() is None and time.monotonic() < deadline, "train.py ended or hung before its first epoch"
            time.sleep(0.1)
        workers = child_pids(proc.pid)
        proc.terminate()
        proc.wait(30)
    finally:
        proc.kill()
    assert workers
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "a worker outlived train.py"
    assert json.loads((out / f"{NAME}.json").read_text())["epochs_completed"] < 8

    resumed = subprocess.run([*cmd, "--resume"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((out / f"{NAME}.json").read_text())["epochs_completed"] == 8


def test_train_py_reports_missing_data(tmp_path):
    cmd = [sys.executable, "train.py", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o")]
    offline = "http://127.0.0.1:9"  # a closed local port: torchvision's download fails at once
    env = {**os.environ, "HTTP_PROXY": offline, "HTTPS_PROXY": offline, "http_proxy": offline, "https_proxy": offline}
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 2
    assert "error: MNIST is not in" in proc.stderr and "--data-dir" in proc.stderr


def test_a_pen_twin_without_pen_digits_says_where_to_get_them(mnist, tmp_path):
    cmd = [
        sys.executable,
        "train.py",
        "--models",
        NAME + PEN,
        "--data-dir",
        str(MNIST_DIR),
        "--pen",
        str(tmp_path / "none"),
        "--out",
        str(tmp_path),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "archive.ics.uci.edu" in proc.stderr and "--pen" in proc.stderr and "Traceback" not in proc.stderr


def test_distillation_from_a_trained_teacher(run, small, tmp_path):
    out, _ = run
    recipe = dataclasses.replace(REGISTRY["ours_separable_2.0k"].recipe, teacher=NAME, distill=0.5, temperature=2.0)
    student = dataclasses.replace(REGISTRY["ours_separable_2.0k"], recipe=recipe)
    record = train_model(student, small, out, seed=0, epochs=3, show_progress=False, log=lambda _: None)
    assert record.recipe["teacher"] == NAME and record.final_acc > 50.0  # chance is 10%

    with pytest.raises(CheckpointError, match="is missing; train the teacher first"):
        train_model(student, small, tmp_path, epochs=1, show_progress=False, log=lambda _: None)
    fewer = dataclasses.replace(small, train_x=small.train_x[:3000], train_y=small.train_y[:3000])
    with pytest.raises(CheckpointError, match="not a finished run on the same 3,000 training images"):
        train_model(student, fewer, out, epochs=1, show_progress=False, log=lambda _: None)


def test_distillation_loss_is_zero_only_when_the_student_agrees():
    teacher = torch.randn(8, 10)
    assert distillation_loss(teacher.clone(), teacher, 2.0).item() == pytest.approx(0.0, abs=1e-6)
    assert distillation_loss(torch.randn(8, 10), teacher, 2.0).item() > 0.01


def test_teachers_train_first():
    spec = REGISTRY["ours_separable_2.0k"]
    student = dataclasses.replace(spec, recipe=dataclasses.replace(spec.recipe, teacher=NAME))
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(REGISTRY, spec.name, student)
        order = train_py.training_order([spec.name, "squeeze1x1_4.2k", NAME], "/nonexistent")
    assert order[0] == NAME


def test_a_student_takes_the_first_free_worker_once_its_teacher_is_done():
    teacher, student = REGISTRY["ours_separable_2.0k"].recipe.teacher, "ours_separable_2.0k"
    seeds = ["conv5x5_linear_19.9k", "wide_gap_fc_18.2k", "christmas_tree_11.0k"]
    assert train_py.ready_to_start([teacher, *seeds, student], [], jobs=2) == [teacher, seeds[0]]
    assert train_py.ready_to_start([*seeds[1:], student], [teacher, seeds[0]], jobs=2) == []
    assert train_py.ready_to_start([student, *seeds[1:]], [teacher], jobs=2) == [seeds[1]]
    assert train_py.ready_to_start([student, *seeds[2:]], [seeds[1]], jobs=2) == [student]


def test_a_fresh_out_folder_schedules_the_longest_shipped_models_first(tmp_path):
    names = ["three_blocks_9.6k", "depthwise_6.5k", "squeeze1x1_4.2k"]
    shipped_seconds = {n: json.loads((CHECKPOINTS / f"{n}.json").read_text())["train_seconds"] for n in names}
    assert train_py.training_order(names, str(tmp_path)) == sorted(names, key=lambda n: -shipped_seconds[n])


def test_sgd_momentum_follows_the_recipes_cycle():
    recipe = Recipe(epochs=1, batch_size=8, optimizer="sgd", max_lr=0.1, momentum=(0.9, 0.8), pct_start=0.5)
    optimizer = make_optimizer(torch.nn.Linear(2, 1), recipe)
    scheduler = make_scheduler(optimizer, recipe, steps_per_epoch=10)
    lrs, momenta = [], []
    for _ in range(10):
        lrs.append(optimizer.param_groups[0]["lr"])
        momenta.append(optimizer.param_groups[0]["momentum"])
        optimizer.step()
        scheduler.step()
    assert momenta[0] == pytest.approx(0.9)
    assert momenta[lrs.index(max(lrs))] == pytest.approx(0.8) == min(momenta)  # lowest where the LR peaks


def test_a_stored_recipe_with_fewer_fields_or_other_notes_is_the_same_recipe():
    recipe = REGISTRY[NAME].recipe
    stored = recipe.to_dict()
    for newer in ("teacher", "distill", "temperature"):
        del stored[newer]
    assert Recipe.from_dict(stored) == recipe
    assert same_recipe(stored, recipe.to_dict())
    assert not same_recipe({**stored, "epochs": 99}, recipe.to_dict())
    assert not same_recipe({**stored, "unknown_field": 1}, recipe.to_dict())
    assert same_recipe({**stored, "notes": ["written before a later note was edited"]}, recipe.to_dict())
    # stored before the momentum cycle was written out: SGD's 0.9, which OneCycle replaced by it
    assert Recipe.from_dict({**stored, "momentum": 0.9}).momentum == (0.95, 0.85)


def cpu_augmented_epoch(model, data, recipe, optimizer, scheduler, generator):
    """``train_one_epoch`` as it was before the whole step ran on the data's device: each batch
    augmented on the CPU and copied back, each step's loss and hits read at once."""
    import torch.nn.functional as F

    from mnist_small.training import autocast

    device = data.train_x.device
    order = torch.randperm(len(data.train_x), generator=generator).to(device)
    loss_sum, correct, seen = 0.0, 0, 0
    for start in range(0, len(order), recipe.batch_size):
        idx = order[start : start + recipe.batch_size]
        x = recipe.augment(data.train_x[idx].cpu(), generator).to(device, memory_format=torch.channels_last)
        y = data.train_y[idx]
        with autocast(device):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=recipe.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        loss_sum += loss.item() * len(y)
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(y)
    return loss_sum / seen, 100.0 * correct / seen, scheduler.get_last_lr()[0]


@pytest.mark.parametrize(
    "device",
    [
        "cpu",
        pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")),
        pytest.param("mps", marks=pytest.mark.skipif(not torch.backends.mps.is_available(), reason="no MPS device")),
    ],
)
def test_an_epoch_on_the_datas_device_trains_as_augmenting_on_the_cpu_did(small, device):
    """Augmenting on the batch's device and reading the loss only now and then changes nothing on
    the CPU, to the last bit of the loss and of every weight (the shipped histories replay); on an
    accelerator, only float rounding."""
    from tqdm import tqdm

    from mnist_small.data import Augment
    from mnist_small.training import PROGRESS_EVERY, train_one_epoch

    augment = Augment(rotation=15, translate=2, scale=(0.9, 1.1), shear=10, stroke=0.4, aspect=0.15, elastic=1.5)
    recipe = dataclasses.replace(REGISTRY[NAME].recipe, augment=augment, epochs=1)
    on_device = dataclasses.replace(small, train_x=small.train_x.to(device), train_y=small.train_y.to(device))
    steps = -(-len(small.train_x) // recipe.batch_size)
    assert steps > PROGRESS_EVERY, "long enough for the progress bar to read the loss mid-epoch"
    results, weights = [], []
    for epoch in (train_one_epoch, cpu_augmented_epoch):
        torch.manual_seed(0)
        model = REGISTRY[NAME].build().to(device, memory_format=torch.channels_last)
        optimizer = make_optimizer(model, recipe)
        scheduler = make_scheduler(optimizer, recipe, steps_per_epoch=steps)
        generator = torch.Generator().manual_seed(5)
        extra = {"progress": tqdm(total=len(small.train_x), disable=True)} if epoch is train_one_epoch else {}  # its progress path too
        results.append(epoch(model, on_device, recipe, optimizer, scheduler, generator, **extra))
        weights.append([p.detach().cpu() for p in model.parameters()])
    if device == "cpu":
        assert results[0] == results[1]
        assert all(torch.equal(a, b) for a, b in zip(*weights, strict=True))
    else:
        assert results[0][0] == pytest.approx(results[1][0], rel=0.05)


def test_a_pen_variant_fine_tunes_its_trained_model_with_pen_digits(run, small, tmp_path):
    """A +pen variant starts from its MNIST model's checkpoint, mixes pen digits into each batch,
    measures pen accuracy every epoch and records the pen data it saw. Stand-in pen digits (MNIST
    test images) keep this quick; tests/test_pen.py covers drawing the real ones."""
    out, base = run
    source = {"file": "stand-in", "renders": 1}
    pen = PenTensors(small.test_x[:300], small.test_y[:300], small.test_x[300:600], small.test_y[300:600], source)
    variant = REGISTRY[NAME + PEN]
    assert variant.recipe.init_from == variant.recipe.teacher == NAME and variant.recipe.pen_share > 0  # keeps its MNIST by distillation
    record = train_model(variant, dataclasses.replace(small, pen=pen), out, seed=3, epochs=1, show_progress=False, log=lambda _: None)
    assert record.pen_data == source and record.pen_acc == record.history[-1].pen_acc > 80.0
    assert record.final_acc > base.final_acc - 3.0, "it starts from the trained model, not from scratch"

    with pytest.raises(ValueError, match="no pen data was loaded"):
        train_model(variant, small, out, epochs=1, show_progress=False, log=lambda _: None)
    with pytest.raises(CheckpointError, match="is missing; train the model it fine-tunes first"):
        train_model(variant, dataclasses.replace(small, pen=pen), tmp_path, epochs=1, show_progress=False, log=lambda _: None)


def exported_class_set(mnist, folder: Path, n: int = 20) -> Path:
    """A class set of ``n`` MNIST test digits by 4 students, exported as the Class tab does."""
    from mnist_small.classset.folder import export_set
    from mnist_small.classset.store import ClassSet

    store = ClassSet(f"sqlite:///{folder / 'class.db'}")
    rows = class_rows(mnist, n, 4)
    store.import_rows([*rows, {**rows[0], "flag": "scribble"}])
    export_set(store, folder / "export")
    store.dispose()
    return folder / "export"


def test_a_class_set_joins_the_training_images_first(small, mnist, tmp_path):
    data = small.with_class_set(exported_class_set(mnist, tmp_path))
    repeat = data.class_set["repeated"]
    assert data.class_set["drawings"] == 20  # the flagged one left out
    assert repeat == round(0.05 * 4000 / 20) and len(data.train_x) == 4000 + 20 * repeat
    assert torch.equal(data.train_y[:20], mnist.test_labels[:20]) and torch.equal(data.train_x[20 * repeat :], small.train_x)
    held = data.holdout(1000)  # a validation split takes MNIST images, never the class's
    assert torch.equal(held.test_x, small.train_x[-1000:]) and held.class_set == data.class_set


def test_train_py_with_a_class_set_saves_a_class_model(mnist, tmp_path):
    out = tmp_path / "ckpt"
    args = ["--models", "squeeze1x1_4.2k", "--epochs", "1", "--train-subset", "3000", "--data-dir", str(MNIST_DIR), "--out", str(out)]
    args += ["--class-set", str(exported_class_set(mnist, tmp_path))]
    record = train_py.train_one("squeeze1x1_4.2k", train_py.parse_args(args), threads=torch.get_num_threads(), quiet=True)
    assert record.name == "squeeze1x1_4.2k+class" and record.class_data["drawings"] == 20
    assert not (out / "squeeze1x1_4.2k.json").exists()  # never a zoo model's name
    assert load_checkpoint("squeeze1x1_4.2k+class", out).run.class_data == record.class_data
