"""API contracts of the shared Keras text-classifier base: inputs, validation split, best epoch, save / load."""
import json
import pickle
import zipfile

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from textmine.classifier import (BestWeights, KerasTextClassifier, LabelledSoftmax, MeanEmbeddingClassifier,
                                 classifier_inputs, validation_split)
from textmine.data import load_dataset


@pytest.fixture(scope="module")
def trec_small():
    train = load_dataset("trec").sample(150, seed=0)
    names = np.array(train.label_names)
    return train.texts, names[train.labels]  # string labels, to check they come back as strings


@pytest.fixture(scope="module")
def fitted(trec_small):
    X, y = trec_small
    return MeanEmbeddingClassifier(sequence_length=12, embedding_dim=8, epochs=2, seed=1).fit(X, y)


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
    tr, va = validation_split(y, 0.2, seed=4)
    assert len(va) == 20 and np.intersect1d(tr, va).size == 0 and len(tr) + len(va) == 100
    assert np.bincount(y[va]).tolist() == [12, 6, 2]
    assert np.array_equal(validation_split(y, 0.2, seed=4)[1], va)
    assert not np.array_equal(validation_split(y, 0.2, seed=5)[1], va)
    assert len(validation_split(y, 0.0, seed=0)[1]) == 0


def test_best_weights_restores_best_epoch_and_stops():
    scores = iter([0.4, 0.8, 0.5, 0.6, 0.9, 0.9])

    class Scripted(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None): logs["val_accuracy"] = next(scores)
    m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    m.compile("sgd", "mse")
    seen = []
    rec = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, l: seen.append(m.get_weights()[0].copy()))
    cb = BestWeights(patience=2)
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
                         MeanEmbeddingClassifier(sequence_length=12, embedding_dim=8, epochs=1)).fit(X, y)
    assert len(pipe.predict(X[:5])) == 5


@pytest.mark.parametrize("param, value, message", [
    ("epochs", 0, "epochs must be an integer >= 1, got 0"),
    ("sequence_length", 2.5, "sequence_length must be an integer >= 1, got 2.5"),
    ("validation_fraction", 1.0, "validation_fraction must be a number in [0, 1), got 1.0"),
    ("patience", 0, "patience must be an integer >= 1, got 0"),
    ("split", "words", "split must be one of 'whitespace', 'character', got 'words'"),
    ("learning_rate", -1, "learning_rate must be a positive number, got -1"),
    ("seed", -3, "seed must be an integer >= 0, got -3"),
])
def test_bad_parameters_name_the_argument(param, value, message):
    with pytest.raises(ValueError) as e:
        MeanEmbeddingClassifier(**{param: value}).fit(["a b", "c d"], [0, 1])
    assert message in str(e.value)


def test_same_seed_same_predictions(trec_small):
    X, y = trec_small
    kw = dict(sequence_length=12, embedding_dim=8, epochs=2)
    a = MeanEmbeddingClassifier(**kw, seed=3).fit(X, y).predict_proba(X)
    b = MeanEmbeddingClassifier(**kw, seed=3).fit(X, y).predict_proba(X)
    c = MeanEmbeddingClassifier(**kw, seed=4).fit(X, y).predict_proba(X)
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
        MeanEmbeddingClassifier.load(tmp_path / "junk.keras")


def test_labelled_softmax_config_round_trip():
    layer = LabelledSoftmax(["a", "b"], "textmine.classifier.MeanEmbeddingClassifier", {"epochs": 2, "widths": [3]})
    again = LabelledSoftmax.from_config(json.loads(json.dumps(layer.get_config())))
    assert again.classes == ["a", "b"] and again.params == {"epochs": 2, "widths": [3]}


def test_transformer_classifier_uses_the_base_and_saves(trec_small, tmp_path):
    from textmine.attention import TransformerClassifier
    X, y = trec_small
    clf = TransformerClassifier(sequence_length=10, d_model=8, num_heads=2, ff_dim=8, num_layers=1, epochs=1, seed=0).fit(X, y)
    assert isinstance(clf, KerasTextClassifier)
    again = TransformerClassifier.load(clf.save(tmp_path / "t.keras"))
    np.testing.assert_allclose(again.predict_proba(X), clf.predict_proba(X), atol=1e-6)
    maps = again.attention_maps(X[:2])
    assert maps[0]["weights"].shape[:2] == (1, 2)
