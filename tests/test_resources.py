import shutil

import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value
from standins import write_conll_parquet  # tests/standins.py: the full profile's local stand-ins
from transformers import AutoConfig

from course_utils import ner_data, resources, tagging
from course_utils.resources import (
    CONLL2003_SPLITS,
    FULL_NER_REVISION,
    DataMismatchError,
    HubUnavailableError,
    SourceNotLoadableError,
    classify_load_error,
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
    for kind in ("ner", "text", "names"):
        path = verified_data_file(kind)
        assert sha256_of(path) == expected_sha256(path.parent / "SOURCE.md")
        if kind != "names":  # the probe's names are read directly, in every profile
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


# --- the full profile's sources, the three errors, the overrides ------------------------------------

def test_full_profile_reads_conll2003_from_its_parquet_revision(monkeypatch):
    monkeypatch.delenv("COURSE_NER_REVISION", raising=False)
    source = resolve_data("ner", "full")
    assert (source.location, source.revision) == ("eriktks/conll2003", FULL_NER_REVISION)
    assert source.expected_splits == CONLL2003_SPLITS == {"train": 14041, "dev": 3250, "test": 3453}
    monkeypatch.setenv("COURSE_NER_REVISION", "0123abc")
    assert resolve_data("ner", "full").revision == "0123abc"  # pin a commit


def test_overrides_point_any_profile_at_local_copies(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_ENCODER", str(tmp_path / "bert"))
    monkeypatch.setenv("COURSE_NER_DATA", "someone/conll-copy")
    for profile in ("smoke", "full"):
        model, data = resolve_model(profile), resolve_data("ner", profile)
        assert (model.location, model.local, model.override) == (str(tmp_path / "bert"), True, "COURSE_ENCODER")
        assert (data.location, data.local, data.expected_splits) == ("someone/conll-copy", False, None)
    assert resolve_data("text", "full").name == "tiny Shakespeare"  # only the NER data is overridden


def test_hub_layout_loads_through_load_dataset_renames_validation_and_keeps_two_columns(monkeypatch, tmp_path):
    folder = write_conll_parquet(tmp_path / "conll2003")
    monkeypatch.setenv("COURSE_NER_DATA", str(folder))
    data = ner_data.load_ner_data("full")
    assert sorted(data) == ["dev", "test", "train"] and data["dev"].column_names == ["tokens", "ner_tags"]
    assert data["train"].features["ner_tags"].feature.names == tagging.LABELS
    assert sum(len(split) for split in data.values()) == 1696  # all of WikiGold


def _source(**kwargs):
    return resources.Resource("ner", "x/y", local=False, description="", revision="main", **kwargs)


def test_data_that_differs_is_named_with_what_differs():
    good = ner_data.to_dataset_dict({"train": [], "dev": [], "test": []})
    renamed = DatasetDict({"train": good["train"], "validation": good["dev"], "test": good["test"]})
    assert sorted(ner_data.check_ner_data(renamed, _source())) == ["dev", "test", "train"]
    with pytest.raises(DataMismatchError, match=r"'x/y@main'.*splits hold .* not \{'train': 14041"):
        ner_data.check_ner_data(renamed, _source(expected_splits=CONLL2003_SPLITS))
    with pytest.raises(DataMismatchError, match=r"splits are \['test', 'train'\]"):
        ner_data.check_ner_data(DatasetDict({"train": good["train"], "test": good["test"]}), _source())
    other_order = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=["O", "B-X"]))})
    relabelled = DatasetDict({name: Dataset.from_dict({"tokens": [], "ner_tags": []}, features=other_order)
                              for name in ("train", "validation", "test")})
    with pytest.raises(DataMismatchError, match=r"ner_tags labels \['O', 'B-X'\]"):
        ner_data.check_ner_data(relabelled, _source())


def test_three_kinds_of_load_failure_get_three_messages(tmp_path):
    script = classify_load_error(_source(), RuntimeError("Dataset scripts are no longer supported, but found y.py"))
    assert isinstance(script, SourceNotLoadableError) and FULL_NER_REVISION in str(script)
    offline = classify_load_error(_source(), ConnectionError("Couldn't reach 'x/y' on the Hub (OfflineModeIsEnabled)"))
    assert isinstance(offline, HubUnavailableError) and "--download-full" in str(offline)
    local = resources.Resource("ner", str(tmp_path), True, "", override="COURSE_NER_DATA")
    missing = classify_load_error(local, FileNotFoundError("no data files"))
    assert isinstance(missing, FileNotFoundError) and "COURSE_NER_DATA" in str(missing)
    mismatch = resources.data_mismatch(_source(), "its splits are ['train']")
    assert isinstance(mismatch, DataMismatchError) and "train/validation/test" in str(mismatch)


def test_download_full_fetches_only_what_the_course_loads(monkeypatch, tmp_path):
    calls = []

    def fake_snapshot(repo_id, **kwargs):
        calls.append((repo_id, kwargs))
        return str(tmp_path / repo_id)

    monkeypatch.setattr("huggingface_hub.snapshot_download", fake_snapshot)
    paths = resources.download_full(tmp_path)
    (model_id, model_kw), (data_id, data_kw) = calls
    assert model_id == "bert-base-cased" and "*.safetensors" in model_kw["allow_patterns"]
    assert not any(p.endswith((".h5", ".msgpack", ".bin")) for p in model_kw["allow_patterns"])  # no TF/Flax/pickles
    assert (data_id, data_kw["revision"], data_kw["repo_type"]) == ("eriktks/conll2003", FULL_NER_REVISION, "dataset")
    assert set(paths) == {"COURSE_ENCODER", "COURSE_NER_DATA"}


GOOD = "EU B-ORG\nrejects O\nGerman B-MISC\ncall O\n\nPeter B-PER\n"


def test_bad_input_text_files_in_another_encoding_or_binary_are_named(tmp_path):
    latin1 = tmp_path / "latin1.conll"
    latin1.write_bytes("Peter B-PER\nMüller I-PER\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1.conll is not UTF-8: byte 0xfc on line 2 .*iconv -f latin1"):
        resources.read_text(latin1, "CoNLL file")
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"PK\x03\x04\x00\x00junk")
    with pytest.raises(ValueError, match=r"model.bin looks binary \(a NUL byte at offset 4\)"):
        ner_data.read_conll(binary)
    utf16 = tmp_path / "utf16.conll"
    utf16.write_text(GOOD, encoding="utf-16")
    with pytest.raises(ValueError, match="utf16.conll is UTF-16.*save it as UTF-8"):
        ner_data.read_conll(utf16)
    with pytest.raises(FileNotFoundError, match="CoNLL file .*missing.conll does not exist"):
        ner_data.read_conll(tmp_path / "missing.conll")


def test_bad_input_a_bom_and_mixed_separators_read_as_the_plain_file(tmp_path):
    plain, bom, mixed = tmp_path / "plain.conll", tmp_path / "bom.conll", tmp_path / "mixed.conll"
    plain.write_text(GOOD, encoding="utf-8")
    bom.write_text(GOOD, encoding="utf-8-sig")  # Notepad's "UTF-8 with BOM"
    mixed.write_bytes(GOOD.replace("EU ", "EU\t").replace("call O", "call \t O").replace("\n", "\r\n").encode())
    expected = ner_data.read_conll(plain)
    assert ner_data.read_conll(bom) == expected and expected[0].tokens[0] == "EU"
    assert ner_data.read_conll(mixed) == expected


def test_bad_input_course_folders_that_are_not_folders_are_named(monkeypatch, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(NotADirectoryError, match="COURSE_DATA_DIR=.*nowhere' is not a folder"):
        resources.verified_data_file("ner")
    monkeypatch.setenv("COURSE_ARTIFACTS_DIR", str(a_file))
    with pytest.raises(OSError, match="cannot create .*a-file/cpu .*COURSE_ARTIFACTS_DIR"):
        resources.artifacts_dir("cpu")
