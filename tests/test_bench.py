"""bench on CPU with real ONNX Runtime and OpenVINO, the reports it writes, and the Jetson probe on recorded output."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

import yolodistill
from yolodistill import bench as bn
from yolodistill.benchreport import KEYS, bench_rows, describe_bench
from yolodistill.cli import app
from yolodistill.errors import UserError
from yolodistill.export import export_model
from yolodistill.parity import runtime_precision
from yolodistill.utils import usable_cores

from .conftest import TRAINED_IMGSZ, assert_one_line_error, logged_by_ultralytics, save_checkpoint
from .test_sysinfo import jetson

FAST = dict(warmup=1, runs=5)


def quiet() -> Console:
    """A console that records what bench prints, wide enough that table cells are not truncated."""
    return Console(file=io.StringIO(), width=200, record=True)


@pytest.fixture(scope="module")
def run(trained_student, learnable_data, tmp_path_factory) -> Path:
    """A project folder holding runs/distill/exp/weights/best.pt (the shared trained model) with its ONNX and
    OpenVINO exports."""
    root = tmp_path_factory.mktemp("project")
    best = root / "runs" / "distill" / "exp" / "weights" / "best.pt"
    best.parent.mkdir(parents=True)
    shutil.copy2(trained_student, best)
    for fmt in ("onnx", "openvino"):
        export_model(best, format=fmt, data=learnable_data)
    return root


def weights_of(run: Path) -> Path:
    return run / "runs" / "distill" / "exp" / "weights"


def test_each_bar_is_gone_before_ultralytics_validates_its_artifact(run, learnable_data, tmp_path, monkeypatch):
    """One bar stood through every artifact's validation, which Ultralytics prints past Rich: its lines ran into the
    finished bar in a terminal. Each artifact's bar now closes first, and names the format (two rows share a name)."""
    events, real = [], bn.timing_progress

    class Recorded:
        def __init__(self, console):
            self.progress = real(console)

        def __enter__(self):
            events.append("bar")
            return self.progress.__enter__()

        def __exit__(self, *exc):
            events.append("bar done")
            return self.progress.__exit__(*exc)

    labels, time_runs = [], bn.time_runs
    monkeypatch.setattr(bn, "timing_progress", Recorded)
    monkeypatch.setattr(bn, "time_runs", lambda *a, **k: labels.append(a[5]) or time_runs(*a, **k))
    monkeypatch.setattr(bn, "val_map", lambda *a: events.append("val") or (0.5, 0.3))
    w = weights_of(run)
    bn.bench([w / "best.pt", w / "best.onnx"], data=learnable_data, json_path=tmp_path / "b.json", console=quiet(),
             **FAST)
    assert events == ["bar", "bar done", "val"] * 2
    assert labels == ["timing exp (pt)", "timing exp (onnx)"]


def test_bench_writes_every_key_with_sane_values(run, learnable_data, tmp_path):
    w = weights_of(run)
    artifacts = [w / "best.pt", w / "best.onnx", w / "best_openvino_model"]
    out = tmp_path / "report" / "bench.json"
    console = quiet()
    rows = bn.bench(artifacts, data=learnable_data, json_path=out, console=console, **FAST)

    saved = json.loads(out.read_text())
    assert saved == rows and [r["format"] for r in saved] == ["pt", "onnx", "openvino"]
    ov = runtime_precision("openvino", "fp32")  # bf16 on a CPU with bf16 units, and the row says so
    assert [r["precision"] for r in saved] == ["fp32", "fp32", "fp32" if ov == "fp32" else f"fp32 (runs {ov})"]
    for row in saved:
        assert tuple(row) == KEYS
        lat = row["latency_ms"]
        assert set(lat) == {"p50", "p90", "p99"} and 0 < lat["p50"] <= lat["p90"] <= lat["p99"]
        assert row["throughput_ips"] > 0 and row["size_mb"] > 0
        assert row["params"] > 0 and row["flops_g"] > 0  # exports borrow them from best.pt beside them
        assert (row["imgsz"], row["batch"], row["device"]) == (TRAINED_IMGSZ, 1, "cpu")
        assert row["name"] == "exp"  # the run folder; format and precision tell the rows apart
    assert len({r["params"] for r in saved}) == 1
    table = [line for line in console.export_text().splitlines() if line.startswith("│ exp")]
    assert [line.split("│")[2].strip() for line in table] == ["pt", "onnx", "openvino"]

    # mAP: the trained model's real numbers, the same in every format (fp32 exports compute what PyTorch does)
    pt, onnx, openvino = (r["map50_95"] for r in saved)
    assert pt > 0.1 and all(r["map50"] > r["map50_95"] + 0.05 for r in saved)
    assert onnx == pytest.approx(pt, abs=0.01) and openvino == pytest.approx(pt, abs=0.01)
    from ultralytics import YOLO

    direct = YOLO(str(w / "best.pt")).val(data=str(learnable_data), imgsz=TRAINED_IMGSZ, batch=1, rect=False,
                                          plots=False, project=str(tmp_path), name="val", verbose=False)
    assert (saved[0]["map50"], saved[0]["map50_95"]) == pytest.approx((direct.box.map50, direct.box.map), abs=1e-4)

    table = list(csv.DictReader(io.StringIO((out.parent / "bench.csv").read_text())))
    assert [r["artifact"] for r in table] == [str(p) for p in artifacts]
    assert float(table[1]["latency_p99_ms"]) == saved[1]["latency_ms"]["p99"]
    assert (out.parent / "bench.md").read_text().count("| exp | ") == 3
    assert (out.parent / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    env = json.loads((out.parent / "bench_env.json").read_text())
    assert env["jetson"] is None and env["libraries"]["onnxruntime"] and 1 <= env["usable_cores"] <= env["cpu_count"]
    assert env["runs"] == 5 and env["data"] == str(learnable_data)
    assert env["openvino_cpu_precision"] in ("fp32", "bf16", "fp16")
    # how the record was made, and what its latency is per
    assert (env["batch"], env["device"], env["yolodistill"]) == (1, "cpu", yolodistill.__version__)
    assert env["created"].startswith("20")
    assert env["torch_threads"] == usable_cores()  # .pt on every core, as the exports' runtimes run by default
    assert set(env["busy_elsewhere_cpus"]) == {str(p) for p in artifacts}  # other processes' CPUs, per timed artifact
    assert all(c is None or 0 <= c <= env["cpu_count"] + 0.5 for c in env["busy_elsewhere_cpus"].values())
    assert "Latency in ms per batch of 1 image on cpu, 5 timed runs after 1 warm-up" in (out.parent / "bench.md").read_text()
    assert [r["head"] for r in saved] == ["raw"] * 3


def test_rows_of_graphs_with_nms_inside_or_the_nms_free_head_say_so(trained_student, learnable_data, tmp_path):
    """An --nms graph keeps only scores above 0.25 and an end2end one is another head: their rows showed a large
    mAP loss against the .pt, as if the export had caused it, under a bare 'onnx'."""
    artifacts = []
    for name, nms in (("nms", True), ("e2e", False)):
        weights = tmp_path / name / "best.pt"
        weights.parent.mkdir()
        shutil.copy2(trained_student, weights)
        artifacts.append(export_model(weights, format="onnx", nms=nms, data=learnable_data).artifact)
    console = quiet()
    rows = bn.bench([trained_student, *artifacts], data=learnable_data, json_path=tmp_path / "b.json",
                    console=console, **FAST)
    assert [r["head"] for r in rows] == ["raw", "nms", "end2end"]
    text = console.export_text()
    assert "onnx+nms" in text and "onnx e2e" in text
    assert "+nms: NMS inside the graph, which keeps only scores above 0.25" in text and "e2e: YOLO26's NMS-free" in text
    md = (tmp_path / "b.md").read_text()
    assert "| onnx+nms |" in md and "- e2e: YOLO26's NMS-free head" in md


def test_row_names_say_what_each_row_is(tmp_path):
    runs = tmp_path / "runs" / "compare" / "exp"
    paths = [runs / "teacher" / "weights" / "best.pt", runs / "plain-seed0" / "weights" / "best.pt",
             runs / "ours-seed0" / "weights" / "best.pt", runs / "ours-seed0" / "weights" / "best.onnx",
             runs / "ours-seed0" / "weights" / "best_int8.onnx", runs / "ours-seed0" / "weights" / "last.pt",
             tmp_path / "models" / "yolo26n.onnx"]
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.touch()
    assert bn.row_names(paths, cwd=tmp_path) == ["teacher", "plain-seed0", "ours-seed0", "ours-seed0", "ours-seed0",
                                                 "ours-seed0/last", "models/yolo26n.onnx"]
    other = tmp_path / "runs" / "compare" / "exp-2" / "ours-seed0" / "weights" / "best.pt"
    other.parent.mkdir(parents=True)
    other.touch()
    names = bn.row_names([paths[2], other], cwd=tmp_path)
    assert names == ["runs/compare/exp/ours-seed0/weights/best.pt", "runs/compare/exp-2/ours-seed0/weights/best.pt"]
    assert bn.row_names([paths[-1]], cwd=tmp_path / "runs") == ["../models/yolo26n.onnx"]


def test_bench_without_artifacts_uses_the_newest_run(run, trained_student, monkeypatch):
    w = weights_of(run)
    older = run / "runs" / "distill" / "older" / "weights" / "best.pt"
    older.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(trained_student, older)
    os.utime(older, (1, 1))
    (w / "best.engine").write_bytes(b"built on a Jetson")  # cannot run here: skipped, not fatal
    (w / "last.onnx").write_bytes(b"an export of another checkpoint")  # not best.pt's: ignored
    monkeypatch.chdir(run)
    console = quiet()
    try:
        rows = bn.bench(console=console, **FAST)  # data comes from the checkpoint's train args
    finally:
        (w / "best.engine").unlink()
        (w / "last.onnx").unlink()
    assert [Path(r["artifact"]).name for r in rows] == ["best.pt", "best.onnx", "best_openvino_model"]
    assert {r["name"] for r in rows} == {"exp"}
    assert json.loads((w / "bench.json").read_text()) == rows
    assert "Skipping best.engine" in console.export_text()


def test_an_export_older_than_its_best_pt_is_flagged(trained_student, tmp_path):
    """A run retrained into its folder (--exist-ok) leaves the last run's best.onnx beside the new best.pt; both
    rows would read as the same weights."""
    w = tmp_path / "runs" / "distill" / "exp" / "weights"
    w.mkdir(parents=True)
    best = Path(shutil.copy2(trained_student, w / "best.pt"))
    (w / "best.onnx").write_bytes(b"an earlier export")
    os.utime(w / "best.onnx", (best.stat().st_mtime - 60,) * 2)
    console = quiet()
    chosen = bn.select_artifacts(None, tmp_path / "runs", "cpu", console)
    assert [p.name for p, _ in chosen] == ["best.pt", "best.onnx"]  # still benched: a warning, not a refusal
    assert "best.onnx is older than best.pt beside it" in " ".join(console.export_text().split())
    os.utime(w / "best.onnx", (best.stat().st_mtime + 60,) * 2)
    console = quiet()
    bn.select_artifacts(None, tmp_path / "runs", "cpu", console)
    assert "older than" not in console.export_text()


def test_newest_best_prefers_distill_then_detect(tmp_path):
    detect = tmp_path / "runs" / "detect" / "a" / "weights" / "best.pt"
    detect.parent.mkdir(parents=True)
    detect.touch()
    assert bn.newest_best(tmp_path / "runs") == detect
    distill = tmp_path / "runs" / "distill" / "b" / "weights" / "best.pt"
    distill.parent.mkdir(parents=True)
    distill.touch()
    os.utime(distill, (1, 1))
    assert bn.newest_best(tmp_path / "runs") == distill
    with pytest.raises(UserError, match="name the artifacts"):
        bn.newest_best(tmp_path / "elsewhere")


def test_newest_best_looks_through_linked_run_folders(tmp_path):
    """A run folder linked in from another disk was passed by: an older run benched as 'the newest', or 'no
    weights/best.pt under runs/distill' where the link alone was there. A link to a folder above is no loop."""
    older = tmp_path / "runs" / "distill" / "old" / "weights" / "best.pt"
    older.parent.mkdir(parents=True)
    older.touch()
    os.utime(older, (1, 1))
    newer = tmp_path / "disk" / "new" / "weights" / "best.pt"
    newer.parent.mkdir(parents=True)
    newer.touch()
    (tmp_path / "runs" / "distill" / "new").symlink_to(newer.parent.parent, target_is_directory=True)
    (tmp_path / "runs" / "distill" / "up").symlink_to(tmp_path / "runs", target_is_directory=True)
    assert bn.newest_best(tmp_path / "runs") == tmp_path / "runs" / "distill" / "new" / "weights" / "best.pt"
    detect = tmp_path / "runs" / "detect" / "newest" / "weights" / "best.pt"  # through 'up': runs/detect's newer
    detect.parent.mkdir(parents=True)  # best.pt was benched as runs/distill's newest
    detect.touch()
    assert bn.newest_best(tmp_path / "runs") == tmp_path / "runs" / "distill" / "new" / "weights" / "best.pt"


def test_source_checkpoint_of_each_export_name(tmp_path):
    (tmp_path / "best.pt").touch()
    for name in ("best.onnx", "best_int8.onnx", "best_openvino_model", "best_int8_openvino_model", "best.engine"):
        assert bn.source_checkpoint(tmp_path / name) == tmp_path / "best.pt"
    assert bn.source_checkpoint(tmp_path / "last.onnx") is None


def test_bad_artifacts_and_data(run, synth_data, tmp_path):
    w = weights_of(run)
    with pytest.raises(UserError, match="does not exist"):
        bn.bench([tmp_path / "gone.onnx"], data=synth_data, console=quiet(), **FAST)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(UserError, match="not a benchable artifact"):
        bn.bench([tmp_path / "notes.txt"], data=synth_data, console=quiet(), **FAST)
    (tmp_path / "corrupt.onnx").write_bytes(b"\x00garbage" * 100)
    with logged_by_ultralytics() as logged, pytest.raises(UserError, match="cannot load .*corrupt.onnx") as e:
        bn.bench([tmp_path / "corrupt.onnx"], data=synth_data, console=quiet(), **FAST)
    assert not [m for m in logged if "Loading" in m], logged  # no line above the error's one
    assert len(str(e.value).replace(str(tmp_path), "")) < 200, e.value  # the runtime's reason, not Ultralytics' advice
    noval = tmp_path / "noval.yaml"
    noval.write_text(yaml.safe_dump({"path": str(tmp_path), "train": "images", "names": {0: "a"}}))
    with pytest.raises(UserError, match="has no val split"):
        bn.bench([w / "best.pt"], data=noval, console=quiet(), **FAST)
    with pytest.raises(UserError, match=f"static export at {TRAINED_IMGSZ} px"):
        bn.bench([w / "best.onnx"], data=synth_data, imgsz=128, console=quiet(), **FAST)
    with pytest.raises(UserError, match="--runs >= 1"):
        bn.bench([w / "best.pt"], data=synth_data, runs=0, console=quiet())
    with pytest.raises(UserError, match="--batch must be at least 1, got 0"):  # worded as export and pseudo-label do
        bn.bench([w / "best.pt"], data=synth_data, batch=0, console=quiet())
    assert not (tmp_path / "bench.json").exists()
    with pytest.MonkeyPatch.context() as mp:  # judged at the artifact's own size, before its val images decode
        mp.setattr(bn, "readable_val_images", lambda *a: pytest.fail("decoded --batch val images first"))
        with pytest.raises(UserError, match=f"--batch 10000000 at --imgsz {TRAINED_IMGSZ} needs"):  # took all memory
            bn.bench([w / "best.pt"], data=synth_data, batch=10**7, console=quiet())
    bn.validate(6000, 1, 1, None, "cpu", None)  # a size not given is not 640: 6000 at 64 px was refused as 27.5 GB
    with pytest.raises(UserError, match=r"--json .*\.json has no name before \.json: pass e\.g\. --json .*bench\.json"):
        bn.bench([w / "best.pt"], data=synth_data, json_path=tmp_path / ".json", console=quiet(), **FAST)
    with pytest.raises(UserError, match="--json .* is a folder"):
        bn.bench([w / "best.pt"], data=synth_data, json_path=tmp_path, console=quiet(), **FAST)
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(UserError, match="not a writable folder"):
        bn.bench([w / "best.pt"], data=synth_data, json_path=tmp_path / "a-file" / "b.json", console=quiet(), **FAST)


def test_a_broken_dataset_the_run_names_is_not_blamed_on_data_never_typed(trained_student, tmp_path):
    """Its own yaml, say with a path relative to where it trained: the fix is to pass --data, which it says."""
    import torch

    broken = tmp_path / "relative.yaml"
    broken.write_text(yaml.safe_dump({"path": "../not-here", "train": "images/train", "val": "images/val",
                                      "names": {0: "circle", 1: "square", 2: "triangle"}}))
    ckpt = torch.load(trained_student, map_location="cpu", weights_only=False)
    ckpt["train_args"] = {**ckpt["train_args"], "data": str(broken)}
    torch.save(ckpt, tmp_path / "best.pt")
    with pytest.raises(UserError, match=rf"^the run's dataset '{re.escape(str(broken))}' \(read from its checkpoint\) "
                                        r"is not a usable dataset: .*; or pass --data DATA.yaml$"):
        bn.bench([tmp_path / "best.pt"], console=quiet(), **FAST)


@pytest.mark.parametrize("url", ["https://host/best.onnx", "HTTP://host/best.pt"])
def test_an_artifact_url_is_named_as_a_url(url, synth_data):
    """The CLI's Path folds 'https://' to 'https:/', and bench said 'artifact https:/host/... does not exist'."""
    result = CliRunner().invoke(app, ["bench", url, "--data", str(synth_data)])
    assert_one_line_error(result, f"artifact '{url}' is a URL: bench times files on this machine, so download it")


def test_one_artifact_from_python_is_one_path(synth_data, tmp_path):
    """bench("best.pt") iterated the string's characters, and bench(Path) raised a TypeError."""
    gone = tmp_path / "gone.onnx"
    for one in (str(gone), gone):
        with pytest.raises(UserError, match=f"artifact '{gone}' does not exist"):
            bn.bench(one, data=synth_data, console=quiet(), **FAST)
    for odd in (123, None):  # a TypeError in Path(123); None was the default of the search for an odd one
        with pytest.raises(UserError, match=f"artifacts are paths .*, got {odd}"):
            bn.bench([gone, odd], data=synth_data, console=quiet(), **FAST)
    with pytest.raises(UserError, match="artifacts is an empty list: pass the files to bench, or leave it out"):
        bn.bench([], data=synth_data, console=quiet(), root=tmp_path, **FAST)  # a glob of none: the newest run benched
    with pytest.raises(UserError, match="artifacts are a list of paths .*, got 5"):  # bench(5): a TypeError too
        bn.bench(5, data=synth_data, console=quiet(), **FAST)
    with pytest.raises(UserError, match="root must be the path of a folder, got 5"):
        bn.bench(data=synth_data, console=quiet(), root=5, **FAST)
    with pytest.raises(UserError, match=f"no weights/best.pt under {tmp_path}/distill"):  # a str: a TypeError
        bn.bench(data=synth_data, console=quiet(), root=str(tmp_path), **FAST)
    with pytest.raises(UserError, match="data must be the path of a dataset .yaml, got 5"):
        bn.bench([save_checkpoint("yolo26n.yaml", tmp_path / "m.pt")], data=5, console=quiet(), **FAST)
    for key, value in [("runs", 2.5), ("warmup", "3")]:  # 2.5: a TypeError in range(); '3': in a comparison
        with pytest.raises(UserError, match=f"--{key} must be a whole number, got {value!r}"):
            bn.bench([gone], data=synth_data, console=quiet(), **{**FAST, key: value})
    for threads in (0, 1000, 1.5, "1"):  # the demo's --threads, passed on to its bench step; '1' was shown as 1
        with pytest.raises(UserError, match=f"--threads must be between 1 and .*, got {threads!r}$"):
            bn.bench([gone], data=synth_data, console=quiet(), threads=threads, **FAST)


def test_an_export_whose_checkpoint_is_under_an_apostrophe_is_refused(run, learnable_data, tmp_path, monkeypatch):
    """bench reads the .pt beside an export for its data, parameters and FLOPs; Ultralytics drops the ' from its path
    and said the checkpoint was unreadable, after other artifacts had been timed."""
    folder = tmp_path / "Bob's"
    folder.mkdir()
    for name in ("best.pt", "best.onnx"):
        shutil.copy2(weights_of(run) / name, folder / name)
    never_timed(monkeypatch)
    with pytest.raises(UserError, match="best.onnx's checkpoint '.*Bob's/best.pt' has an apostrophe"):
        bn.bench([weights_of(run) / "best.onnx", folder / "best.onnx"], data=learnable_data, console=quiet(), **FAST)


def listing(folder: Path) -> dict:
    """Each file in `folder` with its modification time, to show that a refused bench wrote nothing there."""
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def never_timed(monkeypatch) -> None:
    """Make any timing fail the test: the refusals below must come before the first artifact is timed."""
    def timed(*args, **kwargs):
        raise AssertionError("an artifact was timed before the bad input was refused")

    monkeypatch.setattr(bn, "time_runs", timed)


def test_a_bad_artifact_is_refused_before_any_is_timed(run, synth_data, tmp_path, monkeypatch):
    """A corrupt export, an empty OpenVINO folder or a static export at another size after a good checkpoint fails
    before the checkpoint is timed, not after."""
    w = weights_of(run)
    before = listing(w)
    never_timed(monkeypatch)
    (tmp_path / "corrupt.onnx").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(UserError, match="cannot load .*corrupt.onnx"):
        bn.bench([w / "best.pt", tmp_path / "corrupt.onnx"], data=synth_data, console=quiet(), **FAST)
    with pytest.raises(UserError, match=f"static export at {TRAINED_IMGSZ} px"):
        bn.bench([w / "best.pt", w / "best.onnx"], data=synth_data, imgsz=128, console=quiet(), **FAST)
    empty = tmp_path / "x_openvino_model"
    empty.mkdir()
    with pytest.raises(UserError, match=r"x_openvino_model' holds no \.xml model .*: re-export it"):
        bn.bench([w / "best.pt", empty], data=synth_data, console=quiet(), **FAST)
    assert listing(w) == before and not list(tmp_path.glob("bench*"))


def test_a_val_split_only_ultralytics_loader_refuses_is_one_line_before_any_timing(trained_student, synth_data,
                                                                                     tmp_path, monkeypatch):
    """Every val label beyond the names: the split check passes, Ultralytics' loader refuses it. bench said so only
    once the first artifact had been timed (minutes on a Jetson)."""
    folder = tmp_path / "data"
    shutil.copytree(synth_data.parent, folder)
    raw = yaml.safe_load(synth_data.read_text())
    raw["path"] = str(folder)
    for label in (folder / "labels" / "val").glob("*.txt"):
        label.write_text("".join(f"9 {line.split(' ', 1)[1]}" for line in label.read_text().splitlines(True)))
    data = folder / "bad.yaml"
    data.write_text(yaml.safe_dump(raw))
    never_timed(monkeypatch)
    result = CliRunner().invoke(app, ["bench", str(trained_student), "--data", str(data), "--json",
                                      str(tmp_path / "b.json")])
    assert_one_line_error(result, f"data '{data}': ", "yolodistill data convert")
    assert not list(tmp_path.glob("b*"))


def test_an_unreadable_val_image_is_passed_over_as_ultralytics_passes_it(trained_student, synth_data, tmp_path):
    """An empty image file first in the val split: Ultralytics validates past it, but the timed batch was read from
    the file list and bench ended in a KeyError traceback."""
    folder = tmp_path / "data"
    shutil.copytree(synth_data.parent, folder)
    (folder / "images" / "val" / "0.png").write_bytes(b"")  # sorts first
    (folder / "labels" / "val" / "0.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    data = folder / "data.yaml"
    data.write_text(yaml.safe_dump({**yaml.safe_load(synth_data.read_text()), "path": str(folder)}))
    result = CliRunner().invoke(app, ["bench", str(trained_student), "--data", str(data), "--json",
                                      str(tmp_path / "b.json"), "runs=2", "warmup=0", "--batch", "2"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads((tmp_path / "b.json").read_text())
    assert row["batch"] == 2 and row["latency_ms"]["p50"] > 0


def test_an_onnx_file_without_ultralytics_metadata_is_benched_at_its_graph_s_size(run, learnable_data, tmp_path):
    """A tool that rewrites the graph may drop Ultralytics' metadata: bench read the export's size from it and ended
    in an AttributeError, --imgsz given or not. A static graph says its size itself."""
    import onnx

    from .conftest import TRAINED_IMGSZ

    model = onnx.load(weights_of(run) / "best.onnx")
    del model.metadata_props[:]
    onnx.save(model, bare := tmp_path / "model.onnx")
    (row,) = bn.bench([bare], data=learnable_data, json_path=tmp_path / "b.json", console=quiet(), **FAST)
    assert row["imgsz"] == TRAINED_IMGSZ and row["latency_ms"]["p50"] > 0
    with pytest.raises(UserError, match="is a static graph at batch 1 .*: bench it at --batch 1"):  # no padding
        bn.bench([bare], data=learnable_data, json_path=tmp_path / "c.json", console=quiet(), batch=2, **FAST)


def test_figures_come_from_the_checkpoint_an_export_was_made_from_only(run, learnable_data, trained_student,
                                                                        tmp_path):
    """Params and GFLOPs are read from the .pt of the export's name: a teacher copied there gave the student's ONNX
    row the teacher's (9.5 M parameters for a 2.4 M model), without a word. Its metadata says whose export it is. A
    checkpoint named Best.PT, which Ultralytics loads and exports, is benched too."""
    from ultralytics.utils.torch_utils import get_num_params

    from .conftest import SYNTH_NAMES

    shutil.copy2(weights_of(run) / "best.onnx", tmp_path / "best.onnx")
    save_checkpoint("yolo26s.yaml", tmp_path / "best.pt", names=SYNTH_NAMES)
    console = quiet()
    (row,) = bn.bench([tmp_path / "best.onnx"], data=learnable_data, json_path=tmp_path / "b.json", console=console,
                      **FAST)
    assert row["params"] is None and row["flops_g"] is None
    assert "best.pt beside best.onnx is not the model it was exported from (Ultralytics YOLO26n model" in " ".join(
        console.export_text().split())
    shutil.copy2(trained_student, tmp_path / "best.pt")
    os.rename(tmp_path / "best.pt", tmp_path / "Best.PT")
    os.rename(tmp_path / "best.onnx", tmp_path / "Best.onnx")
    console = quiet()
    rows = bn.bench([tmp_path / "Best.PT", tmp_path / "Best.onnx"], data=learnable_data, json_path=tmp_path / "c.json",
                    console=console, **FAST)
    student = bn.load_model(trained_student).model.fuse(verbose=False)
    assert [r["format"] for r in rows] == ["pt", "onnx"]
    assert rows[0]["params"] == rows[1]["params"] == get_num_params(student) and "Warning" not in console.export_text()


def test_a_static_export_at_another_batch_is_refused(synth_data, tmp_path, monkeypatch):
    """AutoBackend pads a batch-1 input with zeros up to a static export's batch, so its latency would be 4 images'."""
    from ultralytics import YOLO

    pt = save_checkpoint("yolo26n.yaml", tmp_path / "m.pt")
    onnx = Path(YOLO(str(pt)).export(format="onnx", batch=4, imgsz=64, verbose=False))
    with monkeypatch.context() as m:
        never_timed(m)
        with pytest.raises(UserError, match=r"'.*m\.onnx' is a static export at batch 4: bench it at --batch 4 or "
                                            r"re-export it with --batch 1 or --dynamic"):
            bn.bench([pt, onnx], data=synth_data, console=quiet(), **FAST)
        assert not list(tmp_path.glob("bench*"))
    rows = bn.bench([onnx], data=synth_data, batch=4, console=quiet(), warmup=0, runs=2)  # at its own batch it runs
    assert rows[0]["batch"] == 4 and rows[0]["throughput_ips"] > 0
    # images, not batches, per second: over two runs the median pass is the mean one
    assert rows[0]["throughput_ips"] == pytest.approx(4 * 1000 / rows[0]["latency_ms"]["p50"], rel=0.01)


def test_a_dynamic_export_is_benched_at_another_size_and_batch(trained_student, learnable_data, tmp_path):
    """What the static refusals above tell the user to do (re-export it --dynamic) must then work."""
    best = tmp_path / "best.pt"
    shutil.copy2(trained_student, best)
    onnx = export_model(best, format="onnx", dynamic=True, data=learnable_data).artifact
    size = TRAINED_IMGSZ + 32
    rows = bn.bench([best, onnx], data=learnable_data, imgsz=size, batch=2, console=quiet(), warmup=0, runs=2)
    assert [(r["format"], r["imgsz"], r["batch"]) for r in rows] == [("pt", size, 2), ("onnx", size, 2)]
    assert abs(rows[0]["map50_95"] - rows[1]["map50_95"]) < 0.02 and rows[1]["throughput_ips"] > 0


def test_classes_other_than_the_data_s_are_refused(run, learnable_data, tmp_path, monkeypatch):
    """mAP against data that lists other classes scores one class's boxes against another's labels: every artifact,
    the checkpoint by its names and each export by its metadata's, is checked before any timing."""
    w = weights_of(run)
    before = listing(w)
    never_timed(monkeypatch)
    data = yaml.safe_load(learnable_data.read_text())
    renamed, more = tmp_path / "renamed.yaml", tmp_path / "five.yaml"
    renamed.write_text(yaml.safe_dump({**data, "names": {0: "apple", 1: "square", 2: "triangle"}}))
    more.write_text(yaml.safe_dump({**data, "names": {i: f"c{i}" for i in range(5)}}))
    for artifact in (w / "best.pt", w / "best.onnx", w / "best_openvino_model"):
        with pytest.raises(UserError, match=rf"artifact '{re.escape(str(artifact))}' class 0 is 'circle' but the "
                                            "data's is 'apple'"):
            bn.bench([artifact], data=renamed, console=quiet(), **FAST)
        with pytest.raises(UserError, match=rf"artifact '{re.escape(str(artifact))}' has 3 classes but the data has "
                                            "5: pass the --data it was trained on \\(artifacts of another dataset: "
                                            "bench them in a run of their own\\)"):
            bn.bench([artifact], data=more, console=quiet(), **FAST)
    result = CliRunner().invoke(app, ["bench", str(w / "best.onnx"), "--data", str(renamed)])
    assert_one_line_error(result, f"artifact '{w / 'best.onnx'}' class 0 is 'circle'")
    assert listing(w) == before


def test_json_that_does_not_end_in_json_is_refused(run, synth_data, tmp_path, monkeypatch):
    """bench.csv/.md/.png take --json's name less its suffix: --json b.csv would be written, then overwritten."""
    never_timed(monkeypatch)
    result = CliRunner().invoke(app, ["bench", str(weights_of(run) / "best.pt"), "--data", str(synth_data),
                                      "--json", str(tmp_path / "b.csv")])
    assert_one_line_error(result, f"--json {tmp_path / 'b.csv'} must end in .json", f"--json {tmp_path / 'b.json'}")
    assert list(tmp_path.iterdir()) == []


def test_openvino_rows_say_they_run_in_bf16(run, learnable_data, tmp_path, monkeypatch):
    """On a CPU with bf16 units OpenVINO computes an fp32 export in bf16: its row says so in every report, and the
    record is still one bench recognises as its own."""
    monkeypatch.setattr(bn, "runtime_precision", lambda fmt, p: "bf16" if fmt == "openvino" else runtime_precision(
        fmt, p))
    out = tmp_path / "bench.json"
    console = quiet()
    rows = bn.bench([weights_of(run) / "best_openvino_model"], data=learnable_data, json_path=out, console=console,
                    **FAST)
    assert rows[0]["precision"] == "fp32 (runs bf16)" and tuple(rows[0]) == KEYS
    assert "fp32 (runs bf16)" in " ".join(console.export_text().split())
    assert next(csv.DictReader(io.StringIO((tmp_path / "bench.csv").read_text())))["precision"] == "fp32 (runs bf16)"
    assert "| exp | openvino | fp32 (runs bf16) |" in (tmp_path / "bench.md").read_text()
    assert bench_rows(out) == rows and describe_bench(out).startswith("1 row, on ")


def test_engine_artifact_without_cuda(tmp_path, synth_data):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    engine = tmp_path / "best.engine"
    engine.write_bytes(b"serialized engine")
    with pytest.raises(UserError, match="CUDA"):
        bn.bench([engine], data=synth_data, console=quiet(), **FAST)


def test_openvino_artifact_without_openvino_names_the_extra(run, synth_data, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)
    with pytest.raises(UserError, match=r"pip install 'yolodistill\[openvino\]'"):
        bn.bench([weights_of(run) / "best_openvino_model"], data=synth_data, console=quiet(), **FAST)


def test_cli_bench_success_and_bad_input(run, synth_data, tmp_path):
    w = weights_of(run)
    out = tmp_path / "cli" / "bench.json"
    ok = CliRunner().invoke(app, ["bench", str(w / "best.onnx"), "--data", str(synth_data), "--warmup", "1",
                                  "--runs", "3", "--json", str(out)])
    assert ok.exit_code == 0, ok.output
    assert len(json.loads(out.read_text())) == 1 and "Replaced" not in ok.output
    again = CliRunner().invoke(app, ["bench", str(w / "best.onnx"), str(w / "best.pt"), "--data", str(synth_data),
                                     "--warmup", "1", "--runs", "3", "--json", str(out)])
    assert again.exit_code == 0, again.output
    said = "".join(again.output.split())  # the console wraps long lines, a long path at any '/'
    cpu = json.loads((out.parent / "bench_env.json").read_text())["cpu"]
    assert "".join(f"Replaced the earlier {out} (1 row, on {cpu}, written".split()) in said
    assert "--jsonelsewhere" in said
    assert len(json.loads(out.read_text())) == 2
    md, kept = out.with_suffix(".md"), out.read_bytes()
    md.write_text("my notes on the bench")  # an earlier record's own page, edited since: was replaced with it
    os.utime(md, (out.stat().st_mtime + 120, out.stat().st_mtime + 120))
    refused = CliRunner().invoke(app, ["bench", str(w / "best.onnx"), "--data", str(synth_data), "--json", str(out)])
    assert_one_line_error(refused, f"would replace {md}, changed since bench wrote bench.json", "another name")
    assert md.read_text() == "my notes on the bench" and out.read_bytes() == kept

    mine = tmp_path / "mine"  # a user's files where --json would write: refused before any timing, untouched
    mine.mkdir()
    (mine / "report.md").write_text("my notes")
    (mine / "keep.json").write_text('{"mine": 1}')
    for name, needle in (("report.json", f"would replace {mine / 'report.md'}, which bench did not write"),
                         ("keep.json", "exists and is not an earlier bench record")):
        refused = CliRunner().invoke(app, ["bench", str(w / "best.onnx"), "--data", str(synth_data), "--json",
                                           str(mine / name)])
        assert_one_line_error(refused, needle, "pass --json with another name")
    assert sorted(p.name for p in mine.iterdir()) == ["keep.json", "report.md"]
    assert (mine / "report.md").read_text() == "my notes" and (mine / "keep.json").read_text() == '{"mine": 1}'
    bad = CliRunner().invoke(app, ["bench", str(tmp_path / "missing.onnx"), "--data", str(synth_data)])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    lines = [line for line in bad.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "does not exist" in lines[0]


def test_cli_bench_takes_its_options_as_key_value(run, synth_data, tmp_path):
    """Ultralytics users write imgsz=96 runs=3; bench took each word for a file that does not exist."""
    w = weights_of(run)
    out = tmp_path / "kv" / "bench.json"
    ok = CliRunner().invoke(app, ["bench", str(w / "best.onnx"), f"data={synth_data}", "warmup=1", "runs=3",
                                  f"json={out}"])
    assert ok.exit_code == 0, ok.output
    (row,) = json.loads(out.read_text())
    env = json.loads((out.parent / "bench_env.json").read_text())
    assert row["format"] == "onnx" and (env["runs"], env["warmup"], env["data"]) == (3, 1, str(synth_data))
    for args, needle in ((["conf=0.3"], "bench has no setting conf=: see yolodistill bench --help"),
                         (["--runs", "3", "runs=4"], "runs is given twice (--runs 3 and runs=4): keep one"),
                         (["runs=many"], "runs=many: "),
                         (["exp=2/best.onnx"], "artifact 'exp=2/best.onnx' does not exist"),  # a path, not a word
                         (["device=none", "runs=0"], "need --runs >= 1")):  # none: 'device= needs a value'
        assert_one_line_error(CliRunner().invoke(app, ["bench", str(w / "best.onnx"), *args]), needle)


def test_bench_without_artifacts_after_an_interrupted_run(mid_training, tmp_path, monkeypatch):
    """The newest best.pt of an interrupted run is a mid-training checkpoint, whose student AutoBackend unwraps with
    the trainer's namespace as its args, not a dict."""
    best = tmp_path / "runs" / "distill" / "interrupted" / "weights" / "best.pt"
    best.parent.mkdir(parents=True)
    shutil.copy2(mid_training, best)
    monkeypatch.chdir(tmp_path)
    rows = bn.bench(console=quiet(), **FAST)
    assert [(r["name"], r["format"], r["imgsz"]) for r in rows] == [("interrupted", "pt", 64)]
    assert rows[0]["params"] > 0 and 0 <= rows[0]["map50_95"] <= 1
    import torch

    assert rows[0]["device"] == ("cuda:0" if torch.cuda.is_available() else "cpu")  # no --device: auto, as train


@pytest.mark.parametrize("when", ["drawing the plot", "writing the reports"])
def test_a_ctrl_c_at_the_reports_leaves_one_bench_s_files(when, run, learnable_data, tmp_path, monkeypatch,
                                                          python_sigint):
    """The CLI said 'Nothing was written' while the reports were written one by one: a Ctrl-C at the plot left a new
    bench.json beside the old plot."""
    import signal

    from yolodistill import benchreport

    out = tmp_path / "bench.json"
    args = ["bench", str(weights_of(run) / "best.pt"), "--data", str(learnable_data), "--json", str(out),
            "--warmup", "0", "--runs", "2"]
    assert CliRunner().invoke(app, args).exit_code == 0
    paths = benchreport.report_paths(out)
    before = {p: (p.read_bytes(), p.stat().st_ino) for p in paths}
    if when == "drawing the plot":
        monkeypatch.setattr(benchreport, "plot_png", lambda rows: (_ for _ in ()).throw(KeyboardInterrupt))
    else:  # a real Ctrl-C between the third and the fourth file
        write_text, calls = benchreport.atomic_write_text, []

        def pressed(path, text):
            calls.append(path)
            if len(calls) == 1:
                signal.raise_signal(signal.SIGINT)
            return write_text(path, text)

        monkeypatch.setattr(benchreport, "atomic_write_text", pressed)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 130, result.output
    out_text = " ".join(result.output.split())
    if when == "drawing the plot":
        assert "Nothing was written; an earlier bench.json is as it was" in out_text
        assert {p: (p.read_bytes(), p.stat().st_ino) for p in paths} == before
    else:
        five = ", ".join(str(p) for p in paths)
        assert f"{five} were written before the stop, over the earlier bench (" in out_text, out_text
        assert all(p.stat().st_ino != before[p][1] for p in paths)  # every one of the five is the new bench's


def test_a_ctrl_c_that_ultralytics_swallows_still_stops_bench(run, learnable_data, tmp_path, monkeypatch,
                                                              python_sigint):
    """Ultralytics' check_requirements (run as an ONNX model loads) is wrapped in @TryExcept, which swallows a
    Ctrl-C: bench timed on and wrote its record, exit 0."""
    from yolodistill import bench as bench_module

    from .conftest import swallowing_a_press

    monkeypatch.setattr(bench_module, "check_loads", swallowing_a_press(bench_module.check_loads))
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(app, ["bench", str(weights_of(run) / "best.pt"), "--data", str(learnable_data),
                                      "--json", str(out), "--warmup", "0", "--runs", "2"])
    assert result.exit_code == 130 and "Nothing was written" in " ".join(result.output.split()), result.output
    assert not out.exists()


def test_classify_checkpoint_is_refused_before_any_work(synth_data, tmp_path):
    cls = save_checkpoint("yolo26n-cls.yaml", tmp_path / "cls.pt")
    result = CliRunner().invoke(app, ["bench", str(cls), "--data", str(synth_data), "--warmup", "0", "--runs", "1"])
    assert_one_line_error(result, f"artifact '{cls}' is a classify model: yolodistill distills detection models")
    assert [p.name for p in tmp_path.iterdir()] == ["cls.pt"]


def test_bench_on_a_jetson_records_board_and_energy(run, synth_data, tmp_path):
    system, started = jetson()
    console = quiet()
    out = tmp_path / "bench.json"
    rows = bn.bench([weights_of(run) / "best.onnx"], data=synth_data, json_path=out, console=console, system=system,
                    **FAST)
    env = json.loads((tmp_path / "bench_env.json").read_text())
    assert env["jetson"]["board"].startswith("NVIDIA Jetson Orin NX") and env["jetson"]["power_mode"] == "MAXN (0)"
    energy = env["energy"][rows[0]["artifact"]]
    mean_w = (5123 + 7481 + 7712 + 7684) / 4 / 1000
    assert energy["samples"] == 4 and energy["power_w_mean"] == pytest.approx(mean_w, abs=1e-3)
    assert energy["images"] == 5
    assert energy["energy_j_per_image"] == pytest.approx(mean_w * energy["timed_s"] / 5)
    text = console.export_text()
    assert "clocks are not locked" in text and "J/img" in text
    assert started and started[0].terminated
    assert tuple(json.loads(out.read_text())[0]) == KEYS  # energy stays out of bench.json


def test_bench_on_an_agx_board_says_why_it_has_no_energy(run, synth_data, tmp_path):
    """An AGX Orin's tegrastats has no VDD_IN: the J/img cell read '-', and neither the table nor bench_env.json
    said why."""
    system, _ = jetson(tegrastats="tegrastats_agx_orin.txt")
    console = quiet()
    rows = bn.bench([weights_of(run) / "best.onnx"], data=synth_data, json_path=tmp_path / "bench.json",
                    console=console, system=system, **FAST)
    energy = json.loads((tmp_path / "bench_env.json").read_text())["energy"][rows[0]["artifact"]]
    assert energy["energy_j_per_image"] is None and "no board input rail" in energy["missing"]
    text = " ".join(console.export_text().split())
    assert "J/img" in text and (f"Warning: no energy per image for {rows[0]['name']}: tegrastats names no board input "
                                "rail here") in text


def test_no_refresh_thread_runs_beside_the_timed_passes():
    """rich redraws an auto-refreshing bar from a thread of its own, which shared the CPU with the very passes bench
    times (p99 about 40 % higher on a 2-core machine). bench's bar has none: it is drawn between passes."""
    import threading

    import torch
    from rich.live import _RefreshThread

    seen = []

    def backend(im):
        seen.append(any(isinstance(t, _RefreshThread) for t in threading.enumerate()))
        return im

    console = Console(file=io.StringIO(), force_terminal=True, width=80)
    with bn.timing_progress(console) as progress:
        times = bn.time_runs(backend, torch.zeros(1), warmup=2, runs=30, progress=progress, label="x")
        assert progress.tasks[0].completed == 30
    assert len(times) == 30 and seen and not any(seen)
    assert "30/30" in console.file.getvalue()  # still drawn, by time_runs itself


def test_a_val_split_without_labels_is_refused_not_scored_zero(synth_data, tmp_path):
    """bench printed and wrote mAP 0.000 for every artifact, as if measured, when --data's val split had no labels."""
    folder = tmp_path / "data"
    shutil.copytree(synth_data.parent, folder)
    shutil.rmtree(folder / "labels" / "val")
    raw = yaml.safe_load(synth_data.read_text())
    (folder / "data.yaml").write_text(yaml.safe_dump({**raw, "path": str(folder)}))
    (tmp_path / "w").mkdir()
    weights = save_checkpoint("yolo26n.yaml", tmp_path / "w" / "best.pt")
    result = CliRunner().invoke(app, ["bench", str(weights), "--data", str(folder / "data.yaml"), "--device", "cpu"])
    assert_one_line_error(result, "no image of its val split has labels, so every mAP would read 0")
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == ["best.pt"]


def test_a_dataset_named_as_train_takes_it_is_explained(tmp_path, monkeypatch):
    """--data coco8.yaml, which train fetches by name, said 'does not exist: check the path' in export and bench."""
    monkeypatch.chdir(tmp_path)
    weights = save_checkpoint("yolo26n.yaml", tmp_path / "best.pt")
    for command in (["bench", str(weights)], ["export", "--weights", str(weights)]):
        result = CliRunner().invoke(app, [*command, "--data", "coco8.yaml", "--device", "cpu"])
        assert_one_line_error(result, "--data 'coco8.yaml' is not a file here: export and bench read a dataset yaml")


def test_latency_is_reported_in_ms_at_p50_p90_p99():
    """The table's p90 column is the 90th percentile of the passes, in milliseconds: 100 passes of 1..100 ms."""
    assert bn.latency_ms([i / 1000 for i in range(1, 101)]) == {"p50": 50.5, "p90": 90.1, "p99": 99.01}


def test_warm_up_passes_run_first_and_are_not_timed():
    """--warmup 3 --runs 4: seven passes, of which the last four are timed."""
    import torch

    calls = []
    with bn.timing_progress(Console(file=io.StringIO())) as progress:
        times = bn.time_runs(calls.append, torch.zeros(1), warmup=3, runs=4, progress=progress, label="x")
    assert len(calls) == 7 and len(times) == 4
    import contextlib

    @contextlib.contextmanager
    def watched(seen):  # the busy-CPU measure and a Jetson's power sampler: over the timed passes only
        seen.append(len(calls))
        yield
        seen.append(len(calls))

    calls.clear()
    first, second = [], []
    with bn.timing_progress(Console(file=io.StringIO())) as progress:
        bn.time_runs(calls.append, torch.zeros(1), warmup=3, runs=4, progress=progress, label="x",
                     during=[watched(first), watched(second)])
    assert first == second == [3, 7]


def test_each_timed_pass_is_its_own_forward_pass(monkeypatch):
    """On a clock that moves 4 ms per pass, every one of 60 passes reads 4 ms, the bar's redraws between them
    included in none."""
    import torch

    clock = [0.0]

    def backend(im):
        clock[0] += 0.004

    monkeypatch.setattr(bn.time, "perf_counter", lambda: clock[0])
    with bn.timing_progress(Console(file=io.StringIO())) as progress:
        times = bn.time_runs(backend, torch.zeros(1), warmup=0, runs=60, progress=progress, label="x")
    assert times == pytest.approx([0.004] * 60)


def test_settings_checked_before_loading_anything(tmp_path):
    """A negative --warmup would be taken as none; an upper-case .JSON is still a .json name."""
    with pytest.raises(UserError, match=r"--warmup >= 0, got 5 and -1"):
        bn.validate(1, -1, 5, None, "cpu", None)
    bn.validate(1, 0, 1, None, "cpu", tmp_path / "B.JSON")


def test_a_plain_folder_is_not_taken_for_an_openvino_export(tmp_path):
    """Ultralytics names an OpenVINO export NAME_openvino_model/: any other folder given to bench is no artifact."""
    with pytest.raises(UserError, match="is not a benchable artifact"):
        bn.artifact_format(tmp_path)



def test_a_static_export_at_its_own_size_and_its_stored_precision(run, tmp_path):
    """--imgsz equal to a static export's own size is not 'another size'; the row's precision is what the export
    metadata stores (quantize 16: fp16, 8: int8), as the runtime computes it."""
    import onnx

    onnx_path = weights_of(run) / "best.onnx"
    backend = bn.open_backend(onnx_path, bn.torch_device("cpu"))
    assert bn.bench_imgsz(backend, "onnx", onnx_path, TRAINED_IMGSZ) == TRAINED_IMGSZ
    model = onnx.load(str(onnx_path))
    meta = next(p for p in model.metadata_props if p.key == "args")
    for quantize, stored in ((16, "fp16"), (8, "int8")):
        meta.value = repr({"batch": 1, "quantize": quantize})
        onnx.save(model, str(tmp_path / f"q{quantize}.onnx"))
        backend = bn.open_backend(tmp_path / f"q{quantize}.onnx", bn.torch_device("cpu"))
        runs = runtime_precision("onnx", stored)
        assert bn.precision_of(backend, "onnx") == (stored if runs == stored else f"{stored} (runs {runs})")


def test_a_one_channel_model_is_timed_on_grey_images(synth_data, tmp_path):
    """A model of `channels: 1` data (export and Ultralytics' val take it) was fed three channels: a RuntimeError
    traceback at the first timed run, nothing written."""
    from .conftest import save_checkpoint

    grey = tmp_path / "grey.yaml"
    grey.write_text(yaml.safe_dump({**yaml.safe_load(synth_data.read_text()), "channels": 1}))
    weights = save_checkpoint("yolo11n.yaml", tmp_path / "grey.pt", ch=1)
    rows = bn.bench([weights], data=grey, device="cpu", console=quiet(), json_path=tmp_path / "b" / "bench.json",
                    **FAST)
    assert len(rows) == 1 and rows[0]["latency_ms"]["p50"] > 0 and rows[0]["map50_95"] >= 0
    images = sorted((synth_data.parent / "images" / "val").iterdir())[:2]
    assert bn.input_batch(images, 64, 2, "cpu", False, channels=1).shape == (2, 1, 64, 64)
    assert bn.input_batch(images, 64, 2, "cpu", False).shape == (2, 3, 64, 64)


def test_a_model_of_other_channels_than_the_data_is_refused_before_any_timing(synth_data, tmp_path):
    """A grey model benched on colour data was Ultralytics' RuntimeError traceback once its validation began, after
    the timing; train refuses the pair in one line."""
    from .conftest import save_checkpoint

    grey = save_checkpoint("yolo11n.yaml", tmp_path / "grey.pt", ch=1)
    with pytest.raises(UserError, match=r"artifact '.*grey.pt' takes 1-channel images and the data's are 3-channel: "
                                        r"pass the --data it was trained on"):
        bn.bench([grey], data=synth_data, device="cpu", console=quiet(), json_path=tmp_path / "b" / "bench.json",
                 **FAST)
    assert not (tmp_path / "b").exists()


def test_the_default_bench_json_is_held_as_a_given_one(run, synth_data, monkeypatch):
    """Only --json was held: two benches of one run wrote its bench.json over each other, the first's figures gone
    without a "Replaced" line."""
    from yolodistill.locks import exclusive

    w = weights_of(run)
    never_timed(monkeypatch)
    with exclusive(w / "bench.json", "--json"):
        with pytest.raises(UserError, match="bench.json' is being written by another yolodistill command right now: "
                                            "wait for it to end, or pass another --json"):
            bn.bench([w / "best.pt"], data=synth_data, console=quiet(), **FAST)


def test_a_default_bench_json_that_cannot_be_written_names_no_flag_the_user_never_passed(run, synth_data, tmp_path,
                                                                                          monkeypatch):
    """Beside weights in a read-only folder: "--json '.../bench.json' cannot be created", with no --json given."""
    import yolodistill.errors

    never_timed(monkeypatch)
    monkeypatch.setattr(yolodistill.errors, "writable", lambda p: False)  # root writes any folder: as if read-only
    with pytest.raises(UserError, match=r"^bench writes its report beside the first artifact unless told otherwise: "
                                        r"'.*bench.json' cannot be .*; pass --json in a writable folder$"):
        bn.bench([weights_of(run) / "best.pt"], data=synth_data, console=quiet(), **FAST)
