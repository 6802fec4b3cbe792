"""Checkpoints written whole: a Ctrl-C, a kill or a full disk while Ultralytics strips the optimizer from
`last.pt` and `best.pt` never leaves a truncated file, and an interrupted run's best.pt is made shippable."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ultralytics.utils import LOGGER

from .errors import first_line
from .utils import held_signals, partial_twin, quieter, replace_synced


@contextmanager
def whole_strips() -> Iterator[None]:
    """Ultralytics' trainer strips the optimizer by rewriting `last.pt`, then `best.pt`, in place: a Ctrl-C, a kill
    or a full disk in the middle left a truncated `best.pt`, the run's result. Inside the block each strip is written
    beside its file and renamed over it, holding Ctrl-C and SIGTERM until then; one caught while `last.pt` is
    stripped waits for `best.pt` too, as it would otherwise stay a training checkpoint (the teacher inside, the
    optimizer) that the run's last.pt calls finished."""
    from ultralytics.engine import trainer as engine

    strip = engine.strip_optimizer

    def held_strip(f, s="", updates=None):
        with held_signals() as caught:
            ckpt = renamed_strip(strip, f, s, updates)
            best = Path(f).with_name("best.pt")
            if caught and Path(f).name == "last.pt" and best.exists():  # Ultralytics' next strip, before stopping
                renamed_strip(strip, best, "", {"train_results": ckpt.get("train_results")})
        return ckpt

    engine.strip_optimizer = held_strip
    try:
        yield
    finally:
        engine.strip_optimizer = strip


def renamed_strip(strip, f, s: str | Path = "", updates: dict | None = None) -> dict:
    """`strip(f, s, updates)` with its file written to a temporary twin and renamed into place, said as Ultralytics
    says an in-place strip (its own line would name the twin)."""
    target = Path(s or f)
    tmp = partial_twin(target)
    try:
        with quieter(logging.WARNING):  # its warning for a file that is not a checkpoint still shows
            ckpt = strip(f, s=tmp, updates=updates)
        if ckpt:
            replace_synced(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    if ckpt:
        saved = f" saved as {target}," if s else ""
        LOGGER.info(f"Optimizer stripped from {f},{saved} {target.stat().st_size / 1e6:.1f}MB")
    return ckpt


def finish_best(best: Path, before: tuple[int, int, int] | None) -> bool:
    """An interrupted run's best.pt made what a finished run's is: the student alone, a plain Ultralytics model, its
    optimizer stripped. Users ship it; in training form `YOLO("best.pt").info()` failed. last.pt stays resumable,
    and a best.pt this run did not write is left alone. Whether it was stripped."""
    if best.is_file() and stamp(best) != before:
        from ultralytics.utils.torch_utils import strip_optimizer

        try:
            with held_signals():
                return bool(renamed_strip(strip_optimizer, best))
        except OSError as e:
            LOGGER.warning(f"{best} stays in training form ({first_line(e)}); last.pt resumes the run")
    return False


def finish_cut_run(last: Path) -> str:
    """A run killed between its last epoch's save and the final strip (a power cut, the OOM killer) left best.pt in
    training form, which no command finished: stripped here, as the run's end would have. Says so, or nothing. The
    run's own best.pt: beside last.pt as links lead, never one beside a link."""
    from ultralytics.utils.patches import torch_load

    best = last.resolve().with_name("best.pt").resolve()
    try:
        ckpt = torch_load(best, map_location="cpu", weights_only=False)
    except Exception:  # none, or not a checkpoint: not ours to finish
        return ""
    if not isinstance(ckpt, dict) or ckpt.get("optimizer") is None:
        return ""
    if not finish_best(best, None):
        return ""
    return " (the run was stopped before its end; its best.pt is now stripped, as the end would have left it)"


def stamp(path: Path) -> tuple[int, int, int] | None:
    """A file as it is now (time, size, inode), to tell whether a run wrote it; None when there is none."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino
