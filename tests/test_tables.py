"""The generated tables (lab/tables.py): every results table in README.md
and docs/*.md is exactly what the command its marker names prints on the
study's snapshot (studies/snapshot/), so a table edited by hand, or a
snapshot changed without its documents, fails here; and a table of results
outside the markers fails too. `python3 -m lab.tables` rewrites them."""
import os
import re
import shutil
import tempfile
import unittest

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


if __name__ == "__main__":
    unittest.main()
