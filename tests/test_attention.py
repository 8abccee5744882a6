"""API contracts of the attention chapter: layers, TransformerClassifier, SentenceEncoder and MiniLMClassifier."""
import re
import json
import pickle
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import ops
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from textmine.attention import (MeanPooling, MultiHeadAttention, PositionEmbedding, TransformerClassifier,
                                TransformerEncoderBlock, scaled_dot_product_attention, scaled_dot_product_attention_np)
from textmine.classifier import KerasTextClassifier
from textmine.core import manifest_path, sha256_file, verify_manifest
from textmine.data import load_dataset
from textmine.minilm import (BertEmbeddings, MiniLMClassifier, SentenceEncoder, minilm_forward_numpy,
                             minilm_tokenizer_sha256, minilm_tokenize)

FIXTURE = Path(__file__).parent / "fixtures" / "minilm_reference.npz"
ROOT = Path(__file__).resolve().parents[1]



def squash(table: str) -> str:
    "A markdown table without the spaces that pad its cells."
    return re.sub(r" *\| *", "|", table)

def cosine(a, b):
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.fixture(scope="module")
def reference():
    with np.load(FIXTURE) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def trec_small():
    train = load_dataset("trec").sample(120, random_state=0)
    return train.texts, train.labels


@pytest.fixture(scope="module")
def fitted_transformer(trec_small):
    X, y = trec_small
    return TransformerClassifier(max_seq_length=12, d_model=16, num_heads=2, ff_dim=32, num_layers=1,
                                 epochs=2, random_state=3).fit(X, y)


# --- equations and layers -------------------------------------------------------------------------------------

def test_masked_attention_rows_sum_to_one_and_ignore_padding():
    rng = np.random.default_rng(1)
    Q, K, V = (rng.normal(size=(2, 5, 4)).astype("float32") for _ in range(3))
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)[:, None, :]
    out, A = scaled_dot_product_attention(Q, K, V, mask)
    A = ops.convert_to_numpy(A)
    np.testing.assert_allclose(A.sum(-1), 1.0, atol=1e-6)
    assert A[0, :, 3:].max() == 0.0
    np.testing.assert_allclose(ops.convert_to_numpy(out), scaled_dot_product_attention_np(Q, K, V, mask)[0], atol=1e-5)


def test_multi_head_attention_matches_keras_with_copied_weights():
    x = np.random.default_rng(2).normal(size=(2, 7, 12)).astype("float32")
    pad = np.arange(7)[None, :] < np.array([[7], [3]])
    ref = keras.layers.MultiHeadAttention(num_heads=3, key_dim=4)
    expected = ref(x, x, attention_mask=np.broadcast_to(pad[:, None, :], (2, 7, 7)))
    mine = MultiHeadAttention(3, 4)
    mine(x)
    for name, dense in [("query", ref._query_dense), ("key", ref._key_dense), ("value", ref._value_dense),
                        ("output", ref._output_dense)]:
        next(v for v in mine.weights if v.path.endswith(f"{name}_kernel")).assign(dense.kernel)
        next(v for v in mine.weights if v.path.endswith(f"{name}_bias")).assign(dense.bias)
    np.testing.assert_allclose(ops.convert_to_numpy(mine(x, padding_mask=pad)), ops.convert_to_numpy(expected), atol=1e-5)


def _layer_models():
    "One tiny model per custom layer, each ending in that layer."
    ids = keras.Input((6,), dtype="int32")
    mask = keras.Input((6,), dtype="int32")
    x = keras.layers.Embedding(50, 8)(ids)
    yield "MultiHeadAttention", keras.Model([ids, mask], MultiHeadAttention(2, 4, dropout=0.1)(x, padding_mask=mask))
    yield "PositionEmbedding learned", keras.Model([ids, mask], PositionEmbedding(6)(x))
    yield "PositionEmbedding sinusoidal", keras.Model([ids, mask], PositionEmbedding(6, "sinusoidal")(x))
    for norm_first in (True, False):
        block = TransformerEncoderBlock(2, 16, activation="gelu", norm_first=norm_first, epsilon=1e-12)
        yield f"TransformerEncoderBlock norm_first={norm_first}", keras.Model([ids, mask], block(x, padding_mask=mask))
    yield "MeanPooling", keras.Model([ids, mask], MeanPooling()(x, padding_mask=mask))
    yield "BertEmbeddings", keras.Model([ids, mask], BertEmbeddings(50, 8, max_length=10)(ids))


@pytest.mark.parametrize("name", [n for n, _ in _layer_models()])
def test_every_custom_layer_survives_keras_save_and_load(name, tmp_path):
    model = dict(_layer_models())[name]
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 50, (3, 6)).astype("int32")
    mask = (np.arange(6)[None, :] < np.array([[6], [4], [1]])).astype("int32")
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(ops.convert_to_numpy(loaded([ids, mask])), ops.convert_to_numpy(model([ids, mask])),
                               atol=1e-6)
    layer = model.layers[-1]
    assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()


def test_layer_arguments_are_checked_with_their_names():
    with pytest.raises(ValueError, match="num_heads must be an integer >= 1, got 0"):
        MultiHeadAttention(0, 4)
    with pytest.raises(ValueError, match="kind must be one of"):
        PositionEmbedding(8, kind="rope")
    with pytest.raises(ValueError, match="num_heads=3 must divide the model width 8"):
        TransformerEncoderBlock(3, 16)(np.zeros((1, 2, 8), "float32"))


# --- TransformerClassifier -------------------------------------------------------------------------------------

def test_transformer_classifier_sklearn_contract(fitted_transformer, trec_small):
    X, y = trec_small
    clf = fitted_transformer
    assert set(clf.classes_) <= set(np.unique(y))
    proba = clf.predict_proba(X[:5])
    assert proba.shape == (5, len(clf.classes_))
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)
    fresh = clone(clf)
    assert not hasattr(fresh, "model_") and fresh.get_params() == clf.get_params()
    pipe = Pipeline([("lower", FunctionTransformer(lambda t: [s.lower() for s in t])),
                     ("clf", TransformerClassifier(max_seq_length=8, d_model=8, num_heads=2, ff_dim=8,
                                                   num_layers=1, epochs=1, random_state=0))])
    assert pipe.fit(X[:40], y[:40]).predict(X[:3]).shape == (3,)


def test_transformer_classifier_bad_input_and_unfitted():
    with pytest.raises(NotFittedError):
        TransformerClassifier().predict(["a question?"])
    with pytest.raises(ValueError, match="X is empty"):
        TransformerClassifier().fit([], [])
    with pytest.raises(TypeError, match="X must be a list of strings"):
        TransformerClassifier().fit("what is it?", [0])
    with pytest.raises(TypeError, match=r"X\[1\] must be a str"):
        TransformerClassifier().fit(["ok", None], [0, 1])
    with pytest.raises(ValueError, match="y has 1 labels but X has 2 texts"):
        TransformerClassifier().fit(["a", "b"], [0])
    with pytest.raises(ValueError, match="positions must be one of"):
        TransformerClassifier(positions="rotary").fit(["a", "b"], [0, 1])


def test_transformer_classifier_same_seed_same_model(trec_small):
    X, y = trec_small
    make = lambda: TransformerClassifier(max_seq_length=8, d_model=8, num_heads=2, ff_dim=8, num_layers=1,
                                         epochs=1, random_state=5).fit(X[:60], y[:60])
    np.testing.assert_array_equal(make().predict_proba(X[60:80]), make().predict_proba(X[60:80]))


def test_attention_maps_are_returned_not_stored(fitted_transformer):
    maps = fitted_transformer.attention_maps(["what is the capital of peru ?", "who"])
    assert maps[0]["weights"].shape[:2] == (1, 2)
    n = len(maps[0]["tokens"])
    np.testing.assert_allclose(maps[0]["weights"].sum(-1), np.ones((1, 2, n)), atol=1e-5)
    assert not any("score" in k or "attention_map" in k for k in vars(fitted_transformer))


# --- MiniLM ----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def encoder():
    return SentenceEncoder(batch_size=4, jit_compile=False).fit()


def test_sentence_encoder_equals_sentence_transformers(encoder, reference, no_network):
    sentences = [str(s) for s in reference["sentences"]]
    vecs = encoder.transform(sentences)
    cos = cosine(vecs, reference["embeddings"])
    err = np.abs(vecs - reference["embeddings"]).max()
    print(f"min cosine {cos.min():.8f}, max abs error {err:.2e}")
    assert cos.min() >= 0.9999 and err < 1e-5
    # the independent numpy forward pass agrees too
    ids, mask = minilm_tokenize(sentences)
    np.testing.assert_array_equal(mask.sum(1), reference["lengths"])
    np.testing.assert_array_equal(ids, reference["input_ids"][:, :ids.shape[1]])
    assert cosine(minilm_forward_numpy(ids, mask), reference["embeddings"]).min() >= 0.9999


def test_sentence_encoder_edge_inputs(encoder, reference):
    sentences = [str(s) for s in reference["sentences"]]
    long_text = next(s for s in sentences if len(s.split()) > 300)
    ids, _ = minilm_tokenize([long_text])
    assert ids.shape == (1, 256)                       # cut to max_seq_length, [CLS] ... [SEP] kept
    vecs = encoder.transform(["", "a", "这部电影非常好看", "🎉🎉", long_text + " and much more text after the cut"])
    assert np.isfinite(vecs).all() and vecs.shape == (5, 384)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    # words past token 256 cannot change the vector: truncated exactly like sentence-transformers
    np.testing.assert_allclose(vecs[4], reference["embeddings"][sentences.index(long_text)], atol=1e-5)
    with pytest.raises(ValueError, match="X is empty"):
        encoder.transform([])
    with pytest.raises(TypeError, match="X must be a list of strings"):
        encoder.transform("one text")
    # a frozen pretrained encoder works without fit: transform checks the settings and loads the model itself
    np.testing.assert_allclose(SentenceEncoder(batch_size=4, jit_compile=False).transform(["a"]), encoder.transform(["a"]), atol=1e-5)


def test_sentence_encoder_in_a_pipeline_and_cache(tmp_path, trec_small):
    X, y = trec_small
    pipe = Pipeline([("enc", SentenceEncoder(batch_size=32, max_seq_length=32, jit_compile=False,
                                             cache=tmp_path / "v.npz")),
                     ("clf", LogisticRegression(max_iter=1000))])
    pipe.fit(X[:60], y[:60])
    assert (tmp_path / "v.npz").exists()
    assert pipe.predict(X[60:70]).shape == (10,)
    assert clone(pipe).get_params()["enc__cache"] == tmp_path / "v.npz"


@pytest.fixture(scope="module")
def tiny_finetune(trec_small):
    X, y = trec_small
    make = lambda: MiniLMClassifier(max_seq_length=16, epochs=1, batch_size=16, validation_fraction=0.0,
                                    random_state=7).fit(X[:16], y[:16])
    return make(), make(), X[32:48]


def test_minilm_classifier_same_seed_same_result(tiny_finetune):
    a, b, X = tiny_finetune
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_minilm_classifier_contract():
    with pytest.raises(NotFittedError):
        MiniLMClassifier().predict(["a"])
    with pytest.raises(ValueError, match="max_seq_length must be at most 512, got 600"):
        MiniLMClassifier(max_seq_length=600).fit(["a", "b"], [0, 1])
    with pytest.raises(ValueError, match="X is empty"):
        MiniLMClassifier().fit([], [])
    assert clone(MiniLMClassifier(epochs=2)).get_params()["epochs"] == 2


def test_saved_models_predict_identically_in_a_fresh_process(tmp_path, fitted_transformer, tiny_finetune):
    texts = ["what is the tallest mountain ?", "who wrote hamlet ?", "how many legs has a spider ?"]
    ft = tiny_finetune[0]
    for name, model in (("transformer", fitted_transformer), ("minilm", ft)):
        (tmp_path / f"{name}.pkl").write_bytes(pickle.dumps(model))
        np.save(tmp_path / f"{name}.npy", model.predict_proba(texts))
        again = pickle.loads((tmp_path / f"{name}.pkl").read_bytes())
        np.testing.assert_array_equal(again.predict(texts), model.predict(texts))
        np.testing.assert_allclose(again.predict_proba(texts), model.predict_proba(texts), atol=1e-6)
    script = textwrap.dedent(f"""
        import pickle, sys, numpy as np
        from pathlib import Path
        texts = {texts!r}
        for name in ("transformer", "minilm"):
            model = pickle.loads(Path(sys.argv[1], name + ".pkl").read_bytes())
            expected = np.load(Path(sys.argv[1], name + ".npy"))
            np.testing.assert_allclose(model.predict_proba(texts), expected, atol=1e-6)
            np.testing.assert_array_equal(model.predict_proba(texts).argmax(1), expected.argmax(1))
        print("same")
    """)
    r = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, encoding="utf-8", cwd=ROOT,
                       timeout=300)
    assert r.returncode == 0 and "same" in r.stdout, r.stderr[-2000:]



def _rewrite_config(path, change):
    "Rewrite the config.json inside a .keras file with `change(config)` (the weights stay as they are)."
    with zipfile.ZipFile(path) as z:
        files = {n: z.read(n) for n in z.namelist()}
    config = json.loads(files["config.json"])
    change(config)
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as z:
        for n, b in files.items(): z.writestr(n, b)


def _head_config(config):
    return next(l["config"] for l in config["config"]["layers"] if l["class_name"] == "LabelledSoftmax")


def test_minilm_keras_file_predicts_identically_in_a_fresh_process(tmp_path, tiny_finetune):
    ft, _, X = tiny_finetune
    path = ft.save(tmp_path / "minilm.keras")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["minilm.keras", "minilm.keras.sha256"]
    assert manifest_path(path).read_text(encoding="utf-8") == f"{sha256_file(path)}  minilm.keras\n"
    with zipfile.ZipFile(path) as z:
        config = json.loads(z.read("config.json"))
    head = _head_config(config)
    assert head["estimator"] == "textmine.minilm.MiniLMClassifier" and head["classes"] == ft.classes_.tolist()
    assert head["params"]["max_seq_length"] == 16 and head["params"]["tokenizer_sha256"] == minilm_tokenizer_sha256()
    # every layer is built into Keras or registered by this package: nothing to deserialise as code
    assert all((l.get("module") or "").startswith("keras.") or (l.get("registered_name") or "").startswith("textmine>")
               for l in config["config"]["layers"]), [l["class_name"] for l in config["config"]["layers"]]
    texts = list(X) + ["", "what is the tallest mountain ?", "这部电影非常好看"]
    np.save(tmp_path / "proba.npy", ft.predict_proba(texts))
    script = textwrap.dedent(f"""
        import sys, numpy as np
        from pathlib import Path
        from textmine.minilm import MiniLMClassifier
        texts = {texts!r}
        model = MiniLMClassifier.load(Path(sys.argv[1], "minilm.keras"))
        expected = np.load(Path(sys.argv[1], "proba.npy"))
        got = model.predict_proba(texts)
        np.testing.assert_allclose(got, expected, atol=1e-6)
        np.testing.assert_array_equal(model.predict(texts), model.classes_[expected.argmax(1)])
        np.testing.assert_array_equal(model.classes_, {ft.classes_.tolist()!r})
        assert model.get_params() == {ft.get_params()!r}, model.get_params()
        print("same", np.abs(got - expected).max())
    """)
    r = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, encoding="utf-8", cwd=ROOT,
                       timeout=300)
    assert r.returncode == 0 and "same" in r.stdout, r.stderr[-2000:]


def test_minilm_save_and_load_refuse_what_they_should(tmp_path, tiny_finetune):
    ft, _, X = tiny_finetune
    with pytest.raises(NotFittedError):
        MiniLMClassifier().save(tmp_path / "unfitted.keras")
    with pytest.raises(ValueError, match=r"path must end in \.keras, got '.*minilm\.h5'"):
        ft.save(tmp_path / "minilm.h5")
    path = ft.save(tmp_path / "minilm.keras")
    good = path.read_bytes()
    with pytest.raises(FileExistsError, match="minilm.keras' already exists; pass overwrite=True"):
        ft.save(path)
    assert path.read_bytes() == good
    assert ft.save(path, overwrite=True) == path and verify_manifest(path) == path
    assert type(KerasTextClassifier.load(path)) is MiniLMClassifier   # one base: its load constructs the class the file names
    good, expected = path.read_bytes(), sha256_file(path)
    path.write_bytes(good + b"\0")  # one byte appended: the zip still reads, the digest differs
    with pytest.raises(ValueError, match="does not match its SHA-256 manifest") as e:
        MiniLMClassifier.load(path)
    assert expected in str(e.value) and sha256_file(path) in str(e.value) and "verify=False" in str(e.value)
    with pytest.raises(ValueError, match="verify must be True or False, got 'no'"):
        MiniLMClassifier.load(path, verify="no")
    again = MiniLMClassifier.load(path, verify=False)  # the user's explicit choice
    np.testing.assert_allclose(again.predict_proba(X), ft.predict_proba(X), atol=1e-6)
    # a file that holds another estimator, or was trained with another tokenizer, is refused before it is read
    other = tmp_path / "other.keras"
    other.write_bytes(good)
    _rewrite_config(other, lambda c: _head_config(c).update(estimator="textmine.attention.TransformerClassifier"))
    with pytest.raises(TypeError, match="holds a TransformerClassifier, not a MiniLMClassifier"):
        MiniLMClassifier.load(other, verify=False)
    other.write_bytes(good)
    _rewrite_config(other, lambda c: _head_config(c)["params"].update(tokenizer_sha256="0" * 64))
    with pytest.raises(ValueError, match=f"tokenizer.json of SHA-256 0{{64}}, but the installed .* has {minilm_tokenizer_sha256()}"):
        MiniLMClassifier.load(other, verify=False)
    other.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="is not a classifier written by save()"):
        MiniLMClassifier.load(other, verify=False)
    with pytest.raises(FileNotFoundError, match="is not a file"):
        MiniLMClassifier.load(tmp_path / "missing.keras")

def test_benchmark_is_registered():
    from textmine.bench.classification import benchmark_attention
    from textmine.bench.runner import BENCHMARKS
    assert BENCHMARKS["attention"] is benchmark_attention


def test_benchmark_reports_rebuild_from_rows():
    "The attention and MiniLM reports are built from per-seed rows alone, with the settings the rows carry."
    from textmine.bench.classification import attention_report, minilm_report
    rows = [{"corpus": c, "model": m, "seed": s, "accuracy": a, "macro_f1": a, "fit_seconds": 1.0}
            for c, m, a in (("mr", "TF-IDF + LogReg", 0.78), ("mr", "Transformer (from scratch)", 0.77)) for s in (0, 1)]
    speed = dict(seq_len=128, batch_size=32, texts=64, keras_docs_per_s=30.0, numpy_docs_per_s=10.0, speedup=3.0)
    rep = attention_report(rows, [0, 1], speed)["report"]
    assert "|mr|Transformer (from scratch)|0.770 ± 0.000|" in squash(rep) and "speed-up 3.00x (target 2x: met)" in rep
    assert "Not in this run: trec, r8" in rep
    assert "target 2x: missed" in attention_report(rows, [0, 1], {**speed, "speedup": 1.5})["report"]
    ft = [{"corpus": c, "model": "MiniLM fine-tuned", "seed": 0, "accuracy": a, "macro_f1": a, "fit_seconds": 9.0,
           "epochs": e, "max_seq_length": n} for c, a, e, n in (("mr", 0.84, 3, 64), ("r8", 0.97, 2, 128))]
    rep = minilm_report(ft, [0], env={"keras": "3", "keras_backend": "tensorflow"})["report"]
    assert "mr 64 tokens, 3 epochs, r8 128 tokens, 2 epochs" in rep
    assert "MiniLM fine-tuned on mr: 0.840 against the target 0.83: met" in rep and "Not in this run: trec" in rep
    from textmine.bench.classification import benchmark_attention
    with pytest.raises(ValueError, match="corpora must be one of"): benchmark_attention(None, corpora=["imdb"])
