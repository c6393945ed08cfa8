"""The faults of the two studies' programs, santurkar_plot.py and
ioffe_szegedy.py, each run as a user runs it (in a process of its own, on
made-up runs saved by results.save): bad input, signals, closed or full
standard output and odd figure paths each give one line and an exit status,
no traceback, and lose nothing. Also files.atomic_write's refusal of what
is not a regular file, and evaluate.py's word on the studies' weights.
Needs no network and no MNIST.

    python3 test_study_programs.py
"""
import os
import stat
import subprocess
import sys
import tempfile
import unittest

import files

HERE = os.path.dirname(os.path.abspath(__file__))


class AtomicWriteTargets(unittest.TestCase):
    """What atomic_write does with a path that is not a regular file."""

    def setUp(self):
        self.directory = tempfile.mkdtemp()
        self.addCleanup(subprocess.run, ["rm", "-rf", self.directory])

    def path(self, name):
        return os.path.join(self.directory, name)

    def assertRefused(self, path):
        with self.assertRaises(files.NotRegularFile) as refused:
            files.atomic_write(path, lambda file: file.write(b"png"))
        self.assertIn("not a regular file", refused.exception.strerror)
        self.assertEqual(sorted(os.listdir(self.directory)), sorted(self.before))

    def test_a_fifo_and_a_directory_are_refused_and_left_as_they_are(self):
        os.mkfifo(self.path("fifo"))
        os.mkdir(self.path("folder"))
        self.before = os.listdir(self.directory)
        self.assertRefused(self.path("fifo"))
        self.assertTrue(stat.S_ISFIFO(os.lstat(self.path("fifo")).st_mode))
        self.assertRefused(self.path("folder"))
        self.assertTrue(os.path.isdir(self.path("folder")))

    def test_a_character_device_is_refused(self):
        try:
            os.mknod(self.path("null"), stat.S_IFCHR | 0o666, os.makedev(1, 3))
        except (PermissionError, AttributeError, OSError):
            self.skipTest("cannot make a device here")
        self.before = os.listdir(self.directory)
        self.assertRefused(self.path("null"))
        self.assertTrue(stat.S_ISCHR(os.lstat(self.path("null")).st_mode))

    def test_a_symbolic_link_writes_its_target_and_stays_a_link(self):
        with open(self.path("figure.png"), "wb") as file:
            file.write(b"old")
        os.symlink("figure.png", self.path("link.png"))
        files.atomic_write(self.path("link.png"), lambda file: file.write(b"new"))
        self.assertTrue(os.path.islink(self.path("link.png")))
        with open(self.path("figure.png"), "rb") as file:
            self.assertEqual(file.read(), b"new")
        self.assertEqual(sorted(os.listdir(self.directory)), ["figure.png", "link.png"])

    def test_a_dangling_link_creates_its_target(self):
        os.symlink("new.png", self.path("link.png"))
        files.atomic_write(self.path("link.png"), lambda file: file.write(b"new"))
        self.assertTrue(os.path.islink(self.path("link.png")))
        with open(self.path("new.png"), "rb") as file:
            self.assertEqual(file.read(), b"new")


if __name__ == "__main__":
    unittest.main()
