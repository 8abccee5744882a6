"""API contracts of textmine.embeddings and textmine.word_vectors: bad input, save/load, determinism, references."""
import threading
import time

import keras
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from textmine.data import load_dataset
from textmine.embeddings import (GloVe, KeyedVectors, LineCorpus, SkipGramNS, Word2Vec, _in_background, _PairStream,
                                 cooccurrence_matrix, keep_probability, skipgram_pairs)
from textmine.word_vectors import (DocumentEmbedding, embedding_matrix, evaluate_analogies, evaluate_word_pairs,
                                   load_glove)


@pytest.fixture(scope="module")
def corpus():
    return [t.split() for t in load_dataset("trec", split="train").texts[:600]]


@pytest.fixture(scope="module")
def small_w2v(corpus):
    return Word2Vec(vector_size=16, min_count=2, sample=1e-3, epochs=2, random_state=0).fit(corpus)


@pytest.fixture(scope="module")
def glove():
    return load_glove(limit=50_000)


def test_same_seed_same_vectors(corpus, small_w2v):
    again = Word2Vec(vector_size=16, min_count=2, sample=1e-3, epochs=2, random_state=0).fit(corpus)
    assert np.array_equal(again.wv.vectors, small_w2v.wv.vectors)
    other = Word2Vec(vector_size=16, min_count=2, sample=1e-3, epochs=2, random_state=1).fit(corpus)
    assert not np.allclose(other.wv.vectors, small_w2v.wv.vectors)


def test_default_sample_is_gensims_and_deterministic(corpus):
    # the subsampling threshold defaults to gensim's 1e-3 (1e-5 discards most tokens of a small corpus)
    assert Word2Vec().sample == 1e-3
    counts = np.array([1000, 10, 1])
    np.testing.assert_allclose(keep_probability(counts), keep_probability(counts, t=1e-3))
    a, b = (Word2Vec(vector_size=16, min_count=2, epochs=1, random_state=5).fit(corpus) for _ in range(2))
    assert np.array_equal(a.wv.vectors, b.wv.vectors)  # same seed (`seed`, later `random_state`): same vectors
    kept = {t: Word2Vec(vector_size=16, min_count=2, epochs=1, sample=t, random_state=5).fit(corpus).n_pairs_ for t in (1e-5, 1e-3)}
    assert a.n_pairs_ == kept[1e-3] > 2 * kept[1e-5]


def _stream(random_state=0):
    docs = [np.random.default_rng(i).integers(0, 30, 60).astype(np.int32) for i in range(40)]
    counts = np.bincount(np.concatenate(docs), minlength=30)
    return _PairStream(docs, counts, int(counts.sum()), window=3, negative=5, sample=0, batch_size=64, epochs=1,
                       alpha=0.025, min_alpha=1e-4, random_state=random_state)


@pytest.mark.parametrize("prefetch", [1, 64])
def test_background_batches_give_the_same_vectors(prefetch):
    vectors = []
    for p in (0, prefetch):
        model = SkipGramNS(30, 16, random_state=0)
        model.compile(optimizer=keras.optimizers.SGD(0.025))
        loss = model.fit_blocks(_stream()(), prefetch=p)
        vectors.append((model.W.embeddings.numpy(), model.W_context.embeddings.numpy(), loss))
    np.testing.assert_array_equal(vectors[0][0], vectors[1][0])
    np.testing.assert_array_equal(vectors[0][1], vectors[1][1])
    assert vectors[0][2] == vectors[1][2]


def test_background_thread_keeps_order_and_raises_errors():
    assert list(_in_background(iter(range(100)), 3)) == list(range(100))
    def failing():
        yield 1
        raise ValueError("bad chunk")
    with pytest.raises(ValueError, match="bad chunk"):
        list(_in_background(failing(), 2))
    before = threading.active_count()
    batches = _in_background(iter(range(10**6)), 2)
    assert next(batches) == 0
    batches.close()  # a consumer that stops early leaves no thread blocked on the full queue
    for _ in range(100):
        if threading.active_count() == before: break
        time.sleep(0.05)
    assert threading.active_count() == before


def test_training_lowers_the_loss_and_counts_pairs(small_w2v):
    assert small_w2v.history_["loss"][-1] < small_w2v.history_["loss"][0]
    assert small_w2v.n_pairs_ > 0 and small_w2v.words_per_second_ > 0
    assert small_w2v.wv.index_to_key[0] == "?"  # the most frequent token of TREC questions comes first


@pytest.mark.parametrize("corpus, message", [
    ([], "corpus is empty"),
    ([[], []], "corpus is empty"),
    ("one text", "got a single str"),
    ([["only"], ["single"], ["words"]], "no document has two vocabulary words"),
    ([["a", "b"], ["c", "d"]], "min_count=5 leaves no words"),
    ([3, 4], "corpus[0] must be a text or a list of token strings, got int"),
])
def test_bad_corpus_gets_a_clear_error(corpus, message):
    model = Word2Vec(min_count=1) if "single" in str(corpus) else Word2Vec()
    with pytest.raises((ValueError, TypeError)) as e:
        model.fit(corpus)
    assert message in str(e.value)


@pytest.mark.parametrize("param, value", [("window", 0), ("negative", -1), ("vector_size", 2.5), ("sample", 1.5),
                                          ("epochs", True), ("language", "fr"), ("min_alpha", 0.5)])
def test_bad_parameters_are_named(param, value, corpus):
    with pytest.raises(ValueError, match=param):
        Word2Vec(**{param: value}).fit(corpus)


def test_one_shot_iterator_is_refused(corpus):
    with pytest.raises(TypeError, match="one-shot iterator"):
        Word2Vec().fit(iter(corpus))


def test_line_corpus_streams_and_equals_the_list(tmp_path, corpus):
    texts = [" ".join(t) for t in corpus]
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    streamed = Word2Vec(vector_size=8, min_count=2, sample=1e-3, epochs=1, random_state=3).fit(LineCorpus(path))
    listed = Word2Vec(vector_size=8, min_count=2, sample=1e-3, epochs=1, random_state=3).fit(texts)
    assert streamed.wv.index_to_key == listed.wv.index_to_key
    assert np.allclose(streamed.wv.vectors, listed.wv.vectors)
    with pytest.raises(FileNotFoundError, match="is not a file"):
        LineCorpus(tmp_path / "missing.txt")


@pytest.mark.parametrize("fmt", ["text", "binary", "npz"])
def test_save_load_round_trip(tmp_path, small_w2v, fmt):
    kv = small_w2v.wv
    path = tmp_path / f"vectors.{fmt}"
    if fmt == "npz":
        kv.save(path); back = KeyedVectors.load(path)
        assert np.array_equal(back.counts, kv.counts)
    else:
        kv.save_word2vec_format(path, binary=fmt == "binary")
        back = KeyedVectors.load_word2vec_format(path, binary=fmt == "binary")
    assert back.index_to_key == kv.index_to_key
    assert np.allclose(back.vectors, kv.vectors, atol=1e-5 if fmt == "text" else 0)


@pytest.mark.parametrize("binary", [False, True])
def test_word2vec_files_are_read_by_gensim(tmp_path, small_w2v, binary):
    gensim_models = pytest.importorskip("gensim.models")
    path = tmp_path / "v.w2v"
    small_w2v.wv.save_word2vec_format(path, binary=binary)
    g = gensim_models.KeyedVectors.load_word2vec_format(path, binary=binary)
    assert list(g.index_to_key) == small_w2v.wv.index_to_key
    assert np.allclose(g.vectors, small_w2v.wv.vectors, atol=1e-5)


def test_bad_word2vec_file(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("hello world\n", encoding="utf-8")
    with pytest.raises(ValueError, match="word2vec header"):
        KeyedVectors.load_word2vec_format(path)


def test_keyed_vectors_input_checks():
    with pytest.raises(ValueError, match="has 2 words but vectors has 3 rows"):
        KeyedVectors(["a", "b"], np.zeros((3, 2)))
    with pytest.raises(ValueError, match="'a' appears more than once"):
        KeyedVectors(["a", "a"], np.zeros((2, 2)))
    kv = KeyedVectors(["a", "b", "c"], np.eye(3))
    with pytest.raises(KeyError, match="'z' is not in the vocabulary"):
        kv.similarity("a", "z")
    with pytest.raises(ValueError, match="topn must be a positive integer"):
        kv.most_similar("a", topn=0)


def test_skipgram_pairs_respect_documents_and_window():
    t, c = skipgram_pairs(np.arange(6), [0, 0, 0, 1, 1, 1], window=5, dynamic=False)
    pairs = set(zip(t.tolist(), c.tolist()))
    assert pairs == {(a, b) for a in range(6) for b in range(6) if a != b and (a < 3) == (b < 3)}


def test_cooccurrence_is_symmetric_and_weighted():
    X = cooccurrence_matrix([np.array([0, 1, 0, 2], np.int32)], vocab_size=3, window=3).toarray()
    assert np.allclose(X, X.T)
    # positions (0,1) and (1,2) pair words 0 and 1 at distance 1; (0,3) and (2,3) pair 0 and 2 at distances 3 and 1
    assert np.isclose(X[0, 1], 2) and np.isclose(X[0, 2], 1 + 1 / 3) and np.isclose(X[1, 2], 1 / 2)


def test_glove_trains_and_is_deterministic(corpus):
    a = GloVe(vector_size=8, min_count=2, epochs=3, batch_size=1024, random_state=0).fit(corpus)
    b = GloVe(vector_size=8, min_count=2, epochs=3, batch_size=1024, random_state=0).fit(corpus)
    assert np.array_equal(a.wv.vectors, b.wv.vectors)
    assert a.history_["loss"][-1] < a.history_["loss"][0]
    with pytest.raises(ValueError, match="x_max must be > 0"):
        GloVe(x_max=0).fit(corpus)


def test_embedding_matrix_policy(glove):
    vocab = ["", "[UNK]", "film", "Film", "qqxqqz"]
    M, report = embedding_matrix(glove, vocab, oov="zeros")
    assert not M[0].any() and not M[1].any() and not M[4].any()
    assert np.array_equal(M[2], glove["film"]) and np.array_equal(M[3], glove["film"])  # lowercase fallback
    assert report == {"words": 3, "found": 2, "coverage": 2 / 3, "missing": ["qqxqqz"]}
    R, _ = embedding_matrix(glove, vocab, oov="random", random_state=1)
    assert R[4].any() and not R[0].any()
    with pytest.raises(ValueError, match="none of the 2 vocabulary words"):
        embedding_matrix(glove, ["qqxqqz", "zzqzzq"])


def test_evaluation_of_pretrained_glove(glove):
    ws = evaluate_word_pairs(glove, "wordsim353")
    assert ws["coverage"] > 0.95 and ws["spearman"] > 0.45  # published GloVe-50d: about 0.50
    an = evaluate_analogies(glove, restrict_vocab=30_000)
    assert an["accuracy"] > 0.4 and an["questions"] < an["total"]
    with pytest.raises(ValueError, match="name must be one of"):
        evaluate_word_pairs(glove, "men3000")


def test_document_embedding_is_a_sklearn_transformer(glove):
    mr = load_dataset("mr", split="train").sample(400, random_state=0)
    pipe = Pipeline([("emb", DocumentEmbedding(glove, "sif")), ("clf", LogisticRegression(max_iter=500))])
    cloned = clone(pipe)
    assert cloned.get_params()["emb__weighting"] == "sif"
    cloned.fit(mr.texts, mr.labels)
    assert cloned.score(mr.texts, mr.labels) > 0.6
    X = DocumentEmbedding(glove, "mean").fit(mr.texts).transform(["", "qqxqqz"])
    assert X.shape == (2, 50) and not X.any()
    with pytest.raises(Exception, match="not fitted"):
        DocumentEmbedding(glove).transform(["a text"])
    with pytest.raises(TypeError, match="vectors must be a KeyedVectors"):
        DocumentEmbedding("glove").fit(["a text"])
