"""What every benchmark script shares: where the repository, its records and its page are, the command line a record
quotes, the work folder git never sees, and bad input as one line and exit status 2, as in the CLI."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from yolodistill.errors import UserError
from yolodistill.utils import atomic_write_text

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DOCS = REPO / "docs" / "benchmarks.md"


def exit_status(action) -> int:
    """Run a script's work: bad input is one line on stderr and exit status 2, as in the CLI."""
    try:
        action()
    except UserError as e:
        print(f"Error: {e}", file=sys.stderr)
        return UserError.exit_code
    return 0


def threaded_main(args, action) -> int:
    """A script's main: `action(args)` on --threads CPU threads (recorded back into args: they decide the epoch times),
    bad input one line and exit 2 (exit_status)."""
    from yolodistill.utils import cpu_threads

    with cpu_threads(args.threads) as threads:
        args.threads = threads
        return exit_status(lambda: action(args))


def positive_int(text: str) -> int:
    """argparse type of --threads: a count of at least 1."""
    value = int(text)
    if value < 1:
        raise ValueError(value)
    return value


def command_line(argv: list[str] | None = None) -> str:
    """The line that started this process (or its script with `argv`), script path relative to the repo, ready to
    paste."""
    script = Path(sys.argv[0]).resolve()
    shown = script.relative_to(REPO) if script.is_relative_to(REPO) else script
    return shlex.join(["python", str(shown), *(sys.argv[1:] if argv is None else argv)])


def work_dir(path: Path) -> Path:
    """The absolute work folder, ignored by git from the inside: runs and weights never belong in the repository."""
    path = path.resolve()
    path.mkdir(parents=True, exist_ok=True)
    if not (path / ".gitignore").exists():
        atomic_write_text(path / ".gitignore", "*\n")
    return path


def keep_record(path: Path, runs: int, work: Path) -> None:
    """A record holding more runs than this one would: its runs are not in this --work (a fresh checkout's cache), and
    writing over it would leave a committed record with fewer runs than it had. Refused before anything trains."""
    had = len(json.loads(path.read_text()).get("runs", [])) if path.is_file() else 0
    if runs < had:
        raise UserError(f"'{path}' records {had} runs, and this one would end with {runs} (the others are not in "
                        f"--work '{work}'): pass --results FOLDER for a new record, or --work where its runs are")
