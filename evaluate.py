"""Use a trained network: what it gets right and wrong on the test split, or
on a CSV of your own digits.

    python3 evaluate.py results/bn_seed0/weights.npz
    python3 evaluate.py results/bn_seed0/weights.npz --csv my_digits.csv
    python3 evaluate.py results/bn_seed0/weights.npz results/plain_seed0/weights.npz

For each weights file written by main.py it prints the accuracy, the
accuracy per digit, and the confusion matrix; with matplotlib installed it
also draws mistakes.png beside the first file: the confusion matrices and
the images each network gets wrong with the highest confidence, one column
per file. The network's kind (bn, plain, bn-after-relu) and dtype are read
from the file's arrays.

Images are normalized as in training, with the mean and standard deviation
of the training split (the first 50,000 rows of data/mnist_train.csv, which
is fetched if missing): a CSV of your own is normalized with those, not
with its own, since the network learned on that scale.
"""
import os
import sys

from lab import stopping                     # first: it makes Ctrl-C quiet during the slow imports
if __name__ == "__main__":
    stopping.quiet_ctrl_c("evaluate.py")

import numpy as np

from lab import files
import main
import mnist
from lab import options
import plot

DIGITS = 10

def detect(path):
    """(kind, dtype) of the network whose weights path holds: the kind of
    main.py's networks whose arrays have the file's names and shapes.
    ValueError, in one line, for any other file."""
    stored = files.read_arrays(path)
    shapes = {key: array.shape for key, array in stored.items()}
    for kind in main.NETWORKS:
        expected = main.build_network(kind, np.random.default_rng(0)).state()
        if shapes == {key: array.shape for key, array in expected.items()}:
            dtype = np.float64 if stored["0.W"].dtype == np.float64 else np.float32
            return kind, dtype
    from studies import ioffe_szegedy, santurkar
    for study in (santurkar, ioffe_szegedy):
        experiment = study.EXPERIMENT
        for kind in set(experiment.networks) - set(main.NETWORKS):
            expected = experiment.build_network(kind, np.random.default_rng(0)).state()
            if shapes == {key: array.shape for key, array in expected.items()}:
                raise ValueError(f"{path} holds the weights of {kind}, a network of "
                                 f"{study.__name__}: evaluate.py evaluates the original "
                                 f"networks only ({', '.join(main.NETWORKS)}); the study's "
                                 f"accuracy is reported by {experiment.plot_command} "
                                 "RESULTS-DIR")
    listed = ", ".join(f"{key} {shape}" for key, shape in sorted(shapes.items())[:4])
    raise ValueError(f"{path} is not the weights of one of main.py's networks "
                     f"({', '.join(main.NETWORKS)}): its arrays are {listed}"
                     + (", ..." if len(shapes) > 4 else ""))


def load(path):
    """The network saved in path, and its kind."""
    kind, dtype = detect(path)
    net = main.build_network(kind, np.random.default_rng(0), dtype)
    files.load_weights(net, path)
    for index, layer in enumerate(net.layers):
        # A variance below 0 is no variance: its square root would be NaN.
        if hasattr(layer, "running_var") and (layer.running_var < 0).any():
            raise files.WeightsError(f"{path}: layer {index} (BatchNorm) has a negative "
                                     "running_var, which no training gives: the file was "
                                     "edited or damaged")
    return net, kind


def images_to_evaluate(arrays, csv_path, dtype):
    """(X, y): MNIST's test split (from arrays, as mnist.load gives them),
    or the images of csv_path, normalized with the training split's
    statistics, exactly as main.py normalizes them."""
    normalize = main.normalizer(arrays["x_train"][:main.TRAIN_SIZE], dtype)
    if csv_path is None:
        return normalize(arrays["x_test"]), arrays["y_test"]
    labels, pixels = mnist.read_csv(csv_path)
    return normalize(pixels), labels


def confusion(labels, predictions):
    """(DIGITS, DIGITS) counts: row = true digit, column = prediction."""
    matrix = np.zeros((DIGITS, DIGITS), dtype=int)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def report(evaluation, dtype, where):
    """The lines printed for one network: accuracy, accuracy per digit,
    the confusion matrix and the most frequent mistakes."""
    matrix, total = evaluation["matrix"], len(evaluation["labels"])
    right = int(np.trace(matrix))
    lines = [f"{evaluation['path']}: network {evaluation['kind']} ({np.dtype(dtype).name}), {where}",
             f"accuracy {right / total:.4f} ({right:,} of {total:,})", "",
             "digit     " + "".join(f"{digit:>7}" for digit in range(DIGITS))]
    per_digit = [f"{matrix[d, d] / matrix[d].sum():.4f}" if matrix[d].sum() else "-"
                 for d in range(DIGITS)]
    lines += ["accuracy  " + "".join(f"{value:>7}" for value in per_digit), "",
              "confusion matrix: rows are the true digits, columns the predictions",
              "          " + "".join(f"{digit:>7}" for digit in range(DIGITS))]
    lines += [f"{digit:>9} " + "".join(f"{count:>7}" for count in matrix[digit])
              for digit in range(DIGITS)]
    mistakes = matrix - np.diag(np.diag(matrix))
    worst = np.argsort(mistakes, axis=None)[::-1][:3]
    lines.append("most frequent mistakes: " + ", ".join(
        f"{true} taken for {predicted} ({mistakes[true, predicted]})"
        for true, predicted in zip(*np.unravel_index(worst, mistakes.shape))
        if mistakes[true, predicted]))
    return lines


def parse_args(argv):
    parser = options.OneLineParser(
        prog="evaluate.py",
        description="Accuracy, accuracy per digit and confusion matrix of networks saved by "
                    "main.py, on MNIST's test split or a CSV of your own; with matplotlib, a "
                    "figure of the mistakes.")
    parser.add_argument("weights", nargs="+", help="weights files written by main.py "
                                                   "(results/<run>/weights.npz)")
    parser.add_argument("--csv", help="evaluate on this CSV (MNIST's format: a label and 784 "
                                      "pixels a line) instead of the test split")
    parser.add_argument("--data-dir", default=mnist.DATA_DIR,
                        help=f"holds {mnist.TRAIN_FILE}, whose statistics normalize the images, "
                             f"and {mnist.TEST_FILE} (the data/ directory beside evaluate.py)")
    parser.add_argument("--figure", help="where to draw the mistakes, in the format its "
                                         "extension names: .png, .pdf, .svg, ... (mistakes.png "
                                         "beside the first weights file)")
    args = parser.parse_args(argv)
    if args.figure is not None:
        directory = os.path.dirname(os.path.abspath(args.figure)) if args.figure else ""
        if not args.figure.strip() or os.path.isdir(args.figure):
            parser.error(f"--figure {args.figure!r} names no file: name the figure's file")
        if not os.path.isdir(directory):
            parser.error(f"--figure {args.figure}: {directory}/ is not a directory: create it, "
                         "or name a file in another")
    if args.figure and plot.available():
        extension = os.path.splitext(args.figure)[1][1:].lower()
        formats = plot.figure_formats()
        if extension not in formats:
            parser.error(f"--figure {args.figure}: its extension names no format matplotlib "
                         f"writes ({', '.join(sorted(formats))})")
    options.check_data_dir(parser, args.data_dir)
    return args


def main_evaluate(argv=None):
    """The command line; returns the exit status."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        networks = [(path, *load(path)) for path in args.weights]
        arrays = mnist.load(args.data_dir)
        where = (f"{args.csv}" if args.csv else
                 f"the test split of {os.path.join(args.data_dir, mnist.TEST_FILE)}")
        evaluations, images = [], {}       # images: one normalized copy per dtype, shared
        for path, net, kind in networks:
            dtype = net.layers[0].params["W"].dtype
            if dtype not in images:
                images[dtype] = images_to_evaluate(arrays, args.csv, dtype)
            X, y = images[dtype]
            net.loss.forward(net.scores(X), y)       # which computes the softmax too
            probabilities = net.loss.probs
            evaluations.append({"path": path, "kind": kind, "labels": y, "images": X,
                                "probabilities": probabilities,
                                "matrix": confusion(y, probabilities.argmax(axis=1))})
            print("\n".join(report(evaluations[-1], dtype, f"{where} ({len(y):,} images)")) + "\n")
    except (ValueError, mnist.DataError) as error:
        print(f"evaluate.py: error: {error}", file=sys.stderr)
        return 2
    if len(evaluations) > 1:
        print(shared_mistakes(evaluations))
    beside = os.path.dirname(args.weights[0]) or "."
    figure = args.figure or os.path.join(beside, "mistakes.png")
    if not plot.available():
        print(plot.HINT)
        return 0
    if not args.figure and os.path.islink(beside):
        # A run's directory that is a link may lead anywhere: the default
        # figure is not written through it.
        print(f"evaluate.py: warning: {beside} is a symbolic link, and mistakes.png is not "
              "written through it; choose where with --figure", file=sys.stderr)
        return 0
    try:
        print(f"Figure: {plot.draw_mistakes(figure, evaluations)}")
    except OSError as error:
        # The report is printed. A figure asked for by --figure is an error;
        # the default one, beside weights that may be read-only, a warning.
        said = "error" if args.figure else "warning"
        print(f"evaluate.py: {said}: cannot write {figure} ({error.strerror or error})"
              + ("" if args.figure else "; choose where with --figure"), file=sys.stderr)
        return 2 if args.figure else 0
    return 0


def shared_mistakes(evaluations):
    """A line on how many mistakes the networks have in common."""
    wrong = [set(np.flatnonzero(e["probabilities"].argmax(axis=1) != e["labels"]))
             for e in evaluations]
    common = set.intersection(*wrong)
    names = " and ".join(e["kind"] for e in evaluations)
    return (f"Mistakes in common: {names} miss {len(common):,} images alike; "
            + "; ".join(f"{e['kind']} misses {len(w - common):,} more" for e, w in
                        zip(evaluations, wrong)) + ".")


if __name__ == "__main__":
    sys.exit(stopping.tool("evaluate.py", main_evaluate))
