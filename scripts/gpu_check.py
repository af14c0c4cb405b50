"""One-shot check of archbench's CUDA paths on a fresh GPU machine: ``make gpu-check``.

The machines it targets have Python 3.12 with torch, torchvision, numpy, scipy, scikit-learn,
matplotlib, rich, typer, pyyaml and nvidia-ml-py (``PROVIDED``), and no package registry.
``make gpu-wheels`` (run where a registry is reachable) resolves the rest of ``archbench[dev]``'s
installed dependency tree (``--list-wheels``), writes it to ``.whl/requirements.txt`` and
downloads exactly those versions; this script checks the folder against that list (names,
versions, CPython 3.12 x86_64 Linux tags, abi3 included), installs it with ``pip install
--no-index --no-deps --target`` into a temporary folder, never touching torch, and runs archbench
from this checkout through ``PYTHONPATH``. A failed install is recorded in ``summary.json``; the
steps that need no wheel still run.

Steps, cheap and certain first, each in its own session under its own limit and the run's
budget; a step that ends or times out has its whole session killed (pytest's children, trial
processes, a PostgreSQL server). Every step writes its figures as it measures them, and budgets
its later items from the times of its earlier ones: what it cuts is named, with the reason, in
``summary.json["cut"]``.

1. env: GPU, UUID and PCI bus id (every NVML reading matches the card by them), memory, driver,
   torch/CUDA versions, bf16, C compiler and ``Python.h`` for ``torch.compile``.
2. tests_cuda: the ``cuda``-marked tests (exit 0, or 5 where none exists).
3. memory: measured max batch under an emulated 24 GiB card against the prediction, peaks at
   batch 128, and the CUDA allowance fitted from them.
4. search: a short CUDA search through the CLI, one process per trial; GPU memory back to its
   baseline (NVML); per-trial overhead.
5. throughput: archbench's trainer against a minimal hand loop, eager settings.
6. tests_quick: the quick suite (``-m "not slow and not ray and not cuda"``) with CUDA visible.
7. latency: the latency cost model's zero-shot and 10-shot errors on 20 measured configs.
8. compile: the throughput rows under ``torch.compile``, each compile timed apart.
9. cifar (with ``--cifar PATH``): ``airbench94_like`` on CIFAR-10 JPEG for a fixed budget beside
   airbench94's anchor, and a 10-trial search with the default proxy (trials per minute).

``--rehearse`` runs every step on the CPU at tiny sizes (``cpu`` where ``cuda`` would be, the
wheels from ``.whl/`` or a tiny wheel built on the spot); it exits 0 only where every step did
what it should. See docs/gpu_check.md.

    python scripts/gpu_check.py [--out gpu-check] [--budget 600] [--rehearse] [--cifar PATH]
    python scripts/gpu_check.py --dry-run | --list-wheels
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.metadata
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
WHEELS_DIR = REPO / ".whl"
MANIFEST = "requirements.txt"  # in the wheels folder: the pins ``make gpu-wheels`` fetched
# What the GPU machines have: neither fetched nor followed into their own dependencies.
PROVIDED = frozenset(
    {
        "torch",
        "torchvision",
        "numpy",
        "scipy",
        "scikit-learn",
        "matplotlib",
        "rich",
        "typer",
        "pyyaml",
        "nvidia-ml-py",
    }
)
# In ``archbench[dev]`` but run by no test: the linters (``make lint``), 25 MB of wheels.
NOT_FOR_TESTS = frozenset({"ruff", "mypy"})
# The GPU machines' interpreter and platform, for environment markers and wheel tags.
TARGET_PYTHON = (3, 12)
TARGET_MARKERS = {
    "python_version": "3.12",
    "python_full_version": "3.12.3",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "platform_machine": "x86_64",
    "platform_system": "Linux",
    "sys_platform": "linux",
    "os_name": "posix",
}
TARGET_PLATFORMS = [
    *(f"manylinux_2_{minor}_x86_64" for minor in range(28, 4, -1)),
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
    "linux_x86_64",
]
INSTALL_LIMIT_S = 60
GIB = 2**30
TORCH_FLOOR = (2, 5)  # torch.OutOfMemoryError and the other APIs archbench's CUDA paths use


@dataclass(frozen=True)
class Sizes:
    """What the steps measure: the GPU run's sizes, or the rehearsal's tiny ones on the CPU."""

    device: str
    memory_models: tuple[str, ...]
    memory_batch: int
    emulated_card: int
    throughput_models: tuple[str, ...]
    throughput_images: int
    throughput_batch: int
    search_trials: int
    search_caps: tuple[str, ...]  # --max-params and --max-flops of the search
    search_epochs: int
    search_subset: float
    test_paths: tuple[str, ...] | None  # None: every test folder
    # First guesses, in seconds, replaced by the run's own measured times as soon as it has one.
    compile_estimate_s: float
    model_estimate_s: float
    cifar_epochs: int
    cifar_trials: int
    latency_configs: int  # issue 18: configs measured; the first latency_shots calibrate
    latency_shots: int
    latency_max_flops: int | None


TINY_MODEL = "tiny"  # the rehearsal's model: one 8-channel conv stage, ``simple_cnn``'s family
GPU_SIZES = Sizes(
    device="cuda",
    memory_models=("resnet18_cifar", "resnet_5m", "vgg16_cifar", "branchnet_cifar"),
    memory_batch=128,
    emulated_card=24 * GIB,
    throughput_models=("resnet_5m", "airbench94_like"),
    throughput_images=50_000,  # CIFAR-10's training split
    throughput_batch=512,
    search_trials=4,
    search_caps=("--max-params", "5M"),
    search_epochs=2,
    search_subset=1.0,
    test_paths=None,
    compile_estimate_s=70.0,  # a cold Inductor compile of resnet_5m: 40-70 s
    model_estimate_s=25.0,
    cifar_epochs=10,
    cifar_trials=10,
    latency_configs=20,
    latency_shots=10,
    latency_max_flops=None,
)
REHEARSAL_SIZES = Sizes(
    device="cpu",
    memory_models=(TINY_MODEL,),
    memory_batch=4,
    emulated_card=24 * GIB,
    throughput_models=(TINY_MODEL,),
    throughput_images=128,
    throughput_batch=32,
    search_trials=1,
    search_caps=("--max-params", "200k", "--max-flops", "30M"),
    search_epochs=1,
    search_subset=0.02,
    test_paths=("tests/hwprofile/test_max_batch.py",),
    compile_estimate_s=15.0,
    model_estimate_s=2.0,
    cifar_epochs=1,
    cifar_trials=2,
    latency_configs=6,
    latency_shots=5,
    latency_max_flops=40_000_000,  # every family has configs below it (nb201's smallest: 15M)
)
THROUGHPUT_SETTINGS = (  # (name, amp, memory_format, compile)
    ("fp32/contiguous", "none", "contiguous", False),
    ("bf16/channels_last", "bf16", "channels_last", False),
    ("bf16/channels_last/compile", "bf16", "channels_last", True),
)
AIRBENCH94_ANCHOR = {"accuracy": 0.94, "seconds": 3.8, "gpu": "A100", "data": "official files"}


@dataclass(frozen=True)
class Step:
    name: str
    limit_s: int
    minimum_s: int  # below this much budget the step is cut instead of started
    summary: str
    needs_wheels: bool


STEPS = (
    Step("env", 20, 10, "GPU, ids, memory, versions, compile prerequisites", False),
    Step("tests_cuda", 60, 20, "the cuda-marked tests", True),
    Step("memory", 100, 30, "max batch under an emulated 24 GiB card vs prediction", False),
    Step("search", 75, 40, "short CUDA search, process isolation; memory baseline", True),
    Step("throughput", 80, 30, "trainer vs hand loop, eager settings, images/s", False),
    Step("tests_quick", 120, 40, "the quick suite with CUDA visible", True),
    Step("latency", 60, 30, "latency model: zero-shot and 10-shot errors on 20 configs", False),
    Step("compile", 130, 40, "trainer vs hand loop under torch.compile, compiles apart", False),
)
CIFAR_STEP = Step("cifar", 150, 60, "airbench94_like on CIFAR-10 JPEG; 10-trial search", True)
DEFAULT_BUDGET_S = 660  # 11 of a lent machine's 15 minutes: its start and the install take the rest
# The rehearsal checks the plumbing, not the timings: its limits and budget stretch this much,
# so that a shared, busy CPU (2 cores, other jobs) does not cut what a GPU would finish.
REHEARSAL_SLACK = 4


# --------------------------------------------------------------------------------------------
# Wheels: resolved from archbench[dev]'s installed tree, checked by name, version and tag.


def _canonical(name: str) -> str:
    from packaging.utils import canonicalize_name

    return str(canonicalize_name(name))


def resolve_pins() -> dict[str, str]:
    """``{name: version}`` of every distribution ``archbench[dev]`` needs on the GPU machine:
    its installed dependency tree here, for the target's markers, less ``PROVIDED`` (not
    followed: the machine has them and theirs) and ``NOT_FOR_TESTS``.

    Raises:
        LookupError: archbench or a dependency is not installed here.
    """
    from packaging.requirements import Requirement

    pins: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    queue = [("archbench", "dev")]
    while queue:
        name, extra = queue.pop()
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        try:
            requires = importlib.metadata.distribution(name).requires or []
        except importlib.metadata.PackageNotFoundError:
            raise LookupError(f"{name} is not installed here; pip install -e '.[dev]'") from None
        for text in requires:
            requirement = Requirement(text)
            marker = requirement.marker
            if marker is not None and not marker.evaluate({**TARGET_MARKERS, "extra": extra}):
                continue
            key = _canonical(requirement.name)
            if key in PROVIDED or key in NOT_FOR_TESTS:
                continue
            try:
                pins[key] = importlib.metadata.version(requirement.name)
            except importlib.metadata.PackageNotFoundError:
                raise LookupError(
                    f"{requirement.name} (needed by {name}) is not installed here; "
                    "pip install -e '.[dev]'"
                ) from None
            queue.append((key, ""))
            queue.extend((key, wanted) for wanted in requirement.extras)
    return dict(sorted(pins.items()))


def read_manifest(folder: Path) -> dict[str, str]:
    """The pins ``make gpu-wheels`` wrote into ``folder``; empty when there is none."""
    file = folder / MANIFEST
    if not file.is_file():
        return {}
    pins = {}
    for line in file.read_text().split():
        name, _, version = line.partition("==")
        pins[_canonical(name)] = version
    return pins


def _target_tags() -> frozenset[Any]:
    from packaging import tags

    interpreter = f"cp{TARGET_PYTHON[0]}{TARGET_PYTHON[1]}"
    return frozenset(
        [
            *tags.cpython_tags(TARGET_PYTHON, abis=[interpreter], platforms=TARGET_PLATFORMS),
            *tags.compatible_tags(TARGET_PYTHON, interpreter, TARGET_PLATFORMS),
        ]
    )


def select_wheels(folder: Path, pins: dict[str, str]) -> tuple[list[Path], list[str]]:
    """The wheel file of each pin in ``folder``, and one line per pin without a usable one
    (none, another version, or no CPython 3.12 x86_64 Linux tag)."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    target = _target_tags()
    found: dict[str, list[tuple[str, Path, bool]]] = {}
    for wheel in sorted(folder.glob("*.whl")) if folder.is_dir() else []:
        try:
            name, version, _build, wheel_tags = parse_wheel_filename(wheel.name)
        except InvalidWheelFilename:
            continue
        found.setdefault(str(name), []).append((str(version), wheel, bool(wheel_tags & target)))
    chosen, problems = [], []
    for name, version in pins.items():
        candidates = found.get(name, [])
        usable = [wheel for have, wheel, fits in candidates if have == version and fits]
        if usable:
            chosen.append(usable[0])
        elif not candidates:
            problems.append(f"{name}=={version}: no wheel")
        elif not any(have == version for have, _, _ in candidates):
            versions = ", ".join(sorted({have for have, _, _ in candidates}))
            problems.append(f"{name}=={version}: only {versions}")
        else:
            problems.append(f"{name}=={version}: no CPython 3.12 x86_64 Linux wheel")
    return chosen, problems


class InstallFailed(RuntimeError):
    """The wheels could not be installed; the message is the reason for ``summary.json``."""


def install_wheels(wheels: list[Path], target: Path, pins: dict[str, str]) -> None:
    """Installs ``wheels`` into ``target`` without an index or dependencies (torch is never
    touched; without pip they are unpacked, which is all an install of these does), then
    checks that ``target`` holds every pin at its version.

    Raises:
        InstallFailed: pip failed or timed out, a wheel is corrupt, or a version differs.
    """
    has_pip = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True)
    if has_pip.returncode == 0 and wheels:
        command = [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "-q"]
        command += ["--disable-pip-version-check", "--target", str(target)]
        # The GPU machine's interpreter and platform, so a rehearsal elsewhere installs the
        # same files (and pip, not only this script, judges their tags).
        command += ["--only-binary=:all:", "--implementation", "cp", "--python-version", "3.12"]
        command += [arg for platform in TARGET_PLATFORMS for arg in ("--platform", platform)]
        command += [str(wheel) for wheel in wheels]
        with tempfile.TemporaryFile("w+") as log:
            code, timed_out = run_in_group(command, INSTALL_LIMIT_S, log, cwd=REPO)
            log.seek(0)
            lines = [line for line in log.read().splitlines() if line.strip()]
        if timed_out:
            raise InstallFailed(f"pip install did not finish within {INSTALL_LIMIT_S} s")
        if code != 0:
            errors = [line for line in lines if "error" in line.lower()] or lines
            raise InstallFailed(f"pip install exited {code}: {(errors or ['no output'])[-1]}")
    else:
        for wheel in wheels:
            try:
                with zipfile.ZipFile(wheel) as archive:
                    archive.extractall(target)
            except zipfile.BadZipFile as exc:
                raise InstallFailed(f"{wheel.name}: {exc}") from None
    installed = {
        _canonical(dist.metadata["Name"]): dist.version
        for dist in importlib.metadata.distributions(path=[str(target)])
    }
    wrong = [
        f"{name} {installed.get(name, 'missing')} instead of {version}"
        for name, version in pins.items()
        if installed.get(name) != version
    ]
    if wrong:
        raise InstallFailed(f"after install: {'; '.join(wrong)}")


def build_tiny_wheel(folder: Path) -> dict[str, str]:
    """A one-module wheel (``archbench_gpu_check_probe``) in ``folder``, for a rehearsal on a
    clone without ``.whl/`` and without a network: the install and ``PYTHONPATH`` plumbing run
    for real. Returns its pin."""
    name, version = "archbench_gpu_check_probe", "1.0"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": '"""Installed by the GPU check rehearsal."""\nINSTALLED = True\n',
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: gpu_check\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{path},,\n" for path in [*files, f"{info}/RECORD"])
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    (folder / MANIFEST).write_text(f"{name}=={version}\n")
    return {_canonical(name): version}


# --------------------------------------------------------------------------------------------
# Processes: each step in its own session, killed whole; children of a step in their own group.


def session_members(session: int) -> list[int]:
    """The live processes of ``session`` (Linux ``/proc``), daemonized children included."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        if int(fields[3]) == session and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def kill_session(session: int, grace_s: float = 3.0) -> int:
    """SIGTERM, then SIGKILL after ``grace_s``, to every process of ``session``; the count."""
    members = session_members(session)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in members:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and session_members(session):
            time.sleep(0.1)
        if not session_members(session):
            break
    return len(members)


def run_in_group(
    command: list[str],
    timeout_s: float,
    log: Any,
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
) -> tuple[int | None, bool]:
    """Runs ``command`` in a process group of its own, output to ``log``; on timeout kills the
    group (the command and its children). Returns the exit code (None when killed) and
    whether it timed out."""
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, process_group=0
    )
    try:
        return process.wait(timeout=max(1.0, timeout_s)), False
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return None, True


# --------------------------------------------------------------------------------------------
# Steps: each runs in its own process (``--step NAME``) and writes OUT/NAME.json as it goes.


@dataclass
class StepContext:
    out: Path
    sizes: Sizes
    deadline: float  # time.time() by which the step must have written its last figure
    rehearse: bool
    tests: tuple[str, ...] | None
    cifar: Path | None
    cut: list[dict[str, Any]]

    def left(self) -> float:
        return self.deadline - time.time()

    def fits(self, item: str, estimate_s: float) -> bool:
        """Whether ``item`` (estimated from the run's measured times) fits the time left;
        records the cut where it does not."""
        if estimate_s <= self.left():
            return True
        self.cut.append(
            {"item": item, "reason": f"needs about {estimate_s:.0f} s, {self.left():.0f} s left"}
        )
        return False


def _write(context: StepContext, name: str, data: dict[str, Any]) -> None:
    data = {**data, "cut": context.cut}
    (context.out / f"{name}.json").write_text(json.dumps(data, indent=2, default=str))


def compile_blocker() -> str | None:
    """Why ``torch.compile`` cannot build kernels here (Inductor's C++ wrapper and Triton's
    launcher need a C compiler and ``Python.h``), or None."""
    compiler = os.environ.get("CC") or next(
        (name for name in ("cc", "gcc", "clang") if shutil.which(name)), None
    )
    if compiler is None or shutil.which(compiler) is None:
        return "no C compiler (cc, gcc or clang) on PATH: torch.compile cannot build kernels"
    header = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not header.is_file():
        return f"no {header}: torch.compile needs the Python headers (python3-dev)"
    return None


def step_env(context: StepContext) -> None:
    import torch

    env: dict[str, Any] = {
        "torch": torch.__version__,
        "torch_floor_ok": tuple(int(p) for p in torch.__version__.split(".")[:2]) >= TORCH_FLOOR,
        "python": sys.version.split()[0],
        "compile_blocker": compile_blocker(),
        "device": context.sizes.device,
    }
    if os.environ.get("ARCHBENCH_GPU_CHECK_PROBE"):  # the rehearsal's tiny wheel
        import archbench_gpu_check_probe  # the install reached the steps' path

        env["wheels_on_path"] = archbench_gpu_check_probe.INSTALLED
    if context.sizes.device == "cuda":
        from archbench.hwprofile import NvmlDevice, Unavailable
        from archbench.hwprofile._device import pci_bus_id

        device = torch.device("cuda", 0)
        properties = torch.cuda.get_device_properties(device)
        env.update(
            gpu=properties.name,
            uuid=str(properties.uuid),
            pci_bus_id=pci_bus_id(properties),
            cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"),
            gpu_count=torch.cuda.device_count(),
            memory_gib=round(properties.total_memory / GIB, 2),
            capability=f"{properties.major}.{properties.minor}",
            cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version(),
            bf16_native=(properties.major, properties.minor) >= (8, 0),
        )
        try:
            with NvmlDevice(device) as nvml:
                env.update(nvml.stamp())
        except Unavailable as exc:
            env["driver"] = f"unavailable: {exc}"
    _write(context, "env", env)


def _test_folders() -> list[str]:
    """Every test folder, those whose code has CUDA paths first (a cut suite covered them),
    but this script's own tests: they rehearse it on the CPU, which the GPU run is not for."""
    first = ("hwprofile", "train", "search", "data")
    folders = sorted(
        path.name for path in (REPO / "tests").iterdir() if path.is_dir() and path.name != "scripts"
    )
    ordered = [name for name in first if name in folders]
    ordered += [name for name in folders if name not in ordered and not name.startswith("_")]
    return [f"tests/{name}" for name in ordered]


def run_pytest(context: StepContext, name: str, marker: str, *, none_is_ok: bool) -> dict[str, Any]:
    """Runs pytest verbosely into a log (outcomes survive a cut) and counts the outcomes. The
    run passes only on exit 0, or 5 (nothing collected) where ``none_is_ok``: a collection
    error or an interrupted run fails whatever was counted."""
    log = context.out / f"pytest-{name}.log"
    paths = list(context.tests or context.sizes.test_paths or _test_folders())
    command = [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-m", marker]
    with open(log, "w") as handle:
        code, timed_out = run_in_group(
            [*command, *paths], context.left() - 2, handle, cwd=REPO, env=dict(os.environ)
        )
    text = log.read_text()
    counts = {
        outcome.lower(): len(re.findall(rf"::\S+ {outcome}", text))
        for outcome in ("PASSED", "FAILED", "ERROR", "SKIPPED")
    }
    counts["error"] += len(re.findall(r"^ERROR (?:tests/|\S+\.py)", text, flags=re.MULTILINE))
    failures = re.findall(r"^(?:FAILED|ERROR) (\S+)", text, flags=re.MULTILINE)
    return {
        **counts,
        "exit_code": code,
        "timed_out": timed_out,
        "ok": code == 0 or (none_is_ok and code == 5),
        "failures": failures[:20],
        "log": str(log),
    }


def _tests_step(context: StepContext, name: str, marker: str, none_is_ok: bool) -> None:
    result = run_pytest(context, name, marker, none_is_ok=none_is_ok)
    _write(context, name, result)
    if not result["ok"]:
        why = "timed out" if result["timed_out"] else f"pytest exited {result['exit_code']}"
        raise SystemExit(f"{name}: {why}; {', '.join(result['failures'][:3]) or 'see the log'}")


def step_tests_cuda(context: StepContext) -> None:
    _tests_step(context, "tests_cuda", "cuda", none_is_ok=True)


def step_tests_quick(context: StepContext) -> None:
    _tests_step(context, "tests_quick", "not slow and not ray and not cuda", none_is_ok=False)


_CONTEXT_PROBE = """
import json, os, sys, pynvml
from archbench.hwprofile._device import nvml_handle, nvml_uuids
pynvml.nvmlInit()
handle = nvml_handle(pynvml, nvml_uuids(sys.argv[1]), sys.argv[2] or None)  # cuda:0's card
before = pynvml.nvmlDeviceGetMemoryInfo(handle).used  # no CUDA in this process yet
import torch
x = torch.randn(64, 3, 32, 32, device="cuda", requires_grad=True)
torch.nn.functional.conv2d(x, torch.randn(64, 3, 3, 3, device="cuda")).sum().backward()
(torch.randn(512, 512, device="cuda") @ torch.randn(512, 512, device="cuda")).sum().item()
torch.cuda.synchronize()
mine = [p.usedGpuMemory for p in pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
        if p.pid == os.getpid()]  # empty where the container's pids differ from the host's
print(json.dumps({
    "process_bytes": mine[0] if mine else None,
    "device_delta_bytes": pynvml.nvmlDeviceGetMemoryInfo(handle).used - before,
    "reserved_bytes": torch.cuda.memory_reserved(),
}))
"""


def _env_record(context: StepContext) -> dict[str, Any]:
    file = context.out / "env.json"
    return json.loads(file.read_text()) if file.is_file() else {}


def _context_bytes(context: StepContext) -> dict[str, Any]:
    """What a fresh process holds on the GPU beyond its tensors, after a conv and a matmul
    (CUDA context, cuDNN and cuBLAS modules and workspaces): NVML's per-process figure, or
    the device's growth where NVML cannot tell processes apart, less torch's reserved bytes."""
    if context.sizes.device != "cuda":
        return {"unavailable": f"no CUDA context on {context.sizes.device}"}
    env = _env_record(context)
    command = [
        sys.executable,
        "-c",
        _CONTEXT_PROBE,
        env.get("uuid", ""),
        env.get("pci_bus_id") or "",
    ]
    with tempfile.TemporaryFile("w+") as log:
        code, _ = run_in_group(command, min(60.0, context.left()), log, cwd=REPO)
        log.seek(0)
        lines = log.read().strip().splitlines()
    if code != 0 or not lines:
        return {"error": lines[-1:] or [f"exit {code}"]}
    figures = json.loads(lines[-1])
    held = figures["process_bytes"] or figures["device_delta_bytes"]
    figures["context_bytes"] = held - figures["reserved_bytes"]
    return figures


def step_memory(context: StepContext) -> None:
    from archbench.hwprofile import (
        ALLOCATOR_OVERHEAD,
        CUDA_CONTEXT_BYTES,
        TrainStepSimulation,
        profile_model,
    )

    sizes = context.sizes
    on_cuda = sizes.device == "cuda"
    results: dict[str, Any] = {
        "emulated_card_bytes": sizes.emulated_card,
        "code": {
            "cuda_context_bytes": CUDA_CONTEXT_BYTES,
            "allocator_overhead": ALLOCATOR_OVERHEAD,
        },
        "context": _context_bytes(context),
        "models": [],
    }
    _write(context, "memory", results)
    estimate = sizes.model_estimate_s
    for name in sizes.memory_models:
        if not context.fits(f"memory {name}", estimate):
            break
        cfg = model_config(name)
        started = time.perf_counter()
        profile = profile_model(
            cfg,
            device=sizes.device,
            batch_size=sizes.memory_batch,
            level="basic",
            memory=sizes.emulated_card,
            memory_limit=sizes.emulated_card if on_cuda else None,
            max_batch=on_cuda,
        )
        measured, predicted = profile.max_batch_size, profile.predicted_max_batch_size
        row: dict[str, Any] = {
            "model": name,
            "measured_max_batch": measured,
            "predicted_max_batch": predicted,
            "error_pct": 100 * (predicted - measured) / measured
            if measured and predicted
            else None,
            "peak_allocated_bytes": profile.peak_train_memory_bytes,
            "peak_reserved_bytes": profile.peak_train_reserved_bytes,
            "predicted_peak_bytes": profile.predicted_train_memory_bytes,
            "device_used_bytes": profile.peak_train_device_used_bytes,
            "unavailable": {k: v for k, v in profile.unavailable.items() if "max_batch" in k},
        }
        if measured:
            # The allocator had the card less CUDA_CONTEXT_BYTES; the overhead that would have
            # predicted exactly this batch: the allocator's cap over the predicted tensor peak.
            peak_at_measured = TrainStepSimulation(cfg).predict(measured).total
            row["predicted_peak_at_measured_bytes"] = peak_at_measured
            row["exact_overhead"] = (sizes.emulated_card - CUDA_CONTEXT_BYTES) / peak_at_measured
        row["seconds"] = time.perf_counter() - started
        estimate = 1.5 * row["seconds"]  # the next model from this one's measured time
        results["models"].append(row)
        _write(context, "memory", results)
    fits = [row["exact_overhead"] for row in results["models"] if "exact_overhead" in row]
    ratios = [
        row["peak_reserved_bytes"] / row["peak_allocated_bytes"]
        for row in results["models"]
        if row["peak_reserved_bytes"] and row["peak_allocated_bytes"]
    ]
    results["fitted"] = {
        "cuda_context_bytes": results["context"].get("context_bytes"),
        # the smallest overhead that would have predicted every model's batch at or below it
        "allocator_overhead": max(fits) if fits else None,
        "allocator_overhead_per_model": fits,
        "reserved_over_allocated": ratios,
    }
    _write(context, "memory", results)
    if not results["models"]:
        raise SystemExit("memory: no model measured")


def _nvml_used(context: StepContext) -> int | None:
    """Memory in use on cuda:0's card by UUID or PCI bus id (the env step's), without CUDA."""
    env = _env_record(context)
    if context.sizes.device != "cuda" or not env.get("uuid"):
        return None
    try:
        import pynvml

        from archbench.hwprofile._device import nvml_handle, nvml_uuids

        pynvml.nvmlInit()
        try:
            handle = nvml_handle(pynvml, nvml_uuids(env["uuid"]), env.get("pci_bus_id"))
            return int(pynvml.nvmlDeviceGetMemoryInfo(handle).used)
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # NVML missing or failing: the figure is unavailable, not the step
        return None


def step_search(context: StepContext) -> None:
    """Through the CLI (the search core's internals may change; its command line stays)."""
    sizes = context.sizes
    baseline = _nvml_used(context)  # this process never touches CUDA
    storage = f"sqlite:///{context.out / 'search.db'}"
    command = [
        sys.executable, "-c", "from archbench.cli import main; main()", "search",
        "--space", "resnet", *sizes.search_caps, "--trials", str(sizes.search_trials),
        "--epochs", str(sizes.search_epochs), "--subset", str(sizes.search_subset),
        "--dataset", "mnist5k", "--device", sizes.device, "--isolation", "process",
        "--profile", "none", "--storage", storage, "--study", "gpu-check", "--seed", "0",
        "--fresh", "--json",
    ]  # fmt: skip
    results: dict[str, Any] = {}
    started = time.perf_counter()
    with open(context.out / "search-cli.log", "w") as log:
        stdout = context.out / "search-cli.json"
        with open(stdout, "w") as handle:
            process = subprocess.Popen(
                command, cwd=context.out, stdout=handle, stderr=log, process_group=0
            )
            try:
                results["returncode"] = process.wait(timeout=max(1.0, context.left() - 8))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                results["timed_out"] = True
    results["seconds"] = time.perf_counter() - started
    if results.get("returncode") == 0:
        results["summary"] = json.loads(stdout.read_text())
    else:
        results["stderr_tail"] = (context.out / "search-cli.log").read_text().splitlines()[-5:]
    time.sleep(1.0)  # let the driver account the last child's exit
    after = _nvml_used(context)
    results["nvml_used_before_bytes"], results["nvml_used_after_bytes"] = baseline, after
    if baseline is not None and after is not None:
        results["memory_back_to_baseline"] = after - baseline <= 64 * 2**20
    results["trials"] = _trial_overheads(storage)
    _write(context, "search", results)
    if results.get("timed_out"):
        raise SystemExit(f"search: the CLI did not finish in {results['seconds']:.0f} s")
    if results.get("returncode") != 0:
        raise SystemExit(f"search: the CLI failed: {(results.get('stderr_tail') or ['?'])[-1]}")


def _trial_overheads(storage: str) -> list[dict[str, Any]]:
    """Per trial: wall seconds (Optuna's start to complete) and training seconds (the epochs'
    own); the difference is the per-trial overhead of its process."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows = []
    for trial in optuna.load_study(study_name="gpu-check", storage=storage).trials:
        if trial.datetime_complete is None or trial.datetime_start is None:
            continue
        wall = (trial.datetime_complete - trial.datetime_start).total_seconds()
        metrics = trial.user_attrs.get("metrics") or []
        training = sum(m.get("seconds", 0.0) for m in metrics)
        rows.append(
            {
                "trial": trial.number,
                "state": trial.state.name,
                "wall_seconds": wall,
                "training_seconds": training,
                "overhead_seconds": wall - training if metrics else None,
            }
        )
    return rows


def model_config(name: str) -> Any:
    """A preset, or the rehearsal's tiny model (seconds to compile even on a busy CPU)."""
    from archbench.models import VGGStage, get_preset

    if name == TINY_MODEL:
        cfg = get_preset("simple_cnn")
        return dataclasses.replace(cfg, stages=(VGGStage(1, 8, 3),), classifier=(), dropout=0.0)
    return get_preset(name)


def _synthetic_cifar(count: int) -> Any:
    import torch

    from archbench.data import Dataset

    generator = torch.Generator().manual_seed(0)
    return Dataset(
        name="synthetic_cifar",
        images=torch.randint(0, 256, (count, 3, 32, 32), generator=generator, dtype=torch.uint8),
        labels=torch.randint(0, 10, (count,), generator=generator),
        classes=tuple(str(i) for i in range(10)),
        mean=(0.49, 0.48, 0.45),
        std=(0.25, 0.24, 0.26),
    )


def _hand_loop(
    sizes: Sizes, cfg: Any, data: Any, amp: str, memory_format: str, compile: bool
) -> tuple[float, float | None]:
    """The minimal loop: same model, optimizer, precision and layout (``Module.to`` and
    ``Tensor.to``, as the trainer), batches gathered from the normalized images on the device.
    Images/s of the second epoch, and the first step's seconds when compiled (its compile)."""
    import torch
    from torch import nn

    from archbench.hwprofile._device import synchronize
    from archbench.models import build_model
    from archbench.train._loop import cuda_training_flags

    device = torch.device(sizes.device)
    batch_size = sizes.throughput_batch
    layout = torch.channels_last if memory_format == "channels_last" else torch.contiguous_format
    mean = torch.tensor(data.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(data.std, device=device).view(1, 3, 1, 1)
    images = data.images.to(device)
    labels = data.labels.to(device)
    torch.manual_seed(0)
    model = build_model(cfg).to(device).to(memory_format=layout)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4
    )
    forward = torch.compile(model, dynamic=False) if compile else model
    criterion = nn.CrossEntropyLoss()
    dtype = torch.bfloat16 if amp == "bf16" else None
    steps = len(images) // batch_size
    seconds, compile_seconds = 0.0, None
    with cuda_training_flags(device):
        for epoch in range(2):
            order = torch.randperm(len(images), device=device)
            synchronize(device)
            started = time.perf_counter()
            for step in range(steps):
                index = order[step * batch_size : (step + 1) * batch_size]
                batch = ((images[index].float() / 255 - mean) / std).to(memory_format=layout)
                with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                    loss = criterion(forward(batch), labels[index])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if compile and epoch == 0 and step == 0:
                    synchronize(device)
                    compile_seconds = time.perf_counter() - started
            synchronize(device)
            seconds = time.perf_counter() - started
    return steps * batch_size / seconds, compile_seconds


def _trainer(
    sizes: Sizes, cfg: Any, data: Any, val: Any, amp: str, memory_format: str, compile: bool
) -> tuple[float, float | None]:
    from archbench.data import Augment
    from archbench.train import TrainRecipe, train_model

    recipe = TrainRecipe(
        optimizer="sgd_nesterov",
        lr=0.05,
        batch_size=sizes.throughput_batch,
        epochs=2,
        schedule="none",
        augmentation=Augment(crop_padding=0, flip=False, cutout=0),
        amp=amp,  # type: ignore[arg-type]
        memory_format=memory_format,  # type: ignore[arg-type]
        compile=compile,
    )
    result = train_model(cfg, recipe, train_data=data, val_data=val, device=sizes.device)
    return float(result.history[-1]["images_per_second"]), result.compile_seconds


def _throughput_rows(context: StepContext, name: str, compiled: bool) -> None:
    sizes = context.sizes
    rows: list[dict[str, Any]] = []
    record: dict[str, Any] = {"batch_size": sizes.throughput_batch, "rows": rows}
    blocker = compile_blocker() if compiled else None
    if blocker:
        record["skipped"] = blocker
        context.cut.append({"item": "every compile row", "reason": blocker})
        _write(context, name, record)
        return
    data, val = _synthetic_cifar(sizes.throughput_images), _synthetic_cifar(sizes.throughput_batch)
    estimate = sizes.compile_estimate_s * 2 if compiled else sizes.model_estimate_s
    for model in sizes.throughput_models:
        for setting, amp, memory_format, compile in THROUGHPUT_SETTINGS:
            if compile != compiled or not context.fits(f"{name} {model} {setting}", estimate):
                continue
            cfg = model_config(model)
            started = time.perf_counter()
            trainer, trainer_compile = _trainer(sizes, cfg, data, val, amp, memory_format, compile)
            hand, hand_compile = _hand_loop(sizes, cfg, data, amp, memory_format, compile)
            seconds = time.perf_counter() - started
            estimate = 1.2 * seconds  # the next row from this one's measured time
            rows.append(
                {
                    "model": model,
                    "setting": setting,
                    "trainer_images_per_second": trainer,
                    "hand_images_per_second": hand,
                    "ratio": trainer / hand,
                    "trainer_compile_seconds": trainer_compile,
                    "hand_compile_seconds": hand_compile,
                    "seconds": seconds,
                }
            )
            _write(context, name, record)
    _write(context, name, record)
    if not rows:
        raise SystemExit(f"{name}: no row fitted the time left")


def step_throughput(context: StepContext) -> None:
    _throughput_rows(context, "throughput", compiled=False)


def step_compile(context: StepContext) -> None:
    _throughput_rows(context, "compile", compiled=True)


def step_cifar(context: StepContext) -> None:
    """``airbench94_like`` on the CIFAR-10 JPEG folder or archive for a fixed number of epochs,
    test accuracy and time beside airbench94's anchor; then a 10-trial search with the default
    proxy recipe through the CLI, in trials per minute."""
    import dataclasses as dc

    from archbench.data import load_dataset
    from archbench.train import get_recipe, train_model

    sizes, path = context.sizes, str(context.cifar)
    results: dict[str, Any] = {"data": path, "anchor": AIRBENCH94_ANCHOR}
    started = time.perf_counter()
    train, test = load_dataset(path, "train"), load_dataset(path, "test")
    results["load_seconds"] = time.perf_counter() - started  # decode, or the cache's read
    _write(context, "cifar", results)
    images = train.images
    cfg = model_config("airbench94_like").with_data(
        num_classes=len(train.classes), in_channels=images.shape[1], input_size=images.shape[2]
    )
    base = get_recipe("sgd_cosine")
    warmup = min(base.warmup_epochs, sizes.cifar_epochs - 1)
    recipe = dc.replace(base, epochs=sizes.cifar_epochs, warmup_epochs=warmup)
    if context.fits("cifar airbench94_like", sizes.model_estimate_s * sizes.cifar_epochs):
        result = train_model(cfg, recipe, train_data=train, val_data=test, device=sizes.device)
        results["airbench94_like"] = {
            "epochs": result.epochs_trained,
            "test_accuracy": result.history[-1].get("val_accuracy"),
            "seconds": result.seconds,  # the epochs', each with its evaluation
            "recipe": dc.asdict(recipe),
        }
        _write(context, "cifar", results)
    storage = f"sqlite:///{context.out / 'cifar-search.db'}"
    command = [
        sys.executable, "-c", "from archbench.cli import main; main()", "search",
        "--space", "resnet", *sizes.search_caps, "--trials", str(sizes.cifar_trials),
        "--dataset", path, "--device", sizes.device, "--profile", "none",
        "--storage", storage, "--study", "gpu-check-cifar", "--seed", "0", "--fresh", "--json",
    ]  # fmt: skip
    started = time.perf_counter()
    with open(context.out / "cifar-search.json", "w") as handle:
        code, timed_out = run_in_group(command, context.left() - 3, handle, cwd=context.out)
    seconds = time.perf_counter() - started
    search: dict[str, Any] = {"exit_code": code, "timed_out": timed_out, "seconds": seconds}
    if code == 0:
        text = (context.out / "cifar-search.json").read_text()
        summary = json.loads(text[text.index("{") :])
        search["trained"] = summary.get("trained")
        search["trials_per_minute"] = 60 * (summary.get("trained") or 0) / seconds
        search["best"] = summary.get("best")
    results["search"] = search
    _write(context, "cifar", results)
    if "airbench94_like" not in results or code != 0:
        raise SystemExit(f"cifar: search exit {code}" if code else "cifar: training was cut")


def step_latency(context: StepContext) -> None:
    """Issue 18: the latency cost model against 20 measured configs, zero-shot from the GPU's
    catalogue entry and after a 10-shot calibration (the CPU's measured entry when rehearsed)."""
    from archbench.hwprofile import check_latency_model
    from archbench.hwprofile._devices import measure_cpu

    sizes = context.sizes
    started = time.perf_counter()
    check = check_latency_model(
        None if sizes.device == "cuda" else measure_cpu(),
        device=sizes.device,
        count=sizes.latency_configs,
        shots=sizes.latency_shots,
        max_flops=sizes.latency_max_flops,
    )
    result = dataclasses.asdict(check) | {
        "median_error_zero_shot": check.median_error(False),
        "median_error_calibrated": check.median_error(True),
        "summary": check.summary(),
        "seconds": time.perf_counter() - started,
    }
    _write(context, "latency", result)


STEP_FUNCTIONS: dict[str, Callable[[StepContext], None]] = {
    "env": step_env,
    "tests_cuda": step_tests_cuda,
    "memory": step_memory,
    "search": step_search,
    "throughput": step_throughput,
    "tests_quick": step_tests_quick,
    "latency": step_latency,
    "compile": step_compile,
    "cifar": step_cifar,
}


# --------------------------------------------------------------------------------------------
# The driver


def step_environment(site: Path | None) -> dict[str, str]:
    """The steps' environment: this checkout and the installed wheels first on the path; no
    pytest plugin the machine happens to have autoloads (``-p`` names the ones we want)."""
    path = [str(REPO), *([str(site)] if site else []), os.environ.get("PYTHONPATH", "")]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, path)),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "PYTHONUNBUFFERED": "1",
    }


def run_steps(
    args: argparse.Namespace, steps: list[Step], env: dict[str, str], summary: dict[str, Any]
) -> None:
    """Runs each step in its own session within the run's budget; writes ``summary.json``
    after each. A step whose wheels did not install, or that the budget cannot hold, is cut
    with the reason."""
    out: Path = args.out
    slack = REHEARSAL_SLACK if args.rehearse else 1
    run_deadline = time.time() + args.budget
    installed = summary["install"]["status"] == "ok"
    steps = [
        dataclasses.replace(step, limit_s=step.limit_s * slack, minimum_s=step.minimum_s * slack)
        for step in steps
    ]
    for index, step in enumerate(steps):
        reserve = sum(later.minimum_s for later in steps[index + 1 :])
        left = run_deadline - time.time()
        # Later steps keep their minimum unless this one would get less than its own: the
        # earlier steps are the cheaper, more certain ones, so they take the reserve first.
        fair = left - reserve
        limit = min(step.limit_s, fair if fair >= step.minimum_s else left)
        record: dict[str, Any] = {"limit_s": round(limit, 1)}
        if step.needs_wheels and not installed:
            reason = f"the wheels did not install: {summary['install'].get('reason')}"
            summary["steps"][step.name] = {**record, "status": "skipped", "reason": reason}
            summary["cut"].append({"step": step.name, "reason": reason})
            _write_summary(out, summary)
            continue
        if limit < step.minimum_s:
            reason = f"budget spent: {left:.0f} s left, the step needs {step.minimum_s} s"
            summary["steps"][step.name] = {**record, "status": "cut", "reason": reason}
            summary["cut"].append({"step": step.name, "reason": reason})
            _write_summary(out, summary)
            continue
        print(f"[{step.name}] {step.summary} (limit {limit:.0f} s)", flush=True)
        record.update(_run_step(args, step, limit, env))
        summary["steps"][step.name] = record
        summary["cut"] += [
            {"step": step.name, **cut} for cut in (record.get("result") or {}).get("cut", [])
        ]
        _write_summary(out, summary)


def _run_step(
    args: argparse.Namespace, step: Step, limit: float, env: dict[str, str]
) -> dict[str, Any]:
    out: Path = args.out
    command = [sys.executable, str(Path(__file__).resolve()), "--step", step.name]
    command += ["--out", str(out), "--deadline", f"{time.time() + limit - 1:.3f}"]
    command += ["--rehearse"] * args.rehearse + ["--device-sizes", args.sizes_name]
    command += [f"--tests={path}" for path in args.tests or []]
    command += ["--cifar", str(args.cifar)] if args.cifar else []
    started = time.perf_counter()
    log_file = out / f"{step.name}.log"
    with open(log_file, "w") as log:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code: int | None = process.wait(timeout=limit)
            status = "ok" if code == 0 else "failed"
        except subprocess.TimeoutExpired:
            code, status = None, "timed out"
        left_behind = kill_session(process.pid)  # the step's children, whatever their state
        process.wait()
    tail = [line for line in log_file.read_text().splitlines() if line.strip()][-3:]
    result_file = out / f"{step.name}.json"
    return {
        "status": status,
        "seconds": round(time.perf_counter() - started, 1),
        "exit_code": code,
        "killed_after": left_behind,
        "error": tail if status != "ok" else None,
        "result": json.loads(result_file.read_text()) if result_file.is_file() else None,
        "log": str(log_file),
    }


def _write_summary(out: Path, summary: dict[str, Any]) -> None:
    steps = summary["steps"].values()
    summary["ok"] = summary["install"]["status"] == "ok" and all(
        step["status"] == "ok" for step in steps
    )
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))


def _gib(value: Any) -> str:
    return "n/a" if value is None else f"{value / GIB:.2f} GiB"


def _number(value: Any, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def print_table(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    steps = summary["steps"]
    table = Table(title=f"archbench GPU check ({summary['mode']})", show_lines=False)
    table.add_column("step")
    table.add_column("figure")
    table.add_column("value", overflow="fold")
    install = summary["install"]
    table.add_row("install", "status", f"{install['status']}: {install.get('reason', '')}")
    for name, step in steps.items():
        why = step.get("reason") or (step.get("error") or [""])[-1]
        table.add_row(name, "status", f"{step['status']} in {step.get('seconds', 0)} s {why}")
    env = (steps.get("env") or {}).get("result") or {}
    if env.get("gpu"):
        table.add_row(
            "env",
            "GPU",
            f"{env.get('gpu')} {env.get('memory_gib')} GiB, driver {env.get('driver')}, "
            f"torch {env.get('torch')}, CUDA {env.get('cuda')}",
        )
    for suite in ("tests_cuda", "tests_quick"):
        result = (steps.get(suite) or {}).get("result")
        if result:
            table.add_row(
                suite,
                f"exit {result['exit_code']}",
                f"{result['passed']} passed, {result['failed']} failed, {result['error']} errors,"
                f" {result['skipped']} skipped{' (timed out)' if result['timed_out'] else ''}",
            )
    memory = (steps.get("memory") or {}).get("result") or {}
    for row in memory.get("models", []):
        table.add_row(
            "memory",
            row["model"],
            f"max batch {row['measured_max_batch']} vs predicted {row['predicted_max_batch']} "
            f"({_number(row['error_pct'], '+.1f')}%); peak alloc "
            f"{_gib(row['peak_allocated_bytes'])}, reserved {_gib(row['peak_reserved_bytes'])}, "
            f"predicted {_gib(row['predicted_peak_bytes'])}",
        )
    search = (steps.get("search") or {}).get("result") or {}
    if search:
        overheads = [
            t["overhead_seconds"] for t in search.get("trials", []) if t["overhead_seconds"]
        ]
        table.add_row(
            "search",
            "trials",
            f"{(search.get('summary') or {}).get('trained')} trained; memory back to baseline: "
            f"{search.get('memory_back_to_baseline')}; overhead "
            f"{_number(sum(overheads) / len(overheads) if overheads else None, '.1f')} s/trial",
        )
    for name in ("throughput", "compile"):
        for row in ((steps.get(name) or {}).get("result") or {}).get("rows", []):
            table.add_row(
                name,
                f"{row['model']} {row['setting']}",
                f"{row['trainer_images_per_second']:,.0f} vs hand "
                f"{row['hand_images_per_second']:,.0f} img/s: {row['ratio']:.2f}x",
            )
    latency = (steps.get("latency") or {}).get("result") or {}
    if latency:
        table.add_row("latency", latency["device"], latency["summary"])
    cifar = (steps.get("cifar") or {}).get("result") or {}
    if cifar.get("airbench94_like"):
        row, anchor = cifar["airbench94_like"], cifar["anchor"]
        table.add_row(
            "cifar",
            "airbench94_like",
            f"{_number(row['test_accuracy'], '.1%')} in {row['seconds']:.1f} s "
            f"({row['epochs']} epochs, CIFAR-10 JPEG) vs airbench94 {anchor['accuracy']:.0%} in "
            f"{anchor['seconds']} s ({anchor['gpu']}, {anchor['data']})",
        )
    if cifar.get("search"):
        table.add_row(
            "cifar",
            "search",
            f"{cifar['search'].get('trained')} trials, "
            f"{_number(cifar['search'].get('trials_per_minute'), '.1f')} trials/min",
        )
    for cut in summary["cut"]:
        table.add_row("cut", cut.get("step", ""), f"{cut.get('item', '')} {cut['reason']}")
    Console(width=120).print(table)


def _fail(message: str) -> None:
    print(f"gpu-check: {message}", file=sys.stderr)
    sys.exit(2)


def dry_run(args: argparse.Namespace) -> None:
    """Lists the steps and proves the wheels folder complete: the pins resolved from this
    machine's ``archbench[dev]`` tree, each with a usable wheel at its version."""
    print(f"wheels install: {args.wheels} (limit {INSTALL_LIMIT_S} s)")
    for number, step in enumerate(STEPS, 1):
        print(f"{number}. {step.name}: {step.summary} (limit {step.limit_s} s)")
    print(f"budget {args.budget} s; summary in {args.out}/summary.json")
    try:
        pins = resolve_pins()
    except LookupError as exc:
        _fail(str(exc))
    manifest = read_manifest(args.wheels)
    if manifest and manifest != pins:
        differ = sorted(set(manifest.items()) ^ set(pins.items()))
        _fail(f"{args.wheels / MANIFEST} is stale ({differ[0][0]}); run make gpu-wheels")
    _, problems = select_wheels(args.wheels, pins)
    if problems:
        _fail(f"{args.wheels} lacks {'; '.join(problems)}; run make gpu-wheels")
    print(f"{args.wheels} is complete: {len(pins)} wheels at the versions installed here")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "gpu-check")
    parser.add_argument("--budget", type=int, help=f"seconds for the steps ({DEFAULT_BUDGET_S})")
    parser.add_argument("--rehearse", action="store_true", help="every step on the CPU, tiny")
    parser.add_argument("--cifar", type=Path, help="CIFAR-10 JPEG folder or archive")
    parser.add_argument("--dry-run", action="store_true", help="list the steps, check .whl/")
    parser.add_argument("--list-wheels", action="store_true", help="print the wheels to fetch")
    parser.add_argument("--wheels", type=Path, help="the wheels folder (default .whl/)")
    parser.add_argument("--tests", action="append", help="test paths instead of the suite")
    parser.add_argument("--steps", help="comma-separated steps to run (default: all)")
    parser.add_argument("--step", choices=list(STEP_FUNCTIONS), help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--device-sizes", dest="sizes_name", default="gpu", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.out = args.out.resolve()
    if args.budget is None:
        args.budget = DEFAULT_BUDGET_S * (REHEARSAL_SLACK if args.rehearse else 1)
    args.sizes_name = "rehearsal" if args.rehearse else args.sizes_name
    sizes = REHEARSAL_SIZES if args.sizes_name == "rehearsal" else GPU_SIZES
    if args.list_wheels:
        try:
            pins = resolve_pins()
        except LookupError as exc:
            _fail(str(exc))
        print("\n".join(f"{name}=={version}" for name, version in pins.items()))
        return
    if args.step:
        context = StepContext(
            out=args.out,
            sizes=sizes,
            deadline=args.deadline or time.time() + 600,
            rehearse=args.rehearse,
            tests=tuple(args.tests) if args.tests else None,
            cifar=args.cifar,
            cut=[],
        )
        STEP_FUNCTIONS[args.step](context)
        return
    if args.cifar is not None and not args.cifar.exists():
        _fail(f"--cifar: {args.cifar} does not exist")
    known = [step.name for step in (*STEPS, CIFAR_STEP)]
    unknown = [name for name in (args.steps or "").split(",") if name and name not in known]
    if unknown:
        _fail(f"--steps: {', '.join(unknown)} unknown; choose from {', '.join(known)}")
    if args.dry_run:
        args.wheels = args.wheels or WHEELS_DIR
        dry_run(args)
        return
    if not args.rehearse:
        import torch

        if not torch.cuda.is_available():
            _fail(
                "no CUDA device on this machine (torch.cuda.is_available() is False); "
                "run it on a GPU, or rehearse on the CPU with --rehearse"
            )
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    summary: dict[str, Any] = {
        "mode": "rehearsal on the CPU" if args.rehearse else "GPU",
        "budget_s": args.budget,
        "install": {},
        "steps": {},
        "cut": [],
    }
    scratch = Path(tempfile.mkdtemp(prefix="archbench-gpu-check-"))
    try:
        site = scratch / "site"
        install = summary["install"] = _install(args, scratch, site)
        _write_summary(args.out, summary)
        steps = [*STEPS, *([CIFAR_STEP] if args.cifar else [])]
        if args.steps:
            steps = [step for step in steps if step.name in args.steps.split(",")]
        env = step_environment(site if install.get("on_path") else None)
        if install.get("probe"):
            env["ARCHBENCH_GPU_CHECK_PROBE"] = "1"
        run_steps(args, steps, env, summary)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        summary["seconds"] = round(time.time() - started, 1)
        _write_summary(args.out, summary)
    print_table(summary)
    print(f"wrote {args.out / 'summary.json'}")
    sys.exit(0 if summary["ok"] else 1)


def _install(args: argparse.Namespace, scratch: Path, site: Path) -> dict[str, Any]:
    """Checks and installs the wheels; never raises: a failure is the install's record."""
    started = time.perf_counter()
    folder = args.wheels or WHEELS_DIR
    try:
        probe = args.rehearse and args.wheels is None and not read_manifest(folder)
        if probe:
            folder = scratch / "wheels"  # a clean clone: a tiny wheel proves the plumbing
            pins = build_tiny_wheel(folder)
        else:
            pins = read_manifest(folder)
            if not pins:
                raise InstallFailed(f"{folder / MANIFEST} is missing; run make gpu-wheels")
        wheels, problems = select_wheels(folder, pins)
        if problems:
            raise InstallFailed(f"{folder} lacks {'; '.join(problems)}")
        site.mkdir()
        install_wheels(wheels, site, pins)
    except Exception as exc:  # every failure is recorded, never lost with summary.json
        return {
            "status": "failed",
            "reason": str(exc) or type(exc).__name__,
            "folder": str(folder),
            "seconds": round(time.perf_counter() - started, 1),
        }
    print(f"[install] {len(wheels)} wheels in {time.perf_counter() - started:.1f} s", flush=True)
    # Wheels for 3.12 stay off another interpreter's path (a rehearsal), where their compiled
    # modules would shadow the working ones installed here; the install itself was real.
    on_path = probe or sys.version_info[:2] == TARGET_PYTHON
    return {
        "status": "ok",
        "folder": str(folder),
        "wheels": len(wheels),
        "seconds": round(time.perf_counter() - started, 1),
        "on_path": on_path,
        "probe": probe,
    }


if __name__ == "__main__":
    main()
