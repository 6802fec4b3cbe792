"""What `info` reports of each export format: a runtime is called ready only once it imports."""

from __future__ import annotations

import sys

from yolodistill import runtimes


def test_info_checks_that_onnxruntime_imports(monkeypatch):
    """onnx was reported available without looking, so a broken install read as ready."""
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # what a missing package gives: ImportError on import
    rows = {r["format"]: r for r in runtimes.format_support()}
    assert rows["onnx"]["available"] is False and "onnxruntime does not import" in rows["onnx"]["detail"]

