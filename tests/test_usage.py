"""Each chapter's time and peak memory reach the log as its process exits, and the table reads it back."""

import json
import subprocess
import sys

from course_utils import usage


def test_a_chapter_process_keeps_its_line_up_to_date(tmp_path):
    log = tmp_path / "usage"
    script = "from course_utils import usage; usage.start('Chapter 99 · test'); x = bytearray(50 * 2**20)"
    subprocess.run([sys.executable, "-c", script], env={"COURSE_USAGE_LOG": str(log), "PATH": ""}, check=True)
    (line,) = [json.loads(f.read_text()) for f in log.glob("*.json")]
    assert line["chapter"] == "Chapter 99 · test" and line["seconds"] >= 0
    assert line["peak_rss_mib"] >= 50 and line["peak_gpu_mib"] is None
    text = usage.table(log)
    assert "Chapter 99 · test" in text and "peak RSS MiB" in text and text.splitlines()[-1].startswith("all")


def test_nothing_is_recorded_without_the_variable_and_the_table_says_so(tmp_path, monkeypatch):
    monkeypatch.delenv(usage.LOG_VARIABLE, raising=False)
    usage.start("Chapter 00")  # registers nothing
    assert "no chapter was executed" in usage.table(tmp_path / "absent")


def test_the_table_flags_a_chapter_over_its_registry_budget(tmp_path):
    from course_utils.chapters import by_number

    budget = by_number("05").smoke_budget_s
    for pid, (title, seconds) in enumerate([("Chapter 04 · NER", 10.0), ("Chapter 05 · PEFT", budget + 1.0)]):
        line = {"chapter": title, "seconds": seconds, "peak_rss_mib": 100, "peak_gpu_mib": None}
        (tmp_path / f"{pid}.json").write_text(json.dumps(line))
    text = usage.table(tmp_path, "smoke")
    (row04,) = [r for r in text.splitlines() if r.startswith("Chapter 04")]
    (row05,) = [r for r in text.splitlines() if r.startswith("Chapter 05")]
    assert "OVER BUDGET" in row05 and "OVER BUDGET" not in row04
    assert text.splitlines()[-1] == "over their smoke budget (course_utils/chapters.py): Chapter 05 · PEFT"
    assert "OVER BUDGET" not in usage.table(tmp_path), "without a profile there is no budget"
