"""What one drawing of the class set may hold: its fields checked as a student's drawing is, its
28x28 input as bytes, and the digest that makes the same drawing imported twice one row."""

from __future__ import annotations

import hashlib
import math
import time

import numpy as np

FLAGS = ("dot", "scribble", "two digits")  # what preprocess.Prepared.flag can say about a drawing
MAX_STUDENT = 32  # characters of an anonymous id (the app's are 12)
MAX_ANSWERS = 200  # models answering one drawing: the zoo is 20, with class models a few more
MAX_MODEL_NAME = 100
FUTURE_SLACK = 86_400  # seconds a drawing's time may lie ahead of this machine's clock (another machine's clock)


def pixels_of(image: np.ndarray) -> bytes:
    """A 28x28 float image in [0, 1] as 784 bytes."""
    if image.shape != (28, 28):
        raise ValueError(f"expected a 28x28 image, got shape {image.shape}")
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8).tobytes()


def image_of(pixels: bytes) -> np.ndarray:
    return np.frombuffer(pixels, dtype=np.uint8).reshape(28, 28).astype(np.float32) / 255


def checked_row(label: object, student: object, flag: object, answers: object, created: object) -> dict:
    """The fields of a drawing as the store keeps them; a ValueError says which one cannot be.
    ``add`` and every import go through it, so an imported row holds only what a student could add."""
    if isinstance(label, bool) or not isinstance(label, (int, np.integer, str)) or str(label).strip() not in DIGITS:
        raise ValueError(f"label {label!r} is not a digit 0-9")
    if not isinstance(student, str) or not 0 < len(student) <= MAX_STUDENT or not student.isprintable():
        raise ValueError(f"student {student!r} is not an id of 1-{MAX_STUDENT} printable characters")
    if flag is not None and flag not in FLAGS:
        raise ValueError(f"unknown flag {flag!r}; known: {', '.join(FLAGS)}")
    if not isinstance(answers, dict) or len(answers) > MAX_ANSWERS:
        raise ValueError(f"answers must be a mapping of at most {MAX_ANSWERS} model names to digits")
    for name, digit in answers.items():
        if not isinstance(name, str) or not 0 < len(name) <= MAX_MODEL_NAME or not name.isprintable():
            raise ValueError(f"answers: {name!r} is not a model name")
        if isinstance(digit, bool) or not isinstance(digit, (int, np.integer)) or not 0 <= digit <= 9:
            raise ValueError(f"answers: {name}'s answer {digit!r} is not a digit 0-9")
    try:
        when = float(created)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"created {created!r} is not a time (Unix seconds)") from None
    if not math.isfinite(when) or not 0 <= when <= time.time() + FUTURE_SLACK:
        raise ValueError(f"created {created!r} is not a time between 1970 and now")
    return {
        "label": int(str(label).strip()),
        "student": student,
        "flag": flag,
        "answers": {k: int(v) for k, v in answers.items()},
        "created": when,
    }


DIGITS = tuple(str(d) for d in range(10))


def digest_of(row: dict) -> str:
    """What makes two rows the same drawing: who, when, the label and both pictures."""
    h = hashlib.sha256(f"{row['label']}|{row['student']}|{row['created']:.3f}|".encode())
    h.update(row["pixels"])
    h.update(row["png"])
    return h.hexdigest()
