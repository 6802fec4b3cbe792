"""Helpers shared by the modules: CPU threads for the demo and the benchmark scripts, atomic writes."""

from __future__ import annotations

import os
import signal
import time

import pytest
import torch
from ultralytics.utils import torch_utils

from yolodistill.utils import atomic_write_text, cpu_threads, held_signals


def test_cpu_threads_applies_inside_the_block_and_restores_ultralytics_setting():
    before = torch_utils.NUM_THREADS, torch.get_num_threads()
    wanted = max(before) + 1  # differs from both, so neither the setting nor the restore can pass by accident
    with cpu_threads(wanted) as threads:
        assert threads == torch_utils.NUM_THREADS == wanted
        torch_utils.select_device("cpu", verbose=False)  # what every Ultralytics trainer calls first
        assert torch.get_num_threads() == wanted
    assert (torch_utils.NUM_THREADS, torch.get_num_threads()) == before


def test_cpu_threads_defaults_to_every_core_this_process_may_use():
    """The cores it may run on (taskset, a container's cpuset), not the machine's: one core allowed, one thread."""
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(allowed)})
    try:
        with cpu_threads() as threads:
            assert threads == 1 == torch_utils.NUM_THREADS
    finally:
        os.sched_setaffinity(0, allowed)
    with cpu_threads() as threads:
        assert threads == len(allowed)


def test_atomic_writes_get_the_mode_open_would_give_them(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        new = atomic_write_text(tmp_path / "results.csv", "a\n")
        assert stat.S_IMODE(new.stat().st_mode) == 0o644  # not mkstemp's 0600: others may read results
        new.chmod(0o640)
        atomic_write_text(new, "b\n")  # a file the user restricted keeps its mode
        assert stat.S_IMODE(new.stat().st_mode) == 0o640 and new.read_text() == "b\n"
        os.umask(0o077)
        assert stat.S_IMODE(atomic_write_text(tmp_path / "private.md", "c").stat().st_mode) == 0o600
    finally:
        os.umask(old)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left behind


def test_held_signals_finish_the_block_then_raise_the_ctrl_c():
    before, done = signal.getsignal(signal.SIGINT), []
    with pytest.raises(KeyboardInterrupt):
        with held_signals() as caught:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # time for the signal to land inside the block
            done.append(list(caught))
    assert done == [[signal.SIGINT]] and signal.getsignal(signal.SIGINT) is before
    with held_signals() as caught:  # no signal, nothing raised
        done.append(list(caught))
    assert done == [[signal.SIGINT], []]


def test_held_signals_meet_the_handlers_they_would_have_met():
    """An ignored Ctrl-C stays ignored, a program's own SIGTERM handler still runs (after the block), and a hold
    inside another passes its signals on to the outer one."""
    seen = []
    previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
    previous_term = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(("handler", signum)))
    try:
        with held_signals():
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
            seen.append("block done")
        assert seen == ["block done", ("handler", signal.SIGTERM)]
        signal.signal(signal.SIGINT, signal.default_int_handler)
        with pytest.raises(KeyboardInterrupt):
            with held_signals():
                with held_signals():
                    os.kill(os.getpid(), signal.SIGINT)
                    time.sleep(0.05)
                seen.append("inner done")
                time.sleep(0.05)
                seen.append("outer done")
        assert seen[-2:] == ["inner done", "outer done"]
    finally:
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGTERM, previous_term)


def test_checking_an_image_never_installs_a_package(tmp_path, monkeypatch):
    """Ultralytics' patched Image.open pip-installs pi-heif for any file PIL cannot identify: data convert and the
    unlabelled-image checks tried to, on a corrupt JPEG."""
    from ultralytics.utils import checks, patches

    from yolodistill import exif
    from yolodistill.unlabeled import image_shape

    asked = []
    monkeypatch.setattr(checks, "check_requirements", lambda *a, **k: asked.append(a))
    monkeypatch.setattr(patches, "_pil_plugins_registered", False)
    bad = tmp_path / "corrupt.jpg"
    bad.write_bytes(b"not an image at all")
    assert exif.read(bad) is None and image_shape(str(bad)) is None
    assert asked == []


def test_a_ctrl_c_swallowed_inside_training_is_raised_again_by_the_next_callback():
    """Ultralytics' @TryExcept returns True for any exception, KeyboardInterrupt included: a Ctrl-C during a plot was
    lost and the run trained on."""
    import signal
    from collections import defaultdict

    from yolodistill.utils import STICKY_EVENTS

    trainer = type("Trainer", (), {})()
    trainer.callbacks = defaultdict(list, {event: [print] for event in STICKY_EVENTS})
    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's own, as in a command's process
    try:
        run_swallowed_press(trainer)
    finally:
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        signal.signal(signal.SIGINT, before)
    assert dict(trainer.callbacks) == {event: [print] for event in STICKY_EVENTS}


def run_swallowed_press(trainer) -> None:
    import signal

    from ultralytics.utils import TryExcept

    from yolodistill.utils import STICKY_EVENTS, sticky_interrupt

    with pytest.raises(KeyboardInterrupt), sticky_interrupt(trainer) as pressed:
        for event in STICKY_EVENTS:
            trainer.callbacks[event][0](trainer)  # no press yet: the callbacks pass
        with TryExcept(verbose=False):
            signal.raise_signal(signal.SIGINT)  # raised as KeyboardInterrupt, and swallowed
        assert pressed == [signal.SIGINT]
        for event in STICKY_EVENTS:
            with pytest.raises(KeyboardInterrupt):
                trainer.callbacks[event][0](trainer)
    with pytest.raises(KeyboardInterrupt):  # swallowed where no callback comes after it: the block's end raises it
        with sticky_interrupt(trainer):
            with TryExcept(verbose=False):
                signal.raise_signal(signal.SIGINT)


SIGTERM_IN_A_BACKGROUND_JOB = """
import signal, sys
from collections import defaultdict
from yolodistill.utils import STICKY_EVENTS, sticky_interrupt
signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a shell's background job (&) or nohup starts it
trainer = type("Trainer", (), {})()
trainer.callbacks = defaultdict(list)
try:
    with sticky_interrupt(trainer) as pressed:
        signal.raise_signal(signal.SIGTERM)
except KeyboardInterrupt:
    print("stopped", pressed == [signal.SIGTERM], signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,
          signal.getsignal(signal.SIGINT) == signal.SIG_IGN)
"""


def test_sigterm_stops_training_as_ctrl_c_does_even_in_a_background_job():
    """A scheduler's stop or `kill` ended the process at once, best.pt left in training form with the teacher inside;
    it is taken as a Ctrl-C (the run then finishes best.pt), and the handlers are put back after."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", SIGTERM_IN_A_BACKGROUND_JOB], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.split() == ["stopped", "True", "True", "True"], done.stderr[-2000:]


def test_quieter_raises_ultralytics_log_level_only_inside_the_block():
    import logging

    from ultralytics.utils import LOGGER

    from yolodistill.utils import quieter

    before = LOGGER.level
    LOGGER.setLevel(logging.INFO)
    try:
        with quieter(logging.ERROR):
            assert LOGGER.level == logging.ERROR
        with quieter(logging.DEBUG):  # never louder than it was
            assert LOGGER.level == logging.INFO
        with pytest.raises(RuntimeError), quieter(logging.WARNING):
            raise RuntimeError
        assert LOGGER.level == logging.INFO
    finally:
        LOGGER.setLevel(before)
