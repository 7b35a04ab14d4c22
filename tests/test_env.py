import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from packaging.requirements import Requirement

from course_utils import device, env

ROOT = Path(__file__).resolve().parent.parent


def test_environment_yml_lists_the_same_pins_as_requirements_txt():
    pinned = {r.name.lower(): str(r.specifier) for r in env.read_requirements(ROOT / "requirements.txt")}
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    listed = {Requirement(r).name.lower(): str(Requirement(r).specifier) for r in pip_section}
    assert listed == pinned
    assert pinned["torch"] == "==2.13.0"
    assert all(spec.startswith("==") for spec in pinned.values()), "requirements.txt pins exact versions"


def test_every_pinned_package_is_installed_at_its_version():
    failed = [c for c in map(env.check_package, env.course_requirements()) if not c.ok]
    assert not failed, env.format_report(env.collect_report())


def test_check_package_reports_a_mismatch_with_a_fix():
    check = env.check_package(Requirement("numpy==0.0.1"))
    assert not check.ok and check.fix == 'pip install "numpy==0.0.1"'
    missing = env.check_package(Requirement("no-such-package-for-the-course==1.0"))
    assert missing.installed is None and not missing.ok


def test_bad_requirement_line_names_file_and_line(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("torch==2.13.0\n# comment\nnot a requirement!!\n")
    with pytest.raises(ValueError, match=r"requirements.txt:3: 'not a requirement!!'"):
        env.read_requirements(path)


def test_report_describes_this_machine():
    report = env.collect_report()
    assert report.cpu_cores >= 1 and report.ram_gib > 0
    assert report.cuda_available == torch.cuda.is_available()
    assert len(report.gpus) == (torch.cuda.device_count() if report.cuda_available else 0)
    text = env.format_report(report)
    assert f"torch         {torch.__version__}" in text
    assert ("CPU-only build" in text) == (torch.version.cuda is None)


def test_banner_names_the_profile_device_and_precision():
    text = env.banner("test")
    assert "profile: smoke" in text and f"device: {device.pick_device().type}" in text


def test_banner_only_formats_and_start_chapter_starts_the_record(tmp_path):
    log = tmp_path / "usage"
    script = (
        "from pathlib import Path; from course_utils import env; env.banner('Chapter 99'); "
        f"assert not Path({str(log)!r}).exists(), 'banner only formats'; env.start_chapter('Chapter 99')"
    )
    variables = {"COURSE_USAGE_LOG": str(log), "COURSE_PROFILE": "smoke", "PATH": ""}
    subprocess.run([sys.executable, "-c", script], env=variables, check=True)
    (record,) = log.glob("*.json")
    assert json.loads(record.read_text())["chapter"] == "Chapter 99"


def test_matmul_benchmark_measures_positive_throughput():
    assert env.matmul_gflops(torch.device("cpu"), torch.float32, n=64, repeats=2) > 0
    results = env.run_benchmark(n=32, repeats=1)
    assert set(results["cpu"]) == {"float32", "bfloat16"}
    with pytest.raises(ValueError, match="n=0"):
        env.matmul_gflops(torch.device("cpu"), torch.float32, n=0, repeats=1)


def test_command_line_report_runs():
    done = subprocess.run(
        [sys.executable, "-m", "course_utils.env"], check=False, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "package" in done.stdout and "FAIL" not in done.stdout
    assert "Failed to load" not in done.stderr + done.stdout  # torchao's CUDA-only kernels stay quiet


def test_a_version_in_range_runs_with_a_note_and_one_outside_fails():
    installed = env.installed_version("numpy")
    other_pin = Requirement("numpy==0.0.1")
    in_range = env.check_package(other_pin, Requirement(f"numpy>={installed}"))
    assert in_range.ok and not in_range.tested and in_range.fix == ""
    too_old = env.check_package(other_pin, Requirement("numpy>=999"))
    assert not too_old.ok and too_old.fix == 'pip install "numpy>=999"'
    optional = env.check_package(Requirement("no-such-package-for-the-course==1.0"), optional=True)
    assert optional.ok and optional.installed is None
    assert {"torch", "transformers", "datasets"} <= set(env.needed_ranges())


def test_requirements_dev_adds_only_tools_to_the_learner_set():
    dev = env.read_requirements(ROOT / "requirements-dev.txt")
    assert "-r requirements.txt" in (ROOT / "requirements-dev.txt").read_text()
    tools = {"jupyter-book", "sphinx-mathjax-offline", "nbclient", "pytest", "pytest-xdist", "ruff"}
    assert {r.name for r in dev} == tools


def test_kernels_for_a_gpu_come_from_its_major_version_or_from_ptx():
    wheel = ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120", "compute_120"]
    assert env.has_kernels_for("8.9", wheel), "sm_86 machine code runs on an 8.9 GPU"
    assert env.has_kernels_for("7.5", wheel) and env.has_kernels_for("12.1", wheel)
    assert not env.has_kernels_for("6.1", wheel), "a Pascal GPU: 'no kernel image is available'"
    assert env.has_kernels_for("13.0", ["compute_120"]), "PTX is compiled by the driver for newer GPUs"
    assert not env.has_kernels_for("9.1", ["sm_90a"]) and env.has_kernels_for("9.0", ["sm_90a"])
    assert not env.has_kernels_for("8.0", []), "a CPU-only build has no GPU kernels"


def test_report_says_how_to_fix_a_gpu_without_kernels():
    gpu = env.GpuInfo("Tesla P100", 16.0, "6.0", bf16=False, tf32=False, kernels=False)
    report = env.EnvReport("Linux", "3.11", 4, 16.0, "2.13.0", "12.8", "9", True, gpus=[gpu])
    text = env.format_report(report)
    assert "no kernel image is available" in text and "get_arch_list" in text
