"""The `yolodistill` command line: each command parses, validates and calls one importable Python function."""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import logging
import os
import sys
from pathlib import Path
from typing import Any, List, Optional

import rich.table
import rich.text
import typer
import typer.rich_utils
from rich.console import Console
from rich.markup import escape

from .errors import UserError, as_user_error
from .utils import terminate_as_interrupt
from .options import COMPARE_ONLY, DISTILL_OPTIONS, RUN_CONTEXT, RUN_OPTIONS, TRAIN_ONLY, inputs
from .words import extra_words, is_word, only_own_words, own_words, switch_word, typed, with_options
from .words import options as command_options

app = typer.Typer(
    help="Distill a large Ultralytics YOLO detector into a nano student, prove it helped, and ship it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Make or convert datasets in YOLO format.", no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console(soft_wrap=True)  # paths stay whole on one line, to copy; tables still fit the width
err_console = Console(stderr=True, soft_wrap=True)


class _HelpTable(rich.table.Table):
    """Typer's options table with an option's names in one column, a switch's --no- name under its --name: in
    columns of their own (mostly empty), --no-init-from-teacher was cut to '--no-init-from-te…' at 80 columns and
    the help squeezed to 20 characters."""

    def add_row(self, *cells: Any, **kwargs: Any) -> None:
        at = len(cells) - 6  # Typer's rows: [required,] long, short, negative long, negative short, type, help
        if not self.show_header and at in (0, 1) and all(isinstance(c, rich.text.Text) for c in cells[at:at + 4]):
            names = [rich.text.Text(", ").join(c for c in pair if c.plain)
                     for pair in (cells[at:at + 2], cells[at + 2:at + 4])]
            cells = (*cells[:at], rich.text.Text("\n").join(c for c in names if c.plain), *cells[at + 4:])
        super().add_row(*cells, **kwargs)


typer.rich_utils.Table = _HelpTable  # read by Typer's help at call time; an unexpected row is left as it came


def show_version(asked: bool) -> None:
    if asked:  # the installed distribution's, as pip and `yolodistill info` show it
        console.print(f"yolodistill {importlib.metadata.version('yolodistill')}", highlight=False)
        raise typer.Exit()


@app.callback()
def root(version: bool = typer.Option(False, "--version", callback=show_version, is_eager=True,
                                      help="Print yolodistill's version and exit.")) -> None:
    pass


def user_errors(fn):
    """Turn a UserError into one red line on stderr and exit status 2, a full disk into one line and 1, a path too
    long for the filesystem into one line and 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            try:
                return fn(*args, **kwargs)
            except OSError as e:
                raise as_user_error(e)
        except UserError as e:
            err_console.print(f"[bold red]Error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=e.exit_code) from None

    return wrapper


NOTHING_WRITTEN = "Nothing was written: --out is as it was"


@contextlib.contextmanager
def interrupted(kept: str = ""):
    """A Ctrl-C (or SIGTERM) ends the command with what it kept (its own account, where it gives one), exit 130, no
    traceback."""
    try:
        with terminate_as_interrupt():
            yield
    except KeyboardInterrupt as e:
        err_console.print(f"[bold yellow]Interrupted.[/] {escape(str(e) or kept)}", soft_wrap=True, highlight=False)
        raise typer.Exit(code=130) from None


def merge_overrides(flags: dict[str, Any], ctx: typer.Context) -> dict[str, Any]:
    """Flags that were given (not None) plus the key=value words; a setting given both ways is refused."""
    from ultralytics.cfg import CFG_BOOL_KEYS  # Ultralytics' own switches (cos_lr=), read as ours are

    words = extra_words(ctx)
    unset = {o.name for o in RUN_OPTIONS if o.type is bool}  # a plain flag left off is False, not a setting
    given = {k: v for k, v in flags.items()
             if v is not None and v != [] and v != () and not (v is False and k in unset)}  # [] : a list flag left off
    if isinstance(given.get("batch"), float) and given["batch"].is_integer():  # a float option, for --batch 0.7
        given["batch"] = int(given["batch"])
    twice = sorted(k for k in set(given) & set(words) if typed(ctx, k))  # compare's --seeds left off: its default
    if twice:
        k, flag = twice[0], twice[0].replace('_', '-')
        typed_as = ((f"--{flag}" if given[k] else f"--no-{flag}") if isinstance(given[k], bool) else
                    " ".join(f"--{flag} {v}" for v in given[k]) if isinstance(given[k], (list, tuple)) else
                    f"--{flag} {given[k]}")
        raise UserError(f"{k} is given twice ({typed_as} and {k}={words[k]}): keep one")  # not '--kd-gate False'
    params = command_options(ctx)
    for k in [k for k in words if words[k] is not None and (k in params and params[k].is_bool_flag or
                                                             k in CFG_BOOL_KEYS)]:
        words[k] = switch_word(k, words.raw[k])  # as a switch's flag reads it: exist_ok=1, kd_gate=yes, cos_lr=on
    return {**given, **words}


@app.command(context_settings=RUN_CONTEXT)
@user_errors
@with_options(inputs(resume=True), RUN_OPTIONS, DISTILL_OPTIONS, TRAIN_ONLY)
def train(ctx: typer.Context, **options: Any):
    """Distill TEACHER into STUDENT on DATA. Any other Ultralytics train argument goes as key=value (cos_lr=True).

    So do the recipe keys without a flag, cwd_tau= and mgd_mask_ratio= (the default recipe says what each does).

    Runs go to runs/distill/NAME with Ultralytics' usual results.csv, weights/best.pt and weights/last.pt;
    best.pt is a plain Ultralytics checkpoint of the student.
    """
    from .train import train as run_train

    settings = merge_overrides(options, ctx)
    with interrupted():  # TrainingInterrupted says how to resume
        result = run_train(**settings)
    console.print(f"[bold green]Done.[/] Student weights: {escape(str(result.best))}")
    console.print(f"Results: {escape(str(result.save_dir / 'results.csv'))}")
    console.print(f"Settings: {escape(str(result.save_dir / 'distill.yaml'))}")


@app.command(context_settings=RUN_CONTEXT)
@user_errors
@with_options(inputs(resume=False), RUN_OPTIONS, COMPARE_ONLY, DISTILL_OPTIONS)
def compare(ctx: typer.Context, **options: Any):
    """Train the plain student, Ultralytics' built-in distiller and our recipe per seed, and compare them.

    Takes train's options with the same meaning: the distillation flags (--kd-*, --temperature, --feat-loss,
    --init-from-teacher, --unlabeled*) and cwd_tau=, mgd_mask_ratio= set 'ours', every other option and key=value
    argument all methods alike. Writes compare.json, compare.md and compare.png.
    """
    from .compare import compare as run_compare

    settings = merge_overrides(options, ctx)
    with interrupted():  # CompareInterrupted says what finished and how to go on
        run_compare(console=console, **settings)


@data_app.command("synth")
@user_errors
def data_synth(
    out: Path = typer.Option(..., help="Output folder, new or holding no dataset yet; data.yaml is written inside."),
    images: int = typer.Option(64, help="Number of images (a quarter go to val), 2 to 100000."),
    classes: int = typer.Option(3, help="Number of classes, each a shape (1 to 8)."),
    imgsz: int = typer.Option(128, help="Image width and height in pixels, 32 to 4096."),
    seed: int = typer.Option(0, help="Random seed: the same seed gives the same files."),
):
    """Write a deterministic synthetic multi-class detection dataset in YOLO format."""
    from .data import make_synthetic

    with interrupted(NOTHING_WRITTEN):  # drawn in a stage folder, moved in whole
        path = make_synthetic(out, images=images, classes=classes, imgsz=imgsz, seed=seed)
    console.print(f"Wrote {images} images, {classes} classes: {escape(str(path))}")


@data_app.command("convert")
@user_errors
def data_convert(
    src: List[Path] = typer.Argument(..., help="The dataset: a VOC folder (any common layout), a COCO JSON file or "
                                     "folder (several JSON files: one per split), or a YOLO folder or data.yaml."),
    format: str = typer.Option(..., "--format", help="Source format: voc, coco, or yolo (check and clean a YOLO "
                               "dataset)."),
    out: Path = typer.Option(..., help="Output folder, new or holding no dataset yet, for the dataset and data.yaml. "
                             "Its images are hard links to the source's where the disk allows (no copy): the same "
                             "files, so an image edited in place there changes the source's too."),
    images: Optional[Path] = typer.Option(None, help=escape("Folder of the images, when they are not where the "
                                          "layout puts them (always wins; YOLO: a folder without a data.yaml, "
                                          "whose splits name theirs). [default: found]")),
    annotations: Optional[Path] = typer.Option(None, help=escape("VOC: folder of the XML files (always wins). "
                                               "[default: found]")),
    names: Optional[str] = typer.Option(None, help="Class names in class-id order, comma-separated (VOC: default "
                                        "alphabetical; YOLO: default data.yaml or classes.txt)."),
    imgsz: int = typer.Option(640, help="Training image size at which the box sizes (COCO small/medium/large) are "
                              "counted."),
    val_fraction: float = typer.Option(0.2, help="Validation share in (0, 1) when the source has no published split."),
    seed: int = typer.Option(0, help="Random seed of that split."),
):
    """Convert a Pascal VOC or COCO dataset, or check and clean a YOLO one, into a YOLO dataset with a data.yaml.

    Prints and writes (dataset.json) the boxes per class and their sizes at --imgsz; what could not be matched goes
    to unmatched.txt, what was fixed to issues.txt.
    """
    from .convert import convert

    with interrupted(NOTHING_WRITTEN):  # it stages the dataset, and takes out what it had moved in
        summary = convert(src, fmt=format, out=out, val_fraction=val_fraction, seed=seed, names=names,
                          images=images, annotations=annotations, imgsz=imgsz)
    console.print(summary.render(), soft_wrap=True, highlight=False)


@data_app.command("pseudo-label", context_settings=RUN_CONTEXT)
@user_errors
def data_pseudo_label(
    ctx: typer.Context,
    teacher: Optional[str] = typer.Option(None, help="Required. Teacher checkpoint whose detections become the labels "
                                          "(.pt path, official name such as yolo26x.pt, or a URL you trust)."),
    images: Optional[Path] = typer.Option(None, help="Required. Folder of unlabelled images (searched, only read)."),
    out: Optional[Path] = typer.Option(None, help="Required. New or empty output folder: the dataset, data.yaml."),
    conf: float = typer.Option(0.25, help="Detections at or above this confidence become labels."),
    iou: float = typer.Option(0.7, help="IoU threshold of the non-maximum suppression."),
    tta: bool = typer.Option(False, "--tta", help="Test-time augmentation: slower, often better labels."),
    imgsz: Optional[int] = typer.Option(None, help=escape("Inference image size. [default: the teacher's train "
                                        "imgsz]")),
    device: Optional[str] = typer.Option(None, help=escape("Device: cpu, mps, 0; auto: Ultralytics' choice (a GPU if "
                                         "there is one); checked against this machine's GPUs. [default: auto]")),
    batch: int = typer.Option(16, help="Images per inference batch."),
    val_fraction: float = typer.Option(0.1, help="Validation share of the images: at least one image when above 0; "
                                       "0 validates on the train images."),
    seed: int = typer.Option(0, help="Random seed of that split."),
):
    """Write the teacher's detections on unlabelled images as a YOLO dataset, to look at, correct or train on. The
    options may also go as key=value (conf=0.4)."""
    from .pseudo import pseudo_label

    with interrupted(NOTHING_WRITTEN):  # it stages the dataset and moves it in whole
        result = pseudo_label(**only_own_words(ctx))  # --teacher T or teacher=T: it asks for what is missing
    console.print(escape(result.render()), soft_wrap=True, highlight=False)


@app.command(context_settings=RUN_CONTEXT)
@user_errors
def export(
    ctx: typer.Context,
    weights: str = typer.Option(..., help="Checkpoint to export, e.g. runs/distill/exp/weights/best.pt (an "
                                 "official name such as yolo26n.pt is fetched as yolo export fetches it)."),
    format: str = typer.Option("onnx", "--format", help="onnx, openvino or engine (TensorRT, needs CUDA)."),
    imgsz: Optional[int] = typer.Option(None, help=escape("Export image size. [default: the checkpoint's train "
                                        "imgsz]")),
    half: bool = typer.Option(False, "--half", help="FP16 weights (onnx, openvino, engine)."),
    int8: bool = typer.Option(False, "--int8", help="INT8 quantization, calibrated on --data and gated by --max-drop."),
    data: Optional[Path] = typer.Option(None, help=escape(
        "Dataset yaml: parity sample images, INT8 calibration, and the mAP50-95 reported where OpenVINO computes in "
        "bf16 on this CPU. [default: the dataset the checkpoint was trained on, where it still is; parity then falls "
        "back to Ultralytics' sample images]")),
    dynamic: bool = typer.Option(False, "--dynamic", help=escape(
        "Dynamic input shapes: any batch and size for ONNX and OpenVINO; a TensorRT engine takes batches up to "
        "--batch and sizes from 32 px to twice --imgsz (Ultralytics' profile).")),
    batch: int = typer.Option(1, help="Export batch size: a static export runs this batch alone (bench pads to it)."),
    simplify: bool = typer.Option(True, "--simplify/--no-simplify", help="Simplify the ONNX graph (onnxslim)."),
    nms: Optional[bool] = typer.Option(None, "--nms/--end2end", help=escape(
        "--nms: NMS inside the graph, which then keeps only scores above 0.25 (nms=True). --end2end: YOLO26's "
        "NMS-free head, its top 300 boxes with no NMS anywhere (Ultralytics' nms=False). [default: neither: raw "
        "outputs, which NMS follows]"), show_default=False),
    device: Optional[str] = typer.Option(None, help=escape("Device for export: cpu, mps or a GPU index such as 0; auto: "
                                         "as Ultralytics exports, cpu (0 for engine). [default: auto]")),
    max_drop: float = typer.Option(0.02, help="With --int8: the largest mAP50-95 drop against fp32 that still "
                                   "ships."),
):
    """Export with Ultralytics, then check the artifact against the PyTorch model on sample images.

    The artifact goes beside --weights under Ultralytics' name (best.onnx, best_int8.onnx, best_openvino_model/,
    best.engine) once it passes; an earlier export of that name is replaced, and the output says what it was.
    Ultralytics' opset=, workspace= and fraction= go as key=value (opset=12), and so may the options below but
    --weights (imgsz=320)."""
    from .export import export_model

    values, words = own_words(ctx)  # the options above, key=value words applied
    with interrupted("Nothing was exported: the weights and any earlier export beside them are as they were"):
        result = export_model(**values, **words)  # its private folder goes, and install() puts an old export back
    console.print(result.render())


@app.command()
@user_errors
def bench(
    ctx: typer.Context,
    artifacts: Optional[List[Path]] = typer.Argument(None, help=escape(
        "Files to bench (.pt, .onnx, *_openvino_model/, .engine). [default: newest run's best.pt and its exports, "
        "found under ./runs/distill, else ./runs/detect]")),
    data: Optional[Path] = typer.Option(None, help=escape("Dataset yaml whose val split gives mAP. [default: the "
                                        "run's data]")),
    imgsz: Optional[int] = typer.Option(None, help=escape("Image size. [default: each artifact's own]")),
    device: str = typer.Option("auto", help="Device: cpu, mps or a CUDA index such as 0; auto: a GPU if there is one (a "
                               "Jetson's, for its .engine), else cpu."),
    batch: int = typer.Option(1, help="Batch size of the timed runs (latency is per batch) and of validation."),
    warmup: int = typer.Option(10, help="Untimed warm-up runs."),
    runs: int = typer.Option(100, help="Timed runs for the latency percentiles."),
    json: Optional[Path] = typer.Option(None, "--json", help=escape("Where to write bench.json. [default: beside "
                                        "the first artifact]")),
    threads: Optional[int] = typer.Option(None, help="CPU threads for timing the .pt rows (default: every usable core, "
                                          "as ONNX Runtime and OpenVINO use; 1 on a machine shared with other work)."),
):
    """Latency (p50/p90/p99), throughput, size, parameters, FLOPs and mAP of every artifact, on the same images.

    Latency is per batch of --batch images. Options may go as key=value too, as Ultralytics writes them (imgsz=320
    runs=50)."""
    from .bench import bench as run_bench

    typed = [a for a in artifacts or [] if is_word(str(a), ctx) and not a.exists()]  # key=value, as Ultralytics
    values, left = own_words(ctx, extra_words(ctx, [str(a) for a in typed]))
    if left:
        raise UserError(f"bench has no setting {next(iter(left))}=: see yolodistill bench --help")
    values["json_path"] = values.pop("json")
    with interrupted("Nothing was written; an earlier bench.json is as it was"):  # the reports come last
        run_bench([a for a in artifacts or [] if a not in typed] or None, **values, console=console)


@app.command(context_settings=RUN_CONTEXT)
@user_errors
def demo(
    ctx: typer.Context,
    out: Path = typer.Option(Path("runs/demo"), help="Folder for everything the demo writes (demo-2, ... if taken)."),
    quick: bool = typer.Option(False, "--quick", help="Smaller data and fewer epochs: about 1 to 3 minutes on 2 CPU "
                               "cores."),
    device: str = typer.Option("auto", help="Device for every step: cpu, mps or a CUDA index such as 0; auto: a GPU if "
                               "there is one, else cpu."),
    threads: Optional[int] = typer.Option(None, help="CPU threads for training and for timing the .pt rows "
                                          "(default: every core, where Ultralytics alone leaves one free)."),
):
    """Run the whole tool on synthetic data: teacher, plain and distilled student, export, bench, one table.

    The options may also go as key=value (device=0)."""
    from .demo import demo as run_demo

    with interrupted():  # DemoInterrupted says what it kept
        run_demo(**only_own_words(ctx), console=console)


@app.command()
@user_errors
def info():
    """Versions, accelerators, Jetson details, and which export formats this machine can build and run."""
    from .report import print_whole
    from .sysinfo import info_tables

    tables, warnings = info_tables()
    for table in tables:  # its prose wrapped to the terminal, its words whole: cut, the install command it
        print_whole(console, table, words=True)  # recommends read '…'; at its own width (330) every row wrapped
    for w in warnings:
        console.print(f"[yellow]Warning:[/] {escape(w)}")


def home_expanded(argv: list[str]) -> list[str]:
    """`--out=~/x` and `out=~/x` as the shell expands `--out ~/x`: it leaves a ~ after = alone, which made a folder
    named ~ in the working folder (one `rm -r ~` away from the home folder); so is a quoted "~/My Data", which
    --unlabeled read from the home folder while --project made ./~ of it."""
    names = ("--name", "name", "--names", "names")  # a run or class name is no path: '~' stays '~'

    def expand(word: str, before: str) -> str:
        if (word == "~" or word.startswith("~/")) and before not in names:
            return os.path.expanduser(word)
        key, eq, value = word.partition("=")
        return f"{key}={os.path.expanduser(value)}" if eq and value.startswith("~") and key not in names else word

    return [expand(word, before) for word, before in zip(argv, ["", *argv])]


def help_asked(words: list[str]) -> bool:
    """A trailing --help that is no option's value (`--out --help` wrote a dataset to a folder named --help)."""
    if words[-1:] != ["--help"]:
        return False
    command = typer.main.get_command(app)
    for word in words:  # the subcommand the words name
        command = getattr(command, "commands", {}).get(word, command)
    option = next((p for p in command.params if words[-2:-1] and words[-2] in (*p.opts, *p.secondary_opts)), None)
    return option is None or option.is_flag or option.count


def main() -> None:
    """Console-script entry point: a usage error Click finds before a command runs is one line and status 2 too."""
    from .errors import usage_line

    for stream in (sys.stdout, sys.stderr):  # PYTHONIOENCODING=ascii: a path of 'é' was a UnicodeEncodeError after
        with contextlib.suppress(AttributeError, ValueError):  # all the work, at the closing line
            stream.reconfigure(errors="backslashreplace")
    logging.raiseExceptions = False  # a closed stdout (`| head`): one line below, not a "Logging error" block per
    # message Ultralytics logs after it
    try:
        os.getcwd()
    except OSError:  # deleted under the shell: relative paths were a FileNotFoundError traceback
        words = sys.argv[1:]
        if help_asked(words) or words == ["--version"] or words[:1] in (["info"], []):
            os.chdir(os.path.expanduser("~") if os.path.isdir(os.path.expanduser("~")) else "/")  # read nothing
            return main()  # relative: help, the version and info answer anywhere
        err_console.print("[bold red]Error:[/] the current folder no longer exists (deleted or moved): cd into an "
                          "existing folder and run the command again", highlight=False, soft_wrap=True)
        sys.exit(2)
    try:  # an Exit's code, or a command's return
        status = app(args=home_expanded(sys.argv[1:]), prog_name="yolodistill", standalone_mode=False)
    except Exception as e:
        if type(e).__name__ == "NoArgsIsHelpError":  # a bare `yolodistill` or `yolodistill data`: help is shown
            sys.exit(2)
        if type(e).__name__ == "Abort":  # Ctrl-D at a prompt
            err_console.print("Aborted.")
            sys.exit(1)
        if (line := usage_line(e, typer.main.get_command(app), sys.argv[1:])) is None:
            raise
        err_console.print(f"[bold red]Error:[/] {escape(line)}", highlight=False, soft_wrap=True)
        sys.exit(2)
    sys.exit(status if isinstance(status, int) else 0)


if __name__ == "__main__":
    sys.exit(main())
