"""The bench table and records, on rows made by hand."""

from __future__ import annotations

import io
import json
import sys

from rich.console import Console

from yolodistill.benchreport import (KEYS, bench_rows, describe_bench, markdown_text, print_table, provenance,
                                     report_paths, written_before_the_stop)


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
    console = Console(file=io.StringIO(), width=80, record=True, force_terminal=True)
    print_table([table_row(n, "onnx", 96) for n in names], {}, console)
    text = console.export_text()
    cells = "".join(line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│"))
    assert all(n in cells for n in names) and "…" not in text


def test_a_model_name_with_brackets_is_shown_as_written():
    """rich took '[exp]' in a run's name for markup and printed 'best-.onnx'."""
    console = Console(file=io.StringIO(), width=200, record=True)
    print_table([table_row("best-[exp]", "onnx", 96)], {}, console)
    assert "best-[exp]" in console.export_text()


def wide_rows() -> list[dict]:
    """Two sizes (an imgsz column) and an OpenVINO row that runs in bf16: wider than 80 columns."""
    rows = [table_row("plain-seed3", "pt", 192), table_row("plain-seed3", "openvino", 192),
            table_row("distilled-seed3", "onnx", 96)]
    rows[1]["precision"] = "fp32 (runs bf16)"
    return rows


def headers(text: str) -> list[str]:
    """The column headers of a printed table."""
    return [h.strip() for h in next(line for line in text.splitlines() if line.startswith("┃")).split("┃")[1:-1]]


def table_cells(text: str) -> dict[str, dict[str, str]]:
    """Each row of a printed table by its model name, as {header: cell}."""
    names = headers(text)
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in text.splitlines() if line.startswith("│")]
    return {r[0]: dict(zip(names, r)) for r in rows}


def test_a_table_wider_than_the_output_is_whole_in_a_log_and_cut_by_columns_on_a_terminal():
    """At 80 columns the numbers were cut to '10.…' and mAP50-95 fell off the edge, in a terminal and in a log."""
    log = Console(file=io.StringIO(), width=80, record=True)  # a pipe or a file: not a terminal
    print_table(wide_rows(), {}, log)
    text = log.export_text()
    assert headers(text) == ["model", "fmt", "prec", "imgsz", "p50", "p90", "p99", "img/s", "MB", "mAP50",
                             "mAP50-95"]
    assert "…" not in text and "fp32 (runs bf16)" in text and "left out" not in text
    assert log.width == 80  # the console is as it was for what is printed next

    term = Console(file=io.StringIO(), width=80, record=True, force_terminal=True)
    print_table(wide_rows(), {}, term)
    text = term.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80 and "…" not in text
    kept = headers(text)
    assert kept[:5] == ["model", "fmt", "prec", "imgsz", "p50"] and kept[-1] == "mAP50-95"
    dropped = [h for h in ("p99", "p90", "MB", "mAP50", "img/s") if h not in kept]
    assert dropped and f"{', '.join(dropped)} left out for the terminal's width: see bench.md" in " ".join(text.split())
    assert "yolodistill bench: latency in ms, batch 1" in " ".join(text.split())  # the note is below, not instead


def test_an_older_bench_record_is_still_bench_s_own(tmp_path):
    """A rerun replaces bench's own record, also one written before a key (name) joined KEYS; other JSON is not."""
    row = {k: 1 for k in KEYS if k != "name"} | {"latency_ms": {"p50": 1.0, "p90": 1.0, "p99": 1.0}}
    for content, ours in (([row], True), ([], True), ({"mine": 1}, False), ([{"artifact": "a.pt"}], False),
                          ([{"artifact": "a.pt", "format": "pt"}], False)):  # no latency: not a bench row
        (tmp_path / "bench.json").write_text(json.dumps(content))
        assert (bench_rows(tmp_path / "bench.json") == content) is ours, content  # its rows, or None


def test_a_json_name_with_dots_names_every_report_alike(tmp_path):
    """--json run.v2.json: the table, notes and plot are run.v2.csv, .md and .png beside it (they were run.csv, and a
    rerun refused to replace its own run.csv as another program's file)."""
    names = [p.name for p in report_paths(tmp_path / "run.v2.json")]
    assert names == ["run.v2.json", "run.v2_env.json", "run.v2.csv", "run.v2.md", "run.v2.png"]
    assert [p.name for p in report_paths(tmp_path / "bench.json")] == ["bench.json", "bench_env.json", "bench.csv",
                                                                        "bench.md", "bench.png"]


def test_each_terminal_cell_is_the_row_s_own_number_under_its_header():
    """A reader compares runtimes by these cells: p50 under p90, img/s from size or another row's energy would read
    as a measurement."""
    rows = [table_row("a", "pt", 96), table_row("b", "onnx", 96)]
    rows[1].update(latency_ms={"p50": 4.25, "p90": 5.5, "p99": 7.75}, throughput_ips=235.3, size_mb=12.34,
                   map50=0.61234, map50_95=0.4321)
    env = {"energy": {"b.onnx": {"energy_j_per_image": 0.0123456}}}  # a Jetson measured b only
    console = Console(file=io.StringIO(), width=200, record=True)
    print_table(rows, env, console)
    cells = table_cells(console.export_text())
    assert "imgsz" not in cells["b"]  # one size for every row: in the title, not a column
    assert cells["b"] == {"model": "b", "fmt": "onnx", "prec": "fp32", "p50": "4.25", "p90": "5.50", "p99": "7.75",
                          "img/s": "235", "MB": "12.3", "mAP50": "0.612", "mAP50-95": "0.432", "J/img": "0.01235"}
    assert cells["a"]["J/img"] == "-" and cells["a"]["p50"] == "1.00"


def test_bench_md_says_where_it_ran_who_made_it_and_what_is_unknown(tmp_path):
    """bench.md is read away from the machine: its title names the GPU for cuda rows, the board on a Jetson, else
    the CPU; an unknown cost (an export without its .pt) reads '-', not 'None'."""
    row = table_row("exp", "onnx", 96) | {"device": "cpu", "params": None, "flops_g": None, "head": "raw"}
    env = {"cpu": "Some CPU", "gpu": "Some GPU", "jetson": None, "created": "2026-01-02T03:04:05+00:00",
           "command": "yolodistill bench best.onnx"}
    md = markdown_text([row], env)
    assert md.startswith("# Benchmark on Some CPU\n") and "None" not in md
    assert "| exp | onnx | fp32 | 96 | 1.0 | 2.0 | 3.0 | 900.0 | 9.0 | - | - | 0.5 | 0.25 |" in md
    assert "created 2026-01-02T03:04:05+00:00, command yolodistill bench best.onnx" in md
    assert "Other processes" not in md
    busy = markdown_text([row], env | {"usable_cores": 2, "busy_elsewhere_cpus": {row["artifact"]: 1.04}})
    assert "\n- Other processes kept CPUs busy while bench timed exp (1.0) (average CPUs, of 2)" in busy
    assert markdown_text([row | {"device": "cuda:0"}], env).startswith("# Benchmark on Some GPU\n")
    jetson = env | {"jetson": {"board": "NVIDIA Jetson Orin NX"}}
    assert markdown_text([row | {"device": "cuda:0"}], jetson).startswith("# Benchmark on NVIDIA Jetson Orin NX\n")
    # rows on several devices (an ONNX graph without ONNX Runtime's CUDA provider on the CPU): each says its own
    rows = [table_row("best", "pt", 96) | row | {"format": "pt", "device": "cuda:0"}, row]
    mixed = markdown_text(rows, env)
    assert "on cuda:0 and cpu," in mixed and "| pt (cuda:0) |" in mixed and "| exp | onnx (cpu) |" in mixed
    assert mixed.startswith("# Benchmark on Some GPU and Some CPU\n")
    console = Console(file=io.StringIO(), width=200)
    print_table(rows, env, console)
    assert "onnx (cpu)" in console.file.getvalue() and "pt (cuda:0)" in console.file.getvalue()  # the terminal's too
    assert "(cpu)" not in md  # one device: said once, above the table


def test_a_stop_after_the_first_report_names_it_alone(tmp_path):
    """A Ctrl-C may come after any of the five files: one file 'was' written, two 'were'."""
    one, two = tmp_path / "bench.json", tmp_path / "bench_env.json"
    assert written_before_the_stop([one], "") == f"{one} was written before the stop"
    assert written_before_the_stop([one, two], "1 row") == (f"{one}, {two} were written before the stop, over the "
                                                            "earlier bench (1 row)")


def test_an_earlier_record_names_the_machine_that_made_it(tmp_path):
    """The rerun's 'Replaced' line is what tells a user they lost a Jetson's figures: the board, else the GPU, else
    the CPU."""
    row = {k: 1 for k in KEYS} | {"latency_ms": {"p50": 1.0, "p90": 1.0, "p99": 1.0}}
    out = tmp_path / "bench.json"
    out.write_text(json.dumps([row, row]))
    env = tmp_path / "bench_env.json"
    for record, machine in (({"cpu": "C", "gpu": None, "jetson": None}, "C"), ({"cpu": "C", "gpu": "G"}, "G"),
                            ({"cpu": "C", "gpu": "G", "jetson": {"board": "Orin"}}, "Orin")):
        env.write_text(json.dumps(record))
        assert describe_bench(out).startswith(f"2 rows, on {machine}, written 20")
    out.write_text("[]")
    assert describe_bench(out).startswith("0 rows, on Orin")


def test_bench_md_says_what_its_units_and_its_map_are():
    """Its GFLOPs are one image's beside a latency per batch, its sizes MB of a million bytes (Ultralytics' file_size,
    MiB, was labelled MB), and a .pt reads differently in yolo val for its padded batches, not aspect ratio alone."""
    row = {**table_row("student", "pt", 64), "batch": 4, "device": "cpu", "params": 1, "flops_g": 0.05}
    text = " ".join(markdown_text([row], {"cpu": "Xeon"}).split())
    assert "per batch of 4 images" in text and "GFLOPs per image at its imgsz" in text and "MB of 10^6 bytes" in text
    assert "pad each batch by half a stride" in text


def test_the_record_names_the_command_only_when_the_cli_ran(monkeypatch):
    """bench_env.json and bench.md say 'yolodistill bench ...' for a CLI run, not pytest's or a script's argv."""
    monkeypatch.setattr(sys, "argv", ["/usr/bin/yolodistill", "bench", "a b.pt"])
    assert provenance()["command"] == "yolodistill bench 'a b.pt'"
    monkeypatch.setattr(sys, "argv", ["script.py", "bench"])
    assert provenance()["command"] is None


def test_an_artifact_name_of_a_byte_no_utf8_has_is_written_and_drawn(tmp_path):
    """A run folder named with a Latin-1 byte (Python holds it as a surrogate) was a TypeError in the plot, after the
    whole timing, and no report was written."""
    from yolodistill.benchreport import write_reports

    name = b"r\xe9s".decode("utf-8", "surrogateescape")
    row = {**table_row(name, "pt", 64), "device": "cpu", "head": "raw", "params": 1, "flops_g": 1.0}
    written = write_reports([row], {"data": f"/x/{name}/data.yaml"}, tmp_path / "bench.json")
    assert len(written) == 5 and all(p.is_file() for p in written)
    assert "r\\xe9s" in (tmp_path / "bench.md").read_text() and json.loads((tmp_path / "bench.json").read_text())


def test_plot_names_every_artifact_in_a_legend_and_shows_the_best_point_whole(monkeypatch):
    """Labels by the points drew two precisions of one model over each other and ran a long name off the figure;
    the best mAP sat on the axis' top, its marker cut in half."""
    from matplotlib.figure import Figure

    from yolodistill import benchreport

    saved, original = [], Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: (saved.append(self), original(self, *a, **k))[1])
    rows = [dict(name="best", format=f, precision=p, latency_ms={"p50": 3.8}, map50_95=0.5, batch=1)
            for f, p in (("onnx", "fp32"), ("onnx", "fp16"))]
    assert benchreport.plot_png(rows).startswith(b"\x89PNG")
    (fig,) = saved
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["best: onnx fp32", "best: onnx fp16"]
    assert not fig.axes[0].texts and fig.axes[0].get_ylim()[0] == 0 and fig.axes[0].get_ylim()[1] > 0.52
    many = [dict(rows[0], name=f"run-{i}", latency_ms={"p50": 1.0 + i}) for i in range(12)]  # 11 rows: two alike
    benchreport.plot_png(many)
    looks = {(tuple(c.get_facecolor()[0]), c.get_paths()[0].vertices.tobytes()) for c in saved[-1].axes[0].collections}
    assert len(looks) == 12 and saved[-1].get_size_inches()[1] > 4  # the legend's rows grow the figure
    benchreport.plot_png([dict(r, name=f"a-run-folder-named-at-some-length-{i:02d}", format="openvino",
                               precision="fp32 (runs bf16)") for i, r in enumerate(many)])
    assert saved[-1].get_size_inches()[0] > 7  # and widen it for two columns of long names, which were cut
