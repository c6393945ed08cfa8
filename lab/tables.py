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


def program(command):
    """The module and argv of `python3 command`: a file of the repository
    such as plot.py, or a module after -m. RuntimeError if it names
    neither, or names lab.tables itself (whose output is these tables)."""
    try:
        words = shlex.split(command)
    except ValueError as error:
        raise RuntimeError(f"`python3 {command}` cannot be read: {error}") from None
    usage = (f"`python3 {command}` names no program: a marker gives `python3 FILE.py ...` or "
             "`python3 -m MODULE ...`, FILE.py inside the repository")
    if words[:1] == ["-m"]:
        if len(words) < 2 or not re.fullmatch(r"\w+(\.\w+)*", words[1]):
            raise RuntimeError(usage)
        module, argv = words[1], words[2:]
    else:
        file = os.path.normpath(words[0]) if words else ""
        if not file.endswith(".py") or os.path.isabs(file) or file.startswith(".."):
            raise RuntimeError(usage)
        module, argv = file.removesuffix(".py").replace(os.sep, "."), words[1:]
        if not re.fullmatch(r"\w+(\.\w+)*", module):
            raise RuntimeError(usage)
    if module == "lab.tables":
        raise RuntimeError(f"`python3 {command}`: a table cannot be lab.tables' own output")
    return module, argv


def output(command):
    """What `python3 command` prints on standard output, run in this process
    from the repository's root: the program's main(argv) (a file such as
    plot.py, or a module after -m). A non-zero exit raises RuntimeError with
    what it said on standard error; so does a command that names no program
    or one without main(argv), and an exception raised by the program (its
    type and words: run the command itself for the traceback). The current
    directory and standard output are back as they were, whatever happens."""
    module, argv = program(command)
    printed, said = io.StringIO(), io.StringIO()
    here = os.getcwd()
    try:
        os.chdir(ROOT)
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(said):
            try:
                try:
                    code = importlib.import_module(module)
                except ModuleNotFoundError as error:
                    if error.name and module.startswith(error.name):
                        raise RuntimeError(f"`python3 {command}`: no module or file "
                                           f"{module}") from None
                    raise
                if not callable(getattr(code, "main", None)):
                    raise RuntimeError(f"`python3 {command}`: {module} has no main(argv), "
                                       "so it cannot be run in lab.tables' process")
                status = code.main(argv)
            except SystemExit as exit:          # an option refused by its parser
                status = exit.code
    except RuntimeError:
        raise
    except Exception as error:                  # the program's own failure
        raise RuntimeError(f"`python3 {command}` failed: {type(error).__name__}: {error} "
                           f"(run python3 {command} to see where)") from None
    finally:
        os.chdir(here)
    if status:
        raise RuntimeError(f"`python3 {command}` exited {status}: "
                           + (said.getvalue().strip() or "(it said nothing)"))
    return printed.getvalue()


def read_document(path):
    """The text of the document at path; ValueError in one line if it is
    not a readable file of UTF-8 text."""
    from lab import files
    shown = os.path.relpath(path, ROOT)
    try:
        return files.read_regular(path, 16 * 2**20).decode("utf-8")
    except files.NotARegularFile as error:
        raise ValueError(str(error).replace(path, shown)) from None
    except UnicodeDecodeError as error:
        raise ValueError(f"{shown} is not UTF-8 text ({error.reason} at byte "
                         f"{error.start})") from None
    except OSError as error:
        raise ValueError(f"cannot read {shown}: {error.strerror or error}") from None


def regenerated(path):
    """The document at path with each command's output between its markers,
    and the lines ("docs/study.md:35: python3 ...") of the tables that
    differed. ValueError or RuntimeError, naming the document and line, if
    a table cannot be made."""
    text = read_document(path)
    shown = os.path.relpath(path, ROOT)
    try:
        found = blocks(text)
    except ValueError as error:
        raise ValueError(f"{shown}: {error}") from None
    new, differ, at = [], [], 0
    for block in found:
        try:
            table = output(block.command)
        except RuntimeError as error:
            raise RuntimeError(f"{shown}:{block.line}: {error}") from None
        if table != text[block.start:block.end]:
            differ.append(f"{shown}:{block.line}: python3 {block.command}")
        new += [text[at:block.start], table]
        at = block.end
    new.append(text[at:])
    return "".join(new), differ


def write_document(path, text):
    """Write text to the document at path, whole or not at all; a document
    that is a symbolic link stays one, and its target is written, if the
    target is in the repository or beside the link: a link never leads a
    write elsewhere (ValueError)."""
    from lab import files
    target = os.path.realpath(path)
    homes = {os.path.realpath(ROOT), os.path.realpath(os.path.dirname(path) or ".")}
    if not any(os.path.commonpath([target, home]) == home for home in homes):
        raise ValueError(f"{os.path.relpath(path, ROOT)} is a link to {target}, outside the "
                         "repository: lab.tables writes no file through it; copy the document "
                         "in its place")
    try:
        files.atomic_write(target, lambda file: file.write(text.encode("utf-8")))
    except OSError as error:
        raise ValueError(f"cannot write {os.path.relpath(path, ROOT)}: "
                         f"{error.strerror or error}") from None


def regenerate(path, check=False):
    """Put each command's output between its markers in the document at
    path (unless check). Returns the lines ("docs/study.md:35: python3 ...")
    of the tables that differed."""
    text, differ = regenerated(path)
    if differ and not check:
        write_document(path, text)
    return differ


def main(argv=None):
    from lab import options
    parser = options.OneLineParser(
        prog="lab.tables", description="Write each generated table of README.md and docs/ from "
                                       "the command its marker names.")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; list the tables that differ (exit 1 if any)")
    args = parser.parse_args(argv)
    differ, changed = [], []
    try:
        # Every document is made before any is written: a table that cannot
        # be made leaves them all as they were.
        for path in documents():
            text, differs = regenerated(path)
            differ += differs
            if differs:
                changed.append((path, text))
        if not args.check:
            for path, text in changed:
                write_document(path, text)
    except (ValueError, RuntimeError) as error:
        print(f"lab.tables: error: {error}", file=sys.stderr)
        return 2
    for line in differ:
        print(("differs: " if args.check else "written: ") + line)
    return 1 if differ and args.check else 0


if __name__ == "__main__":
    sys.exit(stopping.tool("lab.tables", main))
