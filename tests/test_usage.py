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
