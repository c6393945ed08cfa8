"""python3 -m studies: reproduce the whole study. Train every run behind the
figures and tables of README.md and docs/ (studies/plan.py), as many at
once as there are cores, then print every table and draw every figure, and
set the results beside the snapshot's, claim by claim (studies/claims/).
Killed and started again, it goes on where it was (lab/reproduce.py).

    python3 -m studies                  # everything: about 1 h 10 min on 2 cores
    python3 -m studies --only santurkar # one study's part
    python3 -m studies --list           # the commands of the runs still to do
    python3 -m studies --quick          # the whole pipeline on tiny settings
"""
from lab import stopping
stopping.quiet_ctrl_c("studies")                # before NumPy's slow import

import os
import sys

import mnist
from lab import options, reproduce
from studies import plan


def parse_args(argv):
    parser = options.OneLineParser(prog="studies", description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=options.up_to(options.MOST_JOBS), action=options.Once,
                        help="runs trained at once (the number of cores)")
    parser.add_argument("--only", choices=[part.name for part in plan.PARTS], action="append",
                        help="train and draw only this part; may be repeated")
    parser.add_argument("--fresh", action="store_true",
                        help="train every run again, even those already saved")
    parser.add_argument("--list", action="store_true",
                        help="print the command of each run still to do, and nothing else")
    parser.add_argument("--quick", action="store_true",
                        help="every command whole on tiny settings (2 epochs, 500 images, at "
                             "most 2 seeds), into RESULTS-DIR/quick")
    parser.add_argument("--results-dir", default="results", action=options.Once,
                        help="receives a directory per command (results)")
    parser.add_argument("--data-dir", default=mnist.DATA_DIR, action=options.Once,
                        help="holds MNIST, fetched if missing (the repository's data/)")
    args = parser.parse_args(argv)
    if args.list and args.quick:
        parser.error("--list and --quick do not go together: --quick trains each command whole")
    if not args.results_dir.strip() or not args.data_dir.strip():
        parser.error("--results-dir and --data-dir name directories: give a name")
    if args.only and len(set(args.only)) < len(args.only):
        parser.error("--only names a part twice: give each once")
    options.check_data_dir(parser, args.data_dir)
    return args


def main(argv=None):
    args = parse_args(argv)
    parts = [part for part in plan.PARTS if not args.only or part.name in args.only]
    root = os.path.abspath(os.path.join(args.results_dir, "quick") if args.quick
                           else args.results_dir)
    # The snapshot: the run records of the reproduction the docs quote
    # (studies/snapshot/README.md says where and how it was made).
    snapshot = os.path.join(os.path.dirname(os.path.abspath(plan.__file__)), "snapshot")
    try:
        return reproduce.reproduce(parts, root, os.path.abspath(args.data_dir), args.jobs,
                                   args.fresh, args.list, args.quick,
                                   snapshot if os.path.isdir(snapshot) else None)
    except mnist.DataError as error:
        print(f"studies: error: {error}", file=sys.stderr)
        return 2


sys.exit(stopping.tool("studies", main))
