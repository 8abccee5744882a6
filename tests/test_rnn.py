"""Equation checks of the recurrent-networks chapter: numpy cells against Keras' SimpleRNN, LSTM and GRU."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from textmine.data import load_dataset
from textmine.embeddings import KeyedVectors
from textmine.preprocess import tokenize
from textmine.rnn import (embed_texts, gru_gates, gru_step, layer_params, lstm_gates, lstm_step, plot_gradient_norms,
                          rnn_step, run_cell, simple_rnn_weights, state_gradient_norms)


@pytest.fixture(scope="module")
def sentences():
    "Ten MR sentences embedded with a random 16-d vector per word, padded to the longest, and their mask."
    texts = load_dataset("mr").texts[:10]
    words = sorted({w.lower() for t in texts for w in tokenize(t)})
    vectors = KeyedVectors(words, np.random.default_rng(0).normal(size=(len(words), 16)))
    X, mask = embed_texts(texts, vectors, length=40)
    assert mask.sum(1).min() < 40 and mask.all(1).sum() < len(texts)   # there is padding to skip
    return X, mask


def randomized(layer, X, mask):
    "Build `layer` on X and give every weight (biases included) random values."
    layer(X, mask=mask)
    rng = np.random.default_rng(1)
    for w in layer.weights: w.assign(rng.normal(scale=0.4, size=w.shape))
    return layer


LAYERS = {
    "simple-tanh": lambda: keras.layers.SimpleRNN(12, return_sequences=True, return_state=True),
    "simple-sigmoid": lambda: keras.layers.SimpleRNN(12, activation="sigmoid", return_sequences=True, return_state=True),
    "lstm": lambda: keras.layers.LSTM(12, return_sequences=True, return_state=True),
    "gru-reset-after": lambda: keras.layers.GRU(12, return_sequences=True, return_state=True),
    "gru-reset-before": lambda: keras.layers.GRU(12, reset_after=False, return_sequences=True, return_state=True),
}


@pytest.mark.parametrize("name", LAYERS)
def test_cells_equal_keras_with_padding(sentences, name):
    X, mask = sentences
    layer = randomized(LAYERS[name](), X, mask)
    y, *states = (keras.ops.convert_to_numpy(t) for t in layer(X, mask=mask))
    cell, params, kw = layer_params(layer)
    H, final = run_cell(cell, X, params, mask=mask, **kw)
    assert H.shape == y.shape == (len(X), 40, 12)
    np.testing.assert_allclose(H, y, atol=1e-5)
    for s, f in zip(states, final): np.testing.assert_allclose(f, s, atol=1e-5)
    # a masked step keeps the state: each sentence's final state equals running it alone without padding
    i = int(np.argmin(mask.sum(1)))
    alone = run_cell(cell, X[i:i + 1, :mask[i].sum()], params, **kw)[1]
    for a, f in zip(alone, final): np.testing.assert_allclose(a[0], f[i], atol=1e-12)


def test_last_output_without_return_sequences(sentences):
    X, mask = sentences
    layer = randomized(keras.layers.GRU(8), X, mask)
    H, _ = run_cell("gru", X, gru_gates(layer), mask=mask, reset_after=True)
    np.testing.assert_allclose(H[:, -1], keras.ops.convert_to_numpy(layer(X, mask=mask)), atol=1e-5)


def test_gru_update_conventions(sentences):
    X, mask = sentences
    layer = randomized(keras.layers.GRU(8, return_sequences=True), X, mask)
    y = keras.ops.convert_to_numpy(layer(X, mask=mask))
    p = gru_gates(layer)
    write = run_cell("gru", X, p, mask=mask, update="write")[0]
    assert np.abs(write - y).max() > 0.1                        # the other convention with Keras' weights is wrong
    flipped = {**p, "W_xz": -p["W_xz"], "W_hz": -p["W_hz"], "b_z": -p["b_z"]}
    np.testing.assert_allclose(run_cell("gru", X, flipped, mask=mask, update="write")[0], y, atol=1e-5)
    textbook = run_cell("gru", X, {**p, "b_h": p["b_xh"] + p["b_hh"]}, mask=mask, reset_after=False)[0]
    assert np.abs(textbook - y).max() > 1e-2                     # reset before != reset after


def test_lstm_gate_order_read_from_keras():
    n, d = 5, 3
    layer = keras.layers.LSTM(n, return_state=True)
    layer(np.zeros((1, 2, d), "float32"))
    b = np.zeros(4 * n, "float32"); b[n:2 * n], b[:n] = 30.0, -30.0          # f open, i shut
    layer.cell.bias.assign(b)
    C_0 = np.random.default_rng(0).normal(size=(2, n)).astype("float32")
    x = np.random.default_rng(1).normal(size=(2, 6, d)).astype("float32")
    _, _, C_T = layer(x, initial_state=[np.zeros((2, n), "float32"), C_0])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(C_T), C_0, atol=1e-6)
    g = lstm_gates(layer)
    assert (g["b_f"] == 30).all() and (g["b_i"] == -30).all() and (g["b_c"] == 0).all() and (g["b_o"] == 0).all()
    K = keras.ops.convert_to_numpy(layer.cell.kernel)
    np.testing.assert_array_equal(np.concatenate([g["W_xi"], g["W_xf"], g["W_xc"], g["W_xo"]], 1), K)


def test_gru_bias_rows():
    layer = keras.layers.GRU(4)
    layer(np.zeros((1, 2, 3), "float32"))
    b = np.arange(24, dtype="float32").reshape(2, 12)
    layer.cell.bias.assign(b)
    g = gru_gates(layer)
    np.testing.assert_array_equal(g["b_z"], b[0, :4] + b[1, :4])
    np.testing.assert_array_equal(g["b_r"], b[0, 4:8] + b[1, 4:8])
    np.testing.assert_array_equal(g["b_xh"], b[0, 8:]); np.testing.assert_array_equal(g["b_hh"], b[1, 8:])
    assert set(gru_gates(randomized(keras.layers.GRU(4, reset_after=False), np.zeros((1, 2, 3), "float32"), None))) >= {"b_h"}


def test_step_shapes_and_sigmoid_form():
    rng = np.random.default_rng(0)
    p = {"W_xh": rng.normal(size=(3, 2)), "W_hh": rng.normal(size=(2, 2)), "b_h": rng.normal(size=2)}
    x, h = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    out, (state,) = rnn_step(x, (h,), p, activation="sigmoid")
    np.testing.assert_allclose(out, 1 / (1 + np.exp(-(x @ p["W_xh"] + h @ p["W_hh"] + p["b_h"]))), atol=1e-12)
    assert ((0 < out) & (out < 1)).all() and out is state


def test_gradient_norms_fall_on_contracting_matrix(sentences):
    X, mask = sentences
    Xr = X[:2, :10]
    assert mask[:2, :10].all()                                               # ten real tokens each
    Q = np.linalg.qr(np.random.default_rng(0).normal(size=(6, 6)))[0]
    layer = keras.layers.SimpleRNN(6)
    layer(Xr[:1])
    layer.cell.recurrent_kernel.assign(0.5 * Q)
    g = state_gradient_norms(layer, Xr)
    assert g.shape == (len(Xr), 10)
    np.testing.assert_allclose(g[:, 0], np.sqrt(6), rtol=1e-6)              # dh_T/dh_T = I
    assert (np.diff(g, axis=1) < 0).all()                                    # |tanh'| <= 1 and ||0.5 Q|| = 0.5
    assert (g[:, 1:] <= np.sqrt(6) * 0.5 ** np.arange(1, 10) * (1 + 1e-5)).all()
    lin = keras.layers.SimpleRNN(6, activation="linear"); lin(Xr[:1]); lin.cell.recurrent_kernel.assign(1.5 * Q)
    np.testing.assert_allclose(state_gradient_norms(lin, Xr)[0], np.sqrt(6) * 1.5 ** np.arange(10), rtol=1e-4)
    lstm = state_gradient_norms(keras.layers.LSTM(6), Xr)
    assert lstm.shape == (len(Xr), 10) and np.isfinite(lstm).all()
    ax = plot_gradient_norms({"simple": g, "lstm": lstm})
    assert len(ax.lines) == 2 and ax.get_yscale() == "log"


def test_bad_input_raises_clear_errors(sentences):
    X, mask = sentences
    p = {"W_xh": np.zeros((16, 2)), "W_hh": np.zeros((2, 2)), "b_h": np.zeros(2)}
    with pytest.raises(ValueError, match="cell must be one of 'simple', 'lstm', 'gru', got 'elman'"): run_cell("elman", X, p)
    with pytest.raises(ValueError, match=r"X must be 3-d \(batch, time, features\), got shape \(40, 16\)"): run_cell("simple", X[0], p)
    with pytest.raises(ValueError, match=r"mask must have shape \(10, 40\)"): run_cell("simple", X, p, mask=mask[:, :5])
    with pytest.raises(ValueError, match="missing b_h"): run_cell("simple", X, {"W_xh": p["W_xh"], "W_hh": p["W_hh"]})
    with pytest.raises(ValueError, match="activation must be one of .* got 'relu'"): rnn_step(X[:, 0], (np.zeros((10, 2)),), p, activation="relu")
    with pytest.raises(ValueError, match="update must be 'keep' or 'write', got 'swap'"): gru_step(X[:, 0], (np.zeros((10, 2)),), {}, update="swap")
    with pytest.raises(ValueError, match="missing W_xi"): lstm_step(X[:, 0], (np.zeros((10, 2)),) * 2, {})
    with pytest.raises(TypeError, match="params must be a dict"): rnn_step(X[:, 0], (np.zeros((10, 2)),), [1, 2])
    with pytest.raises(ValueError, match="state of a lstm cell must hold 2 arrays, got 1"):
        run_cell("lstm", X, {"W_hi": np.zeros((2, 2))}, state=(np.zeros((10, 2)),))
    with pytest.raises(TypeError, match="layer must be a keras.layers.LSTM, got GRU"): lstm_gates(keras.layers.GRU(2))
    with pytest.raises(ValueError, match="is not built yet"): simple_rnn_weights(keras.layers.SimpleRNN(2))
    with pytest.raises(ValueError, match="activation='tanh'"): layer_params(keras.layers.GRU(2, activation="relu"))
    with pytest.raises(TypeError, match="got Dense"): state_gradient_norms(keras.layers.Dense(2), X)
    with pytest.raises(ValueError, match=r"X must be 3-d .* got shape \(40, 16\)"): state_gradient_norms(keras.layers.LSTM(2), X[0])
    with pytest.raises(ValueError, match="length must be a positive integer, got 0"):
        embed_texts(["a"], KeyedVectors(["a"], np.zeros((1, 2))), length=0)
    with pytest.raises(TypeError, match="vectors must be KeyedVectors"): embed_texts(["a"], {"a": [0.0]}, length=3)
    with pytest.raises(ValueError, match="norms must be a non-empty dict"): plot_gradient_norms({})


# --- the classifier ----------------------------------------------------------------------------------------------

import pickle

from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from textmine.rnn import RNNClassifier, padding_gap, rnn_network
from textmine.word_vectors import load_glove

SMALL = dict(units=6, embedding_dim=8, max_seq_length=16, epochs=2, batch_size=32)
QUICK = dict(SMALL, epochs=1, validation_fraction=0.0)   # one epoch, no validation pass: the fastest fit


@pytest.fixture(scope="module")
def trec_small():
    train = load_dataset("trec").sample(160, random_state=0)
    return train.texts, train.labels


@pytest.fixture(scope="module")
def bilstm(trec_small):
    X, y = trec_small
    return RNNClassifier(**SMALL, random_state=1).fit(X, y)


def test_clone_and_get_params():
    est = RNNClassifier(cell="gru", bidirectional=False, num_layers=2, units=8, embeddings="glove", trainable_embeddings=False)
    params = clone(est).get_params()
    assert params["cell"] == "gru" and params["num_layers"] == 2 and params["embeddings"] == "glove"
    assert params["bidirectional"] is False and params["trainable_embeddings"] is False
    assert set(params) >= {"dropout", "max_tokens", "max_seq_length", "epochs", "batch_size", "validation_fraction", "random_state"}


def test_in_a_pipeline(trec_small):
    X, y = trec_small
    pipe = make_pipeline(FunctionTransformer(lambda texts: [t.lower() for t in texts]), RNNClassifier(**QUICK))
    pred = pipe.fit(X, y).predict(X[:5])
    assert len(pred) == 5 and set(pred) <= set(y)


@pytest.mark.parametrize("params, message", [
    (dict(cell="xyz"), "cell must be one of 'lstm', 'gru', 'simple', got 'xyz'"),
    (dict(num_layers=0), "num_layers must be an integer >= 1, got 0"),
    (dict(units=0), "units must be an integer >= 1, got 0"),
    (dict(embeddings="word2vec"), "embeddings must be one of None, 'glove', got 'word2vec'"),
    (dict(bidirectional="yes"), "bidirectional must be True or False, got 'yes'"),
    (dict(dropout=1.0), "dropout must be a number in [0, 1), got 1.0"),
    (dict(vectors={"the": [0.0]}), "vectors must be KeyedVectors"),
])
def test_bad_parameters_name_the_argument(params, message):
    with pytest.raises(ValueError) as e:
        RNNClassifier(**params).fit(["a good film", "a bad film"], [1, 0])
    assert message in str(e.value)


def test_same_seed_same_predictions(trec_small):
    X, y = trec_small
    X, y = X[:80], y[:80]
    kw = dict(QUICK, cell="simple", bidirectional=False)
    a = RNNClassifier(**kw, random_state=2).fit(X, y).predict_proba(X)
    b = RNNClassifier(**kw, random_state=2).fit(X, y).predict_proba(X)
    c = RNNClassifier(**kw, random_state=3).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert np.abs(a - c).max() > 1e-4


def test_padding_does_not_change_predictions(bilstm, trec_small):
    X, _ = trec_small
    assert padding_gap(bilstm, X[:20], extra=40) < 1e-5


def test_save_load_and_pickle_give_identical_predictions(bilstm, trec_small, tmp_path):
    X, _ = trec_small
    expected = bilstm.predict_proba(X)
    loaded = RNNClassifier.load(bilstm.save(tmp_path / "rnn.keras"))
    np.testing.assert_allclose(loaded.predict_proba(X), expected, atol=1e-6)
    assert loaded.get_params()["cell"] == "lstm" and loaded.get_params()["bidirectional"] is True
    np.testing.assert_allclose(pickle.loads(pickle.dumps(bilstm)).predict_proba(X), expected, atol=1e-6)


@pytest.mark.parametrize("params", [
    dict(cell="simple", bidirectional=False),
    dict(cell="gru", bidirectional=False, num_layers=2),
])
def test_variants_build_and_fit(trec_small, params):
    X, y = trec_small
    clf = RNNClassifier(**QUICK, **params).fit(X[:60], y[:60])
    recurrent = [l for l in clf.model_.layers if l.name.startswith(("bi_", params["cell"]))]
    assert len(recurrent) == params.get("num_layers", 1)
    assert all(isinstance(l, keras.layers.Bidirectional) == params.get("bidirectional", True) for l in recurrent)
    assert padding_gap(clf, X[:10], extra=20) < 1e-5
    assert clf.predict_proba(X[:5]).shape == (5, len(clf.classes_))


def test_pretrained_frozen_embeddings(trec_small):
    X, y = trec_small
    glove = load_glove(limit=20000)
    clf = RNNClassifier(**QUICK, embeddings="glove", vectors=glove, trainable_embeddings=False).fit(X[:60], y[:60])
    the = clf.vocabulary_.index("the")
    assert clf.embedding_dim_ == glove.vectors.shape[1] and 0 < clf.coverage_ <= 1
    np.testing.assert_allclose(clf.model_.get_layer("embedding").get_weights()[0][the], glove["the"], atol=1e-6)


# ---- sequence autoencoder (document codes for clustering) ----
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.pipeline import make_pipeline
from textmine.bench.classification import benchmark_rnn
from textmine.rnn import SequenceAutoencoder, sequence_autoencoder


@pytest.fixture(scope="module")
def small_vectors():
    "Random 8-d vectors for the words of 200 MR sentences: fast, and independent of the GloVe package."
    texts = load_dataset("mr").texts[:200]
    words = sorted({w.lower() for t in texts for w in tokenize(t)})
    return texts, KeyedVectors(words, np.random.default_rng(0).normal(size=(len(words), 8)).astype("float32"))


def test_sequence_autoencoder_shapes_and_masking():
    ae, enc = sequence_autoencoder(12, 8, units=5)
    assert ae.output_shape == (None, 12, 8) and enc.output_shape == (None, 5)
    x = np.random.default_rng(0).normal(size=(3, 12, 8)).astype("float32")
    x[:, 7:] = 0.0                                   # padding after 7 steps
    longer, enc_long = sequence_autoencoder(20, 8, units=5)
    enc_long.get_layer("encoder").set_weights(enc.get_layer("encoder").get_weights())
    padded = np.concatenate([x, np.zeros((3, 8, 8), "float32")], axis=1)
    np.testing.assert_allclose(enc.predict(x, verbose=0), enc_long.predict(padded, verbose=0), atol=1e-5)


def test_sequence_autoencoder_contract_and_seed(small_vectors):
    texts, vectors = small_vectors
    ae = SequenceAutoencoder(units=6, vectors=vectors, max_seq_length=10, epochs=2, random_state=1)
    assert clone(ae).get_params()["units"] == 6
    codes = ae.fit(texts).transform(texts[:20])
    assert codes.shape == (20, 6) and np.isfinite(codes).all()
    again = SequenceAutoencoder(units=6, vectors=vectors, max_seq_length=10, epochs=2, random_state=1).fit(texts).transform(texts[:20])
    np.testing.assert_array_equal(codes, again)
    assert len(ae.loss_curve_) == 2
    labels = make_pipeline(SequenceAutoencoder(units=6, vectors=vectors, max_seq_length=10, epochs=1),
                           KMeans(3, n_init=2, random_state=0)).fit_predict(texts)
    assert labels.shape == (len(texts),) and len(set(labels)) == 3


@pytest.mark.parametrize("params, X, error, message", [
    (dict(units=0), None, ValueError, "units must be"),
    (dict(learning_rate=-1.0), None, ValueError, "learning_rate must be"),
    (dict(vectors="glove"), None, ValueError, "vectors must be KeyedVectors"),
    ({}, [], ValueError, "X is empty"),
    ({}, "one text", TypeError, "X must be a list of strings"),
    ({}, ["qqqzzx zzyyq", "xxqqv"], ValueError, "no word in the vectors"),
])
def test_sequence_autoencoder_bad_input(small_vectors, params, X, error, message):
    texts, vectors = small_vectors
    with pytest.raises(error, match=message):
        SequenceAutoencoder(**{"vectors": vectors, "epochs": 1, **params}).fit(texts if X is None else X)


def test_sequence_autoencoder_warns_about_texts_without_known_words(small_vectors):
    texts, vectors = small_vectors
    with pytest.warns(UserWarning, match="1 of 21 texts in X have no known word"):
        SequenceAutoencoder(units=4, vectors=vectors, max_seq_length=8, epochs=1).fit(texts[:20] + ["qqqzzx"])


def test_transform_before_fit_is_a_clear_error():
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError):
        SequenceAutoencoder().transform(["a text"])


def test_benchmark_rejects_unknown_names():
    with pytest.raises(ValueError, match="corpora must be one of"): benchmark_rnn(None, corpora=["imdb"])
    with pytest.raises(ValueError, match="models must be one of"): benchmark_rnn(None, models=["BiTransformer"])


def test_benchmark_gives_each_corpus_its_own_settings_except_in_quick_runs():
    from textmine.bench.classification import RNN_CORPORA as _BENCH, _rnn_model as _bench_model
    trec, mr = _bench_model("BiLSTM", _BENCH["trec"], 8, 0), _bench_model("BiLSTM", _BENCH["mr"], 8, 0)
    assert {k: trec.get_params()[k] for k in _BENCH["trec"]["rnn"]} == _BENCH["trec"]["rnn"]
    assert (mr.dropout, mr.epochs, mr.patience) == (0.5, 8, 2)   # corpora without settings of their own
    quick = _bench_model("BiGRU", _BENCH["trec"], 1, 0)
    assert (quick.cell, quick.epochs) == ("gru", 1)   # the model name picks the cell; quick runs keep one epoch


def test_tuning_rejects_bad_arguments():
    from textmine.bench.classification import tune_rnn
    with pytest.raises(ValueError, match="corpora must be one of"): tune_rnn(None, corpora=["imdb"])
    with pytest.raises(ValueError, match="grid must name at least one setting"): tune_rnn(None, grid={})
    with pytest.raises(ValueError, match=r"validation_fraction must be a number in \(0, 1\)"):
        tune_rnn(None, validation_fraction=1.5)
