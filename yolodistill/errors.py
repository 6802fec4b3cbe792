"""One exception type for everything the user can fix.

The CLI turns a `UserError` into one line on stderr and exit status 2, never a traceback. Raise it before any file
is written, so that bad input never costs the user what they already had.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from numbers import Integral, Real
from pathlib import Path
from typing import Any


class UserError(Exception):
    """Bad input: the message says what is wrong and how to fix it, in one line."""

    exit_code = 2


class DiskFull(UserError):
    """A full disk: no bad input (exit status 1), but no traceback either."""

    exit_code = 1


def shown(value: Any) -> Any:
    """Text as it can be written and drawn: a name's byte no UTF-8 has (held by Python as a surrogate) as \\xe9."""
    if not isinstance(value, str):
        return value
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def out_of_space(where: Any, then: str = "run again") -> DiskFull:
    """The full-disk line: `where` it could not write (None: no file known), `then` what to do once there is space (a
    stopped training run resumes rather than starts again)."""
    return DiskFull(f"no space left on the device{f' to write {where}' if where else ''}: free some space and {then}")


def disk_full(e: OSError, then: str = "run again") -> DiskFull | None:
    """A full disk as one line (`out_of_space`); None for another OSError."""
    import errno

    return out_of_space(e.filename, then) if e.errno in (errno.ENOSPC, errno.EDQUOT) else None


def name_too_long(e: OSError) -> UserError | None:
    """A path the filesystem refuses for its length as one line (the first check of any path stat()s it); None for
    another OSError."""
    import errno

    if e.errno != errno.ENAMETOOLONG:
        return None
    shown = str(e.filename) if len(str(e.filename)) <= 80 else f"{str(e.filename)[:60]}...{str(e.filename)[-17:]}"
    return UserError(f"path '{shown}' is too long for the filesystem (a file or folder name may hold at most 255 bytes, "
                     "a whole path 4096): pass a shorter one")


def as_user_error(e: OSError) -> Exception:
    """The one-line error a command prints for a full disk (DiskFull) or a path too long (UserError); else `e`."""
    return disk_full(e) or name_too_long(e) or e


def is_url(path: str | Path) -> bool:
    """Also a URL typed where a Path was expected, which has lost one slash (https:/host/x.pt)."""
    return str(path).lower().startswith(("http:/", "https:/"))


def require_file(path: str | Path, what: str, suffixes: tuple[str, ...] = (), missing: str = "check the path") -> Path:
    """Return `path` as a Path if it is an existing file with one of `suffixes`, else raise a UserError (`missing`:
    what to do when it does not exist).

    URLs are refused here: only the `--teacher` and `--student` URLs of train, compare and pseudo-label and export's
    `--weights` are fetched, by `loading.local_checkpoint`; one found inside a checkpoint or a config is never followed.
    """
    p = check_path(path, what, "file")
    if is_url(path):
        raise UserError(f"{what} '{path}' is a URL, and only the --teacher and --student of train, compare and data "
                        "pseudo-label and export's --weights are fetched from one: download it and pass the local file")
    if suffixes and p.suffix.lower() not in suffixes and not p.is_dir():  # yolo26s.yaml as a teacher: the kind first
        raise UserError(f"{what} '{path}' should be a {' or '.join(suffixes)} file, "
                        + (f"not '{p.suffix}'" if p.suffix else "and its name has no suffix"))
    if not p.exists():
        raise UserError(f"{what} '{path}' does not exist: {missing}")
    if not p.is_file():
        pick = "last.pt" if what == "resume checkpoint" else "best.pt"
        run = (p / "weights").is_dir()  # a run folder: its checkpoints are in weights/
        inside = p / "weights" / pick if run else p / pick if (p / pick).is_file() else None  # or weights/ itself
        inside = inside if ".pt" in suffixes else None  # --data runs/x is no checkpoint's place
        if inside is None and p.name.endswith("_openvino_model") and ".pt" in suffixes:  # none inside it would do
            raise UserError(f"{what} '{path}' is an OpenVINO export folder: pass a {' or '.join(suffixes)} file, "
                            "e.g. the checkpoint it was exported from")
        raise UserError(f"{what} '{path}' is a folder: pass the file" + (f", e.g. {inside}" if inside else ""))
    if ".pt" in suffixes:
        check_no_quote(p, what)
    return p


def given(value: Any) -> str:
    """A value as a message quotes it: a loaded model by its kind and where its path is, not its printout of
    hundreds of lines (a YOLO object passed where its .pt goes)."""
    import torch

    if isinstance(value, torch.nn.Module) or hasattr(value, "ckpt_path"):  # YOLO(...) is a Module; its file is there
        if isinstance(weights := getattr(value, "ckpt_path", None), str):
            return f"a {type(value).__name__} object: pass the path of the file it was loaded from ({weights})"
        built = getattr(value, "cfg", None)  # YOLO("yolo26n.yaml"): untrained, no file of weights to name
        if not isinstance(built, str):
            return f"a {type(value).__name__} object: pass a path instead (a trained .pt)"
        return (f"a {type(value).__name__} object built from {built}: pass a path instead (a trained .pt; for "
                f"--student, {built})")
    text = repr(value)
    if len(text) <= 80 and "\n" not in text:
        return text
    return f"a {type(value).__name__} ({text[:60].split(chr(10))[0]}...)"


def check_path(path: Any, what: str, kind: str = "file or folder") -> Path:
    """A path given from Python: None or a number was a TypeError deep inside, and '' the current folder."""
    if not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise UserError(f"{what} must be the path of a {kind}, got {given(path)}")
    return Path(path)


def check_name(name: Any) -> None:
    """--name from Python: a list was a folder named ['a'] (refused for its quotes, or made: [1])."""
    if name is not None and (isinstance(name, bool) or not isinstance(name, (str, Real, os.PathLike))):
        raise UserError(f"--name must be a folder name, got {given(name)}")


def check_no_quote(path: str | Path, what: str, fix: str = "rename the file or folder, or use another") -> None:
    """Ultralytics deletes every ' from a checkpoint's path before loading it (attempt_download_asset), so a .pt
    under such a name is looked for elsewhere: after training, for a run's own best.pt, with a traceback. `path` is
    the path Ultralytics will be handed: as given, or resolved where yolodistill resolves it (a run's folders)."""
    if "'" in str(path):
        raise UserError(f"{what} '{path}' has an apostrophe (') in its path, which Ultralytics drops from checkpoint "
                        f"paths before loading them: {fix}")


def python_values(function: Callable) -> Callable:
    """A public function's NumPy scalars (a sweep's np.linspace values) as the Python numbers they are, in every
    argument and in lists of them: they passed some checks and failed others with untrue lines, and tracebacks
    deep in yaml or Ultralytics' own checks once a run folder existed. A path too long for the filesystem, or a full
    disk, raises the UserError (DiskFull) the command prints, not the OSError the first stat() or write raised."""
    import functools

    def plain(value: Any) -> Any:
        if type(value).__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", None) == 0:
            return value.item()
        return type(value)(map(plain, value)) if type(value) in (list, tuple) else value  # a namedtuple as it is

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*map(plain, args), **{k: plain(v) for k, v in kwargs.items()})
        except OSError as e:
            raise as_user_error(e)

    return wrapper


def check_whole(value: Any, flag: str) -> None:
    """A whole number: from Python a float or a string would fail later with a TypeError, or be truncated."""
    if not isinstance(value, Integral) or isinstance(value, bool):
        raise UserError(f"{flag} must be a whole number, got {value!r}")


def check_number(value: Any, flag: str) -> None:
    """A real number given from Python, where a string would fail later in a comparison with a TypeError."""
    if not isinstance(value, Real) or isinstance(value, bool):
        raise UserError(f"{flag} must be a number, got {value!r}")


def check_switch(value: Any, name: str) -> None:
    """A switch given from Python: 'no' is true in an `if`, so progress="no" drew the bar it turned off."""
    if isinstance(value, str):
        raise UserError(f"{name} must be True or False, got {value!r}")


def check_seed(seed: int, flag: str = "--seed") -> None:
    """A seed, worded alike in every command: NumPy refuses seeds outside 0 to 2**32 - 1 with a traceback."""
    check_whole(seed, flag)
    if not 0 <= seed < 2**32:
        raise UserError(f"{flag} must be between 0 and {2**32 - 1} (NumPy's seed range), got {seed}")


def check_batch(batch: int) -> None:
    """An inference batch size, worded alike in every command that takes one."""
    check_whole(batch, "--batch")
    if batch < 1:
        raise UserError(f"--batch must be at least 1, got {batch}")


def check_input_size(batch: int, imgsz: int) -> None:
    """An inference batch that cannot fit in memory, refused before any work: export --imgsz 100000 and bench --batch
    10000000 were a traceback, or took all the machine's memory. The float32 input alone, times 8 for the model's
    activations (a YOLO26n's are several times its input), against the memory free now."""
    import psutil

    need, free = batch * 3 * imgsz * imgsz * 4, psutil.virtual_memory().available
    if need * 8 > free:
        raise UserError(f"--batch {batch} at --imgsz {imgsz} needs {need / 2**30:.3g} GB for its input alone (float32), "
                        f"and this machine has {free / 2**30:.3g} GB free for it and the model: use a smaller --batch "
                        "or --imgsz")


def check_imgsz(imgsz: int | None, stride: int = 32, of: str = "the model's largest stride") -> None:
    """An image size Ultralytics would otherwise round up to the model's stride without a word, worded alike in
    every command, with the nearest sizes that work; `of` says whose stride it is."""
    if imgsz is not None:
        check_whole(imgsz, "--imgsz")
    if imgsz is None or (imgsz > 0 and imgsz % stride == 0):
        return
    lo = imgsz // stride * stride
    use = f"{stride}" if lo < stride else f"{lo} or {lo + stride}"
    raise UserError(f"--imgsz {imgsz} is not a positive multiple of {stride} ({of}): use {use}")


def writable(folder: Path) -> bool:
    """Whether `folder` is a folder that takes a file. Probed with a real temporary file, since os.access answers yes
    to root even where writes fail (/proc, some network and container mounts)."""
    try:
        if folder.is_dir():
            tempfile.TemporaryFile(dir=folder).close()
            return True
    except OSError:
        pass
    return False


def check_writable(folder: str | Path, flag: str, shown: str | Path | None = None) -> None:
    """The nearest existing parent of `folder` (or the folder) must be a folder that takes a file."""
    p = Path(folder).resolve()
    while not p.exists():
        p = p.parent
    if not writable(p):
        raise UserError(f"{flag} '{shown or folder}' cannot be "
                        + ("written: it is not a writable folder" if p == Path(shown or folder).resolve() else
                           f"created: '{p}' is not a writable folder"))


def check_output(path: str | Path, flag: str, kind: str = "folder", longest: int = 0) -> Path:
    """An output `kind` ("folder" or "file") that can be written: an existing path must be of that kind, and its
    nearest existing parent a writable folder. Checked before any work, so no run ends in a failed write.

    Returns the path to write, resolved where it goes through '..': 'new/../data' with no folder new cannot be walked,
    so it does not exist as written, where the folder it is written to (resolved, as Ultralytics and the writers take
    it) may hold the user's data: every check of what is there must look at the resolved path. `longest`: how many
    bytes the writer adds to the name at most (a temporary twin, a file beside it), checked against the 255 a name
    may hold before any work; a name past 255 is the filesystem's to refuse."""
    p = Path(path).resolve() if ".." in Path(path).parts else Path(path)
    size = len(os.fsencode(p.name))  # the bytes on disk: a name of a byte no UTF-8 has was a UnicodeEncodeError
    if 255 - longest < size <= 255:  # its twin's name was refused at the end, after all the work
        raise UserError(f"{flag} '{path}' has a name of {size} bytes, and it is written under names "
                        f"up to {longest} bytes longer, past the 255 a name may hold: pass a name of at most "
                        f"{255 - longest} bytes")
    if kind == "folder" and p.exists() and not p.is_dir():
        raise UserError(f"{flag} '{path}' is a file: pass a folder")
    if kind == "folder" and p.suffix.lower() in (".yaml", ".yml") and not p.is_dir():  # made a folder named data.yaml
        raise UserError(f"{flag} '{path}' names a yaml file, and {flag} is a folder: pass a folder, e.g. {flag} "
                        f"{p.parent}")
    if kind == "file" and p.is_dir():
        raise UserError(f"{flag} '{path}' is a folder: pass a file name, e.g. {Path(path) / 'out.json'}")
    check_writable(p if kind == "folder" else p.resolve().parent, flag, shown=path)
    return p


MARKS = ("❌", "⚠", "\ufe0f")  # Ultralytics' emoji; the last is the variation selector it puts after some


def strip_marks(line: str) -> str:
    """A line of an Ultralytics message without its emoji or leading ERROR: we say Error: already."""
    for m in MARKS:
        line = line.replace(m, "")
    line = line.strip()
    return line[len("ERROR"):].strip() if line.startswith("ERROR ") else line


def first_line(e: BaseException) -> str:
    """An exception's message as one line, without Ultralytics' emoji: the tail of a UserError.

    Ultralytics' "DATA.yaml key missing ❌." names the key only on its second line, which is kept.
    """
    lines = [x for x in map(strip_marks, str(e).strip().splitlines()) if x]
    text = lines[0] if lines else type(e).__name__
    if text.rstrip(" .").endswith("missing") and len(lines) > 1:
        text = f"{text.rstrip(' .')}: {lines[1]}"
    return text


@contextmanager
def batch_of_one_refused() -> Iterator[None]:
    """Ultralytics refuses a last batch of one image at a small size (BatchNorm) with a ValueError once the run
    folder exists: bad input all the same, so one line, and train removes the unstarted folder."""
    try:
        yield
    except ValueError as e:
        if "single value per channel" not in str(e):
            raise
        raise UserError(first_line(e)) from None


def root_cause(e: BaseException, limit: int = 100) -> str:
    """The first sentence of the error at the root of `e`'s chain, at most `limit` characters: Ultralytics wraps a
    runtime's error in its own advice, and torch's zip reader adds 300 characters of its own."""
    while (inner := e.__cause__ or e.__context__) is not None:
        e = inner
    cause = first_line(e).split(". ")[0].rstrip(".")
    return cause if len(cause) <= limit else cause[:limit - 3].rstrip() + "..."


def usage_line(e: BaseException, command: Any = None, argv: list[str] = ()) -> str | None:
    """Click's usage error (an unknown command or option, a missing or bad value) as the one line every other bad
    input gets, where Typer would draw a usage line, a hint and a boxed panel; None for any other exception. Where
    Click gives no context (a flag's value missing), the help to see is the one of the (sub)commands `argv` names
    under the root `command`.

    Duck-typed: Typer vendors Click privately (typer._click), so its exception classes are not public API."""
    if not (hasattr(e, "format_message") and isinstance(getattr(e, "exit_code", None), int)):
        return None
    ctx = getattr(e, "ctx", None)
    path = getattr(ctx, "command_path", None)
    if not path:
        words = ["yolodistill"]
        for word in argv:
            if (command := (getattr(command, "commands", None) or {}).get(word)) is None:
                break
            words.append(word)
        path = " ".join(words)
    message = " ".join(str(e.format_message()).split()).rstrip(".")
    if path.endswith(" bench") and (option := getattr(e, "option_name", None)) in ("--weights", "--model"):
        message = (f"No such option: {option}: bench takes the files it times as arguments, as in yolodistill bench "
                   "best.pt best.onnx")  # Click suggested --imgsz
    return f"{message} (see {path} --help)"
