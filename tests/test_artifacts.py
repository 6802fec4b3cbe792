"""Export files beside the weights: Ultralytics' names for them, and its log rewritten from the private export folder
to where the files end up."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from pathlib import Path

import pytest

from yolodistill import artifacts as art
from yolodistill.errors import UserError

from .conftest import logged_by_ultralytics


@pytest.mark.parametrize("stem", ["best", "my model (1)"])
def test_temp_paths_of_a_tensorrt_export(tmp_path, stem):
    """TensorRT exports through an ONNX file that is deleted with the folder: said so, never named beside the weights.
    The summary waits for the artifact. A name with spaces ('best (1).pt', a browser's download) was cut at the
    first: 'my (temporary) model.onnx', and its saved line let through for an export then refused."""
    weights = tmp_path / "w" / f"{stem}.pt"
    tmp = weights.parent / ".export-abc"
    paths = art.TempPaths(tmp, weights, f"{stem}.engine")

    def log(msg: str) -> tuple[bool, str]:
        record = logging.LogRecord("ultralytics", logging.INFO, __file__, 1, msg, (), None)
        return paths.filter(record), record.getMessage()

    assert log(f"ONNX: export success, saved as '{tmp / f'{stem}.onnx'}' (9.1 MB)") == (
        True, f"ONNX: export success, saved as '{stem}.onnx (temporary)' (9.1 MB)")
    assert log(f"TensorRT: export success, saved as '{tmp / f'{stem}.engine'}' (5.0 MB)") == (  # the parity check may
        False, f"TensorRT: export success, saved as '{weights.parent / f'{stem}.engine'}' (5.0 MB)")  # refuse it: held
    assert log(f"TensorRT: building FP16 engine as {tmp / f'{stem}.engine'}") == (
        True, f"TensorRT: building FP16 engine as {weights.parent / f'{stem}.engine'}")
    assert log(f"PyTorch: starting from '{tmp / f'{stem}.pt'}'") == (True, f"PyTorch: starting from '{weights}'")
    engine = f"{stem}.engine"
    assert log(f"\nExport complete (1s)\nResults saved to {tmp.resolve()}\nPredict: model={tmp / engine}") == (
        False, f"\nExport complete (1s)\nResults saved to {weights.parent.resolve()}\nPredict: model="
               f"{weights.parent / f'{stem}.engine'}")
    assert len(paths.held) == 2  # logged by export_folder once the block ends without an error


def test_the_name_checked_before_exporting_is_ultralytics_name(tmp_path):
    """An INT8 ONNX export is best_int8.onnx (Ultralytics' exporter): a user's best.onnx does not stop it, a user's
    best_int8.onnx does, before the export and its calibration run."""
    weights = tmp_path / "best.pt"
    names = {(fmt, p): art.artifact_name(weights, fmt, p) for fmt in ("onnx", "openvino", "engine")
             for p in ("fp32", "fp16", "int8")}
    assert names[("onnx", "int8")] == "best_int8.onnx" and names[("onnx", "fp16")] == "best.onnx"
    assert names[("openvino", "int8")] == "best_int8_openvino_model" and names[("openvino", "fp32")] == "best_openvino_model"
    assert {names[("engine", p)] for p in ("fp32", "fp16", "int8")} == {"best.engine"}



def onnx_file(path: Path, **meta: str) -> Path:
    """A tiny real ONNX file with `meta` as its metadata_props, which Ultralytics writes as text."""
    import onnx
    from onnx import TensorProto, helper

    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1]) for n in "xy"]
    model = helper.make_model(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", io[:1], io[1:]))
    helper.set_model_props(model, meta)
    onnx.save(model, path)
    return path


def openvino_folder(path: Path, stem: str = "best", *extra: str) -> Path:
    """An OpenVINO export's folder as Ultralytics writes it (metadata.yaml, model xml and bin), plus `extra` files."""
    path.mkdir(parents=True)
    (path / "metadata.yaml").write_text("author: Ultralytics\ntask: detect\nimgsz: [64, 64]\nbatch: 1\nargs: {nms: false}\n")
    for name in (f"{stem}.xml", f"{stem}.bin", *extra):
        (path / name).write_text(name)
    return path


def test_metadata_an_onnx_file_holds_as_text_is_read_typed(tmp_path):
    """ONNX keeps metadata as strings: 'True' must read as True, or an end2end graph reads as a raw one; a value that
    does not parse is left out rather than passed on as text."""
    meta = art.export_metadata(onnx_file(tmp_path / "best.onnx", task="detect", imgsz="[96, 128]", batch="2",
                                         end2end="True", args="{'nms': False, 'dynamic': False}"))
    assert (meta["imgsz"], meta["batch"], meta["end2end"], meta["args"]) == ([96, 128], 2, True, {"nms": False,
                                                                                                   "dynamic": False})
    assert art.graph_head(meta) == "end2end" and art.graph_kind(meta) == "NMS-free end2end head, batch 2"
    broken = art.export_metadata(onnx_file(tmp_path / "b.onnx", task="detect", imgsz="[96,", end2end="yes please"))
    assert broken == {"task": "detect"}


def test_graph_kind_names_only_what_differs_from_ultralytics_default():
    """One image, raw outputs: nothing to say. Dynamic shapes say so, and a batch above one otherwise."""
    assert art.graph_kind({"batch": 1, "args": {"nms": False}}) == ""
    assert art.graph_kind({"batch": 4, "args": {"dynamic": True}}) == "dynamic"  # its batch is only the largest
    assert art.graph_kind({"batch": 2, "args": {"nms": True}}) == "NMS inside (scores above 0.25), batch 2"


def test_describe_export_gives_precision_and_largest_side(tmp_path):
    """The line that says an export is being replaced names what it was: int8 or fp16 from `quantize`, else fp32."""
    for quantize, word in ((8, "int8"), (16, "fp16"), (None, "fp32")):
        path = onnx_file(tmp_path / f"{word}.onnx", imgsz="[96, 128]", args=str({"quantize": quantize}))
        assert art.describe_export(path).startswith(f"{word}, 128 px, 0.0 MB, written ")


def test_only_an_ultralytics_export_and_its_own_files_are_replaceable(tmp_path):
    """A user's file or folder under the export's name is kept, and so are files a user put in an OpenVINO folder
    (named, three at most)."""
    (tmp_path / "best.onnx").write_bytes(b"mine")
    (tmp_path / "best_openvino_model").mkdir()
    (tmp_path / "best_openvino_model" / "best.xml").write_text("<net/>")  # no metadata.yaml: not an export
    onnx_file(tmp_path / "theirs.onnx", author="me", task="detect")  # another tool's metadata: was replaced
    for name in ("best.onnx", "best_openvino_model", "theirs.onnx"):
        with pytest.raises(UserError, match="is not an Ultralytics export"):
            art.check_replaceable(tmp_path / name, "best")
    art.check_replaceable(openvino_folder(tmp_path / "a" / "best_openvino_model"), "best")
    art.check_replaceable(tmp_path / "absent.onnx", "best")
    with pytest.raises(UserError, match=r"holds a.txt, best_int8.bin, c.txt, not written by the export"):
        art.check_replaceable(openvino_folder(tmp_path / "b" / "x", "best", "a.txt", "best_int8.bin", "c.txt"), "best")
    with pytest.raises(UserError, match=r"holds a.txt, b.txt, c.txt \.\.\., not written"):
        art.check_replaceable(openvino_folder(tmp_path / "c" / "x", "best", "a.txt", "b.txt", "c.txt", "d.txt"), "best")


def test_install_replaces_an_openvino_folder_whole_and_says_what_it_was(tmp_path):
    """A folder cannot be renamed over a full folder: the old export moves out first, and is described."""
    dest = openvino_folder(tmp_path / "weights" / "best_openvino_model").parent
    new = openvino_folder(tmp_path / "weights" / ".export-x" / "best_openvino_model")
    (new / "best.bin").write_text("new weights")
    final, replaced = art.install(new, dest, "best")
    assert final == dest / "best_openvino_model" and (final / "best.bin").read_text() == "new weights"
    assert replaced.startswith("fp32, 64 px, 0.0 MB, written ")
    _, said = art.install(openvino_folder(tmp_path / "other" / ".export-y" / "best_openvino_model"),
                              tmp_path / "other", "best")
    assert said == ""  # nothing was there


def test_a_failed_or_interrupted_move_puts_the_earlier_export_back(tmp_path, monkeypatch):
    """Nothing beside the weights changes when the new file cannot be moved in: the old one returns, and a Ctrl-C
    during that move is a plain interrupt (not 'exported and in place')."""
    dest = tmp_path / "weights"
    (dest / ".export-x").mkdir(parents=True)
    earlier = onnx_file(dest / "best.onnx", author="Ultralytics", task="detect")
    before = earlier.read_bytes()
    real = os.replace

    for error in (OSError("disk full"), KeyboardInterrupt()):
        new = onnx_file(dest / ".export-x" / "best.onnx", task="detect", batch="2")

        def replace(src, dst, error=error, new=new):
            if Path(src) == new:
                raise error
            real(src, dst)

        monkeypatch.setattr(art.os, "replace", replace)
        with pytest.raises(type(error)) as e:
            art.install(new, dest, "best")
        assert not isinstance(e.value, art.InPlace) and earlier.read_bytes() == before


def test_a_ctrl_c_during_the_move_waits_and_then_says_the_export_is_in_place(tmp_path, monkeypatch, python_sigint):
    """The CLI says 'Nothing was exported' for a Ctrl-C unless told otherwise: one held until the new export is in
    place must say it is, and what it replaced."""
    dest = tmp_path / "weights"
    (dest / ".export-x").mkdir(parents=True)
    onnx_file(dest / "best.onnx", author="Ultralytics", task="detect")
    new = onnx_file(dest / ".export-x" / "best.onnx", task="detect", batch="2")
    real = os.replace

    def replace(src, dst):
        real(src, dst)
        if Path(src) == new:
            signal.raise_signal(signal.SIGINT)  # held until the move is done

    monkeypatch.setattr(art.os, "replace", replace)
    with pytest.raises(art.InPlace, match=r"best.onnx was exported and in place before the stop; it replaced the "
                                          r"earlier one \(fp32, "):
        art.install(new, dest, "best")
    assert art.export_metadata(dest / "best.onnx")["batch"] == 2


def test_in_place_is_found_under_a_second_interrupt():
    """A second Ctrl-C while the first unwinds must not hide that the export was in place."""
    try:
        try:
            raise art.InPlace(Path("best.onnx"), "")
        except KeyboardInterrupt:
            raise KeyboardInterrupt from None  # `from None` sets __cause__, not __context__
    except KeyboardInterrupt as e:
        assert isinstance(art.InPlace.among(e), art.InPlace)
        assert art.InPlace.among(KeyboardInterrupt()) is None


def test_temp_paths_rewrite_resolved_and_unresolved_forms_to_their_own(tmp_path):
    """Beside weights reached through a symlink, 'Results saved to' names the resolved folder and the rest the typed
    one: each is rewritten to the same form of the final folder."""
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    weights = tmp_path / "link" / "best.pt"
    tmp = weights.parent / ".export-abc"
    tmp.mkdir()
    paths = art.TempPaths(tmp, weights, "best.onnx")
    record = logging.LogRecord("ultralytics", logging.INFO, __file__, 1,
                               f"Results saved to {tmp.resolve()}\nPredict: model={tmp / 'best.onnx'}", (), None)
    assert paths.filter(record) is False
    assert record.getMessage() == (f"Results saved to {tmp_path / 'real'}\nPredict: model="
                                   f"{tmp_path / 'link' / 'best.onnx'}")


@pytest.mark.timeout(60)  # a filter left on replays the held records into itself for ever
def test_export_folder_logs_the_saved_line_only_after_a_clean_end(tmp_path):
    """'export success ... saved as' waits for the end of the block and is dropped if it raises (a refused artifact is
    not saved); the private folder is gone either way, and the log is no longer filtered."""
    from ultralytics.utils import LOGGER

    weights = tmp_path / "best.pt"
    for fail in (False, True):
        with logged_by_ultralytics() as logged, contextlib.suppress(RuntimeError):
            with art.export_folder(weights, "best.onnx") as tmp:
                assert tmp.parent == tmp_path and tmp.name.startswith(".export-")
                LOGGER.info(f"ONNX: export success, saved as '{tmp / 'best.onnx'}'")
                assert logged == []
                if fail:
                    raise RuntimeError("parity refused it")
        assert logged == ([] if fail else [f"ONNX: export success, saved as '{tmp_path / 'best.onnx'}'"])
        assert not tmp.exists() and not any(isinstance(f, art.TempPaths) for f in LOGGER.filters)


def test_an_export_killed_earlier_leaves_no_stage_behind_the_next(tmp_path):
    """kill -9 during export left a hidden .export-XXXX folder (a copy of the weights, a half artifact) for good, one
    more at each kill. A running export's stays, though its process is not one this machine's ids can see (another
    container's), as does one made a moment ago or by an older version."""
    weights = tmp_path / "best.pt"
    weights.write_bytes(b"pt")
    killed, running, fresh, older = (tmp_path / f".export-{n}" for n in ("k8crr", "run1", "new1", "old1"))
    for stage in (killed, running, fresh, older):
        stage.mkdir()
        (stage / "best.onnx").write_bytes(b"half")
        if stage is not older:
            (stage / art.OWNER).touch()
    held = art.hold(running / art.OWNER)  # another open file: as another process's lock
    for stage in (killed, running, older):
        os.utime(stage, (0, 0))
    try:
        with art.export_folder(weights, "best.onnx") as tmp:
            assert (tmp / art.OWNER).is_file() and art.hold(tmp / art.OWNER) is None  # held while it runs
    finally:
        held.close()
    assert not killed.exists() and all(p.is_dir() for p in (running, fresh, older)) and not tmp.exists()
