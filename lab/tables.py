"""The results tables of README.md and docs/, generated: each is the output
of the program that computes it, run on the study's snapshot of run records
(studies/snapshot/), and sits in its document between two markers, the
first naming the command:

    <!-- table: python3 plot.py studies/snapshot/original --table accuracy -->
    | network | mean | ...
    <!-- end of table -->

`python3 -m lab.tables` writes each command's output between its markers;
`--check` changes nothing and says which tables differ (exit 1).
tests/test_tables.py runs the check: a table edited by hand, or a snapshot
changed without its documents, fails it.

A program prints a table with markdown(), and prints only that table, in
Markdown, when given `--table NAME`. A table of numbers that are not the
study's runs (timings, a benchmark's) follows a line `<!-- measured: ... -->`
that says where it comes from, and a table of settings a line
`<!-- settings: ... -->`; tests/test_tables.py fails on any other table of
numbers outside the markers.
"""
from lab import stopping
if __name__ == "__main__":
    stopping.quiet_ctrl_c("lab.tables")

import contextlib
import glob
import importlib
import io
import os
import re
import shlex
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
START = re.compile(r"^<!-- table: python3 (.+?) -->\n", re.M)
END = "<!-- end of table -->\n"
DECLARED = ("<!-- measured:", "<!-- settings:")   # tables of numbers that are not results


def markdown(header, rows):
    """A Markdown table: header (a list of cells) and rows (lists of cells,
    each turned into a string), as one string ending in a newline. A | in a
    cell is escaped: bare, it would end the cell."""
    lines = [header, ["---"] * len(header), *rows]
    return "".join("| " + " | ".join(str(cell).replace("|", "\\|") for cell in line) + " |\n"
                   for line in lines)


def documents():
    """README.md and docs/*.md, as paths."""
    return [os.path.join(ROOT, "README.md"), *sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))]


class Block:
    """A generated table in a document: the command after "python3 " and
    the text between the markers, which starts at `start` and ends at `end`
    (offsets in the document's text), on line `line`."""

    def __init__(self, command, start, end, line):
        self.command, self.start, self.end, self.line = command, start, end, line


def blocks(text):
    """The generated tables of a document's text, as Blocks; a start marker
    without its end raises ValueError."""
    found = []
    for match in START.finditer(text):
        end = text.find(END, match.end())
        if end < 0 or START.search(text, match.end(), end):
            line = text.count("\n", 0, match.start()) + 1
            raise ValueError(f"line {line}: the table of `python3 {match.group(1)}` has no "
                             f"{END.strip()}")
        found.append(Block(match.group(1), match.end(), end,
                           text.count("\n", 0, match.start()) + 1))
    return found


def output(command):
    """What `python3 command` prints on standard output, run in this process
    from the repository's root: the program's main(argv) (a file such as
    plot.py, or a module after -m). A non-zero exit raises RuntimeError with
    what it said on standard error."""
    words = shlex.split(command)
    module = words[1] if words[0] == "-m" else words[0].removesuffix(".py").replace("/", ".")
    argv = words[2:] if words[0] == "-m" else words[1:]
    printed, said = io.StringIO(), io.StringIO()
    here = os.getcwd()
    try:
        os.chdir(ROOT)
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(said):
            try:
                status = importlib.import_module(module).main(argv)
            except SystemExit as exit:          # an option refused by its parser
                status = exit.code
    finally:
        os.chdir(here)
    if status:
        raise RuntimeError(f"`python3 {command}` exited {status}: "
                           + (said.getvalue().strip() or "(it said nothing)"))
    return printed.getvalue()


def regenerate(path, check=False):
    """Put each command's output between its markers in the document at
    path (unless check). Returns the lines ("docs/study.md:35: python3 ...")
    of the tables that differed."""
    with open(path, encoding="utf-8") as file:
        text = file.read()
    try:
        found = blocks(text)
    except ValueError as error:
        raise ValueError(f"{os.path.relpath(path, ROOT)}: {error}") from None
    new, differ, at = [], [], 0
    for block in found:
        table = output(block.command)
        if table != text[block.start:block.end]:
            differ.append(f"{os.path.relpath(path, ROOT)}:{block.line}: python3 {block.command}")
        new += [text[at:block.start], table]
        at = block.end
    new.append(text[at:])
    if differ and not check:
        from lab import files
        files.atomic_write(path, lambda file: file.write("".join(new).encode("utf-8")))
    return differ


def main(argv=None):
    from lab import options
    parser = options.OneLineParser(
        prog="lab.tables", description="Write each generated table of README.md and docs/ from "
                                       "the command its marker names.")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; list the tables that differ (exit 1 if any)")
    args = parser.parse_args(argv)
    differ = []
    try:
        for path in documents():
            differ += regenerate(path, args.check)
    except (ValueError, RuntimeError) as error:
        print(f"lab.tables: error: {error}", file=sys.stderr)
        return 2
    for line in differ:
        print(("differs: " if args.check else "written: ") + line)
    return 1 if differ and args.check else 0


if __name__ == "__main__":
    sys.exit(stopping.tool("lab.tables", main))
