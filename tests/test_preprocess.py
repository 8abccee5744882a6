"""Contracts of `textmine.preprocess`: input checks, determinism, scikit-learn and Keras integration,
personal-data recall on the labelled set, and no network access."""
import os
import pickle
import socket
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline

from textmine.preprocess import (
    PII_KINDS, TextPreprocessor, char_ngrams, char_tokenize, clean_text, clean_texts, evaluate_pii, find_pii,
    lemmatize, load_pii_examples, make_text_vectorizer, make_tfidf, mask_pii, ngrams, normalize_unicode,
    pos_tag_zh, pretokenize, remove_stopwords, segment_zh, stem, stopwords_for, tokenize)

EN = ["The Rock is destined to be the 21st Century's new Conan.",
      "<p>Effective but too tepid biopic &amp; not funny.</p>",
      "",
      "Mail jane.doe@example.com or call +1 (415) 555-2671!"]
ZH = ["质量还不错，内容只适合边上厕所便消遣了", "服务态度很好，电话13800138000", "", "房间不大，但是很干净。"]


# --- bad input --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [
    clean_texts,
    lambda texts: TextPreprocessor().fit(texts),
    lambda texts: TextPreprocessor().transform(texts),
    lambda texts: TextPreprocessor("zh").transform(texts),
    lambda texts: make_text_vectorizer(texts),
    lambda texts: pretokenize(texts, tokenize),
])
@pytest.mark.parametrize("bad", [None, 3, 2.5, b"bytes", ["nested"]])
def test_bad_item_names_its_index(fn, bad):
    with pytest.raises(TypeError, match=r"\[2\] must be a str, got " + type(bad).__name__):
        fn(["fine", "", bad, "ok"])


@pytest.mark.parametrize("fn", [clean_text, normalize_unicode, tokenize, segment_zh, char_tokenize, pos_tag_zh,
                                find_pii, mask_pii, char_ngrams, TextPreprocessor()])
@pytest.mark.parametrize("bad", [None, 1, ["a list"]])
def test_single_text_must_be_str(fn, bad):
    with pytest.raises(TypeError, match="must be a str, got"):
        fn(bad)


@pytest.mark.parametrize("fn", [clean_texts, lambda t: TextPreprocessor().transform(t),
                                lambda t: make_text_vectorizer(t)])
def test_single_string_instead_of_list(fn):
    with pytest.raises(TypeError, match="got a single str"):
        fn("just one text")


@pytest.mark.parametrize("fn, kwargs, message", [
    (clean_text, {"urls": "drop"}, "urls must be one of"),
    (normalize_unicode, {"form": "NFX"}, "form must be one of"),
    (find_pii, {"kinds": ["EMAIL", "SSN"]}, "kinds must be one of"),
    (stopwords_for, {}, "no stopword list"),
])
def test_bad_options_are_value_errors(fn, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fn("xx", **kwargs) if fn is not stopwords_for else fn("xx")


@pytest.mark.parametrize("params, message", [
    ({"language": "fr"}, "language must be one of"),
    ({"tokens": "bytes"}, "tokens must be one of"),
    ({"normalize": "porter"}, "normalize must be one of"),
    ({"language": "zh", "normalize": "lemma"}, "needs language='en'"),
    ({"ngram_range": (2, 1)}, "ngram_range must be"),
    ({"output": "matrix"}, "output must be one of"),
    ({"stopwords": "english"}, "stopwords must be one of 'default'"),
])
def test_preprocessor_rejects_bad_params_at_fit(params, message):
    prep = TextPreprocessor(**params)  # __init__ only stores
    with pytest.raises(ValueError, match=message):
        prep.fit(["some text"])


def test_bad_sizes():
    with pytest.raises(ValueError, match="texts is empty"): make_text_vectorizer([])
    with pytest.raises(ValueError, match="max_seq_length must be a positive int"):
        make_text_vectorizer(["a b"], max_seq_length=-3)
    with pytest.raises(ValueError, match="n must be a positive int"): ngrams(["a"], 0)
    with pytest.raises(ValueError, match="n must be a positive int"): char_ngrams("ab", (3, 2))


# --- empty strings and alignment ---------------------------------------------------------------------------

def test_empty_strings_are_kept():
    assert clean_texts(["", " \n", "<br>"]) == ["", "", ""]
    out = TextPreprocessor().fit_transform(EN)
    assert len(out) == len(EN) and out[2] == ""
    assert TextPreprocessor(output="tokens").transform(["", "a b"]) == [[], ["a", "b"]]
    assert TextPreprocessor("zh").transform(ZH)[2] == ""
    assert pretokenize(["", "x y"], tokenize) == ["", "x y"]
    for fn in (tokenize, segment_zh, char_tokenize, pos_tag_zh, find_pii): assert fn("") == []
    assert mask_pii("") == "" and clean_text("") == ""


# --- determinism ------------------------------------------------------------------------------------------

def test_deterministic_across_calls():
    for language, texts in (("en", EN), ("zh", ZH)):
        for tokens in ("words", "chars"):
            prep = TextPreprocessor(language, tokens=tokens, mask_pii=True, ngram_range=(1, 2))
            assert prep.transform(texts) == clone(prep).transform(texts)
    assert segment_zh(ZH[0]) == segment_zh(ZH[0])


def test_deterministic_across_processes():
    code = ("from textmine.preprocess import TextPreprocessor as T; "
            f"print(T('zh', stopwords='default').transform({ZH!r}), T('en', normalize='stem').transform({EN!r}))")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, encoding="utf-8", check=True,
                           env={**os.environ, "PYTHONHASHSEED": random_state}).stdout for random_state in ("1", "2")]
    assert runs[0] == runs[1] and runs[0]


def test_vocabulary_is_deterministic():
    texts = clean_texts(EN * 3)
    assert make_text_vectorizer(texts).get_vocabulary() == make_text_vectorizer(texts).get_vocabulary()


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.text(max_size=80))
def test_any_text_is_handled(text):
    options = dict(lower=True, strip_punct=True, urls="mask")
    cleaned = clean_text(text, **options)
    assert cleaned == clean_text(cleaned, **options)  # cleaning is idempotent
    assert isinstance(clean_text(text, strip_numbers=True, unicode_form=None, strip_html=False), str)
    assert isinstance(TextPreprocessor()(text), list)
    assert all(t.strip() for t in segment_zh(text))
    masked = mask_pii(text)
    assert mask_pii(masked) == masked  # masking is idempotent
    matches = find_pii(text)
    assert all(text[m.start:m.end] == m.text for m in matches)
    assert all(a.end <= b.start for a, b in zip(matches, matches[1:]))


# --- scikit-learn -----------------------------------------------------------------------------------------

def test_init_only_stores_and_clone_survives():
    stops = frozenset({"the", "a"})
    prep = TextPreprocessor("en", stopwords=stops, ngram_range=(1, 2), mask_pii=True)
    assert prep.get_params()["stopwords"] is stops
    twin = clone(prep)
    assert twin is not prep and twin.get_params() == prep.get_params()
    assert twin.transform(EN) == prep.transform(EN)
    bad = TextPreprocessor(language="xx")  # no error until fit
    assert clone(bad).language == "xx"
    assert pickle.loads(pickle.dumps(prep)).transform(EN) == prep.transform(EN)


@pytest.mark.parametrize("language, texts", [("en", EN), ("zh", ZH)])
def test_pipeline_before_tfidf(language, texts):
    pipe = make_pipeline(TextPreprocessor(language, mask_pii=True), TfidfVectorizer(analyzer=str.split))
    X = pipe.fit_transform(texts)
    assert X.shape[0] == len(texts) and X.shape[1] > 3
    assert clone(pipe).fit_transform(texts).shape == X.shape
    assert pipe.set_params(textpreprocessor__tokens="chars").fit_transform(texts).shape[0] == len(texts)


@pytest.mark.parametrize("language, texts", [("en", EN), ("zh", ZH)])
def test_make_tfidf(language, texts):
    tfidf = make_tfidf(language)
    X = tfidf.fit_transform(texts)
    assert X.shape[0] == len(texts) and X.dtype == np.float32
    assert X[2].nnz == 0  # the empty text
    fresh = clone(tfidf)
    assert (fresh.fit_transform(texts) != X).nnz == 0
    assert "analyzer__ngram_range" in tfidf.get_params()
    assert pickle.loads(pickle.dumps(tfidf)).transform(texts).shape == X.shape


def test_preprocessor_as_analyzer():
    tfidf = TfidfVectorizer(analyzer=TextPreprocessor(ngram_range=(1, 2)))
    tfidf.fit(["not good at all", "good fun"])
    assert "not_good" in tfidf.vocabulary_


# --- cleaning and tokens ----------------------------------------------------------------------------------

def test_cleaning_switches():
    raw = "<p>Ｖisit https://example.com/a?b=1 — 11,000 fans&amp;friends!</p>"
    assert clean_text(raw) == "Visit https://example.com/a?b=1 - 11,000 fans&friends!"
    assert clean_text(raw, urls="mask", lower=True, strip_punct=True, strip_numbers=True) == "visit <URL> fans friends"
    assert normalize_unicode("１０：３４，《书》。") == '10:34,"书".'
    masked = mask_pii("<p>Mail JANE@EXAMPLE.COM or visit https://example.com</p>")
    assert clean_text(masked, lower=True, strip_punct=True) == "mail <EMAIL> or visit <URL>"


def test_tokens():
    assert tokenize("Don't pay $1.13bn!") == ["Don't", "pay", "1.13", "bn"]
    assert remove_stopwords(["This", "is", "not", "good"], stopwords_for("en", keep=["not"])) == ["not", "good"]
    assert stem(["Running", "films"]) == ["run", "film"]
    assert lemmatize(["mice", "doesn't"]) == ["mouse", "doesn't"]
    assert segment_zh("电话<PHONE>，谢谢") == ["电话", "<PHONE>", "谢谢"]
    assert char_tokenize("买了XP系统") == ["买", "了", "XP", "系", "统"]
    assert ngrams(["a", "b", "c"], (2, 3), sep="_") == ["a_b", "b_c", "a_b_c"]
    assert {"的", "不"} <= stopwords_for("zh")


# --- personal data ----------------------------------------------------------------------------------------

def test_pii_fixture_recall_and_precision():
    examples = load_pii_examples()
    positives = [ex for ex in examples if ex["pii"]]
    assert len(positives) >= 60 and sum(len(ex["pii"]) for ex in positives) >= 80
    assert {k for ex in positives for k, _ in ex["pii"]} == set(PII_KINDS)
    scores = evaluate_pii(examples)
    assert scores["missed"] == [] and scores["recall"] == 1.0
    assert all(s["recall"] == 1.0 for s in scores["by_kind"].values())
    assert scores["precision"] >= 0.95, scores["false_alarms"]
    protected = [ex["text"] for ex in examples if ex["trap"] in ("date", "price", "version", "year")]
    assert len(protected) >= 15 and [t for t in protected if find_pii(t)] == []
    assert {t for _, _, t in scores["false_alarms"]} <= {ex["text"] for ex in examples if ex["trap"] == "hard"}


def test_mask_pii_placeholders():
    text = "Mail jane.doe@example.com, call 139-1234-5678, card 4111 1111 1111 1111, ID 11010519491231002X."
    assert mask_pii(text) == "Mail <EMAIL>, call <PHONE>, card <CARD>, ID <CN_ID>."
    assert mask_pii("4111 1111 1111 1112") == "4111 1111 1111 1112"  # fails the Luhn check
    assert mask_pii("4111 1111 1111 1112", check_digits=False) == "<CARD>"
    assert mask_pii("on 2023-10-12, $1,299.99, v2.10.3, in 1998") == "on 2023-10-12, $1,299.99, v2.10.3, in 1998"


# --- no network, no noise ---------------------------------------------------------------------------------

def test_no_network_access(monkeypatch):
    def refuse(*args, **kwargs): raise AssertionError(f"network access attempted: {args!r}")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    assert clean_texts(EN, lower=True, urls="mask")[0].startswith("the rock")
    assert tokenize(EN[0])[:2] == ["The", "Rock"]
    assert stem(["films"]) == ["film"] and lemmatize(["films"]) == ["film"]
    assert segment_zh(ZH[0])[:2] == ["质量", "还"]
    assert pos_tag_zh("我喜欢这本书")[0] == ("我", "r")
    assert stopwords_for("zh")
    assert TextPreprocessor("zh", mask_pii=True).transform(ZH)[1].endswith("<PHONE>")
    layer = make_text_vectorizer(pretokenize(ZH, segment_zh), standardize=None, max_seq_length=5)
    assert tuple(layer(pretokenize(ZH[:2], segment_zh)).shape) == (2, 5)


def test_import_is_quiet_and_light():
    code = ("import sys, textmine.preprocess as p; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules and 'jieba' not in sys.modules; "
            "p.segment_zh('我喜欢这本书')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, encoding="utf-8", check=True)
    assert out.stdout == "" and "Building prefix dict" not in out.stderr
