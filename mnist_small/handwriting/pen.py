"""Real pen-written digits: the UCI "Pen-Based Recognition of Handwritten Digits" data set.

30 writers wrote 7,494 digits with a stylus on a tablet (``pendigits-orig.tra``). Each digit
is kept as what the pen did: one or more pen-down strokes, each a list of (x, y) points
sampled every 100 ms. They are the styles MNIST's writers rarely use (1s with a long
up-stroke, crossed 7s, open 4s, curly 9s), so they measure how well the models read a class
that writes like them; ``render`` draws them as the app's canvas would.

Source: E. Alpaydin and F. Alimoglu, "Pen-Based Recognition of Handwritten Digits", UCI
Machine Learning Repository, 1996/1998, doi:10.24432/C5MG6K, CC BY 4.0. The data is never
part of the project: it is read from a folder (``--pen DIR``, ``$MNIST_SMALL_PEN``, else
``data/pendigits``).

The split into training and validation writers is fixed here once, by writer: the
validation writers are every third writer, 3, 6, ..., 30 (10 writers, about 2,500
digits); the other 20 are the training writers. A model trained on pen digits sees only
the training writers' digits; its pen accuracy is measured on the validation writers'.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import DataError
from ..settings import PEN_ENV

TRAIN_FILE = "pendigits-orig.tra"  # the 30 writers' digits (the 14 writers of the .tes file are not used)
SHA256 = "a66225d68d7d68591e62944df1ad33b3f5aa608e2df2505844b41f5568a80da4"  # of TRAIN_FILE as published
TABLET = 500  # the tablet's coordinates run 0-500, y pointing up
WRITERS = tuple(range(1, 31))
VALIDATION_WRITERS = tuple(range(3, 31, 3))  # every third writer: 3, 6, ..., 30
TRAIN_WRITERS = tuple(w for w in WRITERS if w not in VALIDATION_WRITERS)
SOURCE = (
    'the UCI Machine Learning Repository\'s "Pen-Based Recognition of Handwritten Digits" '
    "(doi:10.24432/C5MG6K, https://archive.ics.uci.edu/dataset/81)"
)
HOW_TO_GET = (
    f"download it from {SOURCE}, uncompress {TRAIN_FILE} from {TRAIN_FILE}.Z in its zip "
    f"(`uncompress` or `gzip -d`) and put it in a folder passed as --pen DIR (default data/pendigits, or set ${PEN_ENV})"
)
# UNIPEN keywords this reader knows and ignores: the file's header and the pauses between strokes
IGNORED = {".INCLUDE", ".LEXICON", ".HIERARCHY", ".DT", ".VERSION", ".DATA_SOURCE", ".DATA_ID", ".X_DIM", ".Y_DIM"}
SEGMENT = re.compile(r'^\.SEGMENT\s+DIGIT\s+\S+\s+\S+\s+"(\d)"\s*$')
NUMBER = re.compile(r"^[-+]?\d+(\.\d*)?$")  # a coordinate: no nan, inf or exponents


class PenDataError(DataError):
    """The pen digits could not be found or read; the message says what to do."""


@dataclass(frozen=True, eq=False)
class PenDigit:
    """One pen-written digit: its label, writer (1-30) and sample number within the writer,
    and its pen-down strokes in drawing order, each an (n, 2) float array of (x, y) points in
    image coordinates (tablet pixels, y pointing down: y = 500 - the tablet's y). The arrays
    are read-only."""

    label: int
    writer: int
    sample: int
    strokes: tuple[np.ndarray, ...]

    @property
    def points(self) -> np.ndarray:
        """Every stroke's points, one (n, 2) array."""
        return np.concatenate(self.strokes)


def pen_file(path: Path | str) -> Path:
    """The data file: ``path`` itself, or ``pendigits-orig.tra`` inside the folder ``path``."""
    path = Path(path)
    file = path / TRAIN_FILE if path.is_dir() else path
    if file.is_file():
        return file
    if not path.exists():
        raise PenDataError(f"pen digits not found: {path} does not exist; {HOW_TO_GET}")
    compressed = [p.name for p in file.parent.glob(f"{TRAIN_FILE}.*")] + [p.name for p in file.parent.glob("*.zip")]
    found = f" (found {', '.join(sorted(compressed))}: uncompress it there)" if compressed else ""
    raise PenDataError(f"pen digits not found: no {TRAIN_FILE} in {file.parent}{found}; {HOW_TO_GET}")


def read_pendigits(path: Path | str) -> list[PenDigit]:
    """Every digit of ``pendigits-orig.tra`` (a folder holding it, or the file itself; gzipped
    or not), in the file's order. Raises PenDataError for a missing or malformed file."""
    file = pen_file(path)
    try:
        raw = file.read_bytes()
    except OSError as err:
        raise PenDataError(f"{file}: cannot read ({err})") from err
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise PenDataError(f"{file}: a broken gzip file ({err})") from err
    elif raw[:2] == b"\x1f\x9d":
        raise PenDataError(f"{file}: still compressed (.Z): uncompress it first (`uncompress` or `gzip -d`)")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as err:
        raise PenDataError(f"{file}: not a UNIPEN text file (byte {err.start} is not ASCII); {HOW_TO_GET}") from err
    return parse_pendigits(text, source=str(file))


def parse_pendigits(text: str, source: str = "<text>") -> list[PenDigit]:
    """Digits from UNIPEN-style text: per digit ``.SEGMENT DIGIT ... "label"``, ``.COMMENT
    label writer sample``, then one or more ``.PEN_DOWN`` / ``x y`` lines / ``.PEN_UP``.
    Anything else is an error naming the line."""
    digits: list[PenDigit] = []
    segment: dict | None = None  # the digit being read: label, line, comment, strokes
    stroke: list[tuple[float, float]] | None = None  # the points of an open pen-down stroke
    lineno = 0

    def fail(why: str, line: str | None = None) -> PenDataError:
        return PenDataError(f"{source}, line {lineno}: {why}" + (f": {line.strip()!r}" if line is not None else ""))

    def finish() -> None:
        if segment is None:
            return
        if segment["comment"] is None:
            raise PenDataError(f"{source}, line {segment['line']}: a .SEGMENT without its .COMMENT line (label writer sample)")
        if not segment["strokes"]:
            raise PenDataError(f"{source}, line {segment['line']}: a digit without any .PEN_DOWN stroke")
        label, writer, sample = segment["comment"]
        digits.append(PenDigit(label, writer, sample, tuple(segment["strokes"])))

    for lineno, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words:
            continue
        keyword = words[0]
        if stroke is not None:  # inside a pen-down stroke: points until .PEN_UP
            if keyword == ".PEN_UP":
                if not stroke:
                    raise fail("a stroke without points")
                array = np.array(stroke, dtype=np.float64)
                array[:, 1] = TABLET - array[:, 1]  # the tablet's y points up, an image's down
                array.flags.writeable = False
                segment["strokes"].append(array)
                stroke = None
                continue
            if len(words) != 2 or not (NUMBER.match(words[0]) and NUMBER.match(words[1])):
                raise fail("expected a point 'x y' or .PEN_UP", line)
            stroke.append((float(words[0]), float(words[1])))
            continue
        if keyword == ".SEGMENT":
            match = SEGMENT.match(line.strip())
            if not match:
                raise fail('expected .SEGMENT DIGIT <strokes> <quality> "<digit>"', line)
            finish()
            segment = {"label": int(match.group(1)), "line": lineno, "comment": None, "strokes": []}
        elif keyword == ".COMMENT":
            if segment is None or segment["comment"] is not None or segment["strokes"]:
                raise fail(".COMMENT outside a digit's header (it follows its .SEGMENT line)", line)
            try:
                label, writer, sample = (int(w) for w in words[1:])
            except ValueError:
                raise fail("expected .COMMENT <label> <writer> <sample>, three whole numbers", line) from None
            if label != segment["label"]:
                raise fail(f'the label {label} differs from the .SEGMENT\'s "{segment["label"]}"', line)
            segment["comment"] = (label, writer, sample)
        elif keyword == ".PEN_DOWN":
            if segment is None or segment["comment"] is None:
                raise fail(".PEN_DOWN before the digit's .SEGMENT and .COMMENT lines", line)
            stroke = []
        elif keyword == ".PEN_UP":
            raise fail(".PEN_UP without a .PEN_DOWN", line)
        elif keyword in IGNORED:
            continue
        elif keyword.startswith("."):
            raise fail(f"unknown keyword {keyword}", line)
        else:
            raise fail("a point outside a .PEN_DOWN stroke", line)
    if stroke is not None:
        raise fail("the file ends inside a .PEN_DOWN stroke (no .PEN_UP)")
    finish()
    if not digits:
        raise PenDataError(f"{source}: no digits in it (expected UNIPEN .SEGMENT/.COMMENT/.PEN_DOWN lines); {HOW_TO_GET}")
    return digits


def split(digits: list[PenDigit]) -> tuple[list[PenDigit], list[PenDigit]]:
    """(training writers' digits, validation writers' digits), each in the given order; the
    validation writers are VALIDATION_WRITERS (3, 6, ..., 30). A writer outside 1-30 (from
    another file) is an error, not silently put on either side."""
    strangers = sorted({d.writer for d in digits} - set(WRITERS))
    if strangers:
        raise PenDataError(f"writers {strangers} are not among the 30 writers of {TRAIN_FILE} (1-30)")
    validation = set(VALIDATION_WRITERS)
    return [d for d in digits if d.writer not in validation], [d for d in digits if d.writer in validation]


def writer_folds(writers: Sequence[int], k: int) -> list[tuple[int, ...]]:
    """The writers in ``k`` folds for writer-level cross-validation: sorted, then dealt out in
    turn (writer i of the sorted list to fold i mod k), so every writer is in exactly one fold,
    folds differ in size by at most one, and the split is fixed without a seed."""
    ordered = sorted(set(writers))
    if not 2 <= k <= len(ordered):
        raise ValueError(f"{k} folds need 2 to {len(ordered)} (the number of writers) folds")
    return [tuple(ordered[i::k]) for i in range(k)]
