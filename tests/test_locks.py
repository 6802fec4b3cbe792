"""One command at a time on an output: the second is refused in one line, before any work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from yolodistill.errors import UserError
from yolodistill.locks import exclusive

HOLD = """
import sys, time
from yolodistill.locks import exclusive
with exclusive(sys.argv[1], "--out"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_an_output_another_process_writes_is_refused_until_it_ends(tmp_path):
    """Two `data convert` into one --out left 22 train images and no data.yaml, while one said it wrote 300."""
    from yolodistill.convert import convert

    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(UserError, match=f"^'{out}' is being written by another yolodistill command right now: "
                                            "wait for it to end, or pass another --out$"):
            convert(tmp_path / "src", fmt="yolo", out=out)
        assert not out.exists()
    finally:
        holder.kill()
        holder.wait()
    with exclusive(out, "--out"):  # its lock went with it
        pass


@pytest.mark.parametrize("command", ["pseudo_label", "train", "resume", "compare", "bench", "synth", "train_exp",
                                     "compare_exp"])
def test_each_command_holds_its_output(command, tmp_path):
    """Two resumes of one run wrote epochs 1-5, 7, 6, 8, 9, 7, ... into one results.csv; two compares of one --name
    trained into the same run folders; two benches with one --json kept the slower one's rows without a word; two
    synths into one --out took out each other's stage (tracebacks, a "Wrote" without a data.yaml); two unnamed
    --exist-ok runs wrote one exp's results.csv."""
    from yolodistill.bench import bench
    from yolodistill.compare import compare
    from yolodistill.data import make_synthetic
    from yolodistill.pseudo import pseudo_label
    from yolodistill.train import train

    held, call = {
        "pseudo_label": (tmp_path / "pl", lambda: pseudo_label("t.pt", tmp_path, tmp_path / "pl")),
        "train": (tmp_path / "runs" / "a", lambda: train("t.pt", "yolo26n.yaml", "d.yaml", project=tmp_path / "runs",
                                                         name="a")),
        "resume": (tmp_path / "r", lambda: train(resume=tmp_path / "r" / "weights" / "last.pt")),
        "compare": (tmp_path / "c" / "x", lambda: compare("t.pt", "yolo26n.yaml", "d.yaml", project=tmp_path / "c",
                                                          name="x")),
        "bench": (tmp_path / "b.json", lambda: bench(["best.pt"], json_path=tmp_path / "b.json")),
        "synth": (tmp_path / "s", lambda: make_synthetic(tmp_path / "s", images=-1)),
        "train_exp": (tmp_path / "runs" / "exp", lambda: train("t.pt", "yolo26n.yaml", "d.yaml",
                                                               project=tmp_path / "runs", exist_ok=True)),
        "compare_exp": (tmp_path / "c" / "exp", lambda: compare("t.pt", "yolo26n.yaml", "d.yaml",
                                                                project=tmp_path / "c", exist_ok=True)),
    }[command]
    with exclusive(held, "--x"):
        with pytest.raises(UserError, match="is being written by another yolodistill command right now") as e:
            call()
    assert str(held) in str(e.value) and "\n" not in str(e.value)
    assert ("(the run to resume)" in str(e.value)) == (command == "resume")
    with pytest.raises(UserError) as e:  # free again: the command's own checks speak
        call()
    assert "being written" not in str(e.value)


def test_the_lock_is_the_folder_the_run_writes(tmp_path, monkeypatch):
    """A --config's project and name were left out of the key (a run of the same folder not held), a resume through
    a link was keyed on the link's folder, and torchrun's ranks beside rank 0 refused one another."""
    from yolodistill.locks import compare_folder, run_folder

    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"project: {tmp_path / 'elsewhere'}\nname: x\n")
    assert run_folder({"config": recipe}) == tmp_path / "elsewhere" / "x"
    assert run_folder({"config": recipe, "name": "y"}) == tmp_path / "elsewhere" / "y"
    assert compare_folder({"config": recipe}) == tmp_path / "elsewhere" / "x"
    assert run_folder({}) is None and compare_folder({"project": tmp_path}) is None  # unnamed: a new exp-N
    assert run_folder({"exist_ok": True}) == Path("runs/distill/exp")  # unnamed and reused: Ultralytics' exp
    assert compare_folder({"project": tmp_path, "exist_ok": True, "name": ""}) == tmp_path / "exp"
    assert compare_folder({"exist_ok": 1}) == Path("runs/compare/exp")  # from Python, reused as True is
    recipe.write_text("project: runs/distill\nname: x\n")  # train's folder, which compare leaves for its own
    assert compare_folder({"config": recipe}) == Path("runs/compare/x") and run_folder({"config": recipe}) == Path(
        "runs/distill/x")
    (tmp_path / "runs" / "x" / "weights").mkdir(parents=True)
    (tmp_path / "runs" / "x" / "weights" / "last.pt").touch()
    (tmp_path / "latest.pt").symlink_to(tmp_path / "runs" / "x" / "weights" / "last.pt")
    assert run_folder({"resume": tmp_path / "latest.pt"}) == (tmp_path / "runs" / "x", "run to resume")
    with exclusive(tmp_path / "out", "--out"):
        monkeypatch.setenv("RANK", "1")  # torchrun's rank 1: rank 0 holds it
        with exclusive(tmp_path / "out", "--out"):
            pass


def test_a_machine_whose_locks_fail_takes_none(tmp_path, monkeypatch):
    """An NFS home without a lock daemon (ENOLCK) stopped every command with a traceback."""
    import errno
    import fcntl

    def no_locks(handle, how):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with exclusive(tmp_path / "out", "--out"):
        pass


def test_a_cache_folder_that_cannot_be_written_still_locks(tmp_path, monkeypatch):
    """A read-only home turned every lock off, silently: two runs of one --name both wrote its results.csv."""
    import tempfile

    monkeypatch.setenv("YOLODISTILL_CACHE", "/dev/null/cache")
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True,
                              env={**__import__("os").environ, "TMPDIR": str(tmp_path / "tmp")})
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(UserError, match="is being written by another yolodistill command right now"):
            with exclusive(out, "--out"):
                pass
    finally:
        holder.kill()
        holder.wait()
    assert list((tmp_path / "tmp").glob("yolodistill-locks-*/*.lock"))


def test_the_exp_an_unnamed_run_gets_is_held_once_picked(teacher26, synth_data, tmp_path):
    """An unnamed run held nothing, so an unnamed --exist-ok run started beside it took its exp: two Done lines, one
    results.csv row of three epochs."""
    from yolodistill.train import train

    with exclusive(tmp_path / "runs" / "exp", "--name"):  # as the --exist-ok run holds it
        with pytest.raises(UserError, match="runs/exp' is being written by another yolodistill command right now: "
                                            "wait for it to end, or pass another --name$"):
            train(teacher26, "yolo26n.yaml", synth_data, project=tmp_path / "runs", epochs=1, imgsz=64, batch=8,
                  workers=0, device="cpu", plots=False)
    assert not (tmp_path / "runs" / "exp" / "weights" / "last.pt").exists()  # refused before any epoch


def test_a_lock_never_empties_a_file_a_link_names(tmp_path, monkeypatch):
    """The temporary folder's lock folder has a name anyone can make first: a link planted in it as a lock file
    (sha256 of the output's path) had open(path, "w") empty the file it named."""
    import hashlib
    import os
    import tempfile

    monkeypatch.setenv("YOLODISTILL_CACHE", "/dev/null/cache")
    (tmp := tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    (victim := tmp_path / "notes.txt").write_text("precious")
    out = tmp_path / "out"
    key = hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:24]
    (planted := tmp / f"yolodistill-locks-{os.getuid()}").mkdir(mode=0o777)
    (planted / f"{key}.lock").symlink_to(victim)
    with exclusive(out, "--out"):
        pass
    assert victim.read_text() == "precious"


def test_a_relative_cache_folder_gives_one_lock_folder_from_anywhere(tmp_path, monkeypatch):
    """YOLODISTILL_CACHE=ycache gave each working folder its own locks: two commands into one --out from two
    folders both ran (and the lock made ycache/ in the working folder, which pseudo-label --out . then refused)."""
    import tempfile

    from yolodistill.loading import cache_dir
    from yolodistill.locks import lock_folder

    monkeypatch.setenv("YOLODISTILL_CACHE", "ycache")
    (tmp := tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    folders = []
    for where in ("a", "b"):
        (tmp_path / where).mkdir()
        monkeypatch.chdir(tmp_path / where)
        folders.append(lock_folder())
        assert cache_dir() == tmp_path / where / "ycache" and not (tmp_path / where / "ycache").exists()
    assert folders[0] == folders[1] and folders[0].parent == tmp
