"""The bench table and records, on rows made by hand."""

from __future__ import annotations

import io
import json

from rich.console import Console

from yolodistill.benchreport import KEYS, bench_rows, print_table


def table_row(name: str, fmt: str, imgsz: int) -> dict:
    return {"name": name, "artifact": f"{name}.{fmt}", "format": fmt, "precision": "fp32", "imgsz": imgsz,
            "batch": 1, "latency_ms": {"p50": 1.0, "p90": 2.0, "p99": 3.0}, "throughput_ips": 900.0, "size_mb": 9.0,
            "map50": 0.5, "map50_95": 0.25}


def test_table_shows_each_rows_imgsz_when_they_differ():
    console = Console(file=io.StringIO(), width=200, record=True)
    print_table([table_row("small", "pt", 64), table_row("large", "onnx", 96)], {}, console)
    text = console.export_text()
    assert "imgsz 64" not in text and "imgsz 96" not in text  # no title claims one size for both
    cells = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")] for line in text.splitlines()
             if line.startswith("│ small") or line.startswith("│ large")}
    assert "64" in cells["small"] and "96" not in cells["small"] and "96" in cells["large"]

    console = Console(file=io.StringIO(), width=200, record=True)
    print_table([table_row("a", "pt", 96), table_row("b", "onnx", 96)], {}, console)
    assert "latency in ms, imgsz 96, batch 1" in console.export_text()


def test_long_model_names_stay_whole_on_a_narrow_terminal():
    # cut to "a-very-…", two runs of one long prefix read the same
    names = ["a-very-long-run-name-of-the-plain-student", "a-very-long-run-name-of-the-distilled-student"]
    console = Console(file=io.StringIO(), width=80, record=True)
    print_table([table_row(n, "onnx", 96) for n in names], {}, console)
    text = console.export_text()
    cells = "".join(line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│"))
    assert all(n in cells for n in names) and "…" not in text


def test_an_older_bench_record_is_still_bench_s_own(tmp_path):
    """A rerun replaces bench's own record, also one written before a key (name) joined KEYS; other JSON is not."""
    row = {k: 1 for k in KEYS if k != "name"} | {"latency_ms": {"p50": 1.0, "p90": 1.0, "p99": 1.0}}
    for content, ours in (([row], True), ([], True), ({"mine": 1}, False), ([{"artifact": "a.pt"}], False)):
        (tmp_path / "bench.json").write_text(json.dumps(content))
        assert (bench_rows(tmp_path / "bench.json") == content) is ours, content  # its rows, or None
