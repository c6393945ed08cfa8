"""The documents' links: every relative link and image in README.md and
docs/*.md names a file that exists, and every #anchor a heading of the file
it points to, by GitHub's rules. Links to other sites are not followed (no
network). Run with `python3 -m unittest tests.test_docs`.
"""
import glob
import subprocess
import sys
import os
import re
import tempfile
import unittest

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # the repository

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")


def documents():
    """README.md and every docs/*.md, as paths."""
    return [os.path.join(HERE, "README.md")] + sorted(glob.glob(os.path.join(HERE, "docs", "*.md")))


def without_code(text):
    """The text with fenced blocks and inline code removed: a link or a
    heading inside code is not one."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def slug(heading):
    """GitHub's anchor for a heading: its text as shown (code marks,
    emphasis and link targets dropped), in lower case, with every character
    but letters, digits, spaces, hyphens and underscores removed, and the
    spaces made hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(text):
    """Every anchor a Markdown text defines: one per heading, a repeated one
    numbered -1, -2, ...; and any <a name=...> or <a id=...>."""
    seen, found = {}, set()
    for heading in HEADING.findall(FENCE.sub("", text)):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found | set(HTML_ANCHOR.findall(text))


def broken_links(path):
    """The links of the Markdown file at `path` that do not resolve, each
    as 'target: why'."""
    with open(path, encoding="utf-8") as file:
        text = file.read()
    broken = []
    for target in LINK.findall(without_code(text)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):     # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
        if not os.path.exists(linked):
            broken.append(f"{target}: no file {os.path.relpath(linked, HERE)}")
        elif anchor and linked.endswith(".md"):
            with open(linked, encoding="utf-8") as file:
                if anchor not in anchors(file.read()):
                    broken.append(f"{target}: no heading with the anchor #{anchor}")
        elif anchor:
            broken.append(f"{target}: an anchor in a file that is not Markdown")
    return broken


class Links(unittest.TestCase):
    def test_every_relative_link_and_anchor_resolves(self):
        paths = documents()
        self.assertIn(os.path.join(HERE, "docs", "study.md"), paths)
        for path in paths:
            with self.subTest(document=os.path.relpath(path, HERE)):
                self.assertEqual(broken_links(path), [])


class TheChecker(unittest.TestCase):
    """The checker above finds what it should, by GitHub's rules."""

    def test_anchors_follow_githubs_rules(self):
        self.assertEqual(slug("The original project's claims, checked"),
                         "the-original-projects-claims-checked")
        self.assertEqual(slug("`test.py`: the gradient lesson"), "testpy-the-gradient-lesson")
        self.assertEqual(slug("test_docs.py: the links"), "test_docspy-the-links")
        self.assertEqual(slug("Sweeps: several seeds, rates and scales, side by side"),
                         "sweeps-several-seeds-rates-and-scales-side-by-side")
        self.assertEqual(anchors("# Notes\n## Notes\n### Notes\n```\n# not a heading\n```\n"),
                         {"notes", "notes-1", "notes-2"})

    def test_it_finds_a_missing_file_and_a_wrong_anchor(self):
        with tempfile.TemporaryDirectory() as directory:
            def write(name, text):
                with open(os.path.join(directory, name), "w", encoding="utf-8") as file:
                    file.write(text)
            write("other.md", "# Other\n## A part\n")
            write("page.md", "# Page\n## Here\n"
                             "[fine](other.md#a-part) [fine](#here) [fine](https://example.org/x)\n"
                             "[gone](missing.md) [wrong](other.md#no-part) [wrong](#there)\n"
                             "![gone](missing.png) `[code](not-a-link.md)`\n"
                             "```\n[code](not-a-link.md)\n```\n")
            broken = broken_links(os.path.join(directory, "page.md"))
        self.assertEqual([item.split(":")[0] for item in broken],
                         ["missing.md", "other.md#no-part", "#there", "missing.png"])


if __name__ == "__main__":
    unittest.main()


PROGRAM = re.compile(r"python3 (-m [\w.]+|[\w/]+\.py)")


def programs_shown():
    """Every program of this repository that a document shows being run:
    `python3 X.py` or `python3 -m PACKAGE.MODULE`, once each."""
    found = set()
    for path in documents():
        with open(path, encoding="utf-8") as file:
            found.update(PROGRAM.findall(file.read()))
    ours = set()
    for program in found:
        module = program[3:].replace(".", "/") if program.startswith("-m ") else program[:-3]
        if any(os.path.exists(os.path.join(HERE, module + ending))
               for ending in (".py", "/__main__.py")):
            ours.add(program)
    return sorted(ours)


class CommandsRun(unittest.TestCase):
    def test_every_program_the_documents_show_answers_help(self):
        shown = programs_shown()
        self.assertIn("main.py", shown)
        self.assertIn("-m studies.santurkar", shown)
        for program in shown:
            with self.subTest(program=program):
                done = subprocess.run([sys.executable, *program.split(), "--help"], cwd=HERE,
                                      capture_output=True, text=True, timeout=120)
                self.assertEqual(done.returncode, 0, done.stderr)
                self.assertTrue(done.stdout.startswith("usage:"), done.stdout[:200])
