"""textmine.metrics against scikit-learn and scipy on random labelings; seeding of every source."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from textmine.metrics import (classification_scores, cluster_accuracy, cluster_mapping, clustering_scores,
                              contingency, intra_cluster_distance, inter_cluster_distance, match_clusters, purity,
                              plot_history, plot_confusion_matrix)
from textmine.core import set_seed

labelings = st.integers(2, 60).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 5), min_size=n, max_size=n), st.lists(st.integers(0, 7), min_size=n, max_size=n)))


@settings(max_examples=150, deadline=None)
@given(labelings)
def test_cluster_accuracy_is_invariant_and_bounded(pair):
    y, c = map(np.array, pair)
    acc = cluster_accuracy(y, c)
    assert 0 < acc <= 1
    assert acc >= np.bincount(y).max() / len(y) / len(np.unique(c)) - 1e-12
    perm = np.random.default_rng(0).permutation(8)
    assert cluster_accuracy(y, perm[c]) == pytest.approx(acc)  # renaming clusters changes nothing
    assert cluster_accuracy(y, y) == 1.0
    matched = match_clusters(y, c)
    assert np.mean(matched == y) == pytest.approx(acc)
    assert purity(y, c) >= acc - 1e-12


@settings(max_examples=100, deadline=None)
@given(labelings)
def test_contingency_and_scores_match_sklearn(pair):
    y, c = map(np.array, pair)
    assert np.array_equal(contingency(y, c), skm.cluster.contingency_matrix(y, c))
    s = clustering_scores(y, c)
    assert s["nmi"] == pytest.approx(skm.normalized_mutual_info_score(y, c))
    assert s["ari"] == pytest.approx(skm.adjusted_rand_score(y, c))


def test_mapping_is_one_to_one():
    m = cluster_mapping([0, 0, 1, 1, 2, 2], [5, 5, 5, 9, 9, 7])
    assert len(set(m.values())) == len(m) == 3


def test_internal_metrics_against_sklearn():
    from sklearn.cluster import KMeans
    from sklearn.datasets import make_blobs
    X, _ = make_blobs(200, centers=3, random_state=1)
    km = KMeans(3, n_init=3, random_state=0).fit(X)
    assert intra_cluster_distance(X, km.labels_, squared=True, reduce="sum") == pytest.approx(km.inertia_)
    d = np.linalg.norm(km.cluster_centers_[:, None] - km.cluster_centers_[None], axis=-1)
    assert inter_cluster_distance(X, km.labels_, reduce="min") == pytest.approx(d[d > 0].min())
    s = clustering_scores(np.zeros(200, int), km.labels_, X, metric="euclidean", sample_size=None)
    assert s["silhouette"] == pytest.approx(skm.silhouette_score(X, km.labels_))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="y_true has 3 labels but y_pred has 2"):
        cluster_accuracy([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="empty"):
        classification_scores([], [])
    with pytest.raises(ValueError, match="NaN"):
        clustering_scores([0, 1], [0, 1], X=np.array([[0.0, np.nan], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="history has no"):
        plot_history({"loss": [1, 0.5]}, metrics=["accuracy"])
    with pytest.raises(ValueError, match="random_state must be an integer >= 0"):
        set_seed(1.5)


def test_plots_return_matplotlib_objects():
    import matplotlib
    matplotlib.use("Agg")
    fig = plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]})
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 2
    ax = plot_confusion_matrix([0, 1, 1], [0, 1, 0], ["a", "b"])
    assert ax.get_title().startswith("confusion matrix")


def _train_once(random_state):
    import keras
    set_seed(random_state, deterministic=True)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(256, 8)).astype("float32"), rng.integers(0, 2, 256)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dropout(0.3), keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(X, y, epochs=2, batch_size=32, shuffle=True, verbose=0)
    return model.predict(X[:16], verbose=0)


def test_same_seed_same_keras_training():
    a, b, c = _train_once(3), _train_once(3), _train_once(4)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
