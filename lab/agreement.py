"""NumPy beside PyTorch: the test accuracies of the original recipe trained
by main.py and by PyTorch from the same initial weights and batches
(`python3 -m lab.benchmark accuracy`), side by side in a Markdown table.

    python3 -m lab.agreement results/original results/pytorch

reads the saved runs: main.py's in the first directory, PyTorch's in the
second (saved by `lab.benchmark accuracy --results-dir`), and sets side by
side the runs of the same name (network, seed and settings).
"""
from lab import stopping
if __name__ == "__main__":
    stopping.quiet_ctrl_c("lab.agreement")

import os
import statistics
import sys

from lab import options, results, tables

NETWORKS = ("bn", "plain", "bn-after-relu")        # main.NETWORKS's order


def table(numpy_accuracy, torch_accuracy):
    """For each network: NumPy's and PyTorch's mean, standard deviation, min
    and max over the seeds, and PyTorch - NumPy seed by seed, in Markdown.
    Each argument is {(network, run name): test accuracy}; only the runs
    both have are shown."""
    shared = sorted(set(numpy_accuracy) & set(torch_accuracy))
    rows = []
    for kind in [kind for kind in NETWORKS if any(key[0] == kind for key in shared)]:
        keys = [key for key in shared if key[0] == kind]
        cells = []
        for accuracy in (numpy_accuracy, torch_accuracy):
            values = [accuracy[key] for key in keys]
            std = f"{statistics.stdev(values):.4f}" if len(values) > 1 else "-"
            cells.append(f"{statistics.mean(values):.4f}, {std} "
                         f"({min(values):.4f}-{max(values):.4f})")
        # Rounded as shown: two accuracies equal to the last digit differ by 0.0000.
        differences = [round(torch_accuracy[key] - numpy_accuracy[key], 4) for key in keys]
        equal = sum(difference == 0 for difference in differences)
        low, high = (f"{value:+.4f}" if value else "0.0000"
                     for value in (min(differences), max(differences)))
        cells.append(f"{low} to {high}; {equal} of {len(keys)} equal")
        rows.append([f"`{kind}`", *cells])
    return tables.markdown(["network", "NumPy: mean, std (min-max)",
                            "PyTorch: mean, std (min-max)", "PyTorch - NumPy, seed by seed"],
                           rows)


def test_accuracies(directory):
    """{(network, run name): test accuracy} of the finished runs saved in
    directory. A run's name holds its seed and settings: runs of the same
    name were trained alike."""
    return {(record["network"], record["run"]): record["test_accuracy"]
            for record in results.read_records(directory) if record["status"] == "finished"}


def holds_numpy_runs(directory):
    """True if directory holds a run main.py saved: one with weights.npz,
    which PyTorch's runs (lab.benchmark accuracy --results-dir) lack."""
    try:
        paths = results.run_directories(directory).values()
    except results.ResultsError:
        return False
    return any(path and os.path.lexists(os.path.join(path, results.WEIGHTS)) for path in paths)


def main(argv=None):
    parser = options.OneLineParser(
        prog="lab.agreement",
        description="NumPy's and PyTorch's test accuracies side by side, from saved runs of "
                    "the same settings, in Markdown.")
    parser.add_argument("numpy_dir", help="main.py's runs (results/original)")
    parser.add_argument("pytorch_dir", help="PyTorch's runs, saved by python3 -m lab.benchmark "
                                            "accuracy --results-dir")
    args = parser.parse_args(argv)
    why = (f"{args.numpy_dir} is named twice: name main.py's runs, then PyTorch's"
           if os.path.realpath(args.numpy_dir) == os.path.realpath(args.pytorch_dir) else
           f"{args.pytorch_dir} holds main.py's runs (their weights.npz), not PyTorch's: name "
           "the directory lab.benchmark accuracy --results-dir wrote"
           if holds_numpy_runs(args.pytorch_dir) else None)
    if why:
        print(f"lab.agreement: error: {why}", file=sys.stderr)
        return 2
    try:
        numpy_accuracy, torch_accuracy = (test_accuracies(directory) for directory in
                                          (args.numpy_dir, args.pytorch_dir))
    except results.ResultsError as error:
        print(f"lab.agreement: error: {error}", file=sys.stderr)
        return 2
    if not set(numpy_accuracy) & set(torch_accuracy):
        print(f"lab.agreement: error: {args.numpy_dir}/ and {args.pytorch_dir}/ share no run "
              "(the same network, seed and settings): train them first",
              file=sys.stderr)
        return 2
    print(table(numpy_accuracy, torch_accuracy), end="")
    return 0


if __name__ == "__main__":
    sys.exit(stopping.tool("lab.agreement", main))
