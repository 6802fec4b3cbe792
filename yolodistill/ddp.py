"""Several GPUs: Ultralytics starts DDP workers from an entry file it writes, with `overrides` alone. The launch is
Ultralytics' (BaseTrainer.train's DDP branch: the entry file and torch.distributed.run), with what a multi-GPU run
needs to behave as a one-device run does: the settings reach the workers, a run folder given with --exist-ok is kept
(Ultralytics' launch deleted it whole), a refusal a worker finds (the data loader's) is the same one line, not two
tracebacks, and a Ctrl-C or SIGTERM stops the workers (subprocess.run killed the launcher, which left them training)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import DiskFull, UserError

SETTINGS_ENV = "YOLODISTILL_SETTINGS"  # carries DistillConfig to DDP workers started from Ultralytics' entry file
REFUSAL_ENV = "YOLODISTILL_REFUSAL"  # where a worker leaves its refusal, for the launching process to say


STOP_WAIT = 60  # seconds beyond torch's own shutdown timeout (TORCH_ELASTIC_SHUTDOWN_TIMEOUT, 30) for the launcher


def launch(trainer: Any) -> None:
    """BaseTrainer.train's DDP branch, with our settings in the environment torch.distributed.run hands down (taken
    out again after, or a later trainer in this process would take them for its own)."""
    from ultralytics.utils import LOGGER, colorstr
    from ultralytics.utils.dist import ddp_cleanup, generate_ddp_command
    from ultralytics.utils.torch_utils import unset_deterministic

    from .checks import check_train_batch

    check_train_batch(trainer.args.batch, trainer.args.device)  # AutoBatch: Ultralytics' refusal, as one line
    if trainer.args.rect:
        LOGGER.warning("'rect=True' is incompatible with Multi-GPU training, setting 'rect=False'")
        trainer.args.rect = False
    refusal = Path(trainer.save_dir) / ".ddp-refusal"
    refusal.unlink(missing_ok=True)
    settings = getattr(trainer, "distill", None)  # none for compare's plain and builtin runs
    env = {**(environment(settings) if settings is not None else {}), REFUSAL_ENV: str(refusal)}
    before = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    file, kept = None, trainer.resume
    try:
        trainer.resume = True  # generate_ddp_command removes save_dir unless resuming: the folder --exist-ok names
        cmd, file = generate_ddp_command(trainer)  # holds the user's files, which a one-device run keeps
        trainer.resume = kept
        LOGGER.info(f"{colorstr('DDP:')} debug command {' '.join(cmd)}")
        supervised(cmd)
    except subprocess.CalledProcessError:
        if refusal.is_file():  # the worker's exit status, then its line (a full disk's is 1, bad input's 2)
            code, _, message = refusal.read_text(encoding="utf-8").partition("\n")
            raise (DiskFull if code == str(DiskFull.exit_code) else UserError)(message) from None
        raise
    finally:
        trainer.resume = kept
        refusal.unlink(missing_ok=True)
        if file is not None:
            ddp_cleanup(trainer, str(file))
        unset_deterministic()
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def supervised(cmd: list[str]) -> None:
    """Run the launcher to its end. A stop (Ctrl-C, or SIGTERM made one) is passed on as SIGTERM, which torch's
    launcher passes to every worker before it exits, and waited for: subprocess.run killed the launcher at once, and
    its workers, in sessions of their own, trained on while we said the run had stopped."""
    import signal

    from ultralytics.utils import LOGGER

    # its own session: a terminal's Ctrl-C reaches us alone, and one SIGTERM from us starts its one shutdown (both
    # raced in two, with two chained tracebacks); a closed terminal (SIGHUP) is a stop too
    process = subprocess.Popen(cmd, start_new_session=True)
    hangup = signal.getsignal(signal.SIGHUP)
    if threading_main():
        signal.signal(signal.SIGHUP, hung_up)
    try:
        code = process.wait()
    except KeyboardInterrupt:
        process.send_signal(signal.SIGTERM)
        limit = float(os.environ.get("TORCH_ELASTIC_SHUTDOWN_TIMEOUT", 30)) + STOP_WAIT
        while True:  # a second press waits too: killed, the launcher would leave its workers training
            try:
                process.wait(timeout=limit)
                break
            except subprocess.TimeoutExpired:  # it did not stop: its workers had its own limit to stop in
                process.kill()
                break
            except KeyboardInterrupt:
                LOGGER.warning("Stopping the DDP workers: waiting for torch's launcher to stop them")
        raise
    finally:
        if threading_main():
            signal.signal(signal.SIGHUP, hangup)
    if code:
        raise subprocess.CalledProcessError(code, cmd)


def hung_up(*_: Any) -> None:
    raise KeyboardInterrupt


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


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
        try:
            atomic_write_text(os.environ[REFUSAL_ENV], f"{e.exit_code}\n{e}")  # every rank the same line
        except OSError:  # a full disk: the launcher's failure report says it
            raise e from None
        raise SystemExit(e.exit_code) from None


def environment(distill: Any) -> dict[str, str]:
    """What DDP workers need beyond Ultralytics' entry file: our settings, read back by `settings_from_environment`."""
    return {SETTINGS_ENV: json.dumps(distill.to_dict())}


def settings_from_environment() -> dict[str, Any] | None:
    """The settings `launch` handed down, in a worker; None elsewhere."""
    raw = os.environ.get(SETTINGS_ENV)
    return json.loads(raw) if raw else None


def ddp_metrics(trainer: Any) -> dict[str, float]:
    """Under DDP the final validation runs in the workers, and the launching process gets no metrics: best.pt's
    epoch's, from results.csv."""
    from .resume import best_epoch_metrics

    return best_epoch_metrics(trainer.csv) if trainer.ddp and Path(trainer.csv).is_file() else {}
