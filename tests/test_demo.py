"""`yolodistill demo` wires the real steps together; its table comes from the bench it ran."""

from __future__ import annotations

import json
import re

import pytest
from rich.console import Console
import torch
from typer.testing import CliRunner
from ultralytics.utils import torch_utils

from yolodistill import demo as demo_module
from yolodistill.cli import app
from yolodistill.errors import UserError

from .conftest import assert_one_line_error


def test_demo_end_to_end_at_tiny_scale(tmp_path, monkeypatch):
    monkeypatch.setitem(demo_module.PRESETS, "quick", dict(images=16, unlabeled=8, imgsz=64, teacher_epochs=1, epochs=1,
                                                           batch=8))
    before = torch_utils.NUM_THREADS, torch.get_num_threads()
    result = demo_module.demo(tmp_path / "demo", quick=True, threads=1)
    assert (torch_utils.NUM_THREADS, torch.get_num_threads()) == before  # Ultralytics' own setting is back
    assert result.save_dir == tmp_path / "demo"
    for name, path in result.paths.items():
        assert path.exists(), name
    bench_rows = json.loads(result.paths["bench"].read_text())
    bench_env = json.loads((result.paths["bench"].parent / "bench_env.json").read_text())
    assert bench_env["torch_threads"] == 1  # --threads 1 holds for the bench step too (it took every core)
    assert [r["model"] for r in result.rows] == [
        "teacher (yolo26s)", "plain student (yolo26n)", "distilled student (yolo26n)",
        "distilled + unlabelled (yolo26n)", "distilled student (yolo26n)"
    ]
    footage = result.paths["unlabelled images"]
    assert len(list(footage.iterdir())) == 8 and not list(footage.rglob("*.txt"))  # images only, labels withheld
    import yaml

    used = yaml.safe_load((result.paths["distilled + unlabelled"].parents[1] / "distill.yaml").read_text())
    assert used["images"]["unlabeled"] == 8 and used["distill"]["unlabeled"] == [str(footage)]
    # the same labelled images per step and the same optimizer steps as the students beside it (it took twice theirs)
    assert used["images"]["batch_labelled"] == used["images"]["batch_unlabeled"] == 8
    runs = result.paths["distilled + unlabelled"].parents[2]
    args = {run: yaml.safe_load((runs / run / "args.yaml").read_text())
            for run in ("ours-seed0", "ours-unlabeled-seed0")}
    assert [(a["batch"], a["nbs"]) for a in args.values()] == [(8, 64), (16, 128)]
    assert len(result.rows) == len(bench_rows)
    for row, b in zip(result.rows, bench_rows):
        assert row["mAP50-95"] == b["map50_95"] and row["latency p50 (ms)"] == b["latency_ms"]["p50"]
        assert row["format"] == b["format"]
    assert result.rows[-1]["format"] == "onnx"
    assert "distilled student" in result.paths["summary"].read_text()
    steps = [k for k in result.seconds if k != "total"]
    assert steps == list(demo_module.STEPS) and all(v >= 0 for v in result.seconds.values())
    assert abs(sum(result.seconds[k] for k in steps) - result.seconds["total"]) < 1.0  # every step is counted
    assert "Wall time (quick preset, cpu, 1 thread)" in result.paths["summary"].read_text()
    assert demo_module.QUICK_NOTE in result.paths["summary"].read_text()  # quick says its table is no comparison
    assert result.paths["summary"].read_text().startswith("# yolodistill demo\n\nSynthetic data (`yolodistill data "
                                                          "synth`): 16 images")  # a bare table read as a result
    # a second demo never overwrites the first: it is numbered like Ultralytics runs (stopped once its folder exists)
    written = sorted(p for p in result.save_dir.rglob("*"))
    import yolodistill.data

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(yolodistill.data, "make_synthetic", interrupted)
    console = Console(record=True, width=400)
    with pytest.raises(demo_module.DemoInterrupted, match=re.escape(str(tmp_path / "demo-2"))):
        demo_module.demo(tmp_path / "demo", quick=True, console=console)
    assert f"Demo folder: {tmp_path / 'demo-2'}\n" in console.export_text()  # named before its work, not at its end
    assert sorted(p for p in result.save_dir.rglob("*")) == written


@pytest.mark.parametrize("threads", ["999", "0"])
def test_threads_beyond_the_cores_are_one_line(threads, tmp_path, monkeypatch):
    """Thousands of threads on a few cores make training crawl; 0 is no thread at all."""
    from yolodistill.utils import usable_cores

    monkeypatch.setattr(demo_module, "run_demo", lambda *a: pytest.fail("the demo ran"))  # refused before it starts
    cores = usable_cores()
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "demo"), "--threads", threads])
    assert_one_line_error(result, f"--threads must be between 1 and {cores}", f"got {threads}")
    assert not (tmp_path / "demo").exists()


@pytest.mark.parametrize("word, needle", [("threads=0", "--threads must be between 1 and"),
                                           ("lr0=0.1", "unknown setting(s) lr0: yolodistill demo takes only its "
                                                       "options, as --flag VALUE or flag=VALUE")])
def test_key_value_words_are_its_options_as_in_every_command(word, needle, tmp_path):
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "demo"), word])
    assert_one_line_error(result, needle)
    assert not (tmp_path / "demo").exists()


@pytest.mark.parametrize("kw, message", [({"quick": "no"}, "quick must be True or False, got 'no'"),  # ran quick
                                        ({"out": None}, "--out must be the path of a folder, got None")])  # TypeError
def test_python_values_the_command_line_cannot_give_are_one_line(kw, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=f"^{re.escape(message)}$"):
        demo_module.demo(**{"out": tmp_path / "demo", **kw})
    assert list(tmp_path.iterdir()) == []


def test_an_out_folder_with_an_apostrophe_is_refused_before_any_work(tmp_path):
    """Its teacher's run loads its own best.pt, from a path Ultralytics strips the ' from: a traceback after the
    data had been written and the teacher trained."""
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "Bob's demo"), "--quick"])
    assert_one_line_error(result, "--out", "has an apostrophe (')")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("out", [".", "", "..", "/"])
def test_an_out_folder_the_demo_would_write_beside_is_refused(out, tmp_path, monkeypatch):
    """--out . (the working folder, taken) went to its numbered sibling ../NAME-2, outside the folder named; '..'
    and '/' the same, one level up."""
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    result = CliRunner().invoke(app, ["demo", f"--out={out}", "--quick"])
    assert_one_line_error(result, "is the working folder or one above it", "pass a folder for the demo")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"] and list((tmp_path / "work").iterdir()) == []


def test_ctrl_c_says_where_the_demo_files_are(tmp_path, monkeypatch):
    """It exited 130 without a word, leaving a half-written folder; the compare inside it would have advised a
    compare --exist-ok that does not continue the demo."""
    import yolodistill.data

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(yolodistill.data, "make_synthetic", interrupted)
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "demo"), "--quick"], terminal_width=300)
    assert result.exit_code == 130
    flat = " ".join(result.output.split())
    assert f"Interrupted. What the demo wrote so far is in {tmp_path / 'demo'}" in flat, result.output


def test_threads_up_to_every_core_are_taken():
    """--threads equal to the cores this process may use is the documented top of the range, and none means all."""
    from yolodistill.utils import usable_cores

    demo_module.check_threads(usable_cores())
    demo_module.check_threads(1)
    demo_module.check_threads(None)


def test_summary_rows_name_each_artifact_and_keep_benchs_numbers(tmp_path, monkeypatch):
    """Bench writes artifacts as given (here relative): each row is labelled by the resolved path, with its own mAP50
    and median latency."""
    monkeypatch.chdir(tmp_path)
    bench_rows = [{"artifact": "t/best.pt", "format": "pytorch", "map50_95": 0.4, "map50": 0.6,
                   "latency_ms": {"p50": 12.0, "p95": 20.0}, "size_mb": 19.0}]
    rows = demo_module.summary_rows(bench_rows, {str(tmp_path / "t" / "best.pt"): "teacher (yolo26s)"})
    assert rows == [{"model": "teacher (yolo26s)", "format": "pytorch", "mAP50-95": 0.4, "mAP50": 0.6,
                     "latency p50 (ms)": 12.0, "size (MB)": 19.0}]


def test_minutes_rounds_to_the_nearest_second():
    assert [demo_module.minutes(s) for s in (0, 59.6, 125.2)] == ["0 min 0 s", "1 min 0 s", "2 min 5 s"]


def test_unlabeled_footage_is_other_images_without_their_labels(tmp_path):
    """Footage the student already trained on would teach nothing new; labels left behind would not be unlabelled."""
    from yolodistill.data import make_synthetic

    data = make_synthetic(tmp_path / "data", images=6, classes=3, imgsz=32, seed=0).parent
    footage = demo_module.unlabeled_images(tmp_path, images=6, imgsz=32)
    shots = sorted(footage.iterdir())
    assert len(shots) == 6 and all(p.suffix != ".txt" for p in shots)  # train and val images, no name lost
    assert {p.read_bytes() for p in shots}.isdisjoint(p.read_bytes() for p in (data / "images").rglob("*.*"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "footage"]  # the labelled copy is gone


def test_closing_table_rounds_scores_and_shows_paths_with_brackets(tmp_path):
    """Rich would swallow '[x]' in a path as markup; floats get three decimals, not a dozen."""

    console = Console(record=True, width=300)
    folder = tmp_path / "runs [x]"
    demo_module.show([{"model": "teacher", "mAP50-95": 0.123456}], {"summary": folder / "demo.md"}, console)
    text = console.export_text()
    assert "0.123" in text and "0.1234" not in text and str(folder / "demo.md") in text


def test_a_refusal_inside_the_demo_s_comparison_advises_the_demo(tmp_path, monkeypatch):
    """A refusal found once the demo's comparison trained (an input deleted, a full disk) ended with "continue with:
    yolodistill compare ... --exist-ok", a command that does not continue the demo."""
    from yolodistill.compare import advised
    from yolodistill.plans import rerun_advice

    def refused(out, quick, device, threads, console, made):
        made.append(tmp_path / "demo")
        advice = rerun_advice(1, 2, tmp_path / "demo" / "compare", False, "yolodistill compare --seeds 0", fix=True)
        raise advised(UserError(f"teacher.pt is gone. {advice}"), advice)

    monkeypatch.setattr(demo_module, "run_demo", refused)
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "demo"), "--quick"], terminal_width=300)
    flat = " ".join(result.output.split())
    assert result.exit_code == 2 and "--exist-ok" not in flat and "compare --seeds" not in flat, flat
    assert f"Error: teacher.pt is gone. What the demo wrote so far is in {tmp_path / 'demo'}; yolodistill demo " \
           "starts again in a new folder" in flat, flat
