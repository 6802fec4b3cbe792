"""Export through Ultralytics with real ONNX Runtime and OpenVINO on CPU, and the checks that stop a bad artifact."""

from __future__ import annotations

import importlib.util
import io
import logging
import os
import re
import shutil
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from yolodistill import export as ex
from yolodistill.cli import app
from yolodistill.errors import UserError

from .conftest import TRAINED_IMGSZ, assert_one_line_error, save_checkpoint, swallowing_a_press, unusable_val_split


@pytest.fixture
def weights(trained_student, tmp_path) -> Path:
    """A private copy of the trained student, so exports written beside it stay in this test."""
    dest = tmp_path / "weights" / "best.pt"
    dest.parent.mkdir()
    shutil.copy2(trained_student, dest)
    return dest


@pytest.fixture(scope="module")
def onnx_export(trained_student, learnable_data, tmp_path_factory) -> tuple[Path, ex.ExportResult]:
    """The trained student and its fp32 ONNX export, shared by the parity tests."""
    dest = tmp_path_factory.mktemp("pair") / "best.pt"
    shutil.copy2(trained_student, dest)
    return dest, ex.export_model(dest, format="onnx", data=learnable_data)


@pytest.fixture
def exported(weights, onnx_export) -> Path:
    """An fp32 ONNX export of the trained student already beside `weights`: the shared one, copied (an export and
    its parity check cost about 4 s)."""
    dest = weights.with_suffix(".onnx")
    shutil.copy2(onnx_export[1].artifact, dest)
    return dest


@pytest.fixture
def ultralytics_log(monkeypatch) -> io.StringIO:
    """What Ultralytics' console handler prints, as the user sees it: it writes to the stdout it found at import, which
    neither CliRunner nor capsys replaces."""
    from ultralytics.utils import LOGGER

    out = io.StringIO()
    for handler in LOGGER.handlers:
        if type(handler) is logging.StreamHandler:  # not a test's capturing handler (a subclass) left on it
            monkeypatch.setattr(handler, "stream", out)
    return out


def leftovers(folder: Path) -> list[str]:
    """Temporary export folders that should have been cleaned up."""
    return [p.name for p in folder.iterdir() if p.name.startswith(".export-")]


def assert_within(result: ex.ExportResult, precision: str) -> None:
    tol = ex.TOLERANCES[precision]
    assert result.parity.pairs > 0
    assert result.parity.failures(tol) == []
    assert result.parity.max_box_px <= tol.box_px and result.parity.max_score <= tol.score


def test_onnx_export_matches_pytorch(onnx_export, learnable_data):
    weights, result = onnx_export
    assert result.artifact == weights.parent / "best.onnx" and result.artifact.is_file()
    assert result.parity.images == ex.SAMPLE_IMAGES and result.parity.imgsz == TRAINED_IMGSZ
    assert_within(result, "fp32")
    assert f"val images of {learnable_data}" in result.render()
    assert leftovers(weights.parent) == []
    # Real detections, not noise at conf 0.001: at Ultralytics' predict threshold both sides find the same objects
    images = ex.sample_images(ex.load_data(learnable_data))
    sure = ex.check_parity(weights, result.artifact, images, TRAINED_IMGSZ, ex.NMS_CONF, 0.1, "cpu")
    assert sure.pairs >= len(images) // 2 and sure.matched >= 0.95 and sure.max_box_px < 1.0


def test_the_nms_free_head_is_exported_and_checked_through_that_head(weights, learnable_data, monkeypatch):
    """nms=False, Ultralytics' word for YOLO26's NMS-free head, went on as None: the raw head, with nothing said. Now
    it exports that head, and PyTorch's side of the parity check predicts through it too."""
    real, calls = ex.check_parity, []
    monkeypatch.setattr(ex, "check_parity", lambda *a, **k: calls.append(k) or real(*a, **k))
    result = ex.export_model(weights, format="onnx", nms=False, data=learnable_data)
    assert ex.export_metadata(result.artifact)["end2end"] is True and calls == [{"batch": 1, "nms": False}]
    assert result.parity.pairs > 0 and result.parity.failures(ex.TOLERANCES["fp32"]) == []
    assert result.parity.conf == ex.PARITY_CONF  # its graph keeps every score: compared as low as the raw head's
    assert f"fp32 at {TRAINED_IMGSZ} px (NMS-free end2end head)" in result.render()
    # the flag is the word; exporting the default next says which kind of graph it replaced
    cli = CliRunner().invoke(app, ["export", "--weights", str(weights), "--end2end", "--data", str(learnable_data)])
    assert cli.exit_code == 0 and "NMS-free end2end head" in cli.output, cli.output
    plain = ex.export_model(weights, format="onnx", data=learnable_data)
    assert plain.kind == "" and "NMS-free end2end head" in plain.replaced


def test_the_nms_free_head_of_a_model_without_one_is_refused(tmp_path):
    """A YOLO11 head has no one2one branch: Ultralytics would quietly export the raw head."""
    weights = save_checkpoint("yolo11n.yaml", tmp_path / "best.pt")
    result = CliRunner().invoke(app, ["export", "--weights", str(weights), "nms=False"])
    assert_one_line_error(result, "exports YOLO26's NMS-free head, and", "has none", "leave it out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt"]


def test_ultralytics_log_names_the_final_paths_not_the_temp_folder(weights, ultralytics_log, monkeypatch):
    """Ultralytics' closing lines named the private export folder, deleted by then: 'yolo predict model=
    weights/.export-x/best.onnx' failed with a missing file. Relative and resolved paths both name the final ones."""
    monkeypatch.chdir(weights.parent.parent)
    result = CliRunner().invoke(app, ["export", "--weights", "weights/best.pt", "--format", "onnx", "--imgsz", "64"])
    assert result.exit_code == 0, result.output
    log = ultralytics_log.getvalue()
    assert ".export-" not in log + result.output, log
    assert "starting from 'weights/best.pt'" in log and "saved as 'weights/best.onnx'" in log
    assert log.index("saved as 'weights/best.onnx'") > log.index("Loading weights/best.onnx")  # once checked
    assert f"Results saved to \x1b[1m{weights.parent.resolve() / 'best.onnx'}\x1b[0m" in log
    hints = [line for line in log.splitlines() if line.startswith(("Predict:", "Validate:"))]
    assert len(hints) == 2 and all("model=weights/best.onnx imgsz=64" in line for line in hints), hints
    assert log.index("Predict:") < log.index("Visualize:")  # the summary is whole, and came out once
    assert Path("weights/best.onnx").is_file() and leftovers(weights.parent) == []


def test_parity_without_data_uses_the_training_data(trained_student, learnable_data, tmp_path):
    """A shapes detector finds nothing in Ultralytics' bus and zidane photos: without --data, parity runs on the
    dataset the checkpoint was trained on; with that gone, on the bundled photos, and says so."""
    import torch

    here = tmp_path / "here" / "best.pt"
    here.parent.mkdir()
    shutil.copy2(trained_student, here)
    result = ex.export_model(here, format="onnx")
    assert "(the checkpoint's training data)" in result.sample and str(learnable_data) in result.sample
    assert result.parity.images == ex.SAMPLE_IMAGES and result.parity.pairs > 0

    moved = tmp_path / "moved" / "best.pt"
    moved.parent.mkdir()
    ckpt = torch.load(trained_student, map_location="cpu", weights_only=False)
    ckpt["train_args"]["data"] = str(tmp_path / "gone" / "data.yaml")
    torch.save(ckpt, moved)
    result = ex.export_model(moved, format="onnx")
    assert result.parity.images == 2 and "bundled images" in result.sample  # bus.jpg and zidane.jpg
    assert result.parity.failures(ex.TOLERANCES["fp32"]) == []


def test_openvino_export_matches_pytorch(weights, learnable_data, ultralytics_log):
    result = ex.export_model(weights, format="openvino", data=learnable_data)
    assert result.artifact == weights.parent / "best_openvino_model"
    assert list(result.artifact.glob("*.xml")) and result.size_mb > 0
    assert result.precision == "fp32" and result.imgsz == TRAINED_IMGSZ
    assert_within(result, "fp32")  # the file, computed in f32 whatever this CPU's default
    # OpenVINO's CPU plugin runs fp32 models in bf16 where the CPU can (as on AVX512-BF16 and AMX machines): reported
    runtime = ex.runtime_precision("openvino", "fp32")
    assert result.runtime == ("" if runtime == "fp32" else runtime)
    text = result.render()
    assert str(result.artifact) in text
    log = ultralytics_log.getvalue()
    assert f"model={result.artifact}/ " in log and ".export-" not in log, log  # Predict and Validate: the folder
    if result.runtime:
        assert f"This CPU runs OpenVINO models in {runtime}" in text and result.runtime_parity.pairs > 0
        assert all(0 < m <= 1 for m in result.runtime_map) and "mAP50-95" in text
    assert leftovers(weights.parent) == []


def test_a_correct_openvino_file_is_kept_where_the_cpus_bf16_default_drifts(weights, learnable_data, monkeypatch):
    """On a bf16 CPU OpenVINO computes an fp32 file in bf16, and on dense scenes (BCCD) scores drift past any bf16
    tolerance while the file itself is exact. The file is judged computed in f32 and kept; bf16's drift and its
    mAP50-95 are reported beside it."""
    import openvino as ov

    real_check, default_core = ex.check_parity, ov.Core
    drifted = ex.Parity(images=16, conf=0.001, pairs=40, confident=50, confident_paired=40, max_box_px=10.0,
                        max_score=0.38, imgsz=TRAINED_IMGSZ)
    at_f32 = []

    def check_parity(*args, **kwargs):
        at_f32.append(ov.Core is not default_core)
        return real_check(*args, **kwargs) if at_f32[-1] else drifted  # what bf16 did to the BCCD students

    monkeypatch.setattr(ex, "runtime_precision", lambda fmt, precision: "bf16")
    monkeypatch.setattr(ex, "check_parity", check_parity)
    result = ex.export_model(weights, format="openvino", data=learnable_data)
    assert at_f32 == [True, False] and ov.Core is default_core
    assert_within(result, "fp32") and result.artifact.is_dir()
    assert result.runtime == "bf16" and result.runtime_parity is drifted
    assert drifted.failures(ex.TOLERANCES["bf16"])  # refused on the old code, which judged the run at bf16
    text = result.render()
    assert "(computed in f32)" in text and "This CPU runs OpenVINO models in bf16" in text and "0.38" in text
    assert f"{result.runtime_map[1]:.4f} against PyTorch's {result.runtime_map[0]:.4f}" in text


def test_half_onnx_export_is_fp16_within_tolerance(weights, learnable_data):
    import onnx

    result = ex.export_model(weights, format="onnx", half=True, data=learnable_data)
    assert result.precision == "fp16"
    model = onnx.load(str(result.artifact))
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer)
    assert_within(result, "fp16")


def perturbed_copy(src: Path, dest: Path, scale: float) -> Path:
    """The ONNX graph with every convolution's weights and biases scaled by (1 + scale * noise)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(src))
    conv_inputs = {name for node in model.graph.node if node.op_type == "Conv" for name in node.input[1:]}
    rng = np.random.default_rng(0)
    for init in model.graph.initializer:
        if init.name in conv_inputs:
            w = numpy_helper.to_array(init)
            noisy = w * (1 + scale * rng.standard_normal(w.shape))
            init.CopyFrom(numpy_helper.from_array(noisy.astype(w.dtype), init.name))
    onnx.save(model, str(dest))
    return dest


def test_parity_fails_for_a_perturbed_onnx(onnx_export, learnable_data, tmp_path):
    weights, artifact = onnx_export[0], onnx_export[1].artifact
    broken = perturbed_copy(artifact, tmp_path / "broken.onnx", scale=0.2)
    images = ex.sample_images(ex.load_data(learnable_data))
    good = ex.check_parity(weights, artifact, images, TRAINED_IMGSZ, ex.PARITY_CONF, 0.1, "cpu")
    bad = ex.check_parity(weights, broken, images, TRAINED_IMGSZ, ex.PARITY_CONF, 0.1, "cpu")
    assert good.failures(ex.TOLERANCES["fp32"]) == []
    failures = bad.failures(ex.TOLERANCES["fp32"])
    assert any("Δbox" in f for f in failures)
    assert bad.matched < 0.95



def test_parity_survives_an_nms_cut_short_on_a_batch(onnx_export, learnable_data, monkeypatch):
    """Ultralytics predicted the list as one batch, whose NMS stops at 2 s + 0.05 s an image: on a slow CPU at a large
    imgsz the later images came back empty on one side, and a correct export was refused as diverging. Here the
    first NMS call (the checkpoint's) keeps the first image's boxes alone, as a time-out does."""
    import ultralytics.models.yolo.detect.predict as predict

    real, calls = predict.nms.non_max_suppression, []

    def timed_out(prediction, *args, **kwargs):
        out = real(prediction, *args, **kwargs)
        calls.append(len(out))
        return out if len(calls) > 1 else [out[0]] + [o[:0] for o in out[1:]]

    monkeypatch.setattr(predict.nms, "non_max_suppression", timed_out)
    weights, artifact = onnx_export[0], onnx_export[1].artifact
    images = ex.sample_images(ex.load_data(learnable_data))
    parity = ex.check_parity(weights, artifact, images, TRAINED_IMGSZ, ex.PARITY_CONF, 0.1, "cpu")
    assert len(images) > 1 and parity.confident > 0 and parity.failures(ex.TOLERANCES["fp32"]) == []
    calls.clear()  # a static export of batch 4 runs 4 images a call, padded to 4 anyway: not one each (4x the work)
    monkeypatch.setattr(predict.nms, "non_max_suppression", lambda p, *a, **k: calls.append(
        len(p[0] if isinstance(p, (list, tuple)) else p)) or real(p, *a, **k))  # images in the call
    ex.check_parity(weights, weights, images[:6], TRAINED_IMGSZ, ex.PARITY_CONF, 0.1, "cpu", batch=4)
    assert calls == [4, 2, 4, 2]


def test_diverging_export_is_refused_and_not_saved(weights, synth_data, monkeypatch, ultralytics_log):
    diverged = ex.Parity(8, conf=0.001, pairs=10, confident=20, confident_paired=10, max_box_px=7.5, max_score=0.2)
    monkeypatch.setattr(ex, "check_parity", lambda *a, **k: diverged)
    with pytest.raises(UserError, match=r"diverges.*matched 50%.*Δbox\| 7.5 px > 1 px.*Δscore\| 0.2 > 0.01") as e:
        ex.export_model(weights, format="onnx", data=synth_data)
    assert "\n" not in str(e.value)
    assert not (weights.parent / "best.onnx").exists()
    assert leftovers(weights.parent) == []
    log = ultralytics_log.getvalue()
    # neither Ultralytics' 'saved as' line for a file that is not saved, nor a command for it
    assert "starting export with onnx" in log and "export success" not in log and "Predict:" not in log, log
    assert ".export-" not in log, log


def test_a_refused_re_export_leaves_the_earlier_export_as_it_was(weights, exported, synth_data, monkeypatch):
    earlier = exported
    before = earlier.read_bytes()
    diverged = ex.Parity(8, conf=0.001, pairs=10, confident=20, confident_paired=10, max_box_px=7.5, max_score=0.2)
    monkeypatch.setattr(ex, "check_parity", lambda *a, **k: diverged)
    with pytest.raises(UserError, match="diverges"):
        ex.export_model(weights, format="onnx", data=synth_data)
    assert earlier.read_bytes() == before and leftovers(weights.parent) == []


@pytest.mark.parametrize("when", ["put in place", "temp folder removed", "both", "the move failed"])
def test_a_ctrl_c_once_the_export_is_in_place_says_so(when, weights, exported, synth_data, monkeypatch,
                                                      python_sigint):
    """The CLI said 'Nothing was exported' for a Ctrl-C at any point, also once the new file had replaced the old;
    a second Ctrl-C as the first unwound said it again. A move that failed, and was put back, is nothing exported."""
    import yolodistill.artifacts as art

    earlier = exported
    inode = earlier.stat().st_ino
    real_replace, real_rmtree = os.replace, shutil.rmtree

    def replace(src, dst):
        if Path(dst) == earlier and when == "the move failed" and Path(src).name == earlier.name:  # not old-best
            signal.raise_signal(signal.SIGINT)  # held, then raised over the failure
            raise OSError("disk full")
        real_replace(src, dst)
        if Path(dst) == earlier and when in ("put in place", "both") and Path(src).parent != earlier.parent:
            signal.raise_signal(signal.SIGINT)

    def rmtree(path, *a, **k):
        if when in ("temp folder removed", "both") and Path(path).name.startswith(".export-"):
            signal.raise_signal(signal.SIGINT)
        real_rmtree(path, *a, **k)

    monkeypatch.setattr(art.os, "replace", replace)
    monkeypatch.setattr(art.shutil, "rmtree", rmtree)
    result = CliRunner().invoke(app, ["export", "--weights", str(weights), "--data", str(synth_data)])
    assert result.exit_code == 130, result.output
    out = " ".join(result.output.split())
    assert leftovers(weights.parent) == []  # no temp folder, whichever Ctrl-C came where
    if when == "the move failed":
        assert "Nothing was exported" in out and earlier.stat().st_ino == inode, out  # the earlier one put back
        return
    assert "was exported and in place before the stop; it replaced the earlier one (fp32" in out, out
    assert "Nothing was exported" not in out and earlier.stat().st_ino != inode  # the new file


def test_an_int8_calibration_split_only_ultralytics_refuses_is_one_line(weights, synth_data, tmp_path):
    """INT8 calibrates on --data's val images inside Ultralytics' export, whose loader refused a split of negative
    class ids with a RuntimeError traceback; without --int8 the same --data passes."""
    data = unusable_val_split(synth_data, tmp_path / "mine")
    with pytest.raises(UserError, match="No valid images found.*data convert"):
        ex.export_model(weights, format="onnx", int8=True, data=data)
    assert sorted(p.name for p in weights.parent.iterdir()) == ["best.pt"]


def test_int8_on_a_val_split_without_labels_is_refused_before_the_work(weights, synth_data, tmp_path, monkeypatch):
    """The INT8 gate scores mAP on --data's val labels: without them it refused after the export, calibration and
    validation, blaming the model ('checks nothing ... images this model finds objects in')."""
    shutil.copytree(synth_data.parent, tmp_path / "mine")
    shutil.rmtree(tmp_path / "mine" / "labels" / "val")
    data = tmp_path / "mine" / "data.yaml"
    data.write_text(yaml.safe_dump({**yaml.safe_load(data.read_text()), "path": str(tmp_path / "mine")}))
    monkeypatch.setattr(ex, "export_folder", lambda *a: pytest.fail("exported"))
    with pytest.raises(UserError, match="no image of its val split has labels, and --int8 is judged by the mAP"):
        ex.export_model(weights, format="onnx", int8=True, data=data)


def test_a_ctrl_c_that_ultralytics_swallows_still_stops_the_export(weights, exported, synth_data, monkeypatch,
                                                                    python_sigint):
    """Ultralytics' check_requirements (run as the parity check loads ONNX Runtime) is wrapped in @TryExcept, which
    swallows a Ctrl-C: export carried on, replaced the earlier export and exited 0."""
    monkeypatch.setattr(ex, "check_parity", swallowing_a_press(ex.check_parity))
    before = (exported.read_bytes(), exported.stat().st_ino)
    result = CliRunner().invoke(app, ["export", "--weights", str(weights), "--data", str(synth_data)])
    assert result.exit_code == 130 and "Interrupted. Nothing was exported" in " ".join(result.output.split()), \
        result.output
    assert (exported.read_bytes(), exported.stat().st_ino) == before and leftovers(weights.parent) == []


def test_onnx_int8_holds_int8_weights_and_gates_on_real_map(weights, exported, learnable_data, tmp_path):
    import onnx
    from ultralytics import YOLO

    fp32 = exported
    before = fp32.read_bytes()
    result = ex.export_model(weights, format="onnx", int8=True, data=learnable_data, max_drop=0.5)
    assert result.artifact == weights.parent / "best_int8.onnx" and result.precision == "int8"
    # Ultralytics deletes the fp32 .onnx beside an INT8 export; exporting in a temp folder keeps it.
    assert fp32.read_bytes() == before

    # The artifact really holds int8 weights: every convolution reads an int8 tensor through DequantizeLinear
    graph = onnx.load(str(result.artifact)).graph
    int8 = {t.name for t in graph.initializer if t.data_type == onnx.TensorProto.INT8}
    dequantized = {n.output[0] for n in graph.node if n.op_type == "DequantizeLinear" and n.input[0] in int8}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    assert convs and all(n.input[1] in dequantized for n in convs)
    assert result.artifact.stat().st_size < 0.5 * fp32.stat().st_size

    # The gate compares real numbers: both mAPs are what Ultralytics' validator gives each model on the val split
    gate = result.gate
    assert gate is not None and gate.passed and gate.fp32_map > 0.1 and gate.int8_map > 0.05
    kw = dict(data=str(learnable_data), imgsz=TRAINED_IMGSZ, batch=1, rect=False, plots=False, verbose=False,
              project=str(tmp_path))
    assert gate.fp32_map == pytest.approx(YOLO(str(weights)).val(name="fp32", **kw).box.map, abs=1e-6)
    assert gate.int8_map == pytest.approx(YOLO(str(result.artifact), task="detect").val(name="int8", **kw).box.map,
                                          abs=1e-6)
    assert gate.drop == pytest.approx(gate.fp32_map - gate.int8_map)
    assert f"drop {gate.drop:.4f}" in result.render()
    # A limit just under the real drop refuses the same numbers
    with pytest.raises(UserError, match=f"loses {gate.drop:.4f} mAP50-95"):
        ex.refuse_if_broken("onnx", "int8", result.parity, ex.Int8Gate(gate.fp32_map, gate.int8_map, gate.drop - 1e-3))


def test_int8_gate_failure_refuses_the_artifact(weights, synth_data, monkeypatch):
    monkeypatch.setattr(ex, "val_map", lambda model, *a: (0.6, 0.50) if str(model).endswith(".pt") else (0.5, 0.45))
    with pytest.raises(UserError, match=r"loses 0.0500 mAP50-95.*--max-drop 0.02"):
        ex.export_model(weights, format="onnx", int8=True, data=synth_data, max_drop=0.02)
    assert not (weights.parent / "best_int8.onnx").exists()
    assert leftovers(weights.parent) == []


def test_int8_without_data_calibrates_on_the_checkpoint_s_training_data(weights, learnable_data, tmp_path,
                                                                          monkeypatch):
    """Parity already used the checkpoint's training data without --data, while --int8 still asked for --data (bench
    takes the run's data too). Where that data is gone, --data is asked for."""
    seen = []
    monkeypatch.setattr(ex, "val_map", lambda model, data, *a: seen.append(str(data)) or (0.6, 0.50))
    result = ex.export_model(weights, format="onnx", int8=True, max_drop=0.3)
    assert seen == [str(learnable_data)] * 2 and result.gate is not None and result.artifact.name == "best_int8.onnx"
    assert result.gate.max_drop == 0.3  # the limit given, not the default
    untracked = save_checkpoint("yolo26n.yaml", tmp_path / "best.pt")  # its train_args name no data
    with pytest.raises(UserError, match=r"training data is not here \(the checkpoint names none\): pass --data D.yaml"):
        ex.export_model(untracked, format="onnx", int8=True)


def test_int8_gate_with_nms_compares_at_the_graph_s_threshold(weights, synth_data, monkeypatch):
    """An --nms graph drops every score under NMS_CONF, which costs mAP of its own: the fp32 reference is validated
    at that threshold too, or the gate blamed INT8 for what --nms costs."""
    seen = []
    monkeypatch.setattr(ex, "val_map", lambda model, *a: seen.append(a[-1]) or (0.6, 0.50))
    ex.export_model(weights, format="onnx", int8=True, nms=True, data=synth_data, max_drop=0.02)
    assert seen == [{"conf": ex.NMS_CONF}] * 2


def test_an_int8_gate_with_nothing_to_lose_refuses(weights):
    """A model that finds nothing on --data (fp32 mAP about 0) passes any drop limit: no verdict, not saved."""
    with pytest.raises(UserError, match=r"scores mAP50-95 0.0000 on the val split it was gated on, so the INT8 gate checks nothing"):
        ex.refuse_if_broken("onnx", "int8", None, ex.Int8Gate(0.0, 0.0, 0.05))


def test_batch_below_one_is_a_user_error():
    with pytest.raises(UserError, match="--batch must be at least 1, got 0"):  # worded as data pseudo-label words it
        ex.export_model("missing.pt", batch=0)


def test_weights_in_a_folder_that_refuses_writes_are_refused_before_any_work(tmp_path, monkeypatch):
    """A mount where os.access says yes to root yet writes fail: the export, which goes beside the weights, is refused
    by the write probe every output check uses, and nothing is written there."""
    import tempfile

    weights = tmp_path / "best.pt"
    weights.write_bytes(b"not read")
    real = tempfile.TemporaryFile

    def refuse(*args, dir=None, **kwargs):
        if Path(dir) == tmp_path:
            raise PermissionError(13, "Read-only file system")
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    with pytest.raises(UserError, match=f"'{tmp_path}' is not writable: copy the weights"):
        ex.export_model(weights, format="onnx")
    assert [p.name for p in tmp_path.iterdir()] == ["best.pt"]


def test_unknown_format_is_a_user_error():
    with pytest.raises(UserError, match="unknown --format 'tflite': choose onnx, openvino, engine"):
        ex.export_model("missing.pt", format="tflite")


@pytest.mark.parametrize("kwargs, message", [
    (dict(format=None), "unknown --format None"),  # AttributeError on None.lower()
    (dict(max_drop="0.1"), "--max-drop must be a number, got '0.1'"),  # TypeError in 0 <= '0.1'
    (dict(weights=None), "--weights must be the path of a file, got None"),  # TypeError in Path(None)
    (dict(simplify="no"), "simplify must be True or False, got 'no'"),  # the string's truth: simplified
    (dict(half="yes"), "half must be True or False, got 'yes'"),
    (dict(nms="no"), r"nms must be True or False \(or None\), got 'no'"),
])
def test_python_arguments_of_the_wrong_type_are_one_line(kwargs, message):
    with pytest.raises(UserError, match=message):
        ex.export_model(**{"weights": "missing.pt", **kwargs})


def test_data_that_is_no_path_is_one_line_from_python(weights):
    """export_model(w, data=123) was a TypeError in pathlib once the checkpoint had loaded."""
    with pytest.raises(UserError, match="data must be the path of a dataset .yaml, got 123: pass its path"):
        ex.export_model(weights, data=123)
    assert [p.name for p in weights.parent.iterdir()] == [weights.name]


def test_weights_under_an_apostrophe_are_refused_before_any_work(weights, tmp_path):
    """Ultralytics loads 'Bob's/best.pt' as 'Bobs/best.pt': the export then failed on a file that does not exist."""
    folder = tmp_path / "Bob's"
    folder.mkdir()
    shutil.copy2(weights, folder / "best.pt")
    with pytest.raises(UserError, match="has an apostrophe"):
        ex.export_model(folder / "best.pt", format="onnx")
    assert [p.name for p in folder.iterdir()] == ["best.pt"]


def test_an_openvino_export_under_a_folder_named_with_pt_is_refused_before_any_work(weights, tmp_path):
    """Ultralytics names the OpenVINO folder by replacing '.pt' in the whole path: under 'v1.pt models/' it wrote
    v1_openvino_model/ outside the weights' folder, and each re-export left the old one there. ONNX is unaffected."""
    folder = tmp_path / "v1.pt models"
    folder.mkdir()
    shutil.copy2(weights, folder / "best.pt")
    with pytest.raises(UserError, match="replacing each '.pt' in the weights' path"):
        ex.export_model(folder / "best.pt", format="openvino")
    assert [p.name for p in folder.iterdir()] == ["best.pt"] and sorted(p.name for p in tmp_path.iterdir()) == [
        "v1.pt models", "weights"]


def test_an_opset_above_pytorch_s_is_refused_only_where_an_onnx_graph_is_made():
    """OpenVINO converts from PyTorch and takes no opset; ONNX and TensorRT (built from an ONNX export) do."""
    from yolodistill.export import check_export_words, highest_onnx_opset

    above = {"opset": highest_onnx_opset() + 1}
    for fmt in ("onnx", "engine"):
        with pytest.raises(UserError, match=f"opset={above['opset']} is above {above['opset'] - 1}"):
            check_export_words(above, fmt)
    check_export_words(above, "openvino")
    check_export_words({"opset": highest_onnx_opset()}, "onnx")


def test_missing_and_corrupt_weights(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="does not exist"):
        ex.export_model(tmp_path / "nope.pt")
    monkeypatch.chdir(tmp_path)  # an official name is fetched as train fetches a teacher: here, offline, refused
    with pytest.raises(UserError, match="--weights 'yolo26n.pt' is not on disk and this machine is offline"):
        ex.export_model("yolo26n.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint" * 10)
    with pytest.raises(UserError, match="not a readable Ultralytics checkpoint"):
        ex.export_model(corrupt)


def test_a_cut_checkpoint_is_one_short_line_that_says_what_to_do(weights, tmp_path):
    """torch's zip reader explains itself in 300 characters, none of them what to do."""
    cut = tmp_path / "cut.pt"
    cut.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(UserError) as e:
        ex.export_model(cut)
    message = str(e.value)
    assert message.startswith(f"--weights '{cut}' is not a readable Ultralytics checkpoint (")
    assert message.endswith("): re-train or re-download it, or pass another .pt"), message
    assert len(message.replace(str(cut), "")) < 200, message


def test_data_without_val_split(weights, tmp_path):
    data = tmp_path / "noval.yaml"
    data.write_text(yaml.safe_dump({"path": str(tmp_path), "train": "images", "names": {0: "a"}}))
    with pytest.raises(UserError, match="has no val split"):
        ex.export_model(weights, data=data)


@pytest.mark.parametrize(
    "kwargs, message",
    [(dict(half=True, int8=True), "exclude each other"), (dict(max_drop=0.1), "--max-drop gates INT8 exports only"),
     (dict(imgsz=100), "--imgsz 100 is not a positive multiple of 32 .*: use 96 or 128"),
     (dict(int8=True, max_drop=-0.1), "between 0 and 1, got -0.1"), (dict(int8=True, max_drop=1.5), "got 1.5")],
)
def test_bad_option_combinations(weights, kwargs, message):
    with pytest.raises(UserError, match=message):
        ex.export_model(weights, format="onnx", **kwargs)


def test_engine_without_cuda_stops_before_export_work(weights, monkeypatch):
    import torch

    if torch.cuda.is_available() and importlib.util.find_spec("tensorrt"):
        pytest.skip("this machine can build TensorRT engines")

    def no_work(*a, **k):
        raise AssertionError("export work started")

    monkeypatch.setattr(ex, "load_model", no_work)
    monkeypatch.setattr(ex, "load_data", no_work)
    with pytest.raises(UserError, match="TensorRT") as e:
        ex.export_model(weights, format="engine", data=Path("unused.yaml"))
    assert torch.cuda.is_available() or "CUDA" in str(e.value)


def test_missing_openvino_names_the_extra(weights, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # makes `import openvino` fail as if not installed
    with pytest.raises(UserError, match=r"pip install 'yolodistill\[openvino\]'"):
        ex.export_model(weights, format="openvino")


@pytest.mark.skipif(importlib.util.find_spec("nncf") is not None, reason="nncf is installed")
def test_openvino_int8_without_nncf_names_the_package(weights, synth_data):
    with pytest.raises(UserError, match="pip install nncf"):
        ex.export_model(weights, format="openvino", int8=True, data=synth_data)


def test_cli_export_prints_artifact_and_parity(weights, synth_data, tmp_path):
    """The artifact's path is printed whole on one line, however long, for the user to copy: rich broke it at 80
    columns, inside the file name when the folder's length fell so, and took '[exp]' in it for markup."""
    deep = tmp_path / ("a-folder-with-a-long-name-" * 3) / "[exp]" / "weights"
    deep.mkdir(parents=True)
    shutil.copy(weights, deep / "best.pt")
    args = ["export", "--weights", str(deep / "best.pt"), "--format", "onnx", "--data", str(synth_data)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"{deep / 'best.onnx'} (" in result.output and "MB)" in result.output
    assert "Parity with PyTorch" in result.output
    assert (deep / "best.onnx").is_file()


@pytest.mark.parametrize("cfg, task, recorded", [("yolo26n-cls.yaml", "classify", True),
                                                  ("yolo26n-seg.yaml", "segment", False)])
def test_a_checkpoint_of_another_task_is_refused_before_any_work(cfg, task, recorded, tmp_path):
    """Also when its train_args do not say its task: YOLO(task="detect") then took it for a detector."""
    other = save_checkpoint(cfg, tmp_path / "other.pt", task_recorded=recorded)
    result = CliRunner().invoke(app, ["export", "--weights", str(other), "--format", "onnx"])
    assert_one_line_error(result, f"--weights '{other}' is a {task} model: yolodistill distills detection models")
    assert [p.name for p in tmp_path.iterdir()] == ["other.pt"]


def test_second_export_says_which_export_it_replaced(weights, synth_data):
    """Ultralytics' name (best.onnx beside best.pt) is kept, so a re-export replaces the first: never silently."""
    args = ["export", "--weights", str(weights), "--format", "onnx", "--data", str(synth_data)]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "Replaced" not in first.output
    onnx = weights.parent / "best.onnx"
    second = CliRunner().invoke(app, [*args, "--imgsz", "64"])
    assert second.exit_code == 0, second.output
    flat = "".join(second.output.split())  # the console wraps long lines, a long path at any '/'
    assert "".join(f"Replaced the earlier {onnx} (fp32, {TRAINED_IMGSZ} px,".split()) in flat, flat
    assert "exportagainwithitssettingstorebuildit" in flat, flat  # of these weights
    assert ex.export_metadata(onnx)["imgsz"] == [64, 64]  # the new one is in place
    assert leftovers(weights.parent) == []


def test_an_export_of_other_weights_under_the_name_is_said_to_be_so(onnx_export, synth_data, tmp_path):
    """train --exist-ok leaves the old run's best.onnx beside the new best.pt: replaced, it was said to be rebuilt by
    exporting again, which these weights cannot do."""
    weights = save_checkpoint("yolo26n.yaml", tmp_path / "best.pt")  # not the trained student the export is of
    shutil.copy2(onnx_export[1].artifact, tmp_path / "best.onnx")
    result = CliRunner().invoke(app, ["export", "--weights", str(weights), "--format", "onnx", "--data", str(synth_data),
                                      "--imgsz", "64"])
    assert result.exit_code == 0, result.output
    flat = "".join(result.output.split())
    assert "".join(f"Replaced the earlier {tmp_path / 'best.onnx'} (fp32, {TRAINED_IMGSZ} px,".split()) in flat, flat
    assert "itwasanexportofotherweights,whichexportingthesecannotrebuild" in flat and "rebuildit" not in flat, flat



def test_an_export_made_before_its_weights_were_written_says_it_may_not_be_rebuilt(onnx_export, weights, synth_data):
    """The same model on the same data trained again (train --exist-ok) describes the export alike: its date tells."""
    import os

    shutil.copy2(onnx_export[1].artifact, weights.with_suffix(".onnx"))
    later = ex.export_metadata(weights.with_suffix(".onnx"))["date"]
    import datetime

    written = datetime.datetime.fromisoformat(later).timestamp() + 60  # best.pt written a minute after the export
    os.utime(weights, (written, written))
    result = CliRunner().invoke(app, ["export", "--weights", str(weights), "--format", "onnx", "--data", str(synth_data),
                                      "--imgsz", "64"])
    assert result.exit_code == 0, result.output
    flat = "".join(result.output.split())
    assert "itwasmadebeforetheseweightswerewritten" in flat and "maynotrebuildit" in flat, flat


def test_sigterm_mid_export_cleans_up_as_ctrl_c_does(weights, synth_data):
    """kill, timeout or a job scheduler's stop ended export without a word, its temporary folder (a copy of the
    weights and a part of the export) left beside the weights for good."""
    import subprocess
    import textwrap

    from .conftest import PYTHON

    code = textwrap.dedent(f"""
        import signal, sys
        import yolodistill.export as ex
        ex.check_parity = lambda *a, **k: signal.raise_signal(signal.SIGTERM)
        from yolodistill.cli import app
        sys.argv = ["yolodistill", "export", "--weights", {str(weights)!r}, "--format", "onnx", "--data",
                    {str(synth_data)!r}]
        app()
    """)
    proc = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 130 and "Interrupted. Nothing was exported" in " ".join(proc.stderr.split()), proc
    assert sorted(p.name for p in weights.parent.iterdir()) == ["best.pt"]


def test_a_file_of_the_users_under_the_exports_name_is_kept(weights, synth_data):
    """A best.onnx that is not an export cannot be rebuilt by exporting again: refused before exporting, kept."""
    mine = weights.parent / "best.onnx"
    mine.write_text("my file")
    result = CliRunner().invoke(app, ["export", "--weights", str(weights), "--format", "onnx", "--data",
                                      str(synth_data)])
    assert_one_line_error(result, f"'{mine}' exists and is not an Ultralytics export", "move the file")
    assert mine.read_text() == "my file" and leftovers(weights.parent) == []


@pytest.mark.parametrize("fmt, hint", [
    ("onnx", "Try --no-simplify, another format"),
    ("openvino", "Try another format"),  # --no-simplify is an ONNX option
])
def test_a_diverging_export_gets_the_fix_that_applies(fmt, hint):
    from yolodistill.parity import Parity

    broken = Parity(images=4, conf=0.25, pairs=10, confident=10, confident_paired=5, max_box_px=30.0, max_score=0.4,
                    imgsz=64)
    with pytest.raises(UserError) as e:
        ex.refuse_if_broken(fmt, "fp32", broken, None)
    assert hint in str(e.value) and "\n" not in str(e.value)


def test_ultralytics_export_words_go_as_key_value(weights, synth_data):
    """opset= as key=value, as Ultralytics users write it (the old command refused any extra word, click's box)."""
    import onnx

    result = CliRunner().invoke(app, ["export", "--weights", str(weights), "--data", str(synth_data), "opset=12"])
    assert result.exit_code == 0, result.output
    model = onnx.load(weights.parent / "best.onnx")
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [12]


def test_the_command_s_own_options_go_as_key_value_too(weights, synth_data):
    """imgsz=96 is --imgsz 96, as in train and in Ultralytics' own export: it was a TypeError traceback."""
    import onnx

    result = CliRunner().invoke(app, ["export", "--weights", str(weights), "--data", str(synth_data), "imgsz=96",
                                      "format=onnx"])
    assert result.exit_code == 0, result.output
    dims = onnx.load(weights.parent / "best.onnx").graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims][2:] == [96, 96]


@pytest.mark.parametrize("args, needle", [
    (["--imgsz", "64", "imgsz=96"], "imgsz is given twice (--imgsz 64 and imgsz=96): keep one"),
    (["imgsz=abc"], "imgsz=abc: "),
    (["half=maybe"], "half=maybe: "),
    (["simplify="], "simplify= needs a value: write simplify=VALUE, or leave the word out for the default"),
    (["device="], "device= needs a value: write device=VALUE"),  # no default to fall back on: it was taken as unset
    (["simplify=none"], "simplify= needs a value (see yolodistill export --help)"),  # none is no value either
    (["--no-simplify", "simplify=False"], "simplify is given twice (--no-simplify and simplify=False): keep one"),
    (["data=2024-01-01"], "--data '2024-01-01' should be a .yaml or .yml file"),  # a path, not a date
])
def test_an_own_option_given_badly_as_key_value_is_one_line(weights, args, needle):
    result = CliRunner().invoke(app, ["export", "--weights", str(weights), *args])
    assert_one_line_error(result, needle)
    assert sorted(p.name for p in weights.parent.iterdir()) == ["best.pt"]


@pytest.mark.parametrize("word, needle", [
    ("lr0=0.1", "export has no setting lr0=: it takes its options (imgsz=320 or --imgsz 320) and Ultralytics' "
                "opset=, workspace=, fraction="),
    ("opset=abc", "'opset' must be an int"),
    ("opset", "'opset' is not a key=value override: Ultralytics' opset="),
    ("opset=999", "opset=999 is above "),  # was a traceback from deep in PyTorch's exporter
    ("end2end=True", "end2end= is no setting: --end2end is nms=False"),  # export_model(end2end=True) was 'no setting'
    ("quantize=8", "quantize=8 is Ultralytics' spelling: here --int8 exports INT8"),  # 8.4's own: 'no setting'
    ("fraction=0.5", "fraction=0.5 is the share of --data's images INT8 calibrates on: add --int8"),  # was taken
])
def test_other_words_are_one_line(weights, word, needle):
    result = CliRunner().invoke(app, ["export", "--weights", str(weights), word])
    assert_one_line_error(result, needle)
    assert leftovers(weights.parent) == [] and not (weights.parent / "best.onnx").exists()


def test_data_with_other_classes_is_refused_before_exporting(weights, tmp_path):
    """Parity and the INT8 gate score the model on --data's labels: another class list would gate on nonsense."""
    from yolodistill.data import make_synthetic

    other = make_synthetic(tmp_path / "five", images=8, classes=5, imgsz=64, seed=0)
    result = CliRunner().invoke(app, ["export", "--weights", str(weights), "--data", str(other), "--int8"])
    assert_one_line_error(result, "has 3 classes but the data has 5", "pass the --data it was trained on")
    assert sorted(p.name for p in weights.parent.iterdir()) == ["best.pt"]


def test_an_export_that_compared_nothing_is_not_saved():
    """No detections on either side (an --nms graph drops scores below 0.25): the artifact would ship unchecked."""
    from yolodistill.parity import Parity

    empty = Parity(images=8, conf=ex.NMS_CONF, pairs=0, confident=0, confident_paired=0, max_box_px=None,
                   max_score=None, imgsz=64)
    with pytest.raises(UserError, match=r"nothing to compare.*unchecked; not saved.*--nms graph keeps only scores"):
        ex.refuse_if_broken("onnx", "fp32", empty, None)
    ex.refuse_if_broken("onnx", "int8", empty, ex.Int8Gate(0.5, 0.49, 0.02))  # INT8 ships on its measured mAP


def test_files_of_the_users_inside_an_openvino_export_are_kept(weights):
    """An OpenVINO export is a folder, replaced whole: a file the user put there would go with it."""
    folder = weights.parent / "best_openvino_model"
    folder.mkdir()
    (folder / "metadata.yaml").write_text(yaml.safe_dump({"author": "Ultralytics", "task": "detect", "imgsz": [64, 64],
                                                          "args": {}}))
    (folder / "best.xml").write_text("<net/>")
    (folder / "notes.txt").write_text("mine")
    result = CliRunner().invoke(app, ["export", "--weights", str(weights), "--format", "openvino"])
    assert_one_line_error(result, "holds notes.txt, not written by the export", "move them out first")
    assert (folder / "notes.txt").read_text() == "mine" and leftovers(weights.parent) == []
    (folder / "notes.txt").unlink()
    ex.check_replaceable(folder, "best")  # the export's own files alone: replaceable
    own = weights.parent / "best_int8_openvino_model"  # fp32 export of weights named best_int8.pt: not INT8's suffix
    own.mkdir()
    for name in ("metadata.yaml", "best_int8.xml", "best_int8.bin"):
        shutil.copy2(folder / "metadata.yaml", own / name)
    ex.check_replaceable(own, "best_int8")


def test_a_weights_url_is_fetched_as_typed(tmp_path, monkeypatch):
    """--weights was a Path, which folds 'https://' to 'https:/': every URL failed with 'no host given'."""
    import ultralytics  # noqa: F401 (its first import may print a settings notice, which is not the command's)

    monkeypatch.chdir(tmp_path)
    url = "http://127.0.0.1:9/w.pt"  # nothing listens there: the download fails, naming the URL as typed
    assert_one_line_error(CliRunner().invoke(app, ["export", "--weights", url]), f"--weights URL '{url}' could not "
                          "be downloaded")


def test_max_drop_may_be_zero_or_one():
    """--max-drop is an mAP50-95 difference 'between 0 and 1': both ends are limits a user may mean (0: no loss)."""
    for max_drop in (0.0, 1.0):
        ex.validate_options("onnx", False, True, 1, max_drop)
    for max_drop in (-1e-6, 1 + 1e-6):
        with pytest.raises(UserError, match="between 0 and 1"):
            ex.validate_options("onnx", False, True, 1, max_drop)


def test_the_int8_gate_needs_an_fp32_map_of_min_gate_map():
    """The 'checks nothing' refusal is about the fp32 reference below MIN_GATE_MAP, not about a lossy INT8 file: an
    INT8 file that lost everything against a good fp32 model is a drop, said as one."""
    tiny = ex.MIN_GATE_MAP / 2
    with pytest.raises(UserError, match="the INT8 gate checks nothing"):
        ex.refuse_if_broken("onnx", "int8", None, ex.Int8Gate(tiny, tiny, 0.02))
    with pytest.raises(UserError, match=r"loses 0.5000 mAP50-95 against fp32 \(0.5000 -> 0.0000\)"):
        ex.refuse_if_broken("onnx", "int8", None, ex.Int8Gate(0.5, 0.0, 0.02))
    ex.refuse_if_broken("onnx", "int8", None, ex.Int8Gate(ex.MIN_GATE_MAP, ex.MIN_GATE_MAP, 0.02))  # at it: judged


def test_the_format_is_read_in_any_case(tmp_path):
    """--format ONNX is onnx, as Ultralytics takes it: it gets past the format check to the weights."""
    with pytest.raises(UserError, match="does not exist"):
        ex.export_model(tmp_path / "nope.pt", format="ONNX")


def test_only_nms_false_asks_for_the_nms_free_head(tmp_path, monkeypatch):
    """A YOLO11 head has no NMS-free branch, which only nms=False (--end2end) needs: the raw and --nms exports of it
    go on to the parity data."""
    weights = save_checkpoint("yolo11n.yaml", tmp_path / "best.pt")

    class Reached(Exception):
        pass

    def reached(*a):
        raise Reached

    monkeypatch.setattr(ex, "parity_data", reached)
    for nms in (None, True):
        with pytest.raises(Reached):
            ex.export_model(weights, format="onnx", nms=nms)
    with pytest.raises(UserError, match="has none"):
        ex.export_model(weights, format="onnx", nms=False)


def test_a_data_yaml_that_cannot_be_checked_on_says_what_is_wrong(tmp_path, monkeypatch):
    """Each way --data fails gets its own fix: a bare name is not fetched, an empty val is no split, a val folder
    that is not there points at path:/val:, and an empty one has no images to compare on."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="'coco8.yaml' is not a file here: .* pass its path"):
        ex.load_data("coco8.yaml")

    def data(name: str, val: str) -> Path:
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"path": str(tmp_path), "train": "images/val", "val": val, "names": {0: "a"}}))
        return path

    with pytest.raises(UserError, match="has no val split"):
        ex.load_data(data("blank", ""))
    for name, text, kind in (("list", "- images/train\n- images/val\n", "a list"), ("empty", "", "empty")):
        (tmp_path / f"{name}.yaml").write_text(text)  # 'add a val: entry' to a list made it invalid YAML
        with pytest.raises(UserError, match=rf"is not a data yaml \({kind}\): a data yaml is a mapping with"):
            ex.load_data(tmp_path / f"{name}.yaml")
    with pytest.raises(UserError, match="not a usable dataset: .*fix its 'path:' and 'val:'"):
        ex.load_data(data("gone", "images/val"))
    (tmp_path / "images" / "val").mkdir(parents=True)
    with pytest.raises(UserError, match=rf"the val split has no images \({re.escape(str(tmp_path / 'images' / 'val'))}"
                                        r"\): put images there, or point 'val:' at a folder of them$"):
        ex.load_data(data("empty", "images/val"))  # said neither where it looked nor what to do


def test_unusable_training_data_falls_back_to_the_bundled_images(tmp_path):
    """Without --data, a training yaml that is there but unusable (no val split) is skipped, not an error: parity
    runs on Ultralytics' bundled photos and says so."""
    model = ex.load_model(save_checkpoint("yolo26n.yaml", tmp_path / "best.pt"))
    bad = tmp_path / "data.yaml"
    bad.write_text(yaml.safe_dump({"train": "images", "names": {0: "a"}}))
    model.ckpt["train_args"]["data"] = str(bad)
    dataset, sample, data = ex.parity_data(model, None)
    assert dataset is None and data is None and "bundled images" in sample


def test_the_export_size_is_the_checkpoint_s_train_size_or_640(tmp_path):
    """No --imgsz: the size it was trained at (64 here), else Ultralytics' 640. --imgsz 0 is refused, not taken as
    unset."""
    model = ex.load_model(save_checkpoint("yolo26n.yaml", tmp_path / "best.pt"))
    assert ex.checkpoint_imgsz(model, None) == 64 and ex.checkpoint_imgsz(model, 96) == 96
    with pytest.raises(UserError, match="--imgsz 0"):
        ex.checkpoint_imgsz(model, 0)
    del model.model.args["imgsz"]
    assert ex.checkpoint_imgsz(model, None) == 640


def test_an_engine_is_built_on_gpu_0_unless_told(tmp_path, monkeypatch):
    """TensorRT refuses cpu: without --device an engine export asks for GPU 0, the others run on the CPU."""
    weights = tmp_path / "best.pt"
    weights.write_bytes(b"not read")
    seen = []

    def check_runtime(fmt, device, int8):
        if device is None:  # an engine's first check, before --device's: no GPU here is said first
            return
        seen.append((fmt, device))
        raise UserError("stop")

    monkeypatch.setattr(ex, "check_runtime", check_runtime)
    for fmt in ("engine", "onnx"):
        with pytest.raises(UserError, match="stop"):
            ex.export_model(weights, format=fmt)
    assert seen == [("engine", "0"), ("onnx", "cpu")]


def test_a_file_of_the_users_is_refused_before_any_export_work(tmp_path, monkeypatch):
    """The refusal comes before Ultralytics exports anything (seconds to minutes, INT8 calibration), not at install."""
    weights = save_checkpoint("yolo26n.yaml", tmp_path / "best.pt")
    (tmp_path / "best.onnx").write_text("my file")

    def no_work(*a, **k):
        raise AssertionError("export work started")

    monkeypatch.setattr(ex, "export_folder", no_work)
    with pytest.raises(UserError, match="exists and is not an Ultralytics export"):
        ex.export_model(weights, format="onnx")


def test_a_bf16_cpu_without_data_reports_parity_but_no_map(tmp_path, monkeypatch):
    """Parity on the bundled photos has no labels: the bf16 runtime's mAP50-95 needs --data, and is left out (the
    render asks for it) rather than validated on no dataset."""
    weights = save_checkpoint("yolo26n.yaml", tmp_path / "best.pt")
    parity = ex.Parity(images=2, conf=ex.PARITY_CONF, pairs=5, confident=10, confident_paired=10, max_box_px=0.0,
                       max_score=0.0, imgsz=64)
    monkeypatch.setattr(ex, "runtime_precision", lambda fmt, precision: "bf16")
    monkeypatch.setattr(ex, "check_parity", lambda *a, **k: parity)
    monkeypatch.setattr(ex, "map_pair", lambda *a, **k: pytest.fail("mAP measured without a dataset"))
    result = ex.export_model(weights, format="onnx")
    assert result.runtime == "bf16" and result.runtime_parity is parity and result.runtime_map is None
    assert "(pass --data for its mAP50-95)" in result.render()


def test_the_export_of_a_mid_run_checkpoint_is_known_as_its_own(mid_training, synth_data, tmp_path):
    """A last.pt saved mid-run exports its student, whose args are the trainer's namespace, so Ultralytics' description
    names no data; the .pt side named it, so a second export said the first was 'of other weights', and bench left
    the export's parameters and GFLOPs out."""
    from yolodistill.artifacts import describes, export_metadata

    pt = Path(shutil.copy2(mid_training, tmp_path / "last.pt"))
    result = ex.export_model(pt, format="onnx", data=synth_data)
    assert describes(export_metadata(result.artifact), pt) and ex.export_origin(result.artifact, pt) == ""


def test_a_grey_model_on_colour_data_and_a_name_with_no_room_to_move_aside_are_refused_first(synth_data, tmp_path):
    """Both failed after the export and its parity check: Ultralytics' RuntimeError in the mAP steps, and the move of
    an earlier export aside as old-NAME, 4 bytes past the 255 a name may hold."""
    grey = save_checkpoint("yolo11n.yaml", tmp_path / "grey.pt", ch=1)
    with pytest.raises(UserError, match=r"--weights '.*grey.pt' takes 1-channel images and the data's are 3-channel"):
        ex.export_model(grey, format="onnx", data=synth_data)
    (quoted := tmp_path / "q" / "quoted.yaml").parent.mkdir()  # channels: "1" was taken here and by bench, refused
    quoted.write_text(synth_data.read_text() + 'channels: "1"\n')  # by train
    with pytest.raises(UserError, match=r"^--data '.*quoted.yaml': channels: '1' should be the images' channel count"):
        ex.export_model(grey, format="onnx", data=quoted)
    long = save_checkpoint("yolo26n.yaml", tmp_path / ("w" * 248 + ".pt"))
    with pytest.raises(UserError, match=r"names its export w+\.onnx \(253 bytes\), and an earlier one is moved aside "
                                        r"under a name 4 bytes longer"):
        ex.export_model(long, format="onnx", data=synth_data)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["grey.pt", "q", long.name])  # nothing exported
