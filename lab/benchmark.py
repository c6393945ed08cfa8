"""How fast main.py trains, against the matrix products alone and PyTorch.

    python3 -m lab.benchmark                 # a few epochs of each
    python3 -m lab.benchmark --epochs 20     # steadier medians
    python3 -m lab.benchmark accuracy --seeds 5 --net all
                                         # test accuracy, NumPy beside PyTorch
                                         # (takes main.py's options)
    python3 -m lab.agreement results/original results/pytorch
                                         # the same table from saved runs

Each measurement runs in its own process, one after another (PyTorch's
OpenMP threads keep spinning after their work and would slow NumPy down in a
shared process), on the real MNIST splits of main.py, and reports the median
seconds per epoch with the first epoch left out. The rows:
    floor     the eight matrix products of each training step, nothing else
    numpy     Network.train exactly as main.py runs it (float32, batch 128,
              lr 1e-3, validation after each epoch)
    parts     parts of the numpy epoch timed alone: the SGD updates, the
              validation, and the cost of the calls (steps of a tiny network)
    pytorch   the same recipe in PyTorch, from the same initial weights, on
              the same data: run only if `import torch` works (torch is never
              a requirement of this project)
Everything is measured twice: with the environment as it is, and with
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (set on some machines for old
OpenBLAS builds, they slow a current NumPy's matrix products). The header
names the CPU, and each table the OpenBLAS build and the kernel it chose.

`accuracy` trains every network from every seed with main.py's recipe, then
the same in PyTorch (same initial weights, same batches), and prints the
test accuracies side by side.
"""
import argparse
import ctypes
import itertools
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np

import main
import mnist
from lab import options
from lab import report
from lab import agreement
from lab import results
from lab import sweep

OPENBLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def load_splits(data_dir):
    return main.prepare(mnist.load(data_dir))


def time_numpy(kind, epochs, data_dir):
    splits = load_splits(data_dir)
    rng = np.random.default_rng(0)
    network = main.build_network(kind, rng)
    history = network.train(*splits["train"], epochs, 1e-3, 128, rng,
                            validation=splits["validation"])
    return [record["seconds"] for record in history]


def time_floor(epochs, batch_size=128, sizes=(784, 256, 128, 10)):
    """The eight matrix products of a training step and nothing else, over
    the batches of an epoch: three forward (H W), three weight gradients
    (H^T dY) and two input gradients (dY W^T; the first layer's is not
    needed). Same shapes, dtype and number of steps as Network.train.

    Each product writes into an array made once. (With every result newly
    allocated, the same products took up to 1.9 times as long here, from the
    way glibc's malloc reuses memory; Network.train, which writes dW in place,
    was measured not to pay that.)"""
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((a, b), dtype=np.float32) / math.sqrt(a)
               for a, b in zip(sizes, sizes[1:])]
    products = []                        # (A, B, out) in the order of a step
    activations = [rng.standard_normal((batch_size, sizes[0]), dtype=np.float32)]
    for W in weights:
        activations.append(activations[-1] @ W)
        products.append((activations[-2], W, activations[-1]))
    for i in reversed(range(len(weights))):
        grad = activations[i + 1]        # stands in for dL/d(output of layer i)
        products.append((activations[i].T, grad, np.empty_like(weights[i])))
        if i > 0:
            products.append((grad, weights[i].T, np.empty_like(activations[i])))
    steps = len(range(0, main.TRAIN_SIZE - 1, batch_size))
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        for _ in range(steps):
            for A, B, out in products:
                np.matmul(A, B, out=out)
        seconds.append(time.perf_counter() - start)
    return seconds


def torch_model(network):
    """A torch.nn.Sequential with the layers and initial weights of network
    (a network.Network of Linear, ReLU and BatchNorm layers)."""
    import torch
    modules = []
    for layer in network.layers:
        if "W" in layer.params:
            linear = torch.nn.Linear(*layer.params["W"].shape)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(layer.params["W"].T.copy()))
                linear.bias.copy_(torch.from_numpy(layer.params["b"]))
            modules.append(linear)
        elif "gamma" in layer.params:
            modules.append(torch.nn.BatchNorm1d(len(layer.params["gamma"])))
        else:
            modules.append(torch.nn.ReLU())
    return torch.nn.Sequential(*modules)


def train_torch(run, splits, settings, on_epoch):
    """main.train_run's recipe in PyTorch: the same initial weights (made by
    main.build_network from run.seed), the same batches in the same order
    (drawn from the same random stream), plain SGD, validation after each
    epoch. Returns {"history": one record per epoch, "test_accuracy": float,
    "weights": None (a PyTorch run's are not saved)}."""
    import torch
    rng = np.random.default_rng(run.seed)
    model = torch_model(main.build_network(run.kind, rng, init_scale=run.init_scale))
    optimizer = torch.optim.SGD(model.parameters(), lr=run.lr)
    with warnings.catch_warnings():
        # The workers' arrays are read-only (mapped from files); nothing writes to them.
        warnings.filterwarnings("ignore", "The given NumPy array is not writable")
        X, y = (torch.from_numpy(a) for a in splits["train"])
        validation, test = ((torch.from_numpy(X), torch.from_numpy(y).long())
                            for X, y in (splits["validation"], splits["test"]))
    y = y.long()

    def evaluate(X, y):
        model.eval()
        with torch.no_grad():
            scores = model(X)
            return (torch.nn.functional.cross_entropy(scores, y).item(),
                    (scores.argmax(dim=1) == y).double().mean().item())
    n, history = len(X), []
    for epoch in range(1, settings.epochs + 1):
        start = time.perf_counter()
        model.train()
        order = torch.from_numpy(rng.permutation(n))
        loss_sum, batches = torch.zeros(()), 0
        for first in range(0, n - 1, settings.batch_size):
            batch = order[first:first + settings.batch_size]
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(X[batch]), y[batch])
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach()
            batches += 1
        val_loss, val_accuracy = evaluate(*validation)
        record = {"epoch": epoch, "train_loss": loss_sum.item() / batches, "val_loss": val_loss,
                  "val_accuracy": val_accuracy, "seconds": time.perf_counter() - start}
        history.append(record)
        on_epoch(record)
    return {"history": history, "test_accuracy": evaluate(*test)[1], "weights": None}


def time_torch(kind, epochs, data_dir):
    settings = options.parse_args(["--epochs", str(epochs)], main.ORIGINAL, main.TRAIN_SIZE)
    history = train_torch(sweep.Run(kind, 0, 1e-3, 1.0), load_splits(data_dir), settings,
                          lambda record: None)
    return [record["seconds"] for record in history["history"]]


def time_parts(kind, epochs, data_dir):
    """Parts of main.py's epoch timed alone, `epochs` times each: the SGD
    updates of an epoch's steps; the validation after it; the calls, an
    epoch's steps with layers of 4 units, where what is left is the cost of
    the NumPy and Python calls themselves; and the covariate-shift probe that
    main.py records after each epoch (outside the epoch's own seconds)."""
    splits = load_splits(data_dir)
    rng = np.random.default_rng(0)
    network = main.build_network(kind, rng)
    X, y = splits["train"]
    network.train_step(X[:128], y[:128], 1e-3)           # fills every grads array
    steps = len(range(0, len(X) - 1, 128))
    tiny = main.build_network(kind, rng, sizes=(4, 4, 4, 4))
    X_tiny = X[:128, :4].copy()
    probe = splits["validation"][0][:main.PROBE_IMAGES]
    times = {"update": [], "validation": [], "calls": [], "probe": []}
    for _ in range(epochs):
        start = time.perf_counter()
        main.shift(network, probe)
        times["probe"].append(time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(steps):
            network.update(1e-3)
        times["update"].append(time.perf_counter() - start)
        start = time.perf_counter()
        network.evaluate(*splits["validation"])
        times["validation"].append(time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(steps):
            tiny.train_step(X_tiny, y[:128] % 4, 1e-3)
        times["calls"].append(time.perf_counter() - start)
    return times


def time_loading(epochs, data_dir):
    """Reading and checking both CSVs, `epochs` times."""
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        mnist.load(data_dir)
        seconds.append(time.perf_counter() - start)
    return seconds


def cpu_description():
    """The CPU's vendor and model, as /proc/cpuinfo gives them (Linux)."""
    try:
        with open("/proc/cpuinfo") as file:
            first_cpu = file.read().split("\n\n")[0]
    except OSError:
        return platform.processor() or "CPU unknown"
    fields = {key.strip(): value.strip() for key, _, value in
              (line.partition(":") for line in first_cpu.splitlines())}
    return f"{fields.get('vendor_id', '?')} {fields.get('model name', '?')}"


def openblas_function(name):
    """The C function openblas_<name> of the OpenBLAS that NumPy loaded
    (whose symbols may carry a prefix and a suffix), or None."""
    with open("/proc/self/maps") as file:
        paths = {line.split()[-1] for line in file if "openblas" in line.lower()}
    for path in sorted(paths):
        library = ctypes.CDLL(path)
        for prefix, suffix in itertools.product(("", "scipy_"), ("", "64_")):
            function = getattr(library, f"{prefix}openblas_{name}{suffix}", None)
            if function is not None:
                return function
    return None


def blas_description():
    """OpenBLAS's build and the kernel (core type) it chose on this CPU."""
    config, corename = openblas_function("get_config"), openblas_function("get_corename")
    if config is None or corename is None:
        return "not OpenBLAS"
    config.restype = corename.restype = ctypes.c_char_p
    return f"{config().decode()}; kernel {corename().decode()}"


def worker(what, kind, epochs, data_dir):
    """Run one measurement in this process and print it as JSON: lists of
    seconds by name ("epoch" for all but parts)."""
    if what == "numpy":
        times = {"epoch": time_numpy(kind, epochs, data_dir)}
    elif what == "floor":
        times = {"epoch": time_floor(epochs)}
    elif what == "pytorch":
        times = {"epoch": time_torch(kind, epochs, data_dir)}
    elif what == "parts":
        times = time_parts(kind, epochs, data_dir)
    else:
        times = {"epoch": time_loading(epochs, data_dir)}
    print(json.dumps({"times": times, "blas": blas_description()}))


def measure(what, kind, epochs, data_dir, environment):
    """Run one measurement in a new process; returns ({name: seconds of
    each epoch but the first}, BLAS description)."""
    command = [sys.executable, "-m", "lab.benchmark", "--worker", what, "--net", kind,
               "--epochs", str(epochs), "--data-dir", os.path.abspath(data_dir)]
    result = subprocess.run(command, env=environment, capture_output=True, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if result.returncode != 0:
        sys.exit(f"lab.benchmark: the {what} {kind} run failed:\n{result.stderr}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return {name: seconds[1:] for name, seconds in report["times"].items()}, report["blas"]


def torch_version():
    """PyTorch's version if this Python can import it, else None."""
    result = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"],
                            capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def compare_accuracy(argv):
    """`python3 -m lab.benchmark accuracy [--numpy-dir DIR] [main.py's options]`:
    train every network from every seed (as main.py would, --seeds and
    --jobs included) with NumPy, then with PyTorch, and print their test
    accuracies side by side (lab/agreement.py). Given --results-dir, it
    saves each PyTorch run's record there (run.csv and history.csv, named
    as main.py names its runs, no weights), and a run saved there already
    is not trained again; given --numpy-dir, the NumPy runs main.py saved
    there are read, not trained again."""
    before = options.OneLineParser(prog="lab.benchmark accuracy", add_help=False)
    before.add_argument("--numpy-dir", action=options.Once)
    known, argv = before.parse_known_args(argv)
    if "-h" in argv or "--help" in argv:        # main.py's options follow, in their own help
        print("lab.benchmark accuracy: the test accuracies of NumPy and PyTorch side by side.\n"
              "  --numpy-dir DIR    main.py's runs of the same settings, read instead of "
              "trained (results/original)\n  --results-dir DIR  where PyTorch's runs are "
              "saved (results/pytorch); those saved are not trained again\nThe other options "
              "are main.py's:\n")
    settings = options.parse_args(argv, main.ORIGINAL, main.TRAIN_SIZE,
                                  program="lab.benchmark accuracy")
    settings.experiment = main.ORIGINAL
    if known.numpy_dir is not None and not os.path.isdir(known.numpy_dir):
        print(f"lab.benchmark: error: --numpy-dir {known.numpy_dir}: no such directory: name "
              "the directory of main.py's runs (results/original), or leave it out to train "
              "them", file=sys.stderr)
        sys.exit(2)
    given_results_dir = any(word.split("=")[0] == "--results-dir" for word in argv)
    if given_results_dir:
        refuse_numpy_runs(settings.results_dir, known.numpy_dir)
    torch = torch_version()
    if torch is None:
        print("lab.benchmark: error: the comparison needs PyTorch, which this Python cannot "
              "import; run it from a virtual environment with numpy and torch==2.13.0",
              file=sys.stderr)
        sys.exit(2)                     # a missing requirement, as a usage error
    splits = main.prepare(mnist.load(settings.data_dir), np.dtype(settings.dtype),
                          limit=settings.limit)
    runs = [sweep.Run(kind, seed, lr, scale) for lr in settings.lr for scale in settings.init_scale
            for seed in settings.seeds for kind in settings.net]
    # Saved only where asked: the default results directory holds main.py's
    # runs, which have the same names.
    saved_in = {"NumPy": known.numpy_dir, "PyTorch": None}
    records = None
    if given_results_dir:
        report.check_writable(settings.results_dir)
        records = report.Progress(settings, runs, TORCH_HISTORY, main.build_network)
        saved_in["PyTorch"] = settings.results_dir
    print(f"NumPy {np.__version__}, PyTorch {torch}, {cpu_description()}: "
          f"{len(runs)} runs each, {settings.epochs} epochs, {settings.jobs} at a time", flush=True)
    accuracy = {"NumPy": {}, "PyTorch": {}}
    for framework, train in (("NumPy", main.train_run), ("PyTorch", train_torch)):
        def on_event(run, event, payload):
            if event == "done":
                accuracy[framework][run.kind, run] = payload["test_accuracy"]
                print(f"{framework:<8} {run.kind:<13} seed {run.seed:<3} test accuracy "
                      f"{payload['test_accuracy']:.4f}", flush=True)
            elif event != "epoch":
                print(f"{framework:<8} {run.kind:<13} seed {run.seed:<3} {event}: {payload}")
            if records and framework == "PyTorch" and event != "epoch":
                records.on_event(run, event, payload)
        to_train = []
        for run in runs:
            saved = saved_in[framework] and results.read_record(saved_in[framework], results.run_name(
                run.kind, run.seed, report.run_settings(settings, run), settings.recipe))
            if saved and saved["status"] == "finished":
                accuracy[framework][run.kind, run] = saved["test_accuracy"]
            else:
                to_train.append(run)
        if len(to_train) < len(runs):
            print(f"{framework:<8} {len(runs) - len(to_train)} runs read from "
                  f"{saved_in[framework]}/, {len(to_train)} to train", flush=True)
        sweep.execute(to_train, train, splits, settings, settings.jobs, on_event)
    print()
    print(agreement.table(accuracy["NumPy"], accuracy["PyTorch"]), end="")


def refuse_numpy_runs(results_dir, numpy_dir):
    """Exit 2, in one line, if results_dir, where PyTorch's runs are to be
    saved, is numpy_dir or holds runs main.py saved (with their weights,
    which PyTorch's runs lack): their names are the same, so PyTorch's would
    be read as saved already, NumPy's accuracies compared with themselves,
    or replace them."""
    if numpy_dir and os.path.realpath(numpy_dir) == os.path.realpath(results_dir):
        why = "is also --numpy-dir"
    elif agreement.holds_numpy_runs(results_dir):
        why = "holds main.py's runs (their weights.npz), which have the same names"
    else:
        return
    print(f"lab.benchmark: error: --results-dir {results_dir} {why}: give PyTorch's runs a "
          "directory of their own (results/pytorch)", file=sys.stderr)
    sys.exit(2)


# The history of a PyTorch run, as train_torch returns it (no probes).
TORCH_HISTORY = ["epoch", "train_loss", "val_loss", "val_accuracy", "seconds"]


def main_benchmark(argv=None):
    """The command line; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv[:1] == ["accuracy"]:
            return compare_accuracy(argv[1:])
        return speed(argv)
    except mnist.DataError as error:
        print(f"lab.benchmark: error: {error}", file=sys.stderr)
        return 2


def speed(argv):
    """`python3 -m lab.benchmark [--epochs N] [--repeats N]`: the speed tables."""
    parser = options.OneLineParser(prog="lab.benchmark", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=options.positive_int, default=5,
                        help="epochs per measurement; the first is left out of the median")
    parser.add_argument("--repeats", type=options.positive_int, default=2,
                        help="rounds of measurements, each in its own processes")
    parser.add_argument("--data-dir", default=mnist.DATA_DIR,
                        help="holds MNIST's CSVs, fetched if missing (the data/ directory "
                             "beside benchmark.py)")
    parser.add_argument("--worker", choices=["numpy", "floor", "parts", "pytorch", "loading"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--net", default="plain", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch is left out")
    options.check_data_dir(parser, args.data_dir)
    if args.worker:
        return worker(args.worker, args.net, args.epochs, args.data_dir)
    mnist.load(args.data_dir)          # fetch once, before anything is timed
    torch = torch_version()
    unset = {k: v for k, v in os.environ.items() if k not in OPENBLAS_VARIABLES}
    print(f"{time.strftime('%Y-%m-%d')}, {cpu_description()}, {os.cpu_count()} cores; "
          f"Python {sys.version.split()[0]}, NumPy {np.__version__}, "
          f"{'PyTorch ' + torch if torch else 'PyTorch not importable'}; "
          f"median seconds per epoch over epochs 2-{args.epochs}, {args.repeats} repeats")
    runs = [("floor", "plain"), ("numpy", "plain"), ("numpy", "bn"),
            ("parts", "plain"), ("parts", "bn")]
    if torch:
        runs += [("pytorch", "plain"), ("pytorch", "bn")]
    environments = {"environment as it is": dict(os.environ),
                    f"{' and '.join(OPENBLAS_VARIABLES)} unset": unset}
    # medians[environment][what, kind, name]: one median per repeat. All the
    # runs take turns, so that a drift in the machine's speed hits all alike,
    # and each ratio is taken within a repeat, between neighbouring runs.
    medians = {title: {} for title in environments}
    blas = {}
    for _ in range(args.repeats):
        for title, environment in environments.items():
            for what, kind in runs:
                times, blas[title] = measure(what, kind, args.epochs, args.data_dir, environment)
                for name, values in times.items():
                    medians[title].setdefault((what, kind, name), []).append(
                        statistics.median(values))
    for title, environment in environments.items():
        result = medians[title]

        def seconds(what, kind="plain", name="epoch"):
            return statistics.median(result[what, kind, name])

        def ratio(what, kind, versus, versus_kind):
            return statistics.median(ours / theirs for ours, theirs in
                                     zip(result[what, kind, "epoch"],
                                         result[versus, versus_kind, "epoch"]))
        settings = ", ".join(f"{k}={environment[k]}" for k in OPENBLAS_VARIABLES if k in environment)
        loading = statistics.median(
            measure("loading", "plain", 3, args.data_dir, environment)[0]["epoch"])
        print(f"\n{title} ({settings or 'neither set'}); BLAS: {blas[title]}")
        print(f"  {'':<28}{'s/epoch':>9}{'vs floor':>10}{'vs PyTorch':>12}")
        print(f"  {'matrix products (floor)':<28}{seconds('floor'):>9.3f}")
        for kind in ("plain", "bn"):
            versus = (f"{ratio('numpy', kind, 'pytorch', kind):>11.2f}x" if torch
                      else f"{'-':>12}")
            print(f"  {'NumPy ' + kind:<28}{seconds('numpy', kind):>9.3f}"
                  f"{ratio('numpy', kind, 'floor', 'plain'):>9.2f}x{versus}")
            for part, label in (("update", "of which SGD updates"),
                                ("validation", "of which validation"),
                                ("calls", "of which call overhead")):
                print(f"  {'  ' + label:<28}{seconds('parts', kind, part):>9.3f}")
            probe = statistics.median(ours / epoch for ours, epoch in zip(
                result["parts", kind, "probe"], result["numpy", kind, "epoch"]))
            print(f"  {'  covariate-shift probe':<28}{seconds('parts', kind, 'probe'):>9.4f}"
                  f"  ({probe:.1%} of an epoch, added after it)")
        for kind in ("plain", "bn") if torch else ():
            print(f"  {'PyTorch ' + kind:<28}{seconds('pytorch', kind):>9.3f}")
        print(f"  reading and checking both CSVs: {loading:.2f} s")
    print("\nRatios are medians of the ratios within each repeat; seconds, medians over "
          "all repeats.")


if __name__ == "__main__":
    sys.exit(main_benchmark())
