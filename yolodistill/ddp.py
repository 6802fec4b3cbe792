"""Several GPUs: Ultralytics starts DDP workers from an entry file it writes, with `overrides` alone. What the
launching process and the workers add around that launch, so that a multi-GPU run behaves as a one-device run does:
the settings reach the workers, a run folder given with --exist-ok is kept (Ultralytics' launch deleted it whole), and
a refusal a worker finds (the data loader's) is the same one line, not two tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import UserError

SETTINGS_ENV = "YOLODISTILL_SETTINGS"  # carries DistillConfig to DDP workers started from Ultralytics' entry file
REFUSAL_ENV = "YOLODISTILL_REFUSAL"  # where a worker leaves its refusal, for the launching process to say


def launch(trainer: Any, run: Callable[[], Any]) -> Any:
    """Ultralytics' DDP launch (`run`), with our settings in the environment torch.distributed.run hands down (taken
    out again after, or a later trainer in this process would take them for its own)."""
    refusal = Path(trainer.save_dir) / ".ddp-refusal"
    refusal.unlink(missing_ok=True)
    env = {**environment(trainer.distill), REFUSAL_ENV: str(refusal)}
    before = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    kept, trainer.resume = trainer.resume, True  # its launch removes save_dir unless resuming: the folder --exist-ok
    # names holds the user's files, which a one-device run keeps
    try:
        return run()
    except subprocess.CalledProcessError:
        if refusal.is_file():
            message = refusal.read_text(encoding="utf-8")
            refusal.unlink(missing_ok=True)
            raise UserError(message) from None
        raise
    finally:
        trainer.resume = kept
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def launched() -> bool:
    """Whether this process is a DDP worker that `launch` started (not a rank torchrun started on the command line,
    which says its own refusals)."""
    return bool(os.environ.get(REFUSAL_ENV))


def in_worker(run: Callable[[], Any]) -> Any:
    """A launched DDP worker's training: a refusal is left for the launching process to say (it exits 2, as the CLI
    would), where a traceback per rank and one of the launch's failure came before."""
    from .utils import atomic_write_text

    try:
        return run()
    except UserError as e:
        atomic_write_text(os.environ[REFUSAL_ENV], str(e))  # every rank the same line
        raise SystemExit(e.exit_code) from None


def environment(distill: Any) -> dict[str, str]:
    """What DDP workers need beyond Ultralytics' entry file: our settings, read back by `settings_from_environment`."""
    return {SETTINGS_ENV: json.dumps(distill.to_dict())}


def settings_from_environment() -> dict[str, Any] | None:
    """The settings `launch` handed down, in a worker; None elsewhere."""
    raw = os.environ.get(SETTINGS_ENV)
    return json.loads(raw) if raw else None
