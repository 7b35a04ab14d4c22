import shutil

import pytest
from transformers import AutoConfig

from course_utils import resources
from course_utils.resources import (
    HubUnavailableError,
    expected_sha256,
    from_pretrained,
    resolve_data,
    resolve_model,
    sha256_of,
    verified_data_file,
)


def test_offline_profiles_use_the_embedded_encoder():
    for profile in ("smoke", "cpu"):
        model = resolve_model(profile)
        assert model.local and (resources.Path(model.location) / "model.safetensors").is_file()
    config = from_pretrained(AutoConfig, "smoke")
    assert (config.model_type, config.num_hidden_layers, config.hidden_size) == ("bert", 6, 384)


def test_full_profile_names_hub_resources():
    assert resolve_model("full").location == "bert-base-cased"
    assert resolve_data("ner", "full").location == "eriktks/conll2003"


def test_full_profile_without_hub_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty cache: nothing pre-downloaded
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(HubUnavailableError, match=r"COURSE_PROFILE=cpu.*\n.*--download-full"):
        from_pretrained(AutoConfig, "full")


def test_local_data_matches_its_source_md():
    for kind in ("ner", "text"):
        path = verified_data_file(kind)
        assert sha256_of(path) == expected_sha256(path.parent / "SOURCE.md")
        assert resolve_data(kind, "cpu").location == str(path)


def test_tampered_data_is_refused(monkeypatch, tmp_path):
    shutil.copytree(resources.data_dir() / "wikigold", tmp_path / "wikigold")
    with open(tmp_path / "wikigold" / "wikigold.conll.txt", "a") as handle:
        handle.write("extra O\n")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(ValueError, match=r"wikigold.conll.txt has sha256 .* but .*SOURCE.md says"):
        verified_data_file("ner")


def test_missing_data_and_source_md_are_named(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"input.txt is missing"):
        verified_data_file("text")
    (tmp_path / "tinyshakespeare").mkdir()
    (tmp_path / "tinyshakespeare" / "input.txt").write_text("To be\n")
    with pytest.raises(FileNotFoundError, match=r"SOURCE.md is missing"):
        verified_data_file("text")
    (tmp_path / "tinyshakespeare" / "SOURCE.md").write_text("no checksum here\n")
    with pytest.raises(ValueError, match=r"no line of the form 'sha256"):
        verified_data_file("text")
    with pytest.raises(ValueError, match=r"kind='images'"):
        verified_data_file("images")
