"""The models a user names: a student built from its yaml, a teacher fetched from the URL they typed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from yolodistill.checks import preflight
from yolodistill.config import resolve
from yolodistill.errors import UserError
from yolodistill.loading import build_student, load_detector


@pytest.fixture
def served(tmp_path):
    """A folder served over HTTP on localhost: a real download, without the internet."""
    import functools
    import http.server
    import threading

    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_built_student_has_the_data_s_classes():
    model = build_student("yolo26n.yaml", nc=5, ch=1)
    assert model.yaml["nc"] == 5 and model.model[-1].nc == 5 and len(model.names) == 5
    assert model.model[0].conv.in_channels == 1


def test_a_yaml_without_a_scale_is_built_at_ultralytics_guess_without_its_warning():
    """Ultralytics' trainer warns of the assumed scale twice itself; our own build of the student made it three."""
    import logging

    from ultralytics.utils import LOGGER

    said: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: said.append(record.getMessage())
    LOGGER.addHandler(handler)
    try:
        bare, nano = build_student("yolo26.yaml", nc=3, ch=3), build_student("yolo26n.yaml", nc=3, ch=3)
    finally:
        LOGGER.removeHandler(handler)
    assert not [line for line in said if "scale" in line], said
    count = [sum(p.numel() for p in m.parameters()) for m in (bare, nano)]
    assert count[0] == count[1] < sum(p.numel() for p in build_student("yolo26s.yaml", nc=3, ch=3).parameters())


def test_url_teacher_is_fetched_into_the_cache(served, teacher26, synth_data, tmp_path, monkeypatch, capsys):
    import hashlib

    args = resolve(None, epochs=1, imgsz=64, project=str(tmp_path / "runs"))[1]
    root, base = served
    (root / "big.pt").write_bytes(teacher26.read_bytes())
    monkeypatch.setenv("YOLODISTILL_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    plan = preflight(f"{base}/big.pt", "yolo26n.yaml", synth_data, dict(args))
    got = Path(plan.args["distill_model"])
    assert got.is_relative_to(tmp_path / "cache") and got.read_bytes() == teacher26.read_bytes()
    assert not (tmp_path / "big.pt").exists()  # never written where the user works
    digest = hashlib.sha256(teacher26.read_bytes()).hexdigest()  # printed, as the README promises, to check it by
    assert f"{base}/big.pt -> {got} (sha256 {digest})" in " ".join(capsys.readouterr().err.split())
    (root / "big.pt").unlink()  # the second run reads the cache
    assert Path(preflight(f"{base}/big.pt", "yolo26n.yaml", synth_data, dict(args))
                .args["distill_model"]) == got
    (root / "yolov5s.pt").write_bytes(teacher26.read_bytes())  # kept as the URL's file, in a path with no 'u' in
    monkeypatch.setenv("YOLODISTILL_CACHE", "/tmp/" + tmp_path.name.replace("u", "x"))  # it: read as yolov5su.pt
    from ultralytics.utils.checks import check_yolov5u_filename
    from yolodistill.loading import local_checkpoint

    try:
        got = local_checkpoint(f"{base}/yolov5s.pt", "teacher")
        assert check_yolov5u_filename(got) == got and Path(got).read_bytes() == teacher26.read_bytes()
    finally:
        import shutil

        shutil.rmtree("/tmp/" + tmp_path.name.replace("u", "x"), ignore_errors=True)


@pytest.mark.parametrize("cfg, task", [("yolo26n-cls.yaml", "a classify"), ("yolo26n-seg.yaml", "a segment"),
                                       ("yolo26n-obb.yaml", "an obb")])
def test_a_checkpoint_of_another_task_is_known_by_its_head(cfg, task, tmp_path):
    """Saved without its task, Ultralytics' loader fills task=detect in, and the head failed on the first image
    (an IndexError in bench, export and pseudo-label)."""
    from tests.conftest import save_checkpoint

    path = save_checkpoint(cfg, tmp_path / "other.pt", task_recorded=False)
    with pytest.raises(UserError, match=f"teacher '{path}' is {task} model: yolodistill distills detection models"):
        load_detector(path, "teacher")


def test_only_urls_and_official_names_are_fetched(tmp_path):
    """A path that is neither is the user's own, left for require_file to name (no network check, no download);
    a URL must name a .pt, which is all that is ever loaded from one."""
    from yolodistill.loading import local_checkpoint

    assert local_checkpoint(str(tmp_path / "mine.pt"), "teacher") == str(tmp_path / "mine.pt")
    with pytest.raises(UserError, match=r"teacher URL 'http://127\.0\.0\.1:9/t\.yaml' does not name a \.pt file"):
        local_checkpoint("http://127.0.0.1:9/t.yaml", "teacher")


def test_a_yolov5_or_yolov3_name_is_the_u_file_ultralytics_reads(tmp_path, monkeypatch, caplog):
    """Ultralytics reads rel/yolov5s.pt as rel/yolov5su.pt whatever the file named holds: that file trained while the
    one named was hashed and recorded, and a missing 'u' file was a download's 'Name or service not known'."""
    from yolodistill.loading import local_checkpoint

    monkeypatch.chdir(tmp_path)
    Path("rel").mkdir()
    Path("rel/yolov3-tiny.pt").write_bytes(b"weights of mine")
    with pytest.raises(UserError, match=r"^teacher 'rel/yolov3-tiny.pt' is read by Ultralytics as "
                                        r"'rel/yolov3-tinyu.pt' .*, which is not there: if 'rel/yolov3-tiny.pt' "
                                        r"holds Ultralytics weights, rename it yolov3-tinyu.pt$"):
        local_checkpoint("rel/yolov3-tiny.pt", "teacher")
    from yolodistill.bench import bench

    with pytest.raises(UserError, match=r"^artifact 'rel/yolov3-tiny.pt' is read by Ultralytics as "):  # bench too
        bench([Path("rel/yolov3-tiny.pt")], device="cpu")
    Path("yolov5s.pt").write_bytes(b"weights of mine")  # an official name, the file here: swapped for Ultralytics'
    for name, fetch in (("yolov5s.pt", ", or move it away to have Ultralytics' own yolov5su.pt fetched"),
                        ("./yolov5s.pt", "")):  # own (fetched) as typed bare, refused as typed ./yolov5s.pt
        with pytest.raises(UserError, match=rf"^teacher '{re.escape(name)}' is read by Ultralytics as .*yolov5su.pt"
                                            rf".*rename it yolov5su.pt{re.escape(fetch)}$"):
            local_checkpoint(name, "teacher")
        with pytest.raises(UserError, match=r"^artifact 'yolov5s.pt' is read by Ultralytics as 'yolov5su.pt' .*"
                                            r"rename it yolov5su.pt$"):  # bench fetches nothing: no 'move it away'
            bench([Path(name)], device="cpu")
    with pytest.raises(UserError, match=r"yolov5s6.pt"):  # a typo: the name typed, not yolov5s6u.pt
        bench([Path("yolov5s6.pt")], device="cpu")
    Path("rel/yolov5s.pt").write_bytes(b"weights of mine")
    Path("rel/yolov5su.pt").write_bytes(b"weights of Ultralytics")
    assert local_checkpoint("rel/yolov5s.pt", "--weights") == "rel/yolov5su.pt"  # what is read, recorded and hashed
    assert "--weights 'rel/yolov5s.pt' is read as 'rel/yolov5su.pt'" in caplog.text
    assert local_checkpoint(str(tmp_path / "yolov5s-mine" / "x.pt"), "teacher").endswith("x.pt")  # no such name
    caplog.clear()  # a typo, neither file there: the name typed, for require_file's message, and no word of 'u'
    assert local_checkpoint("foo_yolov5s.pt", "teacher") == "foo_yolov5s.pt" and not caplog.text
    assert local_checkpoint("rel/yolov5nu.yaml", "teacher") == "rel/yolov5nu.yaml"  # weights' names only
    assert local_checkpoint("rel/yolov5su.pt", "teacher") == "rel/yolov5su.pt"


def test_a_loaded_checkpoint_knows_the_size_it_was_trained_at(tmp_path):
    """Read from its own train_args, where the loaded model's args would say 640 for any checkpoint without one."""
    from tests.conftest import save_checkpoint
    from yolodistill.loading import trained_imgsz

    assert load_detector(save_checkpoint("yolo26n.yaml", tmp_path / "t.pt"), "teacher").trained_imgsz == 64
    assert trained_imgsz({"imgsz": [320, 640]}) == 640 and trained_imgsz({"imgsz": 96}) == 96
    for unclear in ({"imgsz": 0}, {"imgsz": True}, {"imgsz": "640"}, {"imgsz": [640, -1]}, {}, None):
        assert trained_imgsz(unclear) is None, unclear


def test_a_teacher_saved_mid_run_is_refused_in_every_teacher_role(tmp_path):
    """A distillation run's last.pt holds the student with its teacher: Ultralytics loads it whole and fails."""
    import torch

    from tests.conftest import save_checkpoint

    path = save_checkpoint("yolo26n.yaml", tmp_path / "mid.pt")
    ckpt = torch.load(path, weights_only=False)
    ckpt["model"].student_model = torch.nn.Identity()
    torch.save(ckpt, path)
    with pytest.raises(UserError, match="was saved mid-run by a distillation run"):
        load_detector(path, "teacher of the resumed run")


def test_a_model_saved_bare_with_torch_save_is_refused_as_such(tmp_path):
    """torch.save(model) loads as a Sequential marked detect, with no names and one stride: as a teacher it was an
    AttributeError traceback in the checks, as a student 'has 1 detection levels, pick a student with a P3-P5 head'."""
    import torch

    from tests.conftest import save_checkpoint

    bare = tmp_path / "bare.pt"
    torch.save(torch.load(save_checkpoint("yolo26n.yaml", tmp_path / "t.pt"), weights_only=False)["model"], bare)
    from tests.conftest import logged_by_ultralytics

    for role in ("teacher", "student"):
        with logged_by_ultralytics() as logged, pytest.raises(UserError, match=f"{role} '{bare}' holds a bare model, "
                                                                                 "not an Ultralytics checkpoint"):
            load_detector(bare, role)
        assert not [m for m in logged if "improperly saved" in m]  # Ultralytics' warning of it too made two lines
    from yolodistill.export import load_model  # export's and bench's way in: an AttributeError from the exporter

    with logged_by_ultralytics() as logged, pytest.raises(UserError, match=f"^--weights '{bare}' holds a bare model"):
        load_model(bare)
    assert not [m for m in logged if "improperly saved" in m]


def test_held_warnings_are_logged_when_nothing_is_refused():
    """The lines held back while a checkpoint is looked at are Ultralytics' to say where no refusal follows."""
    from ultralytics.utils import LOGGER

    from tests.conftest import logged_by_ultralytics
    from yolodistill.loading import held_warnings

    with logged_by_ultralytics() as logged:
        with held_warnings("improperly saved"):
            LOGGER.warning("the file appears to be improperly saved")
            LOGGER.warning("another line")
            assert [m[-12:] for m in logged] == ["another line"]
        assert [m[-12:] for m in logged] == ["another line", "roperly saved"[-12:]]
        with pytest.raises(UserError), held_warnings("improperly saved"):
            LOGGER.warning("improperly saved again")
            raise UserError("refused")
    assert len(logged) == 2 and not any("again" in m for m in logged)


def test_an_rt_detr_checkpoint_is_refused_as_its_yaml_is(tmp_path):
    """Its decoder reads as one detection level: 'pick a student with the teacher's P3-P5 head', which no change of
    student can follow. A small RT-DETR decoder on a YOLO body stands in for rtdetr-l.pt (130 MB)."""
    import torch
    from ultralytics.nn.modules.head import RTDETRDecoder

    from tests.conftest import save_checkpoint

    path = save_checkpoint("yolo26n.yaml", tmp_path / "rt.pt")
    ckpt = torch.load(path, weights_only=False)
    old = ckpt["model"].model[-1]
    new = RTDETRDecoder(nc=3, ch=(16, 32, 64), hd=32, nq=10, ndl=1, nh=2, d_ffn=64)
    new.f, new.i, new.type, new.np = old.f, old.i, "RTDETRDecoder", 0
    ckpt["model"].model[-1] = new
    torch.save(ckpt, path)
    for role in ("teacher", "student"):
        with pytest.raises(UserError, match=rf"{role} '{path}' is an RT-DETR model \(RTDETRDecoder head\), which "
                                            "yolodistill does not handle"):
            load_detector(path, role)


def test_a_model_of_no_known_head_has_no_task():
    """Not detect: a pickled module that is no Ultralytics model is refused as 'a None model', not loaded."""
    import torch

    from yolodistill.loading import model_task

    assert model_task(torch.nn.Linear(1, 1)) is None


@pytest.mark.parametrize("student, message", [
    ("rtdetr-l.yaml", "is an RT-DETR model (RTDETRDecoder head), which yolodistill cannot distill"),
    ("yolov8s-worldv2.yaml", "is a YOLO-World model (WorldDetect head)"),
    ("yolo26n-seg.yaml", "describes a segment model: use a detection yaml"),
    ("yolo26n-obb.yaml", "describes an obb model: use a detection yaml")])  # was 'a obb model'
def test_a_student_yaml_of_another_model_kind_is_refused(student, message):
    with pytest.raises(UserError, match=f"student '{student}' {message}".replace("(", r"\(").replace(")", r"\)")):
        build_student(student, nc=3, ch=3)


@pytest.mark.parametrize("student, example", [("yolo26n", "yolo26n.yaml or yolo26n.pt"),
                                              ("best.onnx", "yolo26n.yaml or best.pt")])
def test_a_student_of_no_yaml_suffix_is_shown_the_names_that_work(student, example):
    with pytest.raises(UserError, match=f"should be a model yaml or a .pt checkpoint, e.g. {example}$"):
        build_student(student, nc=3, ch=3)


def test_a_file_that_is_no_checkpoint_is_named_with_torch_s_reason(tmp_path):
    (bad := tmp_path / "bad.pt").write_bytes(b"not a zip")
    with pytest.raises(UserError, match=r"^teacher '.*bad\.pt' is not a readable Ultralytics checkpoint \(.+\): "
                                        "re-train or re-download it"):
        load_detector(bad, "teacher")


def test_a_data_yaml_given_as_the_student_is_named_as_such(tmp_path):
    (data := tmp_path / "data.yml").write_text("train: images\nval: images\nnames: [a]\n")
    with pytest.raises(UserError, match="is not a model yaml \\(this looks like a data yaml: pass it as --data\\)"):
        build_student(str(data), nc=1, ch=3)


def test_an_official_name_not_on_disk_is_fetched_by_ultralytics_or_refused(tmp_path, monkeypatch):
    """yolo26x.pt is fetched as `yolo train model=yolo26x.pt` would; offline, or where the fetch leaves no file, the
    user is told to pass the file (Ultralytics' own fetch is stood in for: no network here)."""
    import ultralytics.utils
    import ultralytics.utils.downloads

    from yolodistill.loading import local_checkpoint

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(ultralytics.utils, "is_online", lambda: False)
    with pytest.raises(UserError, match="teacher 'yolo26x.pt' is not on disk and this machine is offline"):
        local_checkpoint("yolo26x.pt", "teacher")
    monkeypatch.setattr(ultralytics.utils, "is_online", lambda: True)
    (tmp_path / "got").mkdir()
    for got in (tmp_path / "got" / "yolo26x.pt", tmp_path / "got"):  # nothing written, or not a file
        monkeypatch.setattr(ultralytics.utils.downloads, "attempt_download_asset", lambda name, got=got: str(got))
        with pytest.raises(UserError, match="teacher 'yolo26x.pt' could not be downloaded: download it and pass"):
            local_checkpoint("yolo26x.pt", "teacher")
    def no_route(name):
        raise ConnectionError("ERROR \u274c no route to host\nRetry later")

    monkeypatch.setattr(ultralytics.utils.downloads, "attempt_download_asset", no_route)
    with pytest.raises(UserError, match=r"'yolo26x.pt' could not be downloaded \(no route to host\): download it"):
        local_checkpoint("yolo26x.pt", "teacher")
    (got := tmp_path / "got" / "yolo26x.pt").write_bytes(b"x")
    monkeypatch.setattr(ultralytics.utils.downloads, "attempt_download_asset", lambda name: str(got))
    assert local_checkpoint("yolo26x.pt", "teacher") == str(tmp_path / "got" / "yolo26x.pt")
