"""The CNN chapter: conv and pooling equations against Keras, TextCNN's estimator contract, save / load in a fresh process."""
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import ops
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from textmine.cnn import (TextCNNClassifier, conv1d_np, conv2d_np, feature_maps, global_max_pool1d_np, highlight,
                          make_optimizer, max_ngrams, max_pool1d_np, max_pool2d_np, text_cnn, top_ngrams)
from textmine.data import load_dataset
from textmine.word_vectors import load_glove

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trec_small():
    train = load_dataset("trec").sample(160, random_state=0)
    return train.texts, train.labels


@pytest.fixture(scope="module")
def fitted(trec_small):
    X, y = trec_small
    return TextCNNClassifier("multichannel", vectors=load_glove(limit=20000), widths=(2, 3), filters=6,
                             max_seq_length=12, epochs=2, random_state=1).fit(X, y)


# --- equations --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n, h, stride, padding", [(9, 3, 1, "valid"), (10, 4, 3, "valid"), (9, 3, 1, "same"),
                                                   (10, 4, 3, "same"), (6, 6, 1, "valid"), (5, 2, 2, "same")])
def test_conv1d_matches_keras(n, h, stride, padding):
    x = np.random.default_rng(n + h).normal(size=(2, n, 3)).astype("float32")
    layer = keras.layers.Conv1D(4, h, strides=stride, padding=padding)
    expected = ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(conv1d_np(x, *layer.get_weights(), stride=stride, padding=padding), expected, atol=1e-5)


@pytest.mark.parametrize("size, k, stride, padding", [(8, 3, 1, "valid"), (8, 3, 2, "same"), (7, 2, 3, "valid"), (7, 3, 2, "same")])
def test_conv2d_matches_keras(size, k, stride, padding):
    X = np.random.default_rng(size + k).normal(size=(2, size, size + 1, 2)).astype("float32")
    layer = keras.layers.Conv2D(3, k, strides=stride, padding=padding)
    expected = ops.convert_to_numpy(layer(X))
    np.testing.assert_allclose(conv2d_np(X, *layer.get_weights(), stride=stride, padding=padding), expected, atol=1e-5)


def test_conv_is_cross_correlation_not_convolution():
    scipy_signal = pytest.importorskip("scipy.signal")
    x, w = np.arange(7.0), np.array([1.0, 2.0, -1.0])
    ours = conv1d_np(x[None, :, None], w[:, None, None])[0, :, 0]
    np.testing.assert_allclose(ours, scipy_signal.correlate(x, w, mode="valid"))
    np.testing.assert_allclose(ours, scipy_signal.convolve(x, w[::-1], mode="valid"))
    assert not np.allclose(ours, scipy_signal.convolve(x, w, mode="valid"))


@pytest.mark.parametrize("pool, stride, padding", [(2, None, "valid"), (3, 2, "valid"), (3, 2, "same"), (4, 3, "same")])
def test_pooling_matches_keras(pool, stride, padding):
    rng = np.random.default_rng(pool)
    x, X = rng.normal(size=(2, 11, 3)).astype("float32"), rng.normal(size=(2, 7, 8, 2)).astype("float32")
    np.testing.assert_allclose(max_pool1d_np(x, pool, stride, padding),
                               ops.convert_to_numpy(keras.layers.MaxPooling1D(pool, stride, padding)(x)), atol=1e-6)
    np.testing.assert_allclose(max_pool2d_np(X, pool, stride, padding),
                               ops.convert_to_numpy(keras.layers.MaxPooling2D(pool, stride, padding)(X)), atol=1e-6)
    np.testing.assert_allclose(global_max_pool1d_np(x), ops.convert_to_numpy(keras.layers.GlobalMaxPooling1D()(x)), atol=1e-6)


def test_text_cnn_shapes_and_frozen_channel():
    net = text_cnn(100, 3, max_seq_length=10, embedding_dim=8, widths=(2, 4), filters=5, variant="multichannel")
    assert net.output.shape == (None, 3) and net.get_layer("features").output.shape == (None, 10)
    assert net.get_layer("conv_4").output.shape == (None, 7, 5)
    assert not net.get_layer("embedding_static").trainable and net.get_layer("embedding").trainable
    with pytest.raises(ValueError, match="variant must be one of"):
        text_cnn(100, 3, variant="dynamic")


def test_make_optimizer_defaults():
    opt = make_optimizer("adadelta")
    assert isinstance(opt, keras.optimizers.Adadelta) and float(opt.learning_rate) == 1.0 and opt.rho == 0.95
    assert float(make_optimizer("adam", 0.01).learning_rate) == pytest.approx(0.01)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        make_optimizer("lbfgs")


# --- the estimator ----------------------------------------------------------------------------------------------

def test_estimator_contract(fitted, trec_small):
    X, y = trec_small
    params = fitted.get_params()
    assert params["variant"] == "multichannel" and params["widths"] == (2, 3)
    assert clone(fitted).get_params()["filters"] == 6
    with pytest.raises(NotFittedError):
        clone(fitted).predict(X[:3])
    P = fitted.predict_proba(X[:8])
    assert P.shape == (8, 6) and np.allclose(P.sum(1), 1, atol=1e-5)
    np.testing.assert_array_equal(fitted.predict(X[:8]), fitted.classes_[P.argmax(1)])
    assert 0 <= fitted.score(X, y) <= 1 and 0.5 < fitted.coverage_ <= 1
    # the frozen channel still holds the GloVe vectors after training, the tuned one has moved
    glove = load_glove(limit=20000)
    the = fitted.vocabulary_.index("the")
    np.testing.assert_allclose(fitted.model_.get_layer("embedding_static").get_weights()[0][the], glove["the"], atol=1e-6)
    assert np.abs(fitted.model_.get_layer("embedding").get_weights()[0][the] - glove["the"]).max() > 1e-6


def test_pipeline_and_grid_search(trec_small):
    X, y = trec_small
    kw = dict(max_seq_length=10, filters=3, epochs=1, validation_fraction=0.0)
    pipe = make_pipeline(FunctionTransformer(lambda t: [s.lower() for s in t]), TextCNNClassifier(**kw)).fit(X, y)
    assert len(pipe.predict(X[:4])) == 4
    grid = GridSearchCV(TextCNNClassifier(**kw), {"widths": [(2,), (3,)]}, cv=2, refit=False).fit(X, y)
    assert len(grid.cv_results_["params"]) == 2


@pytest.mark.parametrize("X, y, message", [
    ([], [], "X is empty"),
    (["what is it"], [0], "at least two classes"),
    (["what is it", "who is he"], [0, 1, 2], "y has 3 labels but X has 2 texts"),
    (["what is it", "who is he"], [3, 3], "at least two classes"),
])
def test_bad_input(X, y, message):
    with pytest.raises(ValueError) as e:
        TextCNNClassifier().fit(X, y)
    assert message in str(e.value)


@pytest.mark.parametrize("params, message", [
    (dict(variant="random"), "variant must be one of"),
    (dict(widths=(3, 3)), "widths must be distinct integers"),
    (dict(widths=(), ), "widths must be distinct integers"),
    (dict(widths=(7,), max_seq_length=5), "max_seq_length=5"),
    (dict(filters=0), "filters must be an integer >= 1, got 0"),
    (dict(dropout=-0.1), "dropout must be a number in [0, 1), got -0.1"),
    (dict(max_norm=0), "max_norm must be a positive number, got 0"),
    (dict(optimizer="adamw"), "optimizer must be one of"),
    (dict(activation="softmax"), "activation must be one of"),
    (dict(vectors={"the": [0.0]}), "vectors must be KeyedVectors"),
])
def test_bad_parameters_name_the_argument(params, message):
    with pytest.raises(ValueError) as e:
        TextCNNClassifier(**params).fit(["a good film", "a bad film"], [1, 0])
    assert message in str(e.value)


def test_predict_before_fit_and_bad_texts(fitted):
    with pytest.raises(NotFittedError):
        TextCNNClassifier().predict(["a text"])
    with pytest.raises(TypeError, match="X must be a list of strings"):
        fitted.predict("a single string")
    with pytest.raises(TypeError, match=r"X\[1\] must be a str"):
        fitted.predict(["fine", 3])


def test_same_seed_same_predictions(trec_small):
    X, y = trec_small
    kw = dict(max_seq_length=10, filters=4, epochs=2)
    a = TextCNNClassifier(**kw, random_state=2).fit(X, y).predict_proba(X)
    b = TextCNNClassifier(**kw, random_state=2).fit(X, y).predict_proba(X)
    c = TextCNNClassifier(**kw, random_state=3).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert np.abs(a - c).max() > 1e-4


def test_save_then_load_in_a_fresh_process(fitted, trec_small, tmp_path):
    X, _ = trec_small
    path = fitted.save(tmp_path / "cnn.keras")
    (tmp_path / "texts.txt").write_text("\n".join(X), encoding="utf-8")
    np.save(tmp_path / "expected.npy", fitted.predict_proba(X))
    script = textwrap.dedent("""
        import sys, numpy as np
        from pathlib import Path
        from textmine.cnn import TextCNNClassifier
        d = Path(sys.argv[1])
        model = TextCNNClassifier.load(d / "cnn.keras")
        texts = (d / "texts.txt").read_text(encoding="utf-8").split("\\n")
        np.testing.assert_allclose(model.predict_proba(texts), np.load(d / "expected.npy"), atol=1e-6)
        assert model.get_params()["widths"] == (2, 3) and model.get_params()["variant"] == "multichannel"
        print("ok", model.predict(texts[:3]).tolist())
    """)
    env = {"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin"}
    import os
    env = {**os.environ, **env}
    r = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, encoding="utf-8", env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("ok")


def test_interpretation_adds_up(fitted, trec_small):
    X, _ = trec_small
    text = X[0]
    ids, maps = feature_maps(fitted, [text])
    assert [m.shape for m in maps] == [(1, 11, 6), (1, 10, 6)]
    df = max_ngrams(fitted, text)
    assert len(df) == 12 and (df.activation >= 0).all()
    W, b = fitted.model_.get_layer("classifier").get_weights()
    z = np.concatenate([m[0].max(0) for m in maps])
    np.testing.assert_allclose(fitted.predict_proba([text])[0], ops.convert_to_numpy(ops.softmax(z @ W + b)), atol=1e-4)
    h = highlight(fitted, text)
    assert h.score.sum() + h.attrs["padding"] + h.attrs["bias"] == pytest.approx(h.attrs["logit"], abs=1e-3)
    assert h.attrs["label"] == fitted.predict([text])[0]
    tops = top_ngrams(fitted, X[:40], k=2, n_filters=3)
    assert len(tops) == 3 and tops["lean"].is_monotonic_decreasing


def test_benchmark_settings_apply_a_corpus_own_entry_to_rand_only():
    from textmine.bench.classification import _cnn_settings
    cfg = {"max_seq_length": 32, "cnn": {"epochs": 25, "patience": 5}}
    assert _cnn_settings(cfg, "rand", False) == {"max_seq_length": 32, "split": "whitespace", "epochs": 25, "patience": 5}
    assert _cnn_settings(cfg, "non-static", False)["epochs"] == 10   # variants keep the shared settings
    assert _cnn_settings(cfg, "rand", True)["epochs"] == 1 and "patience" not in _cnn_settings(cfg, "rand", True)


def test_tuning_rejects_bad_arguments():
    from textmine.bench.classification import tune_cnn
    with pytest.raises(ValueError, match="corpora must be one of"): tune_cnn(None, corpora=["imdb"])
    with pytest.raises(ValueError, match="corpora must name at least one corpus"): tune_cnn(None, corpora=[])
    with pytest.raises(ValueError, match="grid must name at least one setting"): tune_cnn(None, grid={})
    with pytest.raises(ValueError, match=r"validation_fraction must be a number in \(0, 1\)"):
        tune_cnn(None, validation_fraction=True)
