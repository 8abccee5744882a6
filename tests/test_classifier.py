"""API contracts of the shared Keras text-classifier base: inputs, validation split, best epoch, save / load,
atomic model files with a SHA-256 manifest, and the SavedModel export, checked in fresh processes."""
import hashlib
import json
import os
import pickle
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from textmine.classifier import (KerasTextClassifier, LabelledSoftmax, MeanEmbeddingClassifier, classifier_inputs,
                                 early_stopping, validation_split)
from textmine.core import atomic_path, manifest_path, sha256_file, verify_manifest
from textmine.data import load_dataset

ROOT = Path(__file__).resolve().parents[1]


def run_fresh(script: str, *args) -> str:
    "Run `script` in a new Python process (textmine importable, nothing shared with this one); returns its stdout."
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(script), *map(str, args)], capture_output=True, encoding="utf-8",
                       env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


@pytest.fixture(scope="module")
def trec_small():
    train = load_dataset("trec").sample(150, random_state=0)
    names = np.array(train.label_names)
    return train.texts, names[train.labels]  # string labels, to check they come back as strings


@pytest.fixture(scope="module")
def fitted(trec_small):
    X, y = trec_small
    return MeanEmbeddingClassifier(max_seq_length=12, embedding_dim=8, epochs=2, random_state=1).fit(X, y)


@pytest.mark.parametrize("X, y, message", [
    ([], [], "X is empty"),
    ("a text", [0], "X must be a list of strings"),
    (["a", None], [0, 1], "X[1] must be a str"),
    (["a", "b"], [0], "y has 1 labels but X has 2 texts"),
    (["a", "b"], [1, 1], "at least two classes"),
    (["a", "b"], [[0], [1]], "1-d"),
])
def test_classifier_inputs_name_the_argument(X, y, message):
    with pytest.raises((ValueError, TypeError), match=None) as e:
        classifier_inputs(X, y)
    assert message in str(e.value)


def test_validation_split_is_stratified_disjoint_and_seeded():
    y = np.repeat([0, 1, 2], [60, 30, 10])
    tr, va = validation_split(y, 0.2, random_state=4)
    assert len(va) == 20 and np.intersect1d(tr, va).size == 0 and len(tr) + len(va) == 100
    assert np.bincount(y[va]).tolist() == [12, 6, 2]
    assert np.array_equal(validation_split(y, 0.2, random_state=4)[1], va)
    assert not np.array_equal(validation_split(y, 0.2, random_state=5)[1], va)
    assert len(validation_split(y, 0.0, random_state=0)[1]) == 0


def test_best_weights_restores_best_epoch_and_stops():
    scores = iter([0.4, 0.8, 0.5, 0.6, 0.9, 0.9])

    class Scripted(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None): logs["val_accuracy"] = next(scores)
    m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    m.compile("sgd", "mse")
    seen = []
    rec = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, l: seen.append(m.get_weights()[0].copy()))
    cb = early_stopping(patience=2, epochs=5)
    m.fit(np.ones((4, 2)), np.ones(4), epochs=6, verbose=0, callbacks=[Scripted(), rec, cb])
    assert cb.best_epoch == 1 and len(seen) == 4
    np.testing.assert_array_equal(m.get_weights()[0], seen[1])


def test_estimator_contract(fitted, trec_small):
    X, y = trec_small
    assert clone(fitted).get_params() == fitted.get_params()
    with pytest.raises(NotFittedError):
        clone(fitted).predict(X[:2])
    P = fitted.predict_proba(X[:10])
    assert P.shape == (10, 6) and np.allclose(P.sum(1), 1, atol=1e-5)
    assert set(fitted.predict(X)) <= set(fitted.classes_) and fitted.classes_.dtype.kind == "U"
    assert 0 <= fitted.score(X, y) <= 1
    pipe = make_pipeline(FunctionTransformer(lambda t: [s.lower() for s in t]),
                         MeanEmbeddingClassifier(max_seq_length=12, embedding_dim=8, epochs=1)).fit(X, y)
    assert len(pipe.predict(X[:5])) == 5


@pytest.mark.parametrize("param, value, message", [
    ("epochs", 0, "epochs must be an integer >= 1, got 0"),
    ("max_seq_length", 2.5, "max_seq_length must be an integer >= 1, got 2.5"),
    ("validation_fraction", 1.0, "validation_fraction must be a number in [0, 1), got 1.0"),
    ("patience", 0, "patience must be an integer >= 1, got 0"),
    ("split", "words", "split must be one of 'whitespace', 'character', got 'words'"),
    ("learning_rate", -1, "learning_rate must be a positive number, got -1"),
    ("random_state", -3, "random_state must be an integer >= 0, got -3"),
])
def test_bad_parameters_name_the_argument(param, value, message):
    with pytest.raises(ValueError) as e:
        MeanEmbeddingClassifier(**{param: value}).fit(["a b", "c d"], [0, 1])
    assert message in str(e.value)


def test_same_seed_same_predictions(trec_small):
    X, y = trec_small
    kw = dict(max_seq_length=12, embedding_dim=8, epochs=2)
    a = MeanEmbeddingClassifier(**kw, random_state=3).fit(X, y).predict_proba(X)
    b = MeanEmbeddingClassifier(**kw, random_state=3).fit(X, y).predict_proba(X)
    c = MeanEmbeddingClassifier(**kw, random_state=4).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert np.abs(a - c).max() > 1e-4


def test_save_load_pickle_round_trip(fitted, trec_small, tmp_path):
    X, _ = trec_small
    path = fitted.save(tmp_path / "m.keras")
    with zipfile.ZipFile(path) as z:
        assert "config.json" in z.namelist() and not any(n.endswith(".pkl") for n in z.namelist())
    again = KerasTextClassifier.load(path)  # the base finds the subclass from the file
    assert type(again) is MeanEmbeddingClassifier and again.get_params() == fitted.get_params()
    np.testing.assert_array_equal(again.predict(X), fitted.predict(X))
    np.testing.assert_allclose(pickle.loads(pickle.dumps(fitted)).predict_proba(X), fitted.predict_proba(X), atol=1e-6)
    with pytest.raises(ValueError, match="must end in .keras"):
        fitted.save(tmp_path / "m.h5")
    with pytest.raises(FileNotFoundError):
        MeanEmbeddingClassifier.load(tmp_path / "missing.keras")
    (tmp_path / "junk.keras").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a classifier written by save"):
        MeanEmbeddingClassifier.load(tmp_path / "junk.keras", verify=False)


def test_labelled_softmax_config_round_trip():
    layer = LabelledSoftmax(["a", "b"], "textmine.classifier.MeanEmbeddingClassifier", {"epochs": 2, "widths": [3]})
    again = LabelledSoftmax.from_config(json.loads(json.dumps(layer.get_config())))
    assert again.classes == ["a", "b"] and again.params == {"epochs": 2, "widths": [3]}


def test_transformer_classifier_uses_the_base_and_saves(trec_small, tmp_path):
    from textmine.attention import TransformerClassifier
    X, y = trec_small
    clf = TransformerClassifier(max_seq_length=10, d_model=8, num_heads=2, ff_dim=8, num_layers=1, epochs=1, random_state=0).fit(X, y)
    assert isinstance(clf, KerasTextClassifier)
    again = TransformerClassifier.load(clf.save(tmp_path / "t.keras"))
    np.testing.assert_allclose(again.predict_proba(X), clf.predict_proba(X), atol=1e-6)
    maps = again.attention_maps(X[:2])
    assert maps[0]["weights"].shape[:2] == (1, 2)


# --- model files: atomic writes, SHA-256 manifest, SavedModel ----------------------------------------------------

def test_manifest_is_in_sha256sum_format_for_files_and_folders(tmp_path):
    f = tmp_path / "model.bin"
    with atomic_path(f) as tmp:
        tmp.write_bytes(b"some weights")
    digest = hashlib.sha256(b"some weights").hexdigest()
    assert sha256_file(f) == digest
    assert manifest_path(f) == tmp_path / "model.bin.sha256"
    assert manifest_path(f).read_text(encoding="utf-8") == f"{digest}  model.bin\n"
    assert verify_manifest(f) == f
    d = tmp_path / "serving"
    with atomic_path(d) as tmp:
        (tmp / "variables").mkdir(parents=True)
        (tmp / "saved_model.pb").write_bytes(b"graph")
        (tmp / "variables" / "data").write_bytes(b"w")
    assert manifest_path(d).read_text(encoding="utf-8") == (f"{hashlib.sha256(b'graph').hexdigest()}  serving/saved_model.pb\n"
                                            f"{hashlib.sha256(b'w').hexdigest()}  serving/variables/data\n")
    verify_manifest(d)
    (d / "variables" / "data").write_bytes(b"W")
    with pytest.raises(ValueError, match="serving/variables/data.*does not match"):
        verify_manifest(d)
    (d / "variables" / "data").write_bytes(b"w")
    (d / "added").write_bytes(b"")
    with pytest.raises(ValueError, match=r"added.*expected \(not in the manifest\)"):
        verify_manifest(d)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bin", "model.bin.sha256", "serving", "serving.sha256"]


def test_atomic_path_refuses_to_overwrite_unless_asked(tmp_path):
    f = tmp_path / "model.bin"
    with atomic_path(f) as tmp:
        tmp.write_bytes(b"old")
    with pytest.raises(FileExistsError, match="model.bin' already exists; pass overwrite=True"):
        with atomic_path(f) as tmp:
            tmp.write_bytes(b"new")
    assert f.read_bytes() == b"old"
    with atomic_path(f, overwrite=True) as tmp:
        tmp.write_bytes(b"new")
    assert f.read_bytes() == b"new" and verify_manifest(f) == f
    d = tmp_path / "folder"
    for content in (b"first", b"second"):
        with atomic_path(d, overwrite=content == b"second") as tmp:
            tmp.mkdir()
            (tmp / "x").write_bytes(content)
    assert (d / "x").read_bytes() == b"second" and verify_manifest(d) == d
    with pytest.raises(ValueError, match="overwrite must be True or False, got 1"):
        with atomic_path(f, overwrite=1):
            pass
    with pytest.raises(FileNotFoundError, match="nothing was written"):
        with atomic_path(tmp_path / "empty.bin"):
            pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "folder.sha256", "model.bin", "model.bin.sha256"]


def test_a_failed_save_leaves_no_file_and_keeps_the_old_one(fitted, tmp_path, monkeypatch):
    def breaks_midway(self, filepath, *args, **kwargs):
        Path(filepath).write_bytes(b"PK\x03\x04 half a zip")
        raise OSError("No space left on device")
    path = tmp_path / "m.keras"
    with monkeypatch.context() as m:
        m.setattr(keras.Model, "save", breaks_midway)
        with pytest.raises(OSError, match="No space left"):
            fitted.save(path)
    assert list(tmp_path.iterdir()) == []  # no model, no manifest, no temporary file
    fitted.save(path)
    before, manifest = path.read_bytes(), manifest_path(path).read_text(encoding="utf-8")
    with monkeypatch.context() as m:
        m.setattr(keras.Model, "save", breaks_midway)
        with pytest.raises(OSError, match="No space left"):
            fitted.save(path, overwrite=True)
    assert path.read_bytes() == before and manifest_path(path).read_text(encoding="utf-8") == manifest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras", "m.keras.sha256"]
    with pytest.raises(FileExistsError, match="m.keras' already exists"):
        fitted.save(path)
    assert fitted.save(path, overwrite=True) == path and verify_manifest(path) == path


def test_load_refuses_a_file_that_does_not_match_its_manifest(fitted, trec_small, tmp_path):
    X, _ = trec_small
    path = fitted.save(tmp_path / "m.keras")
    good, expected = path.read_bytes(), sha256_file(path)
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x01  # one bit of one byte
    path.write_bytes(bytes(flipped))
    actual = sha256_file(path)
    with pytest.raises(ValueError) as e:
        MeanEmbeddingClassifier.load(path)
    for part in ("m.keras", expected, actual, "verify=False"):
        assert part in str(e.value)
    try:  # unchecked, the changed file loads or fails with an error of its own, never the manifest's
        MeanEmbeddingClassifier.load(path, verify=False)
    except Exception as err:
        assert "manifest" not in str(err)
    path.write_bytes(good + b"\0")  # a byte appended: the zip still reads, the digest differs
    with pytest.raises(ValueError, match="does not match its SHA-256 manifest"):
        KerasTextClassifier.load(path)
    again = KerasTextClassifier.load(path, verify=False)
    np.testing.assert_array_equal(again.predict(X), fitted.predict(X))
    path.write_bytes(good)
    assert type(KerasTextClassifier.load(path)) is MeanEmbeddingClassifier
    manifest_path(path).write_text("not a digest  m.keras\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 1 of the manifest .* is not"):
        KerasTextClassifier.load(path)
    manifest_path(path).unlink()
    with pytest.raises(FileNotFoundError, match=r"manifest .*m.keras.sha256.* is missing.*verify=False"):
        KerasTextClassifier.load(path)
    assert type(KerasTextClassifier.load(path, verify=False)) is MeanEmbeddingClassifier
    with pytest.raises(ValueError, match="verify must be True or False, got 'no'"):
        KerasTextClassifier.load(path, verify="no")


@pytest.fixture(scope="module")
def small_cnn_rnn(trec_small):
    from textmine.cnn import TextCNNClassifier
    from textmine.rnn import RNNClassifier
    X, y = trec_small
    cnn = TextCNNClassifier(widths=(2, 3), filters=4, embedding_dim=8, max_seq_length=12, epochs=1, random_state=0).fit(X, y)
    rnn = RNNClassifier(units=4, embedding_dim=8, max_seq_length=12, epochs=1, random_state=0).fit(X, y)
    return cnn, rnn


def test_keras_files_predict_identically_in_a_fresh_process(fitted, small_cnn_rnn, trec_small, tmp_path):
    X, _ = trec_small
    models = {"mean": fitted, "cnn": small_cnn_rnn[0], "rnn": small_cnn_rnn[1]}
    for name, model in models.items():
        model.save(tmp_path / f"{name}.keras")
    (tmp_path / "texts.json").write_text(json.dumps(X), encoding="utf-8")
    out = run_fresh("""
        import json, sys, numpy as np
        from pathlib import Path
        from textmine.classifier import KerasTextClassifier
        d = Path(sys.argv[1])
        texts = json.loads((d / "texts.json").read_text(encoding="utf-8"))
        for name in ("mean", "cnn", "rnn"):
            model = KerasTextClassifier.load(d / f"{name}.keras")
            np.savez(d / f"{name}.npz", proba=model.predict_proba(texts), labels=model.predict(texts),
                     params=json.dumps(model.get_params(), default=str), kind=type(model).__name__)
        print("loaded")
    """, tmp_path)
    assert "loaded" in out
    for name, model in models.items():
        with np.load(tmp_path / f"{name}.npz") as got:
            assert str(got["kind"]) == type(model).__name__
            np.testing.assert_allclose(got["proba"], model.predict_proba(X), rtol=0, atol=1e-6)
            np.testing.assert_array_equal(got["labels"], model.predict(X))
            assert json.loads(str(got["params"])) == json.loads(json.dumps(model.get_params(), default=str))


def test_saved_model_serves_raw_strings_in_a_fresh_process(fitted, trec_small, tmp_path):
    X, _ = trec_small
    X = X[:40]
    export = fitted.export_saved_model(tmp_path / "serving")
    assert (export / "saved_model.pb").is_file() and verify_manifest(export) == export
    with pytest.raises(FileExistsError, match="serving' already exists; pass overwrite=True"):
        fitted.export_saved_model(export)
    assert fitted.export_saved_model(export, overwrite=True) == export
    (tmp_path / "texts.json").write_text(json.dumps(X), encoding="utf-8")
    out = run_fresh("""
        import json, sys, numpy as np
        import tensorflow as tf
        from pathlib import Path
        d = Path(sys.argv[1])
        served = tf.saved_model.load(str(d / "serving"))
        serve = served.signatures["serving_default"]
        spec = serve.structured_input_signature[1]["texts"]
        assert spec.dtype == tf.string and spec.shape.as_list() == [None], spec
        out = serve(tf.constant(json.loads((d / "texts.json").read_text(encoding="utf-8"))))
        assert out["probabilities"].dtype == tf.float32 and out["labels"].dtype == tf.string
        np.savez(d / "served.npz", proba=out["probabilities"].numpy(), labels=out["labels"].numpy().astype(str),
                 classes=served.class_names().numpy().astype(str))
        print("textmine" in sys.modules)
    """, tmp_path)
    assert out.strip() == "False"  # the SavedModel needs TensorFlow only
    with np.load(tmp_path / "served.npz") as got:
        assert got["proba"].shape == (40, len(fitted.classes_))
        np.testing.assert_allclose(got["proba"], fitted.predict_proba(X), rtol=0, atol=1e-5)
        np.testing.assert_array_equal(got["labels"], fitted.predict(X).astype(str))
        np.testing.assert_array_equal(got["classes"], fitted.classes_.astype(str))


def test_one_blas_thread_limits_then_restores():
    import numpy  # noqa: F401  (loads the BLAS library threadpoolctl reports)
    from threadpoolctl import threadpool_info
    from textmine.core import one_blas_thread
    blas = lambda: [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    before = blas()
    with one_blas_thread():
        assert blas() and set(blas()) == {1}
    assert blas() == before
