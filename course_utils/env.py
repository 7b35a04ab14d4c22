"""Chapter 01: what this machine offers the course - hardware, PyTorch build, packages, speed.

Run it as `python -m course_utils.env` (add `--benchmark` for the matmul benchmark).
"""

from __future__ import annotations

import os
import platform
import re
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import psutil
import torch
from packaging.requirements import Requirement

from course_utils import usage
from course_utils.config import get_profile
from course_utils.device import cuda_has_native_bf16, pick_device, pick_precision, time_calls

REQUIREMENTS_TXT = Path(__file__).resolve().parent.parent / "requirements.txt"
KEY_PACKAGES = ("torch", "transformers", "datasets", "peft", "torchao")


def start_chapter(title: str) -> None:
    """Put this chapter's time and peak memory on the record (COURSE_USAGE_LOG, if set) after every cell."""
    usage.start(title)  # registers IPython's post_run_cell hook and an atexit writer


def banner(title: str) -> str:
    """The first line of every notebook: profile, device, precision and key package versions."""
    device = pick_device()
    precision = str(pick_precision(device)).removeprefix("torch.")
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else platform.processor() or platform.machine()
    versions = "  ".join(f"{pkg} {installed_version(pkg) or '-'}" for pkg in KEY_PACKAGES)
    return (
        f"{title}\nprofile: {get_profile()}  device: {device.type} ({name})  precision: {precision}\n"
        f"python {platform.python_version()}  {versions}"
    )


# --- the report ---------------------------------------------------------------------------


@dataclass
class GpuInfo:
    """One CUDA device."""

    name: str
    memory_gib: float
    compute_capability: str
    bf16: bool
    tf32: bool  # TF32 tensor cores exist from compute capability 8.0 (Ampere)
    kernels: bool = True  # this PyTorch build carries kernels for the GPU's architecture


@dataclass
class PackageCheck:
    """An installed package against the version the course was tested with and the range it needs."""

    requirement: str  # the tested pin, e.g. "torch==2.13.0"
    installed: str | None
    ok: bool  # within the range the course needs (course_utils' metadata); the pin itself where none is declared
    fix: str
    tested: bool = True  # exactly the tested version
@dataclass
class EnvReport:
    """Everything chapter 01 reports about the machine."""

    os: str
    python: str
    cpu_cores: int
    ram_gib: float
    torch_version: str
    cuda_build: str | None  # CUDA version PyTorch was built with, None for a CPU-only build
    cudnn: str | None
    cuda_available: bool
    gpus: list[GpuInfo] = field(default_factory=list)
    mps_available: bool = False
    packages: list[PackageCheck] = field(default_factory=list)


_ARCH = re.compile(r"(sm|compute)_(\d+)(\d)([af]?)$")


def has_kernels_for(capability: str, arch_list: list[str]) -> bool:
    """Whether a build compiled for `arch_list` (torch.cuda.get_arch_list()) runs on `capability`."""
    major, minor = (int(part) for part in capability.split("."))
    for arch in arch_list:
        match = _ARCH.match(arch)
        if match is None:
            continue
        kind, a_major, a_minor, suffix = match[1], int(match[2]), int(match[3]), match[4]
        if kind == "compute" and not suffix and (a_major, a_minor) <= (major, minor):
            return True  # PTX: the driver compiles it for any newer GPU
        if kind == "sm" and a_major == major and (a_minor == minor or (suffix != "a" and a_minor < minor)):
            return True  # machine code runs on its own major version, same or newer minor
    return False


def gpu_info(index: int) -> GpuInfo:
    """Name, memory, compute capability, bf16, TF32 and kernel support of CUDA device `index`."""
    props = torch.cuda.get_device_properties(index)
    capability = f"{props.major}.{props.minor}"
    return GpuInfo(
        name=props.name,
        memory_gib=props.total_memory / 2**30,
        compute_capability=capability,
        bf16=props.major >= 8,
        tf32=props.major >= 8,
        kernels=has_kernels_for(capability, torch.cuda.get_arch_list()),
    )


def installed_version(package: str) -> str | None:
    """The installed version of a distribution, or None."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def read_requirements(path: Path = REQUIREMENTS_TXT) -> list[Requirement]:
    """The requirements of a requirements.txt (comments, blank lines and pip options such as -r skipped)."""
    requirements = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        try:
            requirements.append(Requirement(line))
        except Exception as err:
            raise ValueError(f"{path}:{number}: {line!r} is not a requirement ({err})") from err
    return requirements


def needed_ranges() -> dict[str, Requirement]:
    """The ranges course_utils declares (pyproject.toml): what the chapters need to run, by package name."""
    try:
        declared = metadata.requires("course-utils") or []
    except metadata.PackageNotFoundError:
        return {}
    ranges = [Requirement(r) for r in declared if "extra ==" not in r]
    return {r.name.lower(): r for r in ranges}


def course_requirements() -> list[Requirement]:
    """The tested pins (requirements.txt in a clone); else the declared ranges (e.g. course_utils installed alone)."""
    if REQUIREMENTS_TXT.is_file():
        return read_requirements(REQUIREMENTS_TXT)
    return list(needed_ranges().values())


def _within(requirement: Requirement, version: str | None) -> bool:
    return version is not None and requirement.specifier.contains(version, prereleases=True)


def check_package(requirement: Requirement, needed: Requirement | None = None, optional: bool = False) -> PackageCheck:
    """Compare one installed package with its tested pin and the range it needs; say how to fix a real mismatch.

    `optional`: the chapters do not import it (Jupyter; the encoder package of the offline profiles, whose
    absence gets its own error when it is needed), so only its tested version is reported.
    """
    installed = installed_version(requirement.name)
    tested = _within(requirement, installed)
    ok = optional or (tested if needed is None else _within(needed, installed))
    target = requirement if needed is None else needed
    if ok:
        fix = ""
    elif requirement.name == "torch":
        fix = f'pip install "torch{target.specifier}" (see chapter 01 for the build that fits your GPU)'
    else:
        fix = f'pip install "{target}"'
    return PackageCheck(str(requirement), installed, ok, fix, tested)


def collect_report() -> EnvReport:
    """Gather the machine, PyTorch build, GPUs and package versions."""
    cuda_available, ranges = torch.cuda.is_available(), needed_ranges()
    return EnvReport(
        os=f"{platform.system()} {platform.release()} ({platform.machine()})",
        python=sys.version.split()[0],
        cpu_cores=os.cpu_count() or 1,
        ram_gib=psutil.virtual_memory().total / 2**30,
        torch_version=torch.__version__,
        cuda_build=torch.version.cuda,
        cudnn=str(torch.backends.cudnn.version()) if torch.backends.cudnn.is_available() else None,
        cuda_available=cuda_available,
        gpus=[gpu_info(i) for i in range(torch.cuda.device_count())] if cuda_available else [],
        mps_available=torch.backends.mps.is_available(),
        packages=[check_package(r, ranges.get(r.name.lower()), bool(ranges) and r.name.lower() not in ranges)
                  for r in course_requirements()],
    )


def format_report(report: EnvReport) -> str:
    """The report as the text `python -m course_utils.env` prints."""
    build = f"CUDA {report.cuda_build}, cuDNN {report.cudnn}" if report.cuda_build else "CPU-only build"
    lines = [
        f"OS            {report.os}",
        f"Python        {report.python}",
        f"CPU cores     {report.cpu_cores}",
        f"RAM           {report.ram_gib:.1f} GiB",
        f"torch         {report.torch_version} ({build})",
        f"CUDA usable   {report.cuda_available}",
        f"MPS usable    {report.mps_available}",
    ]
    for i, gpu in enumerate(report.gpus):
        lines.append(
            f"GPU {i}         {gpu.name}, {gpu.memory_gib:.1f} GiB, compute capability "
            f"{gpu.compute_capability}, bf16 {'yes' if gpu.bf16 else 'no'}, TF32 {'yes' if gpu.tf32 else 'no'}"
        )
        if not gpu.kernels:
            lines.append(
                f"  FAIL: this PyTorch has no kernels for compute capability {gpu.compute_capability} "
                "('no kernel image is available for execution on the device'); install a PyTorch "
                "build whose torch.cuda.get_arch_list() includes it (an older release, for an old GPU)"
            )
    if not report.gpus:
        lines.append("GPU           none: the course runs in the cpu profile (smoke for tests)")
    lines.append("")
    lines.append(f"{'package':<24}{'installed':<16}{'required':<28}status")
    for check in report.packages:
        requirement = Requirement(check.requirement)
        status = ("OK" if check.tested else "FAIL  fix: " + check.fix if not check.ok
                  else "not installed (optional)" if check.installed is None else "runs (not the tested version)")
        spec = str(requirement.specifier) or "any"
        lines.append(f"{requirement.name:<24}{check.installed or 'missing':<16}{spec:<28}{status}")
    return "\n".join(lines)


# --- the matmul benchmark -----------------------------------------------------------------


def matmul_gflops(device: torch.device, dtype: torch.dtype, n: int, repeats: int) -> float:
    """Achieved GFLOP/s of an (n, n) @ (n, n) product: 2n^3 flops over the best of `repeats` runs."""
    if n <= 0 or repeats <= 0:
        raise ValueError(f"n and repeats must be positive, got n={n}, repeats={repeats}")
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    best = min(time_calls(lambda: a @ b, repeats, device=device))
    return 2 * n**3 / best / 1e9


def benchmark_dtypes(device: torch.device) -> list[torch.dtype]:
    """The dtypes worth timing on `device`: fp32, and bf16/fp16 where the hardware supports them."""
    if device.type == "cuda":
        half = [torch.bfloat16] if cuda_has_native_bf16(device) else []
        return [torch.float32, *half, torch.float16]
    if device.type == "mps":
        return [torch.float32, torch.float16]
    return [torch.float32, torch.bfloat16]  # CPUs emulate bf16 unless they have AMX/AVX512-BF16


def run_benchmark(n: int, repeats: int) -> dict[str, dict[str, float]]:
    """GFLOP/s per device and dtype: {'cpu': {'float32': ...}, 'cuda': {...}}."""
    devices = [torch.device("cpu")] + ([pick_device()] if pick_device().type != "cpu" else [])
    return {
        device.type: {
            str(dtype).removeprefix("torch."): matmul_gflops(device, dtype, n, repeats)
            for dtype in benchmark_dtypes(device)
        }
        for device in devices
    }


def main(argv: list[str] | None = None) -> None:
    """Print the report (and, with --benchmark, the matmul GFLOP/s)."""
    import argparse

    from course_utils.config import ENV_CHECK

    parser = argparse.ArgumentParser(description="The course's environment check (chapter 01).")
    parser.add_argument("--benchmark", action="store_true", help="also time a matmul on each device")
    args = parser.parse_args(argv)
    start_chapter("Environment check")
    print(banner("Environment check"))
    print()
    report = collect_report()
    print(format_report(report))
    if args.benchmark:
        cfg = ENV_CHECK.pick()
        print(f"\nmatmul {cfg.matmul_size}x{cfg.matmul_size}, best of {cfg.repeats}:")
        for device, results in run_benchmark(cfg.matmul_size, cfg.repeats).items():
            for dtype, gflops in results.items():
                print(f"  {device:5s} {dtype:9s} {gflops:10.1f} GFLOP/s")
    failed = [c for c in report.packages if not c.ok]
    if failed:
        sys.exit(f"\n{len(failed)} package(s) do not match requirements: run the fix shown for each.")


if __name__ == "__main__":
    main()
