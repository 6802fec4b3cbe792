"""Helpers shared by the modules: CPU threads for the demo and the benchmark scripts, atomic writes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

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


def test_an_atomic_write_that_fails_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    """A write that stops half-way (here: text where bytes belong) must leave the old file whole and no hidden
    .NAME.xxx file behind; a write into a folder not made yet makes it."""
    from yolodistill.utils import atomic_write_bytes, atomic_write_json

    old = atomic_write_text(tmp_path / "new" / "deeper" / "summary.json", "old\n")
    with pytest.raises(TypeError):
        atomic_write_bytes(old, "not bytes")
    assert old.read_text() == "old\n" and [p.name for p in old.parent.iterdir()] == ["summary.json"]
    atomic_write_json(old, {"weights": tmp_path / "best.pt"})  # a Path is written as its text
    assert old.read_text() == f'{{\n  "weights": "{tmp_path / "best.pt"}"\n}}\n'



@pytest.mark.parametrize("writer", ["atomic_write_bytes", "staged_write"])
def test_a_full_disk_at_write_is_told_with_the_file_it_was_writing(tmp_path, monkeypatch, writer):
    """A full disk at write, fsync or close raises an OSError naming no file: the one line the user reads would
    say "No space left on device" and nothing of where. An error that names its own file keeps it."""
    import errno

    from yolodistill import utils

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(OSError) as caught:
        getattr(utils, writer)(tmp_path / "out" / "labels.txt", b"0 0.5 0.5 0.1 0.1\n")
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(tmp_path / "out" / "labels.txt")

    def named(*args, **kwargs):
        raise OSError(errno.EACCES, os.strerror(errno.EACCES), "/elsewhere")

    monkeypatch.setattr(os, "fsync", named)
    monkeypatch.setattr(Path, "write_bytes", named)
    with pytest.raises(OSError) as caught:
        getattr(utils, writer)(tmp_path / "out" / "labels.txt", b"")
    assert caught.value.filename == "/elsewhere"
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no twin left behind


def test_current_umask_reads_the_umask_without_changing_it():
    from yolodistill.utils import current_umask

    old = os.umask(0o027)
    try:
        assert current_umask() == 0o027 and current_umask() == 0o027
    finally:
        os.umask(old)


def test_files_under_follows_linked_folders_once_and_ends_a_link_loop(tmp_path):
    """Ultralytics' glob follows a linked folder of images; a link back up the tree must not loop forever."""
    from yolodistill.utils import files_under

    (tmp_path / "data" / "a").mkdir(parents=True)
    (tmp_path / "data" / "a" / "1.jpg").write_bytes(b"x")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "2.jpg").write_bytes(b"y")
    (tmp_path / "data" / "linked").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "data" / "a" / "loop").symlink_to(tmp_path / "data")
    found = [p.relative_to(tmp_path / "data").as_posix() for p in files_under(tmp_path / "data")]
    assert found == ["a/1.jpg", "linked/2.jpg"]


def test_a_partial_twin_is_hidden_beside_its_file_and_replace_synced_renames_it_into_place(tmp_path):
    from yolodistill.utils import partial_twin, replace_synced

    final = tmp_path / "weights" / "best.pt"
    twin = partial_twin(final)
    assert twin.parent == final.parent and twin.name.startswith(".") and twin != final and "best.pt" in twin.name
    final.parent.mkdir()
    final.write_bytes(b"old")
    twin.write_bytes(b"new")
    assert replace_synced(twin, final) == final and final.read_bytes() == b"new" and not twin.exists()


def test_file_digest_is_the_sha256_of_the_bytes_and_none_for_what_is_not_a_file(tmp_path):
    """A teacher given as a model object or a path that is gone has no digest, rather than an exception."""
    import hashlib

    from yolodistill.utils import file_digest

    data = os.urandom((1 << 20) + 7)  # more than one chunk
    (tmp_path / "t.pt").write_bytes(data)
    assert file_digest(tmp_path / "t.pt") == hashlib.sha256(data).hexdigest()
    assert file_digest(tmp_path / "gone.pt") is None and file_digest(torch.nn.Linear(1, 1)) is None


def test_local_path_makes_a_file_absolute_and_keeps_a_name_or_url(tmp_path, monkeypatch):
    from yolodistill.utils import local_path

    (tmp_path / "t.pt").write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    assert local_path("t.pt") == str(tmp_path / "t.pt")
    assert local_path("yolo26x.pt") == "yolo26x.pt" and local_path("http://h/t.pt") == "http://h/t.pt"


def test_make_folder_follows_a_link_to_a_folder_not_made_yet(tmp_path):
    """An output given as a link to a folder not made yet is made where it points, the link kept."""
    from yolodistill.utils import make_folder

    (tmp_path / "out").symlink_to(tmp_path / "real" / "runs")
    make_folder(tmp_path / "out")
    assert (tmp_path / "real" / "runs").is_dir() and (tmp_path / "out").is_symlink()


def test_no_blank_lines_drops_only_empty_lines_inside_the_block(caplog):
    import logging

    from ultralytics.utils import LOGGER

    from yolodistill.utils import no_blank_lines

    def logged(*lines):
        caplog.clear()
        for line in lines:
            LOGGER.info(line)
        return [r.getMessage() for r in caplog.records if r.name == LOGGER.name]

    LOGGER.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger=LOGGER.name), no_blank_lines():
            assert logged("", "Downloading", "  ") == ["Downloading"]
        with caplog.at_level(logging.INFO, logger=LOGGER.name):
            assert logged("") == [""]
    finally:
        LOGGER.removeHandler(caplog.handler)


def test_held_signals_and_sticky_interrupt_leave_handlers_alone_outside_the_main_thread():
    """Python refuses to set a handler outside the main thread (ValueError): the block runs as it is there."""
    import threading
    from collections import defaultdict

    from yolodistill.utils import sticky_interrupt

    seen = []

    def work():
        try:
            with held_signals() as caught, sticky_interrupt(type("T", (), {"callbacks": defaultdict(list)})()) as p:
                seen.append((caught, p))
        except Exception as e:  # noqa: BLE001 - reported to the main thread
            seen.append(e)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [([], [])]


def test_a_signal_held_twice_is_delivered_once():
    """As the OS delivers a blocked signal once however often it came: the program's handler runs once."""
    seen = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        with held_signals() as caught:
            for _ in range(2):
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)
            assert caught == [signal.SIGTERM] * 2
        assert seen == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_split_that_could_not_be_moved_in_is_left_where_it_was(tmp_path):
    """A failed move (a split folder there already, not empty) left the folder there listed as moved in, and the
    clean-up took it out: a user's images/train, where the caller's check had looked at another path."""
    from yolodistill.utils import staged_splits

    out = tmp_path / "out"
    (out / "images" / "train").mkdir(parents=True)
    (out / "images" / "train" / "mine.png").write_text("keep me")
    with pytest.raises(OSError), staged_splits(out, ".stage", ("data.yaml",)) as (stage, move_in):
        (stage / "images" / "train").mkdir(parents=True)
        (stage / "images" / "train" / "new.png").write_text("new")
        move_in()
    assert (out / "images" / "train" / "mine.png").read_text() == "keep me" and not (out / ".stage").exists()


def test_staged_splits_move_into_an_images_folder_on_another_filesystem(tmp_path, monkeypatch):
    """OUT/images may link to another disk, which a rename cannot cross (EXDEV): synth wrote there before it staged."""
    import errno

    from yolodistill.utils import staged_splits

    real_replace = os.replace

    def replace(src, dst):
        if Path(src).is_dir():
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    out = tmp_path / "out"
    with staged_splits(out, ".stage", ("data.yaml",)) as (stage, move_in):
        for sub, name in (("images", "a.png"), ("labels", "a.txt")):
            (stage / sub / "train").mkdir(parents=True)
            (stage / sub / "train" / name).write_text(sub)
        move_in()
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == [
        "images", "images/train", "images/train/a.png", "labels", "labels/train", "labels/train/a.txt"]


def test_a_swallowed_ctrl_c_stops_where_it_is_asked_and_at_the_end(python_sigint):
    """export and bench carried on past a press Ultralytics' check_requirements swallowed (@TryExcept): the earlier
    export replaced, exit 0. stop_if raises it at a point of no return, the block's end where none came after it."""
    import signal

    from ultralytics.utils import TryExcept

    from yolodistill.utils import remembered_interrupt, stop_if

    with pytest.raises(KeyboardInterrupt), remembered_interrupt() as pressed:
        stop_if(pressed)  # no press yet
        with TryExcept(verbose=False):
            signal.raise_signal(signal.SIGINT)
        assert pressed == [signal.SIGINT]
        stop_if(pressed)
        raise AssertionError("stop_if let a press through")
    with pytest.raises(KeyboardInterrupt), remembered_interrupt():
        with TryExcept(verbose=False):
            signal.raise_signal(signal.SIGINT)
    with remembered_interrupt() as pressed:  # nothing pressed: nothing raised
        pass
    assert pressed == [] and signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sizes_are_megabytes_of_a_million_bytes(tmp_path):
    """Ultralytics' file_size is MiB: a 9 627 901-byte ONNX file showed as 9.2 'MB'."""
    from yolodistill.utils import megabytes

    (tmp_path / "m.onnx").write_bytes(b"\0" * 2_500_000)
    (tmp_path / "ov").mkdir()
    (tmp_path / "ov" / "m.bin").write_bytes(b"\0" * 1_000_000)
    (tmp_path / "ov" / "m.xml").write_bytes(b"\0" * 500_000)
    assert megabytes(tmp_path / "m.onnx") == 2.5 and megabytes(tmp_path / "ov") == 1.5
