"""The summary math and the renderers, on hand-made runs whose answers are known."""

from __future__ import annotations

import io
import json
import math

import pytest

from yolodistill.report import (
    compare_markdown, compare_plot, distill_plot, gap_recovered, markdown_table, mean_std, rich_table, summarize,
    write_json,
)


def run(method, seed, map50_95, map50=None, epoch_time_s=1.0):
    return {"method": method, "seed": seed, "map50": map50 if map50 is not None else map50_95 + 0.2,
            "map50_95": map50_95, "epoch_time_s": epoch_time_s, "run_dir": f"/runs/{method}-seed{seed}"}


RUNS = [
    run("plain", 0, 0.40, epoch_time_s=2.0), run("plain", 1, 0.42, epoch_time_s=4.0),
    run("builtin", 0, 0.38), run("builtin", 1, 0.43),
    run("ours", 0, 0.45, epoch_time_s=3.0), run("ours", 1, 0.47, epoch_time_s=5.0),
]


def test_mean_std_is_the_sample_spread():
    assert mean_std([0.4, 0.42]) == pytest.approx((0.41, math.sqrt(2 * 0.01**2)))
    assert mean_std([1.0, 2.0, 3.0]) == pytest.approx((2.0, 1.0))
    assert mean_std([0.5]) == (0.5, 0.0)


def test_gap_recovered():
    assert gap_recovered(0.45, plain=0.40, teacher=0.50) == pytest.approx(0.5)
    assert gap_recovered(0.38, plain=0.40, teacher=0.50) == pytest.approx(-0.2)
    assert gap_recovered(0.40, plain=0.40, teacher=0.50) == 0.0
    assert gap_recovered(0.45, plain=None, teacher=0.50) is None
    assert gap_recovered(0.45, plain=0.40, teacher=0.40) is None  # no gap to recover
    assert gap_recovered(0.45, plain=0.40, teacher=0.30) is None


def test_summary_per_method():
    summary, notes = summarize(RUNS, teacher=0.51)
    assert list(summary) == ["plain", "builtin", "ours"] and notes == []
    ours = summary["ours"]
    assert ours["seeds"] == [0, 1]
    assert ours["map50_95_mean"] == pytest.approx(0.46)
    assert ours["map50_95_std"] == pytest.approx(math.sqrt(2 * 0.01**2))
    assert ours["map50_mean"] == pytest.approx(0.66)
    assert ours["map50_95_min"] == pytest.approx(0.45)
    assert ours["epoch_time_s"] == pytest.approx(4.0)
    assert ours["gap_recovered"] == pytest.approx((0.46 - 0.41) / (0.51 - 0.41))
    assert ours["seeds_below_plain"] == 0
    assert summary["builtin"]["seeds_below_plain"] == 1  # seed 0: 0.38 < 0.40; seed 1: 0.43 > 0.42
    assert summary["builtin"]["gap_recovered"] == pytest.approx((0.405 - 0.41) / 0.10)
    assert summary["plain"]["gap_recovered"] == 0.0 and summary["plain"]["seeds_below_plain"] is None


def test_summary_without_plain_or_gap_says_why():
    summary, notes = summarize([r for r in RUNS if r["method"] != "plain"], teacher=0.51)
    assert summary["ours"]["gap_recovered"] is None and summary["ours"]["seeds_below_plain"] is None
    assert len(notes) == 1 and "plain student was not run" in notes[0]
    summary, notes = summarize(RUNS, teacher=0.30)
    assert all(s["gap_recovered"] is None for s in summary.values())
    assert len(notes) == 1 and "does not exceed" in notes[0] and "0.300" in notes[0]


def test_one_seed_has_zero_spread():
    summary, _ = summarize([run("plain", 3, 0.4), run("ours", 3, 0.5)], teacher=0.6)
    assert summary["ours"]["map50_95_std"] == 0.0 and summary["ours"]["gap_recovered"] == pytest.approx(0.5)


def test_gap_of_a_method_run_on_fewer_seeds_is_against_plain_on_those_seeds():
    """A candidate run on seed 0 alone was set against plain's mean over three seeds: the study's cls-box read 49 %
    against a 50 % target where its own seed gave 49.9 %."""
    runs = [run("plain", 0, 0.40), run("plain", 1, 0.44), run("plain", 2, 0.45), run("one", 0, 0.45)]
    summary, _ = summarize(runs, teacher=0.50)
    assert summary["one"]["gap_recovered"] == pytest.approx(0.5)  # (0.45 - 0.40) / (0.50 - 0.40)
    assert summary["plain"]["gap_recovered"] == pytest.approx(0.0)


def test_markdown_table():
    rows = [{"name": "a|b", "score": 0.12345, "n": 3}, {"name": "c", "score": None}]
    assert markdown_table(rows, ["name", "score", "n"]) == (
        "| name | score | n |\n"
        "|---|---|---|\n"
        "| a\\|b | 0.123 | 3 |\n"
        "| c | — | — |\n"
    )


def test_rich_table_keeps_a_mean_and_its_spread_on_one_line():
    """In a narrow terminal '0.460 ± 0.014' split over two lines reads as two numbers; the headers wrap instead."""
    from rich.console import Console

    rows = [{"method": "ours", "mAP50-95 mean ± sd": "0.460 ± 0.014", "best epoch": 3.0},
            {"method": "plain", "mAP50-95 mean ± sd": "0.431 ± 0.020", "best epoch": None}]
    table = rich_table(rows, ["method", "mAP50-95 mean ± sd", "best epoch"], title="t")
    console = Console(width=36, record=True, file=io.StringIO())  # too narrow for every cell: some must give
    console.print(table)
    lines = console.export_text().splitlines()
    ours = next(line for line in lines if "0.460 ± 0.014" in line)
    plain = next(line for line in lines if "0.431 ± 0.020" in line)
    assert ours.split()[-1] == "3.000" and plain.split()[-1] == "—"  # fixed decimals; a missing value is a dash


def test_write_json_is_strict(tmp_path):
    path = write_json(tmp_path / "sub" / "r.json", {"a": float("nan"), "b": [1.5, float("inf")], "c": tmp_path})
    assert json.loads(path.read_text()) == {"a": None, "b": [1.5, None], "c": str(tmp_path)}
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def record(runs, teacher):
    summary, notes = summarize(runs, teacher["map50_95"])
    return {
        "args": {"teacher": "t.pt", "student": "yolo26n.yaml", "data": "d.yaml", "epochs": 3, "seeds": [0, 1]},
        "command": "yolodistill compare --teacher t.pt", "notes": notes, "runs": runs, "summary": summary,
        "teacher": teacher,
        "environment": {"machine": {"platform": "Linux", "cpu_count": 2, "gpu": None},
                        "versions": {"ultralytics": "8.4.190"}},
    }


def test_compare_markdown_and_plot(tmp_path):
    rec = record(RUNS, {"map50": 0.7, "map50_95": 0.51})
    md = compare_markdown(rec)
    assert "| ours | 0.660 ± 0.014 | 0.460 ± 0.014 | 0.450 | 4.00 | 50% | 0/2 |" in md
    assert "| builtin | 0.605 ± " in md and "1/2" in md and "| teacher | 0.700 | 0.510 |" in md
    assert "| ours | 1 | 0.670 | 0.470 | 5.00 | ours-seed1 |" in md
    one = compare_markdown(record([r for r in RUNS if r["seed"] == 0], {"map50": 0.7, "map50_95": 0.51}))
    assert "| ours | 0.650 | 0.450 | 0.450 |" in one and "± 0.000" not in one  # one seed has no spread to claim
    assert "yolodistill compare --teacher t.pt" in md and "GPU none" in md
    png = compare_plot(rec, tmp_path / "compare.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_distill_plot_shows_the_terms_a_run_logged(tmp_path):
    """One panel per logged term and their ratio to the detection loss; a run that logged none (or only zeros, as
    the teacher start alone does) gets no plot."""
    head = "epoch,time,train/box_loss,train/cls_loss,train/kd_cls,train/kd_box,metrics/mAP50-95(B),val/box_loss"
    csv_path = tmp_path / "results.csv"
    csv_path.write_text(f"{head}\n1,5,1.5,1.0,0.5,0,0.1,1.6\n2,10,1.2,0.8,0.2,0,0.2,1.4\n")
    png = distill_plot(csv_path, tmp_path / "distill.png")
    assert png == tmp_path / "distill.png" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    with Image.open(png) as image:
        assert image.size == (640, 320)  # two panels: kd_cls and the ratio (kd_box was off throughout)
    csv_path.write_text(f"{head}\n1,5,1.5,1.0,0,0,0.1,1.6\n")
    assert distill_plot(csv_path, tmp_path / "none.png") is None and not (tmp_path / "none.png").exists()
    csv_path.write_text("epoch,time,train/box_loss\n1,5,1.5\n")
    assert distill_plot(csv_path, tmp_path / "none.png") is None


def test_compare_markdown_lists_notes():
    md = compare_markdown(record([run("ours", 0, 0.3)], {"map50": 0.0, "map50_95": 0.0}))
    assert "- gap recovered is undefined: the plain student was not run" in md


@pytest.fixture
def figures(monkeypatch):
    """The matplotlib figures the plots save, to read back what they drew rather than only that a PNG exists."""
    from matplotlib.figure import Figure

    saved, original = [], Figure.savefig

    def savefig(self, *args, **kwargs):
        saved.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return saved


def test_gap_note_when_the_teacher_only_ties_or_is_unknown():
    """A teacher level with the plain student leaves no gap to recover: the undefined column must say why."""
    runs = [run("plain", 0, 0.4), run("ours", 0, 0.45)]
    summary, notes = summarize(runs, teacher=0.4)
    assert summary["ours"]["gap_recovered"] is None
    assert len(notes) == 1 and "does not exceed" in notes[0] and "(0.400)" in notes[0]
    summary, notes = summarize(runs, teacher=None)
    assert summary["ours"]["gap_recovered"] is None and len(notes) == 1 and "(—)" in notes[0]


def test_below_plain_pairs_seeds_and_a_tie_is_not_below():
    """Only seeds plain also ran are compared, and only a strictly lower score counts as below the plain student."""
    runs = [run("plain", 0, 0.40), run("ours", 0, 0.40), run("ours", 1, 0.10), run("builtin", 0, 0.39)]
    summary, _ = summarize(runs, teacher=0.5)
    assert summary["ours"]["seeds_below_plain"] == 0  # seed 0 ties; seed 1 has no plain run to be below
    assert summary["builtin"]["seeds_below_plain"] == 1


def test_cells_of_nan_and_newlines_keep_the_table_whole():
    """NaN is no measurement (a dash, not 'nan'), and a newline inside a cell would end the markdown row early."""
    assert markdown_table([{"a": float("nan"), "b": "x\ny", "c": float("inf")}], ["a", "b", "c"]).splitlines()[-1] == (
        "| — | x y | — |")


def test_write_json_makes_nan_in_tuples_null_and_keys_strings(tmp_path):
    """Tuples (a shape, a range) are JSON lists and a path may key a mapping: neither may make the record
    unwritable, as a NaN inside a tuple or a key JSON has no type for would."""
    from pathlib import Path

    path = write_json(tmp_path / "r.json", {"t": (1.0, float("nan")), "n": [(float("-inf"),)], Path("a"): {2: 1}})
    assert json.loads(path.read_text()) == {"t": [1.0, None], "n": [[None]], "a": {"2": 1}}


def test_compare_table_is_titled_with_what_was_compared():
    """The terminal summary says which student, teacher, schedule and seeds its numbers belong to."""
    from rich.console import Console

    from yolodistill.report import compare_table

    rec = record(RUNS, {"map50": 0.7, "map50_95": 0.51})
    rec["args"]["teacher"] = "/somewhere/runs/teacher.pt"
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(compare_table(rec))
    text = console.export_text()
    assert "yolo26n.yaml from teacher.pt: 3 epochs, seeds 0, 1" in text and "/somewhere" not in text
    rec["args"]["teacher"] = "/somewhere/runs/detect/yolo26s-bccd/weights/best.pt"  # every trained teacher's name
    console.print(compare_table(rec))
    assert "yolo26n.yaml from yolo26s-bccd's best.pt: 3 epochs" in console.export_text()  # not a path: none there


def test_compare_plot_never_shows_negative_map(tmp_path, figures):
    """mAP is never below 0: autoscale around scores near 0 would otherwise draw an axis reaching below it."""
    runs = [run("plain", 0, 0.0), run("plain", 1, 0.01), run("ours", 0, 0.02), run("ours", 1, 0.03)]
    compare_plot(record(runs, {"map50": 0.1, "map50_95": 0.05}), tmp_path / "compare.png")
    (ax,) = figures[-1].axes
    assert ax.get_ylim()[0] == 0.0 and ax.get_ylim()[1] >= 0.05


def test_distill_plot_ratio_is_over_the_training_losses_only(tmp_path, figures):
    """The ratio the schedule decays sums every term the run used, a term on for one epoch only included, over the
    detection (train/*_loss) terms, not the validation losses; an epoch without detection loss has no ratio (NaN),
    not a ZeroDivisionError."""
    head = "epoch,time,train/box_loss,train/cls_loss,train/kd_cls,train/kd_box,metrics/mAP50-95(B),val/box_loss"
    csv_path = tmp_path / "results.csv"
    csv_path.write_text(f"{head}\n1,5,1.5,1.0,0.5,0,0.1,1.6\n2,10,1.2,0.8,0.2,0.3,0.2,1.4\n3,15,0,0,0.1,0,0.3,1.2\n")
    assert distill_plot(csv_path, tmp_path / "distill.png") is not None
    axes = figures[-1].axes
    assert [ax.get_title() for ax in axes] == ["train/kd_cls", "train/kd_box", "distillation / detection"]
    ratio = axes[-1].lines[0].get_ydata()
    assert list(ratio[:2]) == pytest.approx([0.5 / 2.5, (0.2 + 0.3) / 2.0]) and math.isnan(ratio[2])


def test_environment_names_the_versions_and_the_machine():
    """Timings and even mAP shift with library versions and hardware: the record must carry them."""
    import os

    import torch
    import ultralytics

    from yolodistill.report import environment

    env = environment()
    assert env["versions"]["ultralytics"] == ultralytics.__version__ and env["versions"]["torch"] == torch.__version__
    assert env["machine"]["cpu_count"] == os.cpu_count()
    assert env["machine"]["gpu"] == (torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)


@pytest.mark.parametrize("share, shown", [(-0.004, "0%"), (0.004, "0%"), (-0.006, "-1%"), (0.62, "62%")])
def test_a_gap_just_below_zero_reads_0_percent(share, shown):
    from yolodistill.report import percent

    assert percent(share) == shown  # compare's table printed -0%


@pytest.mark.parametrize("width", [40, 60])
def test_a_narrow_terminal_gets_every_column_and_number_whole(width):
    """compare's summary at 60 columns showed '0.0…' and 'pl…', and at 40 dropped the method column, so its rows
    could not be told apart; demo's table cut every figure. The table is printed at its own width, which the terminal
    wraps."""
    from rich.console import Console

    from yolodistill.report import SUMMARY_COLUMNS, print_whole

    rows = [{"method": m, "mAP50": 0.61234, "mAP50-95": "0.460 ± 0.014", "lowest": 0.01234, "epoch s": 12.5,
             "gap recovered": "62 %", "below plain": "0 of 3"} for m in ("plain", "builtin", "ours")]
    console = Console(width=width, record=True, file=io.StringIO())
    print_whole(console, rich_table(rows, SUMMARY_COLUMNS, title="t"))
    text = console.export_text()
    assert "…" not in text and console.width == width
    for m in ("plain", "builtin", "ours"):
        line = next(line for line in text.splitlines() if line.split()[:1] == [m])
        assert "0.612" in line and "0.460 ± 0.014" in line and "0.012" in line and "62 %" in line, text


def test_runs_of_other_lengths_than_asked_are_noted():
    """patience= stopped ours at 4 of 6 epochs, and compare's title and table said 6 for both, without a word."""
    from yolodistill.report import epochs_note

    runs = [{"method": "plain", "seed": 0, "epochs": 6}, {"method": "ours", "seed": 0, "epochs": 4},
            {"method": "ours", "seed": 1, "epochs": 7}, {"method": "builtin", "seed": 0}]  # an older record: no count
    assert epochs_note(runs, 6) == ["trained other than the 6 epochs asked (patience= stops a run early, time= sets "
                                    "its own count): ours seed 0 4, ours seed 1 7; the methods compare at different "
                                    "lengths"]
    assert epochs_note(runs[:1], 6) == []
    same = [{"method": m, "seed": 0, "epochs": 3} for m in ("plain", "ours")]  # time= set 3 for every run alike
    assert epochs_note(same, 6) == ["trained other than the 6 epochs asked (patience= stops a run early, time= sets "
                                    "its own count): plain seed 0 3, ours seed 0 3"]


def test_runs_that_took_different_optimizers_are_noted():
    """optimizer=auto chose MuSGD for ours (its unlabelled images doubled its steps) and AdamW for plain, while each
    args.yaml said auto: the report said nothing."""
    from yolodistill.report import optimizer_note

    runs = [{"method": m, "seed": s, "optimizer": o, "lr0": lr} for s in (0, 1) for m, o, lr in
            (("plain", "AdamW", 0.001429), ("ours", "MuSGD", 0.01))]
    assert optimizer_note(runs) == ["the runs trained with different optimizers (plain AdamW (lr0 0.001429); ours "
                                    "MuSGD (lr0 0.01)): optimizer=auto chooses by a run's optimizer steps; pass "
                                    "optimizer= (e.g. optimizer=AdamW) to give every run the same one"]
    assert optimizer_note(runs[::2]) == [] and optimizer_note([{"method": "plain"}, runs[1]]) == []  # none recorded


def test_the_unlabelled_note_gives_the_batches_ours_trained_with():
    """The note gave the ratio asked for ('took 0.01 of each batch') where each batch held 1 of 8 (it is rounded and
    kept between 1 and batch - 1), and said 'more batches per epoch' where there were as many."""
    from yolodistill.report import unlabeled_note

    (more,) = unlabeled_note({"labelled": 16, "unlabeled": 30, "batch_labelled": 7, "batch_unlabeled": 1})
    assert more == "ours also trained on 30 unlabelled images, 1 in each batch of 8: it made 3 batches (optimizer " \
                   "steps) an epoch against the other methods' 2, and any gain it shows may come in part from " \
                   "those steps"
    (equal,) = unlabeled_note({"labelled": 18, "unlabeled": 30, "batch_labelled": 6, "batch_unlabeled": 2})
    assert equal.endswith("2 in each batch of 8: it made as many batches an epoch as the others")
    assert unlabeled_note({}) == [] and unlabeled_note({"unlabeled": 0, "batch_unlabeled": 0}) == []


def test_one_epoch_is_said_as_one():
    """compare's table, compare.md and compare.png said "1 epochs"."""
    from yolodistill.report import epochs_said

    assert (epochs_said(1), epochs_said(3)) == ("1 epoch", "3 epochs")


def test_compare_plot_titles_the_student_s_file_and_says_one_seed(tmp_path, figures):
    """A long --student path ran off the figure; one seed's legend said 'mean ± std' of a single value."""
    rec = record([run("plain", 0, 0.40), run("ours", 0, 0.45)], {"map50": 0.7, "map50_95": 0.51})
    rec["args"].update(student="/home/me/projects/a/long/path/runs/distill/nano-baseline/weights/best.pt", seeds=[0])
    compare_plot(rec, tmp_path / "compare.png")
    (ax,) = figures[-1].axes
    assert ax.get_title() == "nano-baseline's best.pt, 3 epochs, 1 seed"
    labels = ax.get_legend_handles_labels()[1]
    assert "one seed" in labels and "mean ± std" not in labels and "seed" not in labels
    compare_plot(record(RUNS, {"map50": 0.7, "map50_95": 0.51}), tmp_path / "compare2.png")
    assert {"seed", "mean ± std"} <= set(figures[-1].axes[0].get_legend_handles_labels()[1])
