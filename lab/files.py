"""Files that are never half-written or half-read: a file written whole or not
at all (atomic_write), and a network's weights file (save_weights,
load_weights), whose arrays are all checked before the network takes any of
them (read_weights).
"""
import contextlib
import errno
import os
import stat
import tempfile

import numpy as np


def atomic_write(path, write):
    """Call write(file) on a new temporary file beside path, then rename it
    to path: path is either untouched or complete, never half-written. The
    temporary file is removed whatever stops the write (an error, or a
    signal that the program turns into an exception, as main.py, plot.py,
    evaluate.py and the studies' programs do).

    Only a regular file or a symbolic link is replaced: a path that is a
    device (/dev/full), a FIFO, a socket or a directory raises
    NotAFileToReplace before anything is written, since the rename would put
    a file in its place. A symbolic link is not followed: the new file takes
    the link's place and the link's target is left as it was, so that a
    file in a shared results directory can never write elsewhere."""
    kind = path_kind(path)
    if kind == "a directory":
        raise NotAFileToReplace(errno.EISDIR, os.strerror(errno.EISDIR), path)
    if kind not in (None, "a file", "a symbolic link"):
        raise NotAFileToReplace(errno.EEXIST, "it exists and is not a regular file: "
                                           "choose a file's name", path)
    directory, name = os.path.split(path)
    handle, temporary = tempfile.mkstemp(dir=directory or ".", prefix=f".{name}.",
                                         suffix=".tmp")
    try:
        os.chmod(temporary, 0o644)                  # mkstemp makes it private (0600)
        with os.fdopen(handle, "wb") as file:
            write(file)
        os.replace(temporary, path)
    finally:
        if os.path.lexists(temporary):
            os.unlink(temporary)


def path_kind(path):
    """What path is, in words ("a file", "a directory", "a symbolic link",
    "a FIFO", ...), not following a link; None if nothing is there."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    return describe(mode)


def describe(mode):
    """A file's kind, from its st_mode, in words."""
    return next((name for test, name in KINDS if test(mode)), "not a regular file")


class NotARegularFile(ValueError):
    """A path that is not a regular file, or one larger than asked for."""


KINDS = ((stat.S_ISREG, "a file"), (stat.S_ISLNK, "a symbolic link"),
         (stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
         (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))


def read_regular(path, limit, follow=True):
    """The bytes of path, if it is a regular file of at most `limit` bytes
    (or, with follow, a link to one); else NotARegularFile, saying what it
    is. Without follow, a symbolic link is refused: a results directory is
    read only within itself. Opened without blocking (a FIFO would wait for
    a writer forever) and checked before a byte is read (a link to /dev/zero
    never ends). OSError if it cannot be opened."""
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK | (0 if follow else os.O_NOFOLLOW))
    except OSError as error:
        if error.errno == errno.ELOOP and not follow and os.path.islink(path):
            raise NotARegularFile(f"{path} is a symbolic link, not a file") from None
        raise
    try:
        mode = os.fstat(handle).st_mode
    except OSError:
        os.close(handle)
        raise
    if not stat.S_ISREG(mode):
        os.close(handle)
        raise NotARegularFile(f"{path} is {describe(mode)}, not a file")
    with os.fdopen(handle, "rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise NotARegularFile(f"{path} is larger than {limit // 2**20} MiB: not a file "
                              "main.py wrote")
    return data


class NotAFileToReplace(OSError):
    """atomic_write's path is a device, a FIFO, a socket or a directory; its
    strerror says so in words the programs print after the path."""


class WeightsError(ValueError):
    """A weights file that cannot be used, explained in one line."""


def read_arrays(file, follow=True):
    """The arrays of a .npz file written by save_weights, by name.

    Any file that cannot be read, or is not such a file (a bare .npy, a zip
    of other things, a file with any byte damaged), raises WeightsError in
    one line: a damaged zip can fail inside zipfile, zlib or NumPy's header
    parser with almost any exception (NotImplementedError for an unknown
    compression method, RuntimeError for the encrypted flag, a tokenizer
    error for a damaged array header, MemoryError for an absurd shape), so
    every Exception is turned into the same line. Without follow, a path
    that is a symbolic link is refused (a file of a results directory)."""
    not_ours = f"{file} is not a .npz weights file written by main.py"
    try:
        with contextlib.ExitStack() as stack:
            # A path is opened here, so that it is closed whatever np.load raises.
            source = (stack.enter_context(os.fdopen(os.open(
                file, os.O_RDONLY | (0 if follow else os.O_NOFOLLOW)), "rb"))
                if isinstance(file, (str, os.PathLike)) else file)
            with np.load(source, allow_pickle=False) as saved:
                stored = {key: saved[key] for key in saved.files}
    except OSError as error:
        if error.errno == errno.ELOOP and not follow:
            raise WeightsError(f"{file} is a symbolic link, which is not followed: a "
                               "results directory is read only within itself") from None
        if error.strerror:                          # missing, unreadable, a directory
            raise WeightsError(f"cannot read {file}: {error.strerror}") from None
        raise WeightsError(not_ours) from None
    except Exception:       # see above; NumPy's own words can suggest unpickling it
        raise WeightsError(not_ours) from None
    for key, value in stored.items():
        if not isinstance(value, np.ndarray):       # a member that is not .npy: its bytes
            raise WeightsError(f"{not_ours} (its member {key} is not a NumPy array)")
    return stored


def read_weights(file, expected, follow=True):
    """The arrays of the weights file `file`, converted to the dtypes of
    `expected` ({name: array}, a network's state()). Every array is checked
    before any is returned: a file that is not a weights file of this
    architecture (missing, extra or misshapen arrays, arrays that are not
    real numbers, or numbers the expected dtype cannot hold) raises
    WeightsError naming the array."""
    stored = read_arrays(file, follow)
    converted = {}
    for key, array in expected.items():
        if key not in stored:
            raise WeightsError(f"{file} has no array {key}: it was saved from another "
                               "architecture")
        if stored[key].shape != array.shape:
            raise WeightsError(f"{file}: array {key} has shape {stored[key].shape}, "
                               f"this network needs {array.shape}")
        if stored[key].dtype.kind not in "fiu" or not np.can_cast(
                stored[key].dtype, array.dtype, casting="same_kind"):
            raise WeightsError(f"{file}: array {key} holds {stored[key].dtype}, not real "
                               f"numbers that convert to {array.dtype}")
        with np.errstate(over="ignore", invalid="ignore"):
            converted[key] = stored[key].astype(array.dtype)
        if not np.isfinite(converted[key]).all():
            too_large = " (too large for it)" if np.isfinite(stored[key]).all() else ""
            raise WeightsError(f"{file}: array {key} holds numbers that are not finite "
                               f"in {array.dtype}{too_large}")
    extra = sorted(set(stored) - set(expected))
    if extra:
        raise WeightsError(f"{file} has arrays this network lacks ({', '.join(extra)}): "
                           "it was saved from another architecture")
    return converted


def save_weights(network, file):
    """Write network.state() to file (a path or a binary file object) as .npz."""
    np.savez(file, **network.state())


def load_weights(network, file, follow=True):
    """Read a weights file written by save_weights into network, in place.
    The file is checked first (read_weights): one that is not a weights
    file of this architecture raises WeightsError in one line and leaves
    the network exactly as it was. Without follow, a link is refused (a
    file of a results directory, read only within it)."""
    network.load_state(read_weights(file, network.state(), follow))
