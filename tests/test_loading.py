"""The models a user names: a student built from its yaml, a teacher fetched from the URL they typed."""

from __future__ import annotations

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


@pytest.mark.parametrize("cfg, task", [("yolo26n-cls.yaml", "a classify"), ("yolo26n-seg.yaml", "a segment"),
                                       ("yolo26n-obb.yaml", "an obb")])
def test_a_checkpoint_of_another_task_is_known_by_its_head(cfg, task, tmp_path):
    """Saved without its task, Ultralytics' loader fills task=detect in, and the head failed on the first image
    (an IndexError in bench, export and pseudo-label)."""
    from tests.conftest import save_checkpoint

    path = save_checkpoint(cfg, tmp_path / "other.pt", task_recorded=False)
    with pytest.raises(UserError, match=f"teacher '{path}' is {task} model: yolodistill distills detection models"):
        load_detector(path, "teacher")
