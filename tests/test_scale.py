"""Scaling out: training under a tf.distribute.Strategy, TFRecord and CSV corpora streamed through tf.data, and
MirroredStrategy on two logical CPU devices (in a fresh process, since devices are fixed when TensorFlow starts)."""
import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

tf = pytest.importorskip("tensorflow")
from textmine.classifier import KerasTextClassifier, MeanEmbeddingClassifier, replica_texts
from textmine.data import load_dataset
from textmine.scale import csv_dataset, fit_streaming, logical_cpus, read_tfrecords, shard_paths, write_tfrecords

ROOT = Path(__file__).resolve().parents[1]
TEXTS = ["the first text", "naïve café — déjà vu", "", "今天天气很好", "emoji 🙂 and a\ttab", "line\nbreak", "last one"]


def run_fresh(script: str) -> str:
    "Run `script` in a new Python process (textmine importable, TensorFlow not yet started); returns its stdout."
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, encoding="utf-8", env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def decoded(dataset) -> list:
    return [(t.decode("utf-8"), l.decode("utf-8") if isinstance(l, bytes) else int(l)) for t, l in dataset.as_numpy_iterator()]


@pytest.fixture(scope="module")
def trec_small():
    train = load_dataset("trec").sample(200, random_state=0)
    return train.texts, np.array(train.label_names)[train.labels]  # string labels


@pytest.mark.parametrize("labels", [[0, 1, 0, 2, 1, 2, 0], ["pos", "neg", "neg", "正面", "pos", "neg", "pos"]])
@pytest.mark.parametrize("shards", [1, 3, 10])
def test_tfrecords_round_trip_keeps_order_unicode_and_empty_texts(tmp_path, labels, shards):
    paths = write_tfrecords(iter(TEXTS), iter(labels), tmp_path / "corpus", shards=shards)  # generators stream
    assert paths == shard_paths(tmp_path / "corpus", shards) and all(p.is_file() for p in paths)
    assert decoded(read_tfrecords(str(tmp_path / "corpus-*.tfrecord"))) == list(zip(TEXTS, labels))
    assert sorted(decoded(read_tfrecords(paths, ordered=False))) == sorted(zip(TEXTS, labels))


def test_write_tfrecords_overwrite_replaces_every_old_shard(tmp_path):
    write_tfrecords(["a", "b", "c"], [0, 1, 0], tmp_path / "x", shards=3)
    with pytest.raises(FileExistsError, match="pass overwrite=True"):
        write_tfrecords(["d"], [1], tmp_path / "x")
    write_tfrecords(["d", "e"], [1, 0], tmp_path / "x", overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["x-00000-of-00001.tfrecord"]
    assert decoded(read_tfrecords(str(tmp_path / "x-*.tfrecord"))) == [("d", 1), ("e", 0)]


@pytest.mark.parametrize("texts, labels, error, message", [
    (["a", "b"], [0], ValueError, "labels ended after 1 items"),
    (["a"], [0, 1], ValueError, "texts ended after 1 items"),
    ([], [], ValueError, "texts is empty"),
    (["a", b"b"], [0, 1], TypeError, r"texts\[1\] must be a str"),
    (["a", "b"], [0, "b"], TypeError, r"labels\[0\] is a int and labels\[1\] is a str"),
    (["a"], [True], TypeError, r"labels\[0\] must be an int or a str"),
])
def test_write_tfrecords_names_the_bad_item_and_leaves_nothing(tmp_path, texts, labels, error, message):
    with pytest.raises(error, match=message):
        write_tfrecords(texts, labels, tmp_path / "x", shards=2)
    assert list(tmp_path.iterdir()) == []


def test_readers_name_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="matches no file"):
        read_tfrecords(str(tmp_path / "none-*.tfrecord"))
    with pytest.raises(FileNotFoundError, match="do not exist"):
        csv_dataset([tmp_path / "none.csv"])


def test_csv_dataset_reads_quoted_fields_in_order(tmp_path):
    texts = ["plain", "with, a comma", 'with "quotes"', "", "中文文本"]
    frame = pd.DataFrame({"label": ["a", "b", "a", "b", "a"], "id": range(5), "body": texts})
    frame.iloc[:3].to_csv(tmp_path / "part1.csv", index=False)
    frame.iloc[3:].to_csv(tmp_path / "part2.csv", index=False)
    ds = csv_dataset(str(tmp_path / "part*.csv"), text_column="body")
    assert decoded(ds) == list(zip(texts, frame.label))
    with pytest.raises(ValueError, match="label_column 'y' is not a column"):
        csv_dataset(str(tmp_path / "part*.csv"), text_column="body", label_column="y")
    with pytest.raises(ValueError, match="label_dtype must be one of"):
        csv_dataset(str(tmp_path / "part*.csv"), label_dtype="float")


def test_strategy_argument_is_checked_before_training(trec_small):
    X, y = trec_small
    with pytest.raises(TypeError, match="strategy must be a tf.distribute.Strategy .* got str"):
        MeanEmbeddingClassifier(epochs=1).fit(X, y, strategy="mirrored")
    with pytest.raises(TypeError, match="strategy must be a tf.distribute.Strategy"):
        fit_streaming(MeanEmbeddingClassifier(epochs=1), tf.data.Dataset.from_tensor_slices((X, y)), strategy=2)


def test_fit_under_one_device_strategy_equals_plain_fit(trec_small):
    X, y = trec_small
    plain = MeanEmbeddingClassifier(max_seq_length=12, embedding_dim=8, epochs=2, random_state=3).fit(X, y)
    scoped = MeanEmbeddingClassifier(max_seq_length=12, embedding_dim=8, epochs=2, random_state=3).fit(
        X, y, strategy=tf.distribute.OneDeviceStrategy("/cpu:0"))
    np.testing.assert_allclose(scoped.predict_proba(X[:30]), plain.predict_proba(X[:30]), atol=1e-5)


def test_fit_streaming_leaves_the_state_of_fit(tmp_path, trec_small):
    X, y = trec_small
    write_tfrecords(X, y.tolist(), tmp_path / "trec", shards=2)
    clf = fit_streaming(MeanEmbeddingClassifier(max_seq_length=12, embedding_dim=8, epochs=3, random_state=1),
                        read_tfrecords(str(tmp_path / "trec-*.tfrecord")))
    ref = MeanEmbeddingClassifier(max_seq_length=12, embedding_dim=8, epochs=3, random_state=1).fit(X, y)
    assert sorted(vars(clf)) == sorted(vars(ref))
    assert clf.classes_.tolist() == ref.classes_.tolist() == sorted(set(y))
    assert set(clf.history_) == {"loss", "accuracy", "val_loss", "val_accuracy"} and len(clf.history_["loss"]) == 3
    assert 0 <= clf.best_epoch_ < 3
    assert clf.predict(X[:5]).dtype.kind == "U" and clf.predict_proba(X[:5]).shape == (5, len(ref.classes_))
    assert clf.score(X, y) > 0.4  # training accuracy, far above the majority class of TREC-6
    again = KerasTextClassifier.load(clf.save(tmp_path / "streamed.keras"))
    np.testing.assert_allclose(again.predict_proba(X[:20]), clf.predict_proba(X[:20]), atol=1e-5)
    np.testing.assert_allclose(pickle.loads(pickle.dumps(clf)).predict_proba(X[:20]), clf.predict_proba(X[:20]), atol=1e-5)


def test_fit_streaming_learns_the_vocabulary_fit_learns(trec_small):
    X, y = trec_small
    kw = dict(max_tokens=300, max_seq_length=12, embedding_dim=8, epochs=1, validation_fraction=0.0)
    streamed = fit_streaming(MeanEmbeddingClassifier(**kw), tf.data.Dataset.from_tensor_slices((X, y)), shuffle_buffer=1)
    assert streamed.vocabulary_ == MeanEmbeddingClassifier(**kw).fit(X, y).vocabulary_
    assert "val_loss" not in streamed.history_  # validation_fraction=0: every text trains


def test_fit_streaming_learns_the_vocabulary_on_the_training_part_only():
    texts = [f"word{i} shared" for i in range(300)]  # every text has a word of its own
    stream = tf.data.Dataset.from_tensor_slices((texts, [i % 2 for i in range(300)]))
    def own_words(random_state):
        clf = fit_streaming(MeanEmbeddingClassifier(max_seq_length=4, embedding_dim=4, epochs=1, validation_fraction=0.3,
                                                    random_state=random_state), stream)
        assert "val_accuracy" in clf.history_
        return {w for w in clf.vocabulary_ if w.startswith("word")}
    words = own_words(0)
    assert 0.6 * 300 < len(words) < 0.8 * 300         # about 30% of the texts were held out, their words unseen
    assert own_words(1) != words                       # the seed picks the held-out texts


@pytest.mark.parametrize("make, kwargs, error, message", [
    (lambda d: d.batch(4), {}, TypeError, "not batches"),
    (lambda d: d.map(lambda t, l: t), {}, TypeError, r"\(text, label\) pairs"),
    (lambda d: d, {"classes": ["DESC", "ENTY"]}, ValueError, "labels that are not in classes"),
    (lambda d: d, {"classes": [0, 1, 2, 3, 4, 5]}, ValueError, "of the dataset's kind \\(str\\)"),
    (lambda d: d, {"classes": "DESC"}, TypeError, "classes must be a list"),
    (lambda d: d, {"shuffle_buffer": 0}, ValueError, "shuffle_buffer must be an integer >= 1, got 0"),
    (lambda d: d.take(0), {}, ValueError, "at least one training text"),
    (lambda d: d.filter(lambda t, l: tf.equal(l, "DESC")), {}, ValueError, "at least two classes"),
])
def test_fit_streaming_checks_its_inputs(trec_small, make, kwargs, error, message):
    X, y = trec_small
    with pytest.raises(error, match=message):
        fit_streaming(MeanEmbeddingClassifier(epochs=1), make(tf.data.Dataset.from_tensor_slices((X, y))), **kwargs)


def test_fit_streaming_needs_one_of_the_books_classifiers(trec_small):
    X, y = trec_small
    with pytest.raises(TypeError, match="clf must be a KerasTextClassifier"):
        fit_streaming(object(), tf.data.Dataset.from_tensor_slices((X, y)))


def test_logical_cpus_refuses_once_tensorflow_started():
    tf.constant(1.0)  # starts the devices
    have = len(tf.config.list_logical_devices("CPU"))
    assert len(logical_cpus(have)) == have
    with pytest.raises(RuntimeError, match="fresh Python process"):
        logical_cpus(have + 1)


def test_mirrored_on_two_logical_cpus_reaches_the_one_device_band(tmp_path):
    out = run_fresh(f"""
        import json, pickle
        from textmine.scale import device_comparison, logical_cpus
        devices = logical_cpus(2)                        # first thing, before TensorFlow starts
        import tensorflow as tf
        from textmine.classifier import KerasTextClassifier, MeanEmbeddingClassifier
        from textmine.data import load_dataset
        strategy = tf.distribute.MirroredStrategy(devices)
        result = device_comparison(n_train=300, strategy=strategy)
        train = load_dataset("trec").sample(100, random_state=1)
        clf = MeanEmbeddingClassifier(max_seq_length=12, embedding_dim=8, epochs=1).fit(train.texts, train.labels, strategy=strategy)
        again = KerasTextClassifier.load(clf.save({str(tmp_path / "mirrored.keras")!r}))
        result["load_gap"] = float(abs(again.predict_proba(train.texts) - clf.predict_proba(train.texts)).max())
        result["pickle_gap"] = float(abs(pickle.loads(pickle.dumps(clf)).predict_proba(train.texts) - clf.predict_proba(train.texts)).max())
        print(json.dumps(result))
    """)
    result = json.loads(out.strip().splitlines()[-1])
    assert result["replicas"] == 2
    for route in ("fit", "streaming"):
        one, two = result[f"{route}_one_device"], result[f"{route}_mirrored"]
        assert one > 0.4, result                 # the single-device run learned something (majority class: 0.23)
        assert abs(one - two) <= 0.05, result    # the band: same accuracy up to reduction order and batch split
    assert result["load_gap"] < 1e-5 and result["pickle_gap"] < 1e-5, result


class _Replicas:
    "Stands in for a strategy: `replica_texts` reads only `num_replicas_in_sync`."
    def __init__(self, k): self.num_replicas_in_sync = k


@pytest.mark.parametrize("n, batch_size, k, expected", [
    (300, 32, 1, 300), (270, 32, 2, 270), (27, 32, 2, 26), (91, 30, 2, 90), (100, 30, 3, 99), (7, 32, None, 7),
])
def test_replica_texts_makes_every_batch_split_evenly(n, batch_size, k, expected):
    keep = replica_texts(n, batch_size, None if k is None else _Replicas(k))
    assert keep == expected and (k is None or (keep % batch_size) % k == 0)


def test_replica_texts_needs_a_batch_that_splits():
    with pytest.raises(ValueError, match="batch_size must be a multiple of the 3 replicas of strategy, got 32"):
        replica_texts(100, 32, _Replicas(3))
