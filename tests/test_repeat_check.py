"""The repeat check finds a changed number and leaves the machine's timings alone."""

import json

from repeat_check import differences, main


def notebook(path, *texts):
    cells = [{"cell_type": "code", "outputs": [{"output_type": "stream", "name": "stdout", "text": t}]} for t in texts]
    path.write_text(json.dumps({"cells": cells}))
    return path


def test_a_changed_number_is_found_and_timings_are_not(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = notebook(tmp_path / "a" / "02.ipynb", "perplexity 578.2\n", "trained in 12.3 s (4.1x faster)\n")
    same = notebook(tmp_path / "b" / "02.ipynb", "perplexity 578.2\n", "trained in 9.8 s (3.7x faster)\n")
    assert differences(first, same) == []
    other = notebook(tmp_path / "b" / "02.ipynb", "perplexity 562.0\n", "trained in 9.8 s (3.7x faster)\n")
    (found,) = differences(first, other)
    assert "code cell 0" in found and "578.2" in found and "562.0" in found
    assert main(str(tmp_path / "a"), str(tmp_path / "b"), "02.ipynb") == 1
    assert main(str(tmp_path / "a"), str(tmp_path / "b"), "missing.ipynb") == 1


def test_a_table_of_timings_is_skipped_whole(tmp_path):
    timings = "| length | from scratch, ms | fused, ms |\n|---|---|---|\n| 64 | {} | {} |\n"
    first = notebook(tmp_path / "first.ipynb", timings.format(30.5, 0.8), "| seed | F1 |\n|---|---|\n| 0 | 0.41 |\n")
    second = notebook(tmp_path / "second.ipynb", timings.format(28.0, 0.7), "| seed | F1 |\n|---|---|\n| 0 | 0.41 |\n")
    assert differences(first, second) == []
    third = notebook(tmp_path / "third.ipynb", timings.format(28.0, 0.7), "| seed | F1 |\n|---|---|\n| 0 | 0.40 |\n")
    assert len(differences(first, third)) == 1
