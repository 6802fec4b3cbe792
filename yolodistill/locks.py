"""One process at a time on an output: two commands writing the same folder (a second terminal, a loop in the
background) passed each other's "new or empty" checks, then shared the same staging folders. Two `data convert` into
one --out left 22 train images and no data.yaml while one of them said it wrote 300; a `train --resume` beside the
running run wrote its epochs into the same results.csv. The second is now refused, in one line, before any work.

A lock is an advisory `flock` on a file under the user's cache folder, named after the output's resolved path: nothing
is written beside the user's files, and it goes with the process, so a kill never leaves it held.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import inspect
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from .errors import UserError


@contextmanager
def exclusive(path: str | Path | None, flag: str) -> Iterator[None]:
    """Hold `path` for the block; a path another process holds is refused, naming `flag` to pick another. None, or a
    machine without flock (Windows), holds nothing."""
    try:
        import fcntl

        if int(os.environ.get("RANK", -1)) > 0:  # a rank torchrun started beside rank 0, which holds it
            raise RuntimeError
        key = hashlib.sha256(os.fsencode(Path(path).expanduser().resolve())).hexdigest()[:24]  # any bytes of a name
        handle = open_lock(lock_folder() / f"{key}.lock") if path is not None else None
    except (ImportError, OSError, RuntimeError, TypeError, ValueError):  # no lock to take: as before
        handle = None
    if handle is None:
        yield
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"'{path}' is being written by another yolodistill command right now: wait for it to end"
                            + (f", or pass another {flag}" if flag.startswith("--") else f" (the {flag})")) from None
        except OSError:  # no locks here (an NFS home without a lock daemon: ENOLCK): as before
            yield
            return
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def lock_folder() -> Path:
    """The cache's locks/, else one in the temporary folder (as Ultralytics falls back for its settings): a home
    that cannot be written turned every lock off, silently. A relative YOLODISTILL_CACHE is another folder from each
    working folder (two commands into one --out, started from two, both ran): the temporary one then."""
    import tempfile

    from .loading import cache_dir

    shared = Path(tempfile.gettempdir()) / f"yolodistill-locks-{os.getuid()}"  # a name anyone can make first
    relative = not Path(os.environ.get("YOLODISTILL_CACHE") or "/").expanduser().is_absolute()
    for folder in ((shared,) if relative else (cache_dir() / "locks", shared)):
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            if folder == shared and (folder.is_symlink() or folder.stat().st_uid != os.getuid()):
                continue  # another user's, or a link planted to have our locks open their files
            if os.access(folder, os.W_OK):
                return folder
        except OSError:
            continue
    raise OSError("no folder for locks")


def open_lock(path: Path):
    """A lock file opened for flock: made if missing, never truncated, never through a link (open(path, "w") emptied
    whatever file a link planted there named)."""
    return os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600), "r+")


def holding(where: Callable[[dict[str, Any]], Any], flag: str) -> Callable:
    """Run a public function holding the output `where` finds in its arguments (by name, defaults not filled in):
    a path, or a path and what to name in place of `flag`."""

    def decorate(function: Callable) -> Callable:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                given = inspect.signature(function).bind_partial(*args, **kwargs).arguments
                path = where({**given.pop("overrides", {}), **given})
            except Exception:  # bad arguments: the function's own checks say what is wrong
                path = None
            path, named = path if isinstance(path, tuple) else (path, flag)
            with exclusive(path, named), ExitStack() as picked:
                token = _PICKED.set((picked, None if path is None else Path(path).expanduser().resolve()))
                try:
                    return function(*args, **kwargs)
                finally:
                    _PICKED.reset(token)

        return wrapper

    return decorate


_PICKED: contextvars.ContextVar[tuple[ExitStack, Path | None] | None] = contextvars.ContextVar("picked", default=None)


def hold_picked(path: Path, flag: str) -> bool:
    """Hold `path`, picked inside a function `holding` wraps, until that function returns: an unnamed comparison's
    new exp-N held nothing, so an unnamed `compare --exist-ok` started beside it wrote into it. False where another
    process holds it; the path `holding` holds already is held (a second lock on it refused its own command)."""
    picked = _PICKED.get()
    if picked is None or Path(path).expanduser().resolve() == picked[1]:
        return True
    try:
        picked[0].enter_context(exclusive(path, flag))
    except UserError:
        return False
    return True


def recipe_folder(given: dict[str, Any], default: str, not_mine: str = "") -> Path | None:
    """project/NAME as the run takes them (given, else from the --config recipe, whose `not_mine` project is train's,
    not compare's); unnamed, with exist_ok, the exp Ultralytics reuses (two such runs wrote one results.csv); else
    None: a new exp-N, held once picked."""
    from .config import read_recipe

    recipe = read_recipe(given["config"]) if given.get("config") else {}
    recipe = {**recipe, "project": None} if recipe.get("project") == not_mine else recipe
    project, name, exist_ok = (given.get(k) if given.get(k) is not None else recipe.get(k)
                               for k in ("project", "name", "exist_ok"))
    reused = bool(exist_ok) and not isinstance(exist_ok, str)  # exist_ok=1 from Python reuses it too
    name = name if name not in (None, "") else "exp" if reused else None
    return Path(project or default) / str(name) if name is not None else None


def run_folder(given: dict[str, Any]) -> Path | tuple[Path, str] | None:
    """The folder `train` writes where it is known before Ultralytics picks one: a resumed run's (RUN/weights/last.pt,
    through links), or --project/--name."""
    from .resume import run_folder as resumed

    if given.get("resume"):
        return resumed(Path(given["resume"])), "run to resume"
    return recipe_folder(given, "runs/distill")


def compare_folder(given: dict[str, Any]) -> Path | None:
    """compare's folder where it is known (unnamed: a new exp-N, claimed as it is picked)."""
    return recipe_folder(given, "runs/compare", not_mine="runs/distill")
