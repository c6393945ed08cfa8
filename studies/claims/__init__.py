"""The claims the docs check, each measured on a results directory the way
studies/plan.py lays it out (original/, lr-sweep/, santurkar-lr0.1/, ...),
with its verdict. One module per table of claims:

    original        the original project's claims (docs/study.md)
    batchnorm       BatchNorm's own claims, Ioffe & Szegedy's and Bjorck
                    et al.'s (docs/study.md)
    santurkar       Santurkar et al.'s three tests (docs/study-santurkar.md)
    ioffe_szegedy   Ioffe & Szegedy's MNIST experiment (docs/study-ioffe-szegedy.md)

Each module has HEADER, the table's three column titles, and CLAIMS, a list
of Claims. `python3 -m studies.claims studies/snapshot --table original`
prints a table in Markdown, as the docs hold it; `python3 -m studies`
measures every claim of what it reproduced on the snapshot and on the new
runs, and sets one beside the other (compare).
"""
import collections
import importlib
import math
import os
import shlex
import sys

from lab import tables
from lab.results import ResultsError

TABLES = {"original": "original", "batchnorm": "batchnorm", "santurkar": "santurkar",
          "ioffe-szegedy": "ioffe_szegedy"}

# says: the claim, quoted or summed up (Markdown); directories: the
# subdirectories of a results directory that measure() reads; measure(root):
# a Measured.
Claim = collections.namedtuple("Claim", "says directories measure")

# text: what was measured, in words and numbers (Markdown); verdict: holds,
# holds in part, within noise or does not hold, then a few words of why;
# value and spread: the number the verdict rests on, and the seeds' spread
# it is set against (None where the verdict is a count, not a mean).
Measured = collections.namedtuple("Measured", "text verdict value spread")


def change_of(factor):
    """How far a width's factor is from no change: |log factor| (infinite
    for a width that vanished). A width halved has changed as much as one
    doubled, so x0.5 is not steadier than x1."""
    return abs(math.log(factor)) if factor > 0 else math.inf


def claims_of(name):
    """The module of table `name` (one of TABLES)."""
    return importlib.import_module(f"studies.claims.{TABLES[name]}")


def table(name, root):
    """Table `name`'s claims measured on the results in root, in Markdown.
    A claim whose runs are missing raises ResultsError."""
    module = claims_of(name)
    rows = []
    for claim in module.CLAIMS:
        check_trained(root, claim.directories)
        measured = claim.measure(root)
        rows.append([claim.says, measured.text, measured.verdict])
    return tables.markdown(module.HEADER, rows)


def check_trained(root, directories):
    """ResultsError naming the command that trains it, if one of
    directories (studies/plan.py's) is not in root."""
    from studies import plan
    for directory in directories:
        if not os.path.lexists(os.path.join(root, directory)):
            part = next(part.name for part in plan.PARTS
                        if directory in (trained for trained, _ in part.trains))
            raise ResultsError(f"{os.path.join(root, directory)}/ does not exist: train it with "
                               f"python3 -m studies --only {part} --results-dir "
                               f"{shlex.quote(root)}")


def measured_or_why(claim, root):
    """claim measured on root, or the reason it cannot be (a string)."""
    try:
        return claim.measure(root)
    except ResultsError as error:
        return str(error)


def compare(root, snapshot, directories, show):
    """Every claim whose directories are all among `directories`, measured
    on the snapshot and on root: both values and verdicts, and whether the
    new one is identical, differs within the seeds' spread, or differs
    beyond it. Returns how many verdicts differ from the snapshot's."""
    outcomes = collections.Counter()
    show(f"\nThe claims, on the snapshot ({snapshot}/) and on this reproduction:")
    for name in TABLES:
        for number, claim in enumerate(claims_of(name).CLAIMS, 1):
            if not set(claim.directories) <= set(directories):
                continue
            before, now = (measured_or_why(claim, where) for where in (snapshot, root))
            show(f"\n{name} {number}. {plain(claim.says)}")
            for who, measured in (("snapshot", before), ("now", now)):
                show(f"  {who:<9}" + (f"{plain(measured.text)}\n  {'':<9}-> {plain(measured.verdict)}"
                                      if isinstance(measured, Measured) else measured))
            if not (isinstance(before, Measured) and isinstance(now, Measured)):
                outcomes["not measured"] += 1
                continue
            if before == now:
                outcomes["identical"] += 1
                show("  identical")
                continue
            same = before.verdict.split(":")[0] == now.verdict.split(":")[0]
            outcomes["the same verdict" if same else "another verdict"] += 1
            difference = ""
            if before.value is not None and now.value is not None:
                difference = f"; the value moved {now.value - before.value:+.5f}"
                # The larger of the two spreads, as the noise rule takes it.
                spread = max(before.spread or 0, now.spread or 0)
                if spread:
                    within = abs(now.value - before.value) <= spread
                    difference += (f", {'within' if within else 'beyond'} the seeds' spread "
                                   f"({spread:.4f})")
            show(f"  {'the same verdict' if same else 'ANOTHER VERDICT'}{difference}")
    total = sum(outcomes.values())
    show(f"\n{total} claim{'' if total == 1 else 's'}: " + ", ".join(
        f"{outcomes[outcome]} {outcome}" for outcome in
        ("identical", "the same verdict", "another verdict", "not measured")))
    return outcomes["another verdict"]


def plain(text):
    """Markdown text as a terminal shows it: without code marks."""
    return text.replace("`", "")


def main(argv=None):
    from lab import options
    parser = options.OneLineParser(prog="studies.claims",
                                   description="The claims the docs check, measured, with "
                                               "their verdicts.")
    parser.add_argument("results_dir", nargs="?", default="results",
                        help="the results of python3 -m studies (results)")
    parser.add_argument("--table", choices=list(TABLES), action="append",
                        help="print this table of claims alone (all of them if not given)")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.results_dir):
        parser.error(f"{args.results_dir}: no such directory: name the directory "
                     "python3 -m studies wrote")
    names = args.table or list(TABLES)
    try:
        printed = [table(name, args.results_dir) for name in names]
    except ResultsError as error:
        print(f"studies.claims: error: {error}", file=sys.stderr)
        return 2
    if len(names) == 1:
        print(printed[0], end="")
    else:
        print("\n".join(f"{name}:\n{text}" for name, text in zip(names, printed)), end="")
    return 0
