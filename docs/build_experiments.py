"""Rebuild the table in docs/experiments.md from docs/experiments.csv.

The CSV is the record (one row per variant tried); the Markdown table between the two
markers is generated so the two never disagree. Run: python docs/build_experiments.py
"""

import csv
from pathlib import Path

HERE = Path(__file__).parent
START, END = "<!-- experiments-table:start -->", "<!-- experiments-table:end -->"


def table(rows: list[list[str]]) -> str:
    # a pipe inside a cell would split it into two columns
    cells = [[c.replace("|", "/") for c in row] for row in rows]
    header, body = cells[0], cells[1:]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def main() -> None:
    with open(HERE / "experiments.csv", newline="") as f:
        rows = list(csv.reader(f))
    md_path = HERE / "experiments.md"
    md = md_path.read_text()
    head, rest = md.split(START, 1)
    _, tail = rest.split(END, 1)
    md_path.write_text(f"{head}{START}\n{table(rows)}\n{END}{tail}")


if __name__ == "__main__":
    main()
