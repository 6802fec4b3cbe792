"""The DDP launch: what a multi-GPU run adds around Ultralytics' (end-to-end runs emulated in test_train.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from yolodistill import ddp

CHILD = """
import signal, sys, time
def stop(*_):
    open(sys.argv[1], "w").write("TERM")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, signal.SIG_IGN)
open(sys.argv[1] + ".up", "w").write("up")
time.sleep(60)
"""


def test_a_stop_is_passed_to_the_launcher_and_waited_for(tmp_path):
    """subprocess.run killed torch's launcher at a Ctrl-C (SIGKILL, after 0.25 s): its workers, in sessions of
    their own, trained on while the run said it had stopped. The launcher gets SIGTERM, which it passes on."""
    marker = tmp_path / "stopped"

    def press():
        while not (tmp_path / "stopped.up").exists():
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=press, daemon=True).start()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        ddp.supervised([sys.executable, "-c", CHILD, str(marker)])
    assert marker.read_text() == "TERM" and time.monotonic() - start < 30


def test_a_failed_launch_is_a_called_process_error():
    with pytest.raises(subprocess.CalledProcessError) as e:
        ddp.supervised([sys.executable, "-c", "raise SystemExit(3)"])
    assert e.value.returncode == 3
    ddp.supervised([sys.executable, "-c", "pass"])


SLOW_TO_STOP = """
import signal, sys, time
def stop(*_):
    time.sleep(1.5)  # as torch's launcher, stopping its workers
    open(sys.argv[1], "w").write("stopped")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
open(sys.argv[1] + ".up", "w").write("up")
time.sleep(60)
"""


def test_a_second_press_waits_for_the_launcher_too(tmp_path):
    """A second Ctrl-C killed torch's launcher, whose workers, in sessions of their own, then trained on."""
    marker = tmp_path / "stopped"

    def press_twice():
        while not (tmp_path / "stopped.up").exists():
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=press_twice, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        ddp.supervised([sys.executable, "-c", SLOW_TO_STOP, str(marker)])
    assert marker.read_text() == "stopped"  # it stopped itself, not killed
