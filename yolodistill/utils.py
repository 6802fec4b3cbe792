"""Small helpers shared by the modules."""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import UserError


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` through a temporary file and a rename, so a kill never leaves half a file.

    The file gets the mode `open()` would give it (an existing file's own, else 0666 less the umask), not
    mkstemp's private 0600, so results read like the Ultralytics files beside them."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o7777 if path.is_file() else 0o666 & ~current_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            name_file(e, path)
        raise
    return path


def name_file(error: OSError, path: str | Path) -> None:
    """Raise `error` again naming `path` where it names no file: a full disk at write, fsync or close names none,
    and the one line the user reads must say which file."""
    if error.filename is None:
        raise OSError(error.errno, error.strerror, str(path)) from error


def files_under(root: str | Path) -> list[Path]:
    """Every file under `root`, sorted, following linked folders as Ultralytics' own glob does (pathlib's rglob skips
    them before Python 3.13), each real folder once so a link loop ends."""
    return sorted(Path(folder, f) for folder, _, files in walk_once(root) for f in files
                  if os.path.isfile(os.path.join(folder, f)))


def walk_once(root: str | Path) -> Iterator[tuple[str, list[str], list[str]]]:
    """`os.walk` through linked folders, each real folder once (a link to a folder above is no loop, and is not
    walked: it would reach `root`'s neighbours, runs/detect from runs/distill; Ultralytics' glob would, for a split
    holding such a link, which no dataset layout does); emptying the yielded dirs prunes, as in os.walk."""
    seen: set[str] = set()
    top = Path(os.path.realpath(root))
    for folder, dirs, files in os.walk(root, followlinks=True):
        if (real := os.path.realpath(folder)) in seen or (real != str(top) and top.is_relative_to(real)):
            dirs[:] = []
            continue
        seen.add(real)
        yield folder, dirs, files


def partial_twin(path: str | Path) -> Path:
    """Where a file or folder is written before it is renamed into place: hidden beside it, named after it, so a
    kill leaves the old one whole and the next write finds (and removes) what was left."""
    path = Path(path)
    return path.with_name(f".{path.name}.partial")


def fsync_file(path: str | Path) -> None:
    """The bytes of a file someone else wrote (Ultralytics' checkpoints) on disk."""
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def replace_synced(tmp: str | Path, path: str | Path) -> Path:
    """Rename a file written by someone else over `path`, once its bytes are on disk."""
    fsync_file(tmp)
    os.replace(tmp, path)
    return Path(path)


def sync_filesystem(folder: Path) -> None:
    """The files written under `folder` on disk, in one call: syncfs of its filesystem alone where libc has it (Linux,
    with its errors), else sync() where there is one (not on Windows). sync() waits on every filesystem, a stale
    network mount too."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        syncfs = libc.syncfs
    except (OSError, AttributeError):
        return os.sync() if hasattr(os, "sync") else None
    fd = os.open(folder, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(folder))
    finally:
        os.close(fd)


def current_umask() -> int:
    """The process umask; reading it means setting it, so it is put straight back."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def staged_write(path: str | Path, data: bytes | str) -> Path:
    """A file of a stage that `staged_splits` moves in whole, or takes out: no twin and no fsync of its own (they
    took two thirds of a conversion's time), as move_in syncs the stage once before it moves it in."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    except OSError as e:
        name_file(e, path)
        raise
    return path


def steps(items: Iterable[Any], total: int, what: str, at_least: int = 500, show: bool = True) -> Iterator[Any]:
    """`items`, under a progress bar on a terminal's stderr where there are `at_least` of them: a conversion of
    100 000 images was minutes without a word. stderr: stdout is for what a command prints, piped too."""
    from rich.console import Console
    from rich.progress import Progress

    shown = Console(stderr=True)
    with Progress(disable=not show or total < at_least or not shown.is_terminal, transient=True, console=shown) as bar:
        task = bar.add_task(what, total=total)
        for item in items:
            yield item
            bar.advance(task)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Text version of `atomic_write_bytes` (UTF-8)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """Write `obj` as indented JSON, atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, default=str) + "\n")


def open_image(path: str | Path):
    """PIL's own Image.open. Ultralytics patches it to pip-install a HEIF plugin (pi-heif) whenever PIL cannot
    identify a file, a corrupt JPEG included: checking a dataset must not install packages. A .heic or .heif file
    still goes through Ultralytics' open, which is how Ultralytics itself reads those."""
    from PIL import Image
    from ultralytics.utils import patches

    own = getattr(patches, "_image_open", Image.open)  # the original it keeps; Image.open itself if that moves
    return (Image.open if Path(path).suffix.lower() in (".heic", ".heif") else own)(path)


def make_folder(path: Path) -> None:
    """mkdir -p that follows a link to a folder not made yet (Path.mkdir refuses the link itself): an output given as
    such a link is written where it points, and the link kept."""
    path.resolve().mkdir(parents=True, exist_ok=True)  # resolve: every link on the way, a parent's too


def usable_cores() -> int:
    """The cores this process may run on (its affinity, where the OS has one), at least one."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def check_threads(threads: int | None) -> None:
    """More threads than cores only make training crawl, each waiting for a core: up to the cores this process may
    use (as cpu_threads counts them), at least one."""
    cores = usable_cores()
    if threads is not None and (type(threads) is not int or not 1 <= threads <= cores):
        raise UserError(f"--threads must be between 1 and {cores} (the cores this process may use), got {threads!r}")


@contextmanager
def cpu_threads(threads: int | None = None) -> Iterator[int]:
    """Train on every core (or `threads`) inside the block, then restore Ultralytics' own setting.

    Ultralytics trains on CPU with cpu_count - 1 threads, which on a 2-core machine is one: the demo and the
    benchmark scripts, which have time goals and nothing else to share the machine with, use both (about 1.7 times
    faster for yolo26s on 2 cores).
    """
    import torch
    from ultralytics.utils import torch_utils

    before, torch_before = torch_utils.NUM_THREADS, torch.get_num_threads()
    torch_utils.NUM_THREADS = threads or usable_cores()  # select_device() hands it to torch
    try:
        yield torch_utils.NUM_THREADS
    finally:
        torch_utils.NUM_THREADS = before
        torch.set_num_threads(torch_before)


HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # Ctrl-C, and what torchrun's agent sends its workers on one


@contextmanager
def quieter(level: int) -> Iterator[None]:
    """Ultralytics' logger shows nothing below `level` inside the block, then what it showed before."""
    from ultralytics.utils import LOGGER

    before = LOGGER.level
    LOGGER.setLevel(max(before, level))
    try:
        yield
    finally:
        LOGGER.setLevel(before)


@contextmanager
def no_blank_lines() -> Iterator[None]:
    """Ultralytics' logger drops its empty lines inside the block: check_det_dataset logs one before it raises, which
    put a blank line above the one line an error gets. Its other lines (a dataset's download) still show."""
    from ultralytics.utils import LOGGER

    def keep(record) -> bool:
        return bool(str(record.getMessage()).strip())

    LOGGER.addFilter(keep)
    try:
        yield
    finally:
        LOGGER.removeFilter(keep)


@contextmanager
def held_signals() -> Iterator[list[int]]:
    """Hold Ctrl-C and SIGTERM until the block ends, then deliver them to the handlers they would have met: for a
    write that must not stop half-way. Yields the signals caught so far.

    Delivered again rather than raised, so an ignored signal stays ignored, a program's own handler still runs, and
    a hold inside another hold passes its signals to the outer one. Only the main thread receives signals in Python,
    so elsewhere the block runs as it is; a handler installed outside Python cannot be put back, so that signal is
    not held."""
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return
    previous = {}
    for sig in HELD_SIGNALS:
        if signal.getsignal(sig) is not None:
            previous[sig] = signal.signal(sig, lambda signum, frame: caught.append(signum))
    try:
        yield caught
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(caught):
            signal.raise_signal(sig)


@contextmanager
def staged_splits(out: Path, stage_name: str, files: tuple[str, ...]) -> Iterator[tuple[Path, Any]]:
    """A dataset's images/ and labels/ written in OUT/stage_name, their splits moved into OUT whole by the `move_in`
    it yields: an interrupt leaves no half dataset that a rerun would refuse. Leaving the block by any exception (a
    Ctrl-C too) takes out what it moved in, OUT's `files` (the caller's outputs, absent before), the stage, and the
    folders it made, holding a second Ctrl-C till that ends; a rerun removes a stage a kill left. The caller checks
    first that OUT's images/ and labels/ hold nothing."""
    import shutil

    made = [p for p in (out.resolve(), *out.resolve().parents) if not p.exists()]  # deepest first
    made += [out.resolve() / sub for sub in ("images", "labels") if not (out / sub).exists()]
    stage, moved = out.resolve() / stage_name, []

    def move_in() -> None:
        sync_filesystem(stage)  # its files, written without an fsync each (staged_write), on disk before they move in
        for sub in ("images", "labels"):
            make_folder(out / sub)  # empty, or a link to an empty folder
            for split in sorted((stage / sub).iterdir()) if (stage / sub).is_dir() else ():
                dest = (out / sub).resolve() / split.name
                try:
                    os.replace(split, dest)
                except OSError as e:  # images/ links to another filesystem: rename cannot cross it
                    if e.errno != errno.EXDEV:
                        raise  # nothing moved: what is at dest (a folder that is not empty) is not ours to take out
                    if dest.exists():
                        raise FileExistsError(errno.EEXIST, "split folder exists", str(dest)) from None
                    moved.append(dest)  # a copy cut short is ours
                    shutil.copytree(split, dest)
                else:
                    moved.append(dest)
        shutil.rmtree(stage)

    try:
        make_folder(out)  # through a link to a folder not made yet
        shutil.rmtree(stage, ignore_errors=True)
        yield stage, move_in
    except BaseException:
        with held_signals():  # a second Ctrl-C while a large stage is removed would leave half of it in OUT
            shutil.rmtree(stage, ignore_errors=True)
            for path in moved:
                shutil.rmtree(path, ignore_errors=True)
            for name in files:
                (out / name).unlink(missing_ok=True)
            for folder in sorted(made, key=lambda p: len(p.parts), reverse=True):  # what it made, if empty
                try:
                    folder.rmdir()
                except OSError:
                    pass
        raise


def megabytes(path: str | Path) -> float:
    """A file's size, or a folder's (an OpenVINO model), in MB of 10**6 bytes: Ultralytics' file_size gives MiB,
    which our tables labelled MB, about 5 % low."""
    path = Path(path)
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6


def file_digest(path: str | Path) -> str | None:
    """sha256 of a file's bytes, read in chunks (a yolo26x teacher is 110 MB); None for what is not a readable file."""
    import hashlib

    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except (OSError, TypeError):  # TypeError: a model object, not a path
        return None
    return h.hexdigest()


def local_path(path: str | Path) -> str:
    """Absolute where it is a local path, so that a run resumes from anywhere; a name or URL as it is."""
    return str(Path(path).resolve()) if Path(path).exists() else str(path)


STICKY_EVENTS = ("on_pretrain_routine_end", "on_train_batch_end", "on_train_epoch_end", "on_fit_epoch_end")


def stop_on_terminate(signum: int, frame: Any) -> None:
    """SIGTERM as Ctrl-C (terminate_as_interrupt)."""
    raise KeyboardInterrupt


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (`kill`, `timeout`, a job scheduler's stop) taken as Ctrl-C in a command, where nothing else handles it:
    it ended export, compare, convert and pseudo-label without a word, leaving their temporary folders (a hidden
    .export-* beside the weights, 15 MB a kill). Training takes it the same way (sticky_interrupt)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return
    previous = signal.signal(signal.SIGTERM, stop_on_terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def remembered_interrupt() -> Iterator[list[int]]:
    """Ctrl-C raised as KeyboardInterrupt and remembered too: where it lands in code Ultralytics wraps in @TryExcept
    (check_requirements as it loads ONNX Runtime, its plots), which swallows any exception, or in a finaliser run by
    gc.collect() (Python prints and drops it), the command carried on: an export replaced the earlier one and exit
    status 0. The block's end raises it again, and `stop_if(pressed)` does where a stop must still count. SIGTERM
    (`kill`, a job scheduler's stop) is taken as Ctrl-C where nothing else handles it (also in a background job,
    which ignores Ctrl-C). Only signals with Python's own handler, in the main thread. Yields the presses."""
    pressed: list[int] = []
    main = threading.current_thread() is threading.main_thread()
    taken = [sig for sig, default in ((signal.SIGINT, (signal.default_int_handler,)),
                                      (signal.SIGTERM, (signal.SIG_DFL, stop_on_terminate)))
             if main and signal.getsignal(sig) in default]

    def remember(signum, frame):
        pressed.append(signum)
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, remember) for sig in taken}
    try:
        yield pressed
        stop_if(pressed)  # swallowed after the last check (Ultralytics' final plots, on_train_end, gc.collect())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stop_if(pressed: list[int]) -> None:
    """Raise a Ctrl-C that `remembered_interrupt` saw, whether or not something swallowed it on its way."""
    if pressed:
        raise KeyboardInterrupt


@contextmanager
def sticky_interrupt(trainer: Any) -> Iterator[list[int]]:
    """Ctrl-C for the whole of `trainer.train()` (remembered_interrupt), raised again at the trainer's next callback
    (each batch): a press swallowed in a plot Ultralytics wraps in @TryExcept, the run trained on. SIGTERM killed the
    run with best.pt in training form, the teacher inside. Yields the presses."""
    with remembered_interrupt() as pressed:
        def again(_trainer: Any) -> None:
            stop_if(pressed)

        for event in STICKY_EVENTS:
            trainer.callbacks[event].insert(0, again)
        try:
            yield pressed
        finally:
            for event in STICKY_EVENTS:
                trainer.callbacks[event].remove(again)


class FoldedLines(logging.Filter):
    """Inside the block, Ultralytics' log lines starting with `prefix` are counted instead of printed."""

    def __init__(self, prefix: str):
        super().__init__()
        self.prefix, self.count = prefix, 0

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith(self.prefix):
            self.count += 1
            return False
        return True

    def __enter__(self) -> FoldedLines:
        from ultralytics.utils import LOGGER

        LOGGER.addFilter(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        from ultralytics.utils import LOGGER

        LOGGER.removeFilter(self)
