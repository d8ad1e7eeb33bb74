"""Mean and spread of the final test accuracy over training runs with different seeds.

    for s in 1 2; do
      mkdir -p runs/seed$s && cp checkpoints/padded_gap_7.9k.* runs/seed$s/  # our models' teacher
      python train.py --data-dir ../shared/mnist --seed $s --out runs/seed$s --models ours_separable_gdc_5.0k ours_separable_2.0k three_blocks_9.6k
    done
    python -m benchmarks.seed_spread checkpoints runs/seed1 runs/seed2 --models ours_separable_gdc_5.0k ours_separable_2.0k three_blocks_9.6k

Reads the checkpoints' own JSON (the final epoch of each run) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from mnist_small.checkpoints import meta_path, read_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="checkpoint folders, one per seed")
    parser.add_argument("--models", nargs="+", required=True)
    args = parser.parse_args()
    print("| model | seeds | MNIST test, final epoch: mean ± std | each seed | drawn MNIST: mean ± std | train time (mean) |")
    print("| --- | --- | ---: | --- | ---: | ---: |")
    for name in args.models:
        runs = [read_run(meta_path(folder, name)) for folder in args.folders]
        accs = [run.final_acc for run in runs]
        drawn = [run.drawn_acc for run in runs if run.drawn_acc is not None]
        seeds = ", ".join(str(run.seed) for run in runs)
        each = " / ".join(f"{a:.2f}" for a in accs)
        drawn_text = f"{statistics.mean(drawn):.2f} ± {statistics.stdev(drawn):.2f}%" if len(drawn) > 1 else "-"
        seconds = statistics.mean(run.train_seconds for run in runs)
        print(
            f"| `{name}` | {seeds} | {statistics.mean(accs):.2f} ± {statistics.stdev(accs):.2f}% | {each} | {drawn_text} | {seconds:.0f} s |"
        )


if __name__ == "__main__":
    main()
