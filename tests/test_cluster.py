"""API contracts of the clustering chapters: DEC maths, ClusteringLayer, DEC / IDEC estimators, classic helpers, benchmark."""
import re
import pickle

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import ops
from scipy import sparse
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from textmine.bench.clustering import benchmark_cluster, cluster_report
from textmine.bench.runner import BENCHMARKS
from textmine.cluster import class_tfidf, choose_k, clusterer, document_features, k_distances, knee_point, representative_documents
from textmine.dec import (DEC, IDEC, ClusteringLayer, build_autoencoder, kl_divergence_np, soft_assignment_np, target_distribution)

TINY = dict(dims=(16, 4), pretrain_epochs=2, max_iter=12, update_interval=4, n_init=2, batch_size=32)



def squash(table: str) -> str:
    "A markdown table without the spaces that pad its cells."
    return re.sub(r" *\| *", "|", table)

@pytest.fixture(scope="module")
def blobs():
    "Three well separated Gaussian blobs in 20 dimensions, 90 points, and their labels."
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 4, (3, 20))
    y = np.repeat(np.arange(3), 30)
    return (centres[y] + rng.normal(0, 0.5, (90, 20))).astype("float32"), y


# ---------------------------------------------------------------- maths
def test_soft_assignment_matches_loop_and_alpha():
    rng = np.random.default_rng(1)
    Z, mu = rng.normal(size=(7, 3)), rng.normal(size=(4, 3))
    for alpha in (1.0, 2.5):
        ker = np.array([[(1 + np.sum((z - m) ** 2) / alpha) ** (-(alpha + 1) / 2) for m in mu] for z in Z])
        np.testing.assert_allclose(soft_assignment_np(Z, mu, alpha), ker / ker.sum(1, keepdims=True), atol=1e-12)


def test_target_distribution_sharpens_and_kl():
    rng = np.random.default_rng(2)
    q = rng.dirichlet(np.ones(4), size=50)
    p = target_distribution(q)
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-12)
    assert (p.max(1) >= q.max(1) - 1e-12).all()
    w = q ** 2 / q.sum(0)
    np.testing.assert_allclose(p, w / w.sum(1, keepdims=True), atol=1e-12)
    assert kl_divergence_np(q, q) == pytest.approx(0, abs=1e-12)
    assert kl_divergence_np(p, q) > 0


def test_clustering_layer_equals_numpy_and_round_trips(tmp_path):
    rng = np.random.default_rng(3)
    Z, mu = rng.normal(size=(6, 5)).astype("float32"), rng.normal(size=(3, 5)).astype("float32")
    inp = keras.Input((5,))
    model = keras.Model(inp, ClusteringLayer(3, alpha=2.0, name="clustering")(inp))
    model.get_layer("clustering").set_weights([mu])
    q = ops.convert_to_numpy(model(Z))
    np.testing.assert_allclose(q, soft_assignment_np(Z, mu, 2.0), atol=1e-5)
    np.testing.assert_allclose(q.sum(1), 1, atol=1e-5)
    layer = model.get_layer("clustering")
    assert ClusteringLayer.from_config(layer.get_config()).get_config() == layer.get_config()
    path = tmp_path / "q.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(ops.convert_to_numpy(loaded(Z)), q, atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [({"n_clusters": 1}, "n_clusters must be an integer >= 2"),
                                             ({"n_clusters": 2.0}, "n_clusters must be an integer >= 2"),
                                             ({"n_clusters": 3, "alpha": -1}, "alpha must be a positive number")])
def test_clustering_layer_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ClusteringLayer(**kwargs)


def test_autoencoder_shapes():
    ae, enc = build_autoencoder(30, (20, 8, 3))
    assert enc.output_shape == (None, 3) and ae.output_shape == (None, 30)
    assert [l.units for l in ae.layers[1:]] == [20, 8, 3, 8, 20, 30]


# ---------------------------------------------------------------- estimators
@pytest.mark.parametrize("cls", [DEC, IDEC])
def test_estimator_contract(cls, blobs):
    X, y = blobs
    est = cls(3, random_state=0, **TINY)
    with pytest.raises(NotFittedError):
        est.predict(X)
    assert est.fit(X) is est
    assert est.labels_.shape == (90,) and set(est.labels_) <= {0, 1, 2}
    assert est.cluster_centers_.shape == (3, 4)
    assert est.transform(X).shape == (90, 4)
    np.testing.assert_array_equal(est.predict(X), est.labels_)
    np.testing.assert_allclose(est.predict_proba(X).sum(1), 1, atol=1e-5)
    assert est.init_labels_.shape == (90,) and len(est.pretrain_loss_) == 2
    assert est.history_["step"][0] == 0 and est.n_iter_ <= TINY["max_iter"]
    with pytest.raises(ValueError, match="features"):
        est.predict(X[:, :5])
    # clone keeps the parameters and forgets the fit
    c = clone(est)
    assert c.get_params() == est.get_params() and not hasattr(c, "labels_")


@pytest.mark.parametrize("cls", [DEC, IDEC])
def test_same_seed_same_labels(cls, blobs):
    X, _ = blobs
    a = cls(3, random_state=5, **TINY).fit_predict(X)
    b = cls(3, random_state=5, **TINY).fit_predict(X)
    np.testing.assert_array_equal(a, b)


def test_dec_separates_blobs_and_accepts_sparse(blobs):
    from textmine.metrics import cluster_accuracy
    X, y = blobs
    est = DEC(3, random_state=0, **{**TINY, "pretrain_epochs": 20})
    labels = est.fit_predict(sparse.csr_matrix(X))
    assert cluster_accuracy(y, labels) > 0.9


def test_idec_keeps_reconstruction_dec_does_not(blobs):
    X, _ = blobs
    kw = {**TINY, "pretrain_epochs": 10, "max_iter": 40, "tol": 0.0, "cluster_learning_rate": 1e-2}
    dec, idec = DEC(3, random_state=0, **kw).fit(X), IDEC(3, random_state=0, gamma=0.1, **kw).fit(X)
    np.testing.assert_array_equal(dec.init_labels_, idec.init_labels_)
    Xs = X * dec.scale_
    mse = lambda m: float(np.mean((ops.convert_to_numpy(m.autoencoder_(Xs)) - Xs) ** 2))
    assert mse(idec) < mse(dec)


def test_estimator_pickles(blobs):
    X, _ = blobs
    est = DEC(3, random_state=0, **TINY).fit(X)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(again.predict_proba(X), est.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("make, X, message", [
    (lambda: DEC(1), np.ones((5, 3)), "n_clusters must be an integer >= 2"),
    (lambda: DEC(6), np.ones((5, 3)), "must be smaller than the number of samples"),
    (lambda: DEC(2), np.zeros((0, 3)), "X is empty"),
    (lambda: DEC(2), np.array([[1.0, np.nan], [0.0, 1.0], [1.0, 1.0]]), "NaN"),
    (lambda: DEC(2), [], "X"),
    (lambda: DEC(2, update_interval=0), np.ones((5, 3)), "update_interval must be an integer >= 1"),
    (lambda: DEC(2, tol=1.5), np.ones((5, 3)), "tol must be a number in"),
    (lambda: DEC(2, random_state=-1), np.ones((5, 3)), "random_state must be a non-negative integer"),
    (lambda: IDEC(2, gamma=0), np.ones((5, 3)), "gamma must be a positive number"),
])
def test_bad_input(make, X, message):
    with pytest.raises(ValueError, match=message):
        make().fit(X)


# ---------------------------------------------------------------- classic helpers
def test_knee_and_k_distances():
    assert knee_point(np.r_[np.zeros(40), np.linspace(0, 5, 10)]) == pytest.approx(0.0)
    X = np.random.default_rng(0).normal(size=(30, 4))
    kd = k_distances(X, 3)
    assert kd.shape == (30,) and (np.diff(kd) >= 0).all()
    with pytest.raises(ValueError, match="n_neighbors"):
        k_distances(X, 0)
    with pytest.raises(ValueError, match="curve must be 1-d"):
        knee_point([1.0, 2.0])


def test_clusterer_and_features_errors():
    with pytest.raises(ValueError, match="n_clusters must be an integer >= 2"):
        clusterer("spectral", 1)
    with pytest.raises(ValueError, match="name must be one of"):
        clusterer("meanshift", 3)
    with pytest.raises(ValueError, match="kind must be one of"):
        document_features("word2vec")
    assert clusterer("dbscan").metric == "cosine"


def test_choose_k_and_reading(blobs):
    X, y = blobs
    scores = choose_k(X, range(2, 6))
    assert list(scores.index) == [2, 3, 4, 5] and scores["silhouette"].idxmax() == 3
    texts = ["goal match team"] * 5 + ["stock market shares"] * 5
    kw = class_tfidf(texts, [0] * 5 + [1] * 5, n_words=3, min_df=1)
    assert set(kw.loc[0, "keywords"].split(", ")) == {"goal", "match", "team"}
    reps = representative_documents(X, y, n=2)
    assert sorted(reps) == [0, 1, 2] and all(y[i] == c for c, idx in reps.items() for i in idx)


def test_benchmark_registered_and_runs(tmp_path):
    assert BENCHMARKS["cluster"] is benchmark_cluster
    res = benchmark_cluster(tmp_path, seeds=[0], quick=True, verbose=False, sizes={"bbc": 60}, minilm=())
    models = {r["model"] for r in res["rows"]}
    assert {"TF-IDF KMeans", "LSA KMeans", "AE + KMeans (TF-IDF top 2000)", "DEC (TF-IDF top 2000)"} <= models
    assert all(0 <= r["acc"] <= 1 and r["n"] == 60 for r in res["rows"])
    assert re.search(r"\|\s*dataset\s*\|\s*model\s*\|", res["report"]) and "Targets" in res["report"]
    # silhouette and distances of every pipeline are measured in one space (the seed-0 LSA vectors), so they compare
    assert all(-1 <= r["silhouette"] <= 1 and r["intra"] > 0 and r["inter"] > 0 for r in res["rows"])
    assert "|silhouette|intra|inter|" in squash(res["report"]) and "same space" in res["report"]
    from textmine.baselines import tfidf_kmeans
    from textmine.data import load_dataset
    from textmine.metrics import clustering_scores
    data = load_dataset("bbc", "all").sample(60, random_state=0)
    X = document_features("lsa", random_state=0).fit_transform(data.texts)
    row = next(r for r in res["rows"] if r["model"] == "TF-IDF KMeans")
    pred = tfidf_kmeans(len(data.label_names), random_state=0).fit_predict(data.texts)
    assert clustering_scores(data.labels, pred, X=X, random_state=0)["intra"] == pytest.approx(row["intra"])
    # rows written before these columns existed still make a report
    old = [{k: v for k, v in r.items() if k not in ("silhouette", "intra", "inter")} for r in res["rows"]]
    assert "silhouette" not in cluster_report(old, res["sizes"], res["corpus_seeds"], quick=True)["report"]


@pytest.mark.parametrize("texts", [[], ["", "  "], ["the and of", "a an the"]])
def test_empty_documents_give_clear_errors(texts):
    with pytest.raises(ValueError, match="empty vocabulary"):
        document_features("lsa").fit_transform(texts)
