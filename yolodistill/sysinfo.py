"""Where a benchmark ran: the board, its power mode and clocks on a Jetson, or the CPU, GPU and libraries elsewhere.

Timings mean little without this record. Every file read and command run goes through a `System`, so tests can
replay the output recorded on a real board.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import subprocess
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .utils import usable_cores

# L4T major release to JetPack major release; `dpkg-query` gives the exact JetPack version when it is installed.
L4T_TO_JETPACK = {"32": "4", "35": "5", "36": "6", "38": "7", "39": "7"}
LIBRARIES = ("yolodistill", "torch", "ultralytics", "onnx", "onnxruntime", "onnxruntime-gpu", "openvino", "tensorrt",
             "numpy")
CLOCK_LINE = re.compile(r"^(cpu\d+|GPU|EMC)\b.*?MinFreq=(\d+) MaxFreq=(\d+)")
# Board input power: VDD_IN on Orin NX/Nano and Xavier NX ("5123mW/5123mW"), POM_5V_IN on Nano and TX2
# ("2328/2328"). AGX boards split it over several rails and report no energy.
POWER_RAIL = re.compile(r"\b(?:VDD_IN|POM_5V_IN) (\d+)(?:mW)?/\d+")


def run_command(cmd: list[str]) -> str | None:
    """Run a command and return its stdout, or None when it is missing, fails or hangs."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


class LineStream(Protocol):
    """A running process whose stdout yields text lines (what `subprocess.Popen` gives)."""

    stdout: Iterable[str]

    def terminate(self) -> None: ...

    def wait(self, timeout: float | None = None) -> int | None: ...

    def kill(self) -> None: ...


def start_process(cmd: list[str]) -> LineStream | None:
    """Start a long-running command with line-buffered text stdout, or None when it cannot start."""
    try:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
    except OSError:
        return None


@dataclass
class System:
    """The files and commands the probe reads; swap them for recorded ones in tests."""

    tegra_release: Path = Path("/etc/nv_tegra_release")
    device_tree_model: Path = Path("/proc/device-tree/model")
    run: Callable[[list[str]], str | None] = run_command
    start: Callable[[list[str]], LineStream | None] = start_process

    def read(self, path: Path) -> str | None:
        """Text of a system file without the device tree's trailing NUL, or None if unreadable."""
        try:
            return path.read_text(errors="replace").replace("\x00", "").strip()
        except OSError:
            return None

    def is_jetson(self) -> bool:
        """A Jetson has an L4T release file or a device-tree model naming the board."""
        model = self.read(self.device_tree_model) or ""
        return self.tegra_release.exists() or "jetson" in model.lower()


def parse_l4t(text: str | None) -> str | None:
    """L4T version from /etc/nv_tegra_release, e.g. '# R36 (release), REVISION: 4.3, ...' -> '36.4.3'."""
    m = re.search(r"R(\d+) \(release\), REVISION: ([\d.]+)", text or "")
    return f"{m[1]}.{m[2]}" if m else None


def parse_jetpack(dpkg: str | None, l4t: str | None) -> str | None:
    """Exact JetPack from `dpkg-query` ('6.2+b77' -> '6.2'), else the major release the L4T version implies."""
    m = re.search(r"^(\d+(?:\.\d+)*)", (dpkg or "").strip())
    if m:
        return m[1]
    major = L4T_TO_JETPACK.get((l4t or "").split(".")[0])
    return f"{major}.x" if major else None


def parse_power_mode(text: str | None) -> str | None:
    """Power mode name and id from `nvpmodel -q` ('NV Power Mode: MAXN\\n0' -> 'MAXN (0)')."""
    m = re.search(r"NV Power Mode:[ \t]*(\S+)[ \t]*(?:\r?\n\s*(\d+))?", text or "")
    if not m:
        return None
    return f"{m[1]} ({m[2]})" if m[2] else m[1]


def unlocked_clocks(text: str) -> list[str]:
    """CPU cores, GPU and EMC whose clock can still move, from `jetson_clocks --show`.

    jetson_clocks pins CPU and GPU by raising MinFreq to MaxFreq; the memory clock keeps its MinFreq and shows
    FreqOverride=1 instead.
    """
    out = []
    for line in text.splitlines():
        m = CLOCK_LINE.match(line.strip())
        if m and m[2] != m[3] and "FreqOverride=1" not in line:
            out.append(m[1])
    return out


def parse_power_mw(line: str) -> float | None:
    """Instantaneous board input power in mW from one tegrastats line, or None if the line has no input rail."""
    m = POWER_RAIL.search(line)
    return float(m[1]) if m else None


def energy_per_image(power_mw: list[float], seconds: float, images: int) -> float | None:
    """Joules per image: mean board power (W) times the timed seconds, shared over the images processed."""
    if not power_mw or images <= 0:
        return None
    return sum(power_mw) / len(power_mw) / 1000 * seconds / images


def energy_record(power_mw: list[float], seconds: float, images: int, missing: str | None = None) -> dict:
    """What bench_env.json keeps per artifact: the samples behind the energy figure, and the figure (or why none)."""
    return {**({"missing": missing} if missing else {}),
        "power_w_mean": round(sum(power_mw) / len(power_mw) / 1000, 3) if power_mw else None,
        "samples": len(power_mw),
        "timed_s": seconds,
        "images": images,
        "energy_j_per_image": energy_per_image(power_mw, seconds, images),
    }


@dataclass
class PowerSampler:
    """Samples board power from `tegrastats` in a background thread while the timed runs execute."""

    system: System
    interval_ms: int = 100
    samples_mw: list[float] = field(default_factory=list)
    lines: int = 0  # tegrastats lines read, with or without a board input rail
    exited: int | None = None  # tegrastats' exit status where it ended before it was stopped
    _proc: LineStream | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    def __enter__(self) -> PowerSampler:
        self._proc = self.system.start(["tegrastats", "--interval", str(self.interval_ms)])
        if self._proc is not None:
            self._thread = threading.Thread(target=self._read, daemon=True)
            self._thread.start()
        return self

    def _read(self) -> None:
        for line in self._proc.stdout:
            self.lines += 1
            mw = parse_power_mw(line)
            if mw is not None:
                self.samples_mw.append(mw)

    def missing(self) -> str | None:
        """Why there is no energy figure, where there is none: the J/img cell alone read '-'."""
        if self.samples_mw:
            return None
        if self._proc is None:
            return "tegrastats did not start (is it on PATH?)"
        if self.lines:
            return ("tegrastats names no board input rail here (VDD_IN or POM_5V_IN; an AGX board splits its power "
                    "over several rails)")
        if self.exited is not None:
            return f"tegrastats stopped at once (exit status {self.exited}; it may need root)"
        return f"no tegrastats sample came while it was timed (one each {self.interval_ms} ms): more --runs"

    def __exit__(self, *exc) -> None:
        if self._proc is not None:
            self.exited = getattr(self._proc, "poll", lambda: None)()  # before it is stopped: ended on its own
            self._proc.terminate()
            try:
                self._proc.wait(timeout=2)  # reap tegrastats so it does not linger as a zombie
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._thread.join(timeout=2)
            if close := getattr(self._proc.stdout, "close", None):  # its pipe: one per benched artifact otherwise
                close()


def jetson_record(system: System) -> tuple[dict, list[str]]:
    """Board model, L4T/JetPack, power mode and clock state, plus warnings about what makes timings unstable."""
    l4t = parse_l4t(system.read(system.tegra_release))
    dpkg = system.run(["dpkg-query", "--showformat=${Version}", "--show", "nvidia-jetpack"])
    clocks = system.run(["jetson_clocks", "--show"])
    record = {
        "board": system.read(system.device_tree_model),
        "l4t": l4t,
        "jetpack": parse_jetpack(dpkg, l4t),
        "power_mode": parse_power_mode(system.run(["nvpmodel", "-q"])),
        "clocks_locked": None if clocks is None else not unlocked_clocks(clocks),
    }
    warnings = []
    if clocks is None:
        warnings.append("could not read the clock state (jetson_clocks --show needs root): timings may drift")
    elif unlocked_clocks(clocks):
        units = ", ".join(unlocked_clocks(clocks))
        warnings.append(f"clocks are not locked ({units}): run 'sudo jetson_clocks' for stable timings")
    if record["power_mode"] is None:
        warnings.append("could not read the power mode (nvpmodel -q)")
    return record, warnings


def cpu_name() -> str:
    """CPU model name from /proc/cpuinfo on Linux, else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries that decide speed and accuracy (None when not installed)."""
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    if out.get("torch"):  # its build too (2.14.1+cu130 or +cpu), on which the gpu line depends, as compare records it
        import torch

        out["torch"] = torch.__version__
    return out


def gpu_name() -> str | None:
    """Name of CUDA device 0, or None without CUDA."""
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def collect(system: System | None = None) -> tuple[dict, list[str]]:
    """The environment record for bench_env.json and the warnings to print before timing."""
    system = system or System()
    record = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "usable_cores": usable_cores(),  # fewer under taskset or a container's CPU set: what timings ran on
        "gpu": gpu_name(),
        "libraries": library_versions(),
        "jetson": None,
    }
    warnings: list[str] = []
    if system.is_jetson():
        record["jetson"], warnings = jetson_record(system)
    return record, warnings


class BusyElsewhere:
    """CPUs that other processes kept busy, on average, over a `with` block: the busy time of the CPUs this process
    may run on (taskset, a container's CPU set) less its own (its threads' and its children's), over the wall time. A
    latency timed beside a training or a browser reads slower and noisier than on an idle machine, and the table said
    nothing of it. None where psutil cannot say."""

    def __init__(self) -> None:
        self.cpus: float | None = None

    @staticmethod
    def _now() -> tuple[float, float, float] | None:
        try:
            import time

            import psutil

            cpus, own = psutil.cpu_times(percpu=True), psutil.Process().cpu_times()
            ids = cpu_ids(len(cpus))
            mine = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") and len(ids) == len(cpus) else ids
        except Exception:  # no psutil, or a system it cannot read (a sandbox without /proc/stat)
            return None
        busy = sum(sum(c) - c.idle - getattr(c, "iowait", 0.0) - getattr(c, "guest", 0.0)  # a guest's is in user
                   - getattr(c, "guest_nice", 0.0) for i, c in zip(ids, cpus) if i in mine)  # the machine's others:
        return time.perf_counter(), busy, own.user + own.system + own.children_user + own.children_system  # not ours

    def __enter__(self) -> "BusyElsewhere":
        self._start = self._now()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._now()
        if self._start is not None and end is not None and end[0] > self._start[0]:
            wall, busy, own = (e - s for e, s in zip(end, self._start))
            self.cpus = round(max(busy - own, 0.0) / wall, 2)


def cpu_ids(count: int) -> list[int]:
    """The ids of psutil's per-CPU entries: its order is /proc/stat's, which lists online CPUs only, so with one
    offline (nosmt) a position is no id. Positions where /proc/stat cannot be read."""
    try:
        ids = [int(line[3:].split()[0]) for line in Path("/proc/stat").read_text().splitlines()
               if re.match(r"cpu\d", line)]
    except (OSError, ValueError):
        return list(range(count))
    return ids if len(ids) == count else list(range(count))


def busy_notes(busy: dict[str, float], names: dict[str, str], cpu_count: int | None,
               at_least: float = 0.5) -> list[str]:
    """A caveat under bench's table for the artifacts timed while other processes kept `at_least` CPUs busy."""
    loud = {names[a]: c for a, c in busy.items() if a in names and c is not None and c >= at_least}
    if not loud:
        return []
    said = ", ".join(f"{n} ({c:.1f})" for n, c in loud.items())
    return [f"Other processes kept CPUs busy while bench timed {said} (average CPUs, of {cpu_count or '?'}): those "
            "latencies may read slower and noisier than on an idle machine; bench again when it is quiet"]


def info_tables() -> tuple[list, list[str]]:
    """What `yolodistill info` shows: the environment and, per export format, what it needs and whether it runs
    here (rich tables), and the warnings to print after them."""
    from rich.markup import escape
    from rich.table import Table

    from .runtimes import format_support

    record, warnings = collect()
    table = Table(title="yolodistill environment", show_header=False)
    table.add_column()
    table.add_column(overflow="fold")  # a platform string is one long word: cut to '…' at 50 columns
    for key in ("platform", "python", "cpu", "cpu_count", "usable_cores", "gpu"):
        table.add_row(key, str(record.get(key) or "none"))
    for lib, version in record.get("libraries", {}).items():
        table.add_row(lib, version or "not installed")
    try:
        import onnxruntime

        table.add_row("onnxruntime providers", ", ".join(onnxruntime.get_available_providers()))
    except ImportError:
        pass
    for key, value in (record.get("jetson") or {}).items():
        table.add_row(f"jetson {key}", str(value))
    formats = Table(title="Export formats")
    for col in ("format", "needs", "here"):
        formats.add_column(col)
    for row in format_support():
        here = f"[red]no[/]: {escape(row['detail'])}" if not row["available"] else "[green]available[/]" + (
            f": {escape(row['detail'])} (export reports its mAP50-95)" if row["detail"] != "ready" else "")
        if row.get("int8"):
            here += f"; [red]not INT8[/]: {escape(row['int8'])}"
        formats.add_row(row["format"], escape(row["needs"]), here)
    return [table, formats], warnings
