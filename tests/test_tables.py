"""The generated tables (lab/tables.py): every results table in README.md
and docs/*.md is exactly what the command its marker names prints on the
study's snapshot (studies/snapshot/), so a table edited by hand, or a
snapshot changed without its documents, fails here; and a table of results
outside the markers fails too. `python3 -m lab.tables` rewrites them."""
import contextlib
import io
import os
import re
import shutil
import sys
import tempfile
import unittest
from unittest import mock

from lab import tables

# A number as results tables give accuracies and probes: 0.9537, 1.40, x1.70
# (and not a version, 3.11.7).
INLINE_CODE = re.compile(r"`[^`\n]*`")
RESULT = re.compile(r"(?<![\w.])\d+\.\d{2,}(?!\.?\d)")


class EveryTableIsItsCommandsOutput(unittest.TestCase):
    def test_each_table_between_markers_is_its_commands_output(self):
        for path in tables.documents():
            with self.subTest(document=os.path.relpath(path, tables.ROOT)):
                self.assertEqual(tables.regenerate(path, check=True), [],
                                 "these tables differ from their commands' output: run "
                                 "python3 -m lab.tables to write them")

    def test_no_table_of_numbers_outside_the_markers(self):
        # A table of measurements that are not the study's runs (timings, a
        # benchmark's), or of settings, follows a line that says so:
        # <!-- measured: ... --> or <!-- settings: ... -->.
        for path in tables.documents():
            if path.endswith("original-project-README.md"):
                continue
            with open(path, encoding="utf-8") as file:
                text = file.read()
            inside = [(block.start, block.end) for block in tables.blocks(text)]
            offset, before = 0, ""
            for line in text.splitlines(keepends=True):
                starts_table = line.startswith("|") and not before.startswith("|")
                if starts_table and not before.startswith(tables.DECLARED) and \
                        not any(start <= offset < end for start, end in inside):
                    rows = text[offset:].split("\n\n")[0]
                    if RESULT.search(INLINE_CODE.sub("", rows)):    # `--lr 0.001` is an option
                        self.fail(f"{os.path.relpath(path, tables.ROOT)}: a table of numbers "
                                  f"that is not generated: {line.strip()[:70]}")
                offset += len(line)
                before = line


class TheCheckCatchesAnEdit(unittest.TestCase):
    """regenerate() on a document of one generated table."""

    def setUp(self):
        self.directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.directory)
        self.path = os.path.join(self.directory, "doc.md")
        self.table = tables.output("-m studies.claims studies/snapshot --table original")

    def write(self, table):
        with open(self.path, "w", encoding="utf-8") as file:
            file.write("Before.\n\n<!-- table: python3 -m studies.claims studies/snapshot "
                       f"--table original -->\n{table}{tables.END}\nAfter.\n")

    def read(self):
        with open(self.path, encoding="utf-8") as file:
            return file.read()

    def test_a_changed_character_is_found_and_written_back(self):
        self.write(self.table.replace("|", "!", 1) if self.table else "x\n")
        self.assertEqual(len(tables.regenerate(self.path, check=True)), 1)
        changed = self.read()
        self.assertEqual(len(tables.regenerate(self.path)), 1)
        self.assertNotEqual(self.read(), changed)
        self.assertEqual(tables.regenerate(self.path, check=True), [])
        self.assertTrue(self.read().startswith("Before.\n\n") and self.read().endswith("After.\n"))

    def test_a_start_marker_without_its_end_is_an_error(self):
        with open(self.path, "w", encoding="utf-8") as file:
            file.write("<!-- table: python3 -m studies.claims studies/snapshot -->\n| a |\n")
        with self.assertRaisesRegex(ValueError, "no <!-- end of table -->"):
            tables.regenerate(self.path, check=True)

    def test_a_failing_command_says_why(self):
        with self.assertRaisesRegex(RuntimeError, "exited 2"):
            tables.output("-m studies.claims studies/snapshot/no-such-dir")


class TheProseQuotesTheTables(unittest.TestCase):
    """A result quoted in the prose of the study's documents is one of the
    numbers of that document's generated tables: edited by hand, or left
    behind by a new snapshot, it fails here."""

    # Numbers of the prose that are not results, each with what it is.
    NOT_RESULTS = {
        "README.md": {"1.24": "NumPy's oldest version", "0.01": "a learning rate",
                      "0.56": "a speed ratio (docs/performance.md)",
                      "0.87": "a speed ratio (docs/performance.md)"},
        "docs/study-santurkar.md": {"1.125": "the noise's mean scale, a setting"},
    }
    # A result as the tables give it (0.9580, -0.28, 8.37); not a version
    # (3.11.2) nor a paper's number (arXiv:1502.03167).
    NUMBER = re.compile(r"(?<![\d.:])\d+\.\d{2,}(?!\.?\d)")

    def test_each_number_of_the_prose_is_in_a_table_of_its_document(self):
        for name in ("README.md", "docs/study.md", "docs/study-santurkar.md",
                     "docs/study-ioffe-szegedy.md"):
            with open(os.path.join(tables.ROOT, name), encoding="utf-8") as file:
                text = file.read()
            found = tables.blocks(text)
            generated = "".join(text[block.start:block.end] for block in found)
            prose = "".join(text[start:end] for start, end in
                            zip([0, *(block.end for block in found)],
                                [*(block.start for block in found), len(text)]))
            prose = re.sub(r"```.*?```", "", prose, flags=re.S)     # commands' output is not prose
            for number in self.NUMBER.findall(prose):
                with self.subTest(document=name, number=number):
                    self.assertTrue(number in generated or number in self.NOT_RESULTS.get(name, {}),
                                    f"{name}: {number} is in the prose but in no table")


class AMarkerThatCannotBeRunSaysWhyInOneLine(unittest.TestCase):
    """A marker naming no program, a missing module, one without main(argv),
    lab.tables itself, or a program that raises: RuntimeError in one line
    (lab.tables prints it, exit 2), never a traceback or a recursion; the
    current directory and standard output are back as they were."""

    def test_commands_that_name_no_runnable_program(self):
        for command, says in (("-m os", "has no main"), ("nosuch.py", "no module or file"),
                              ("-m lab.nosuch", "no module or file"), ("-m", "names no program"),
                              (" ", "names no program"), ("-c print(1)", "names no program"),
                              ("../x.py", "names no program"), ('"open', "cannot be read"),
                              ("-m lab.tables", "own output"), ("lab/tables.py", "own output")):
            with self.subTest(command=command):
                with self.assertRaisesRegex(RuntimeError, says):
                    tables.output(command)

    def test_a_program_that_raises(self):
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        with open(os.path.join(directory, "tables_test_boom.py"), "w") as file:
            file.write("import os\ndef main(argv):\n    os.chdir('/')\n    print('half')\n"
                       "    raise KeyError('boom')\n")
        sys.path.insert(0, directory)
        self.addCleanup(sys.path.remove, directory)
        self.addCleanup(sys.modules.pop, "tables_test_boom", None)
        here, stdout = os.getcwd(), sys.stdout
        with self.assertRaisesRegex(RuntimeError, "failed: KeyError: 'boom'"):
            tables.output("-m tables_test_boom")
        self.assertEqual((os.getcwd(), sys.stdout), (here, stdout))


class Documents(unittest.TestCase):
    """What lab.tables reads and writes."""

    def setUp(self):
        self.directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.directory)
        self.good = ("<!-- table: python3 -m studies.claims studies/snapshot --table "
                     "ioffe-szegedy -->\nstale\n" + tables.END)

    def document(self, name, text):
        path = os.path.join(self.directory, name)
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
        return path

    def run_main(self, paths, *argv):
        said = io.StringIO()
        with mock.patch.object(tables, "documents", return_value=paths), \
                contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(said):
            return tables.main(list(argv)), said.getvalue()

    def test_a_failing_table_leaves_every_document_as_it_was(self):
        first = self.document("a.md", self.good)
        second = self.document("b.md", "<!-- table: python3 -m nosuch -->\nx\n" + tables.END)
        status, said = self.run_main([first, second])
        self.assertEqual(status, 2)
        self.assertIn("b.md:1: `python3 -m nosuch`: no module or file nosuch", said)
        with open(first, encoding="utf-8") as file:
            self.assertEqual(file.read(), self.good)

    def test_a_document_that_is_a_link_stays_one(self):
        target = self.document("target.md", self.good)
        link = os.path.join(self.directory, "link.md")
        os.symlink(target, link)
        self.assertEqual(self.run_main([link])[0], 0)
        self.assertTrue(os.path.islink(link))
        with open(target, encoding="utf-8") as file:
            self.assertNotIn("stale", file.read())

    def test_a_link_that_leads_elsewhere_is_not_written_through(self):
        elsewhere = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, elsewhere)
        target = os.path.join(elsewhere, "target.md")
        with open(target, "w", encoding="utf-8") as file:
            file.write(self.good)
        link = os.path.join(self.directory, "link.md")
        os.symlink(target, link)
        status, said = self.run_main([link])
        self.assertEqual(status, 2)
        self.assertRegex(said, r"^lab\.tables: error: .*link\.md is a link to .*, outside the "
                               r"repository: [^\n]*\n$")
        with open(target, encoding="utf-8") as file:
            self.assertEqual(file.read(), self.good)
        self.assertTrue(os.path.islink(link))

    def test_a_document_that_cannot_be_read(self):
        os.mkdir(os.path.join(self.directory, "dir.md"))
        os.symlink(os.path.join(self.directory, "none"), os.path.join(self.directory, "gone.md"))
        with open(os.path.join(self.directory, "latin.md"), "wb") as file:
            file.write(b"caf\xe9\n")
        for name, says in (("dir.md", "is a directory"), ("gone.md", "cannot read"),
                           ("latin.md", "is not UTF-8 text")):
            with self.subTest(document=name):
                status, said = self.run_main([os.path.join(self.directory, name)], "--check")
                self.assertEqual(status, 2)
                self.assertIn(says, said)
                self.assertEqual(len(said.strip().splitlines()), 1)

    def test_a_document_that_cannot_be_written(self):
        path = self.document("a.md", self.good)
        with mock.patch("lab.files.tempfile.mkstemp",
                        side_effect=PermissionError(13, "Permission denied")):
            status, said = self.run_main([path])
        self.assertEqual(status, 2)
        self.assertIn("cannot write", said)
        with open(path, encoding="utf-8") as file:
            self.assertEqual(file.read(), self.good)


if __name__ == "__main__":
    unittest.main()
