"""main.py's command line: its options, checked, with one-line errors.

parse_args(argv, experiment, train_size) returns the options as an
argparse.Namespace, with --net, --seeds and --jobs resolved to lists and a
number: main.py reads them as the settings of its runs. args.recipe holds
the recipe's settings (the original experiment's, or a study's, whose
recipe then sets the defaults), which a run's name leaves out (results.py).
Repeated --net, --lr, --init-scale and --seeds add up; a network, rate,
scale or seed given twice is refused (a network in --net all too).
"""
import argparse
import math
import os
import sys

import mnist
from lab import results
from lab import sweep


def checked(convert, is_valid, description):
    """An argparse type: convert(text), refused unless is_valid(value)."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not is_valid(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not {description}")
        return value
    return parse


positive_int = checked(int, lambda value: value > 0, "a positive integer")
non_negative_int = checked(int, lambda value: value >= 0, "a non-negative integer")

# Bounds past which a number can only be a slip of the keyboard, refused
# before any work (a count of 10**9 seeds would fill the memory with their
# list): 200 times the original recipe's 50 epochs; 10,000 seeds, each a run
# of every network (months of training at the original recipe); 256 worker
# processes, each of which holds NumPy, the data's map and a network.
MOST_EPOCHS, MOST_SEEDS, MOST_JOBS = 10_000, 10_000, 256


def up_to(most):
    """An argparse type: a positive integer, at most `most`."""
    return checked(int, lambda value: 0 < value <= most, f"a positive integer up to {most:,}")
positive_float = checked(float, lambda value: math.isfinite(value) and value > 0,
                         "a positive finite number")


GIVEN = "_options_given"                # where Once notes the options it has seen


class Once(argparse.Action):
    """An option of one value: given twice (--epochs 1 --epochs 2), it is a
    usage error, as a rate given twice is, not the last one silently."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = vars(namespace).setdefault(GIVEN, set())
        if self.dest in given:
            parser.error(f"{option_string} is given twice: give it once")
        given.add(self.dest)
        setattr(namespace, self.dest, values)


class OneLineParser(argparse.ArgumentParser):
    """Usage errors in one line, not argparse's usage block and then the
    error. An option of one value may be given once (Once), and no option
    may be abbreviated (--ep for --epochs): what is typed is what is meant."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def add_argument(self, *args, **kwargs):
        if args and args[0].startswith("-") and not {"action", "nargs"} & set(kwargs):
            kwargs["action"] = Once
        return super().add_argument(*args, **kwargs)

    def parse_known_args(self, args=None, namespace=None):
        parsed, rest = super().parse_known_args(args, namespace)
        vars(parsed).pop(GIVEN, None)
        return parsed, rest

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")

    def print_help(self, file=None):
        """--help; standard output that cannot be written (> /dev/full) is
        one line and status 2, as for the tools' other output."""
        file = file or sys.stdout
        try:                        # (argparse's own print_help ignores write errors)
            file.write(self.format_help())
            file.flush()
        except BrokenPipeError:     # main.py --help | head: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            self.exit(0)
        except OSError as error:
            # Python's own last flush would fail again, with a traceback-like note.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            self.exit(2, f"{self.prog}: error: cannot write standard output "
                         f"({error.strerror or error})\n")


def parse_args(argv, experiment, train_size, program="main.py"):
    """main.py's options from argv (a list of strings; None: sys.argv[1:]),
    for experiment (a main.Experiment: the networks --net chooses from, those
    it trains by default, and its recipe, which sets the defaults); train_size
    is main.TRAIN_SIZE: --limit's default and largest value. program names
    the command in its messages."""
    networks, recipe = experiment.networks, experiment.recipe
    said = ", ".join(f"{key.replace('_', ' ')} {value:g}" for key, value in recipe.items())
    parser = OneLineParser(
        prog=program,
        description="Train fully connected networks, with and without BatchNorm, on MNIST"
                    + (f" ({experiment.study}'s recipe: {said})." if recipe else "."),
        epilog="networks: " + "; ".join(f"{name}: {network.description}"
                                for name, network in networks.items())
               + ". Exit status: 0 every run finished; 1 some runs diverged or were lost with "
                 "their worker process, and the others finished; 2 a usage, data or write "
                 "error; 130, 143, 129 stopped by Ctrl-C, SIGTERM, SIGHUP.")
    parser.add_argument("--epochs", type=up_to(MOST_EPOCHS), default=50,
                        help="epochs per network (50)")
    parser.add_argument("--lr", type=positive_float, nargs="+", action="extend", metavar="RATE",
                        help="SGD learning rate; several rates (or --lr repeated) train every "
                             "network at each (1e-3)")
    parser.add_argument("--batch-size", type=positive_int, default=128, help="minibatch size (128)")
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=non_negative_int, default=0, action=Once,
                       help="seeds initialization and shuffling: same seed, same result (0)")
    seeds.add_argument("--seeds", type=non_negative_int, nargs="+", action="extend", metavar="N",
                       help="train every network from several seeds: one number K means "
                            "seeds 0 to K-1, several numbers (or --seeds repeated) are the "
                            "seeds themselves")
    parser.add_argument("--init-scale", type=positive_float, nargs="+", action="extend",
                        metavar="K", help="multiply every Linear layer's initial (He) weights "
                                          "by K; several values (or the option repeated) train at "
                                          "each (1)")
    parser.add_argument("--init-scale-layers", choices=["all", "hidden"], default="all",
                        help="the Linear layers --init-scale multiplies: all, or the hidden "
                             "ones only (in bn, those a BatchNorm follows) (all)")
    parser.add_argument("--jobs", type=up_to(MOST_JOBS),
                        help="runs trained at once, each in its own process (the number of "
                             "cores when several seeds, rates or scales are given; else 1)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                        help="floating-point type of the data and the networks (float32)")
    parser.add_argument("--data-dir", default=mnist.DATA_DIR,
                        help=f"holds {mnist.TRAIN_FILE} and {mnist.TEST_FILE}, fetched if "
                             "missing (the data/ directory beside main.py)")
    parser.add_argument("--results-dir", default="results",
                        help="receives a directory per run (its settings, history and "
                             "weights) and summary.csv (results)")
    parser.add_argument("--net", choices=[*networks, "all"], action="append",
                        help=f"network to train, may be repeated ({' and '.join(experiment.trains)}"
                             "); all: " + ", ".join(networks))
    parser.add_argument("--limit", type=positive_int, default=train_size,
                        help="train on the first N training samples only, for quick runs "
                             "(all 50,000)")
    # A study's recipe: its epochs and batch size are the defaults, its rate args.recipe's.
    parser.set_defaults(**{key: value for key, value in recipe.items() if key != "lr"})
    given = sys.argv[1:] if argv is None else argv
    if any(word == "--study" or word.startswith("--study=") for word in given):
        parser.error("--study is gone: each study is a command of its own, python3 -m "
                     "studies.santurkar or python3 -m studies.ioffe_szegedy, with these options")
    args = parser.parse_args(argv)
    args.experiment = experiment            # what train_run builds, prepares and probes
    args.study, args.plot_command = experiment.study, experiment.plot_command
    # The recipe: a run's name says each setting that differs from it.
    args.recipe = {"study": "original", "lr": recipe.get("lr", 1e-3), "init_scale": 1.0,
                   "init_scale_layers": "all",
                   "epochs": parser.get_default("epochs"),
                   "batch_size": parser.get_default("batch_size"), "limit": train_size,
                   "dtype": parser.get_default("dtype"), "data": "mnist"}
    args.lr = args.lr or [args.recipe["lr"]]
    args.init_scale = args.init_scale or [args.recipe["init_scale"]]
    if args.net is None:
        args.net = list(experiment.trains)
    # A network given twice, or given with `all`, which holds it, is
    # refused, as a rate given twice is.
    given = args.net
    args.net = [net for each in given for net in (networks if each == "all" else [each])]
    repeated = ([each for each in given if given.count(each) > 1]
                or [net for net in args.net if args.net.count(net) > 1])
    if repeated:
        within = (" (--net all holds it)" if "all" in given and repeated[0] in networks
                  and given.count(repeated[0]) < 2 else "")
        parser.error(f"--net {repeated[0]} is given twice{within}: give each network once")
    for option, values in (("--lr", args.lr), ("--init-scale", args.init_scale),
                           ("--seeds", args.seeds or [])):
        repeated = [results.exact(value) for value in values if values.count(value) > 1]
        if repeated:
            parser.error(f"{option} {repeated[0]} is given twice: give each value once")
    if args.seeds is None:
        args.seeds = [args.seed]
    elif len(args.seeds) == 1:
        if args.seeds[0] == 0:
            parser.error("--seeds 0 trains nothing: give a count of seeds, or the seeds")
        if args.seeds[0] > MOST_SEEDS:
            parser.error(f"--seeds {args.seeds[0]} is more than {MOST_SEEDS:,} seeds, each a "
                         "run of every network: give fewer, or the seeds themselves")
        args.seeds = list(range(args.seeds[0]))
    for option, directory in (("--data-dir", args.data_dir), ("--results-dir", args.results_dir)):
        if not directory.strip():
            parser.error(f"{option} is empty: name a directory")
    runs = len(args.seeds) * len(args.lr) * len(args.init_scale)
    if args.jobs is None:
        # One seed, rate and scale: the original experiment, one network
        # after the other, each timed alone. A sweep: one run per core,
        # measured faster (docs/usage.md, Sweeps).
        args.jobs = 1 if runs == 1 else sweep.available_cores()
    args.jobs = min(args.jobs, runs * len(args.net))
    if not 2 <= args.limit <= train_size:
        parser.error(f"--limit must be from 2 to {train_size}, the size of the train split")
    if args.batch_size > args.limit:
        parser.error(f"--batch-size {args.batch_size} is larger than the training set "
                     f"({args.limit} samples)")
    if args.batch_size < 2 and any(networks[net].before or networks[net].after
                                   for net in args.net):
        parser.error("--batch-size must be at least 2 for networks with BatchNorm")
    check_data_dir(parser, args.data_dir)
    return args


def check_data_dir(parser, data_dir):
    """A usage error unless data_dir is a directory, or the default,
    mnist.DATA_DIR, which is made when missing: a --data-dir mistyped would
    otherwise be made, and MNIST fetched into it (about 100 MB)."""
    if os.path.abspath(data_dir) == mnist.DATA_DIR or os.path.isdir(data_dir):
        return
    if os.path.lexists(data_dir):
        parser.error(f"--data-dir {data_dir} is not a directory: name the directory that "
                     "holds MNIST")
    parser.error(f"--data-dir {data_dir} does not exist: create it, or name the directory "
                 "that holds MNIST")
