"""The textmine command: run as a user runs it (a separate process), and in-process through `main` for the commands on one's own texts."""
import json
import re
import os
import subprocess
import sys
from pathlib import Path

import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from textmine.cli import main
from textmine.data import carrier_requirements

# the console script installed beside this interpreter, as a user would run it
TEXTMINE = [str(Path(sys.executable).with_name("textmine"))]


def run(*args, **kw):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(TEXTMINE + list(args), capture_output=True, encoding="utf-8", env=env, timeout=600, **kw)


def test_help_lists_subcommands():
    r = run("--help")
    assert r.returncode == 0 and "datasets" in r.stdout and "demo" in r.stdout
    r = run("demo", "--help")
    assert r.returncode == 0 and "--quick" in r.stdout and "--force" in r.stdout


def test_datasets_table_and_requirements():
    r = run("datasets")
    assert r.returncode == 0
    for name in ("20ng", "r8", "r52", "bbc", "mr", "trec", "trec-fine", "chnsenti"):
        assert name in r.stdout
    assert "11293" in r.stdout and "True" in r.stdout
    r = run("datasets", "--requirements")
    assert r.stdout.split() == carrier_requirements()


# the models the quick demo must train, per task: the baselines first, then one model of every chapter
DEMO_MODELS = {
    "classification": ["majority class", "TF-IDF + LogReg", "mean GloVe + LogReg", "mean embedding (learned)",
                       "TextCNN (rand)", "BiGRU", "Transformer (1 block)", "MiniLM (frozen) + LogReg"],
    "clustering": ["random clusters", "TF-IDF + KMeans", "LSA + KMeans", "MiniLM + KMeans", "DEC (TF-IDF top 2000)"],
    "embeddings": ["Word2Vec (500 BBC documents)", "GloVe 6B-50d (pretrained)"],
}


@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory):
    "One run of `textmine demo --quick`: (its folder, the finished process, results.json as it was written)."
    out = tmp_path_factory.mktemp("demo") / "demo"
    r = run("demo", "--quick", "--out", str(out))
    assert r.returncode == 0, r.stderr
    return out, r, json.loads((out / "results.json").read_text(encoding="utf-8"))


def test_demo_quick_writes_report_and_refuses_to_overwrite(quick_demo):
    out, r, saved = quick_demo
    assert "TF-IDF + LogReg" in r.stdout and "TF-IDF + KMeans" in r.stdout
    assert {row["dataset"] for row in saved["rows"]} == {"trec", "bbc", "wordsim353"}
    assert saved["settings"] == {"seed": 0, "quick": True}
    assert saved["slices"]["trec"] == {"n_train": 1000, "n_test": 300} and saved["slices"]["bbc"] == {"n": 300}
    report = (out / "report.md").read_text(encoding="utf-8")
    assert re.search(r"\|\s*dataset\s*\|\s*model\s*\|", report) and "![" in report
    assert "training and 300 test texts" in report and "`textmine bench`" in report  # says what it trained on
    for line in report.splitlines():
        if line.startswith("!["):
            assert (out / line.split("(")[1].rstrip(")")).is_file()
    r = run("demo", "--quick", "--out", str(out))
    assert r.returncode == 2 and "pass --force" in r.stderr and "Traceback" not in r.stderr
    again = run("demo", "--quick", "--out", str(out), "--force", "--quiet")
    assert again.returncode == 0 and again.stdout == ""
    rows = json.loads((out / "results.json").read_text(encoding="utf-8"))["rows"]
    strip = lambda rs: [{k: v for k, v in r.items() if k != "seconds"} for r in rs]
    assert strip(rows) == strip(saved["rows"])  # same seed, same numbers


def test_demo_quick_covers_every_chapter_beside_its_baseline(quick_demo):
    rows = pd.DataFrame(quick_demo[2]["rows"])
    for task, models in DEMO_MODELS.items():
        assert rows[rows.task == task].model.tolist() == models, task
    assert rows.seconds.ge(0).all()
    cls = rows[rows.task == "classification"].set_index("model")
    assert cls[["accuracy", "macro_f1"]].stack().between(0, 1).all()
    assert (cls.n_train == 1000).all() and (cls.n_test == 300).all()
    assert cls.accuracy["TF-IDF + LogReg"] > cls.accuracy["majority class"] + 0.3
    assert (cls.accuracy.drop("majority class") > cls.accuracy["majority class"] + 0.1).all(), cls.accuracy
    clu = rows[rows.task == "clustering"].set_index("model")
    assert clu[["acc", "nmi"]].stack().between(0, 1).all() and clu.ari.between(-1, 1).all()
    assert (clu.nmi.drop("random clusters") > clu.nmi["random clusters"] + 0.2).all(), clu.nmi
    emb = rows[rows.task == "embeddings"].set_index("model")
    assert emb.spearman.between(-1, 1).all() and emb.coverage.between(0, 1).all() and (emb.coverage > 0).all()
    assert emb.coverage["GloVe 6B-50d (pretrained)"] == 1.0
    assert emb.spearman["GloVe 6B-50d (pretrained)"] > max(0.4, emb.spearman["Word2Vec (500 BBC documents)"])


def test_demo_prints_one_line_per_model(quick_demo):
    _, r, saved = quick_demo
    lines = r.stderr.splitlines()   # progress goes to standard error, the final table to standard output
    for row in saved["rows"]:
        score = {"classification": "accuracy", "clustering": "ACC", "embeddings": "spearman"}[row["task"]]
        value = row[score.lower()]
        hits = [l for l in lines if l.startswith(row["task"]) and f" {row['model']} " in l]
        assert len(hits) == 1 and f"{score} {value:.3f}" in hits[0] and hits[0].endswith(" s)"), (row, hits)


def test_bad_arguments_exit_nonzero_without_traceback():
    r = run("demo", "--random-state", "abc")
    assert r.returncode == 2 and "invalid int value" in r.stderr
    r = run("nosuchcommand")
    assert r.returncode == 2 and "Traceback" not in r.stderr


# ---- commands on one's own texts: classify train / predict, cluster ----

def reviews(n=60):
    "Tiny made-up film reviews, alternately positive and negative, with obvious words."
    rng = np.random.default_rng(0)
    good, bad = "good great superb lovely moving funny".split(), "bad dull awful boring weak silly".split()
    return pd.DataFrame([{"id": f"r{i:03d}", "text": " ".join(rng.choice(good if i % 2 == 0 else bad, 5)) + " film",
                          "label": "pos" if i % 2 == 0 else "neg"} for i in range(n)])


def topics(n=60):
    "Tiny made-up texts about three topics with disjoint words."
    rng = np.random.default_rng(0)
    words = ["match goal team coach league score player", "oven recipe flour butter sauce bake dinner",
             "rocket orbit planet moon launch star telescope"]
    return pd.DataFrame([{"text": " ".join(rng.choice(words[i % 3].split(), 5)), "topic": i % 3} for i in range(n)])


def cli(capsys, *args):
    "Run `textmine ARGS` in this process: (exit status, stdout, stderr)."
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    "A TextCNN trained for one epoch on the tiny reviews, and its training table."
    d = tmp_path_factory.mktemp("trained")
    reviews().to_csv(d / "reviews.csv", index=False)
    assert main(["classify", "train", "--data", str(d / "reviews.csv"), "--out", str(d / "cnn.keras"), "--epochs", "1",
                 "--quiet"]) == 0
    return d / "cnn.keras", d / "reviews.csv"


@pytest.mark.parametrize("model", ["textcnn", "rnn"])
def test_classify_train_predict_round_trip(tmp_path, capsys, model, trained):
    if model == "textcnn": model_file, data = trained
    else:
        data, model_file = tmp_path / "reviews.csv", tmp_path / "rnn.keras"
        reviews().to_csv(data, index=False)
        code, _, err = cli(capsys, "classify", "train", "--data", data, "--model", "rnn", "--out", model_file,
                           "--epochs", "1", "--max-seq-length", "8", "--random-state", "3")
        assert code == 0, err
        assert "training rnn on 60 texts" in err and "wrote" in err
    assert model_file.is_file() and model_file.with_name(model_file.name + ".sha256").is_file()
    new = tmp_path / "new.tsv"
    reviews(10).drop(columns="label").to_csv(new, sep="\t", index=False)
    code, _, err = cli(capsys, "classify", "predict", "--model", model_file, "--data", new, "--out", tmp_path / "pred.csv")
    assert code == 0, err
    pred = pd.read_csv(tmp_path / "pred.csv", dtype={"id": str})
    assert list(pred.columns) == ["id", "text", "prediction", "p_neg", "p_pos"]
    assert pred.id.tolist() == [f"r{i:03d}" for i in range(10)]  # every row, in order, cells as they were
    np.testing.assert_allclose(pred[["p_neg", "p_pos"]].sum(axis=1), 1, atol=1e-5)
    assert set(pred.prediction) <= {"pos", "neg"}
    assert (pred.prediction == np.where(pred.p_pos > pred.p_neg, "pos", "neg")).all()


def test_classify_predict_writes_to_stdout_without_out(capsys, trained):
    model_file, data = trained
    code, out, err = cli(capsys, "classify", "predict", "--model", model_file, "--data", data, "--quiet")
    assert code == 0 and err == ""
    pred = pd.read_csv(io.StringIO(out))
    assert len(pred) == 60 and list(pred.columns[-3:]) == ["prediction", "p_neg", "p_pos"]


def test_cluster_kmeans_tfidf_writes_three_files(tmp_path, capsys):
    topics().to_csv(tmp_path / "topics.csv", index=False)
    out = tmp_path / "out"
    code, _, err = cli(capsys, "cluster", "--data", tmp_path / "topics.csv", "--n-clusters", "3", "--method", "kmeans",
                       "--features", "tfidf", "--map", "pca", "--out", out)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["clusters.csv", "keywords.md", "map.png"]
    got = pd.read_csv(out / "clusters.csv")
    assert list(got.columns) == ["text", "topic", "cluster"] and len(got) == 60
    assert (pd.crosstab(got.topic, got.cluster).gt(0).sum(axis=1) == 1).all()  # disjoint topics: one cluster each
    report = (out / "keywords.md").read_text(encoding="utf-8")
    for c in range(3): assert f"## Cluster {c} (20 texts)" in report
    assert report.count("1. row ") == 3 and report.count("2. row ") == 3
    assert (out / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cluster_k_auto_reports_its_choice(tmp_path, capsys):
    topics().to_csv(tmp_path / "topics.csv", index=False)
    code, _, err = cli(capsys, "cluster", "--data", tmp_path / "topics.csv", "--n-clusters", "auto", "--max-k", "6",
                       "--features", "lsa", "--map", "pca", "--out", tmp_path / "out")
    assert code == 0, err
    assert "k=3 chosen: the highest mean silhouette" in err and "among k=2..6" in err
    assert pd.read_csv(tmp_path / "out" / "clusters.csv").cluster.nunique() == 3
    assert re.search(r"\|\s*6\s*\|", (tmp_path / "out" / "keywords.md").read_text(encoding="utf-8"))  # every k tried is in the report


def test_cluster_dec_runs(tmp_path, capsys):
    topics().to_csv(tmp_path / "topics.csv", index=False)
    code, _, err = cli(capsys, "cluster", "--data", tmp_path / "topics.csv", "--n-clusters", "3", "--method", "dec", "--features",
                       "lsa", "--epochs", "2", "--max-iter", "5", "--map", "pca", "--out", tmp_path / "out", "--quiet")
    assert code == 0, err
    assert pd.read_csv(tmp_path / "out" / "clusters.csv").cluster.between(0, 2).all()


BAD_FILES = {  # name: (file bytes, what the error must say)
    "missing column": (b"body,label\nhello,a\nbye,b\n", "has no column 'text' (--text-col); the columns it has are 'body', 'label'"),
    "empty file": (b"", "is empty"),
    "header only": (b"text,label\n", "has a header row but no texts"),
    "latin-1": ("text,label\nun caf\u00e9,a\nun th\u00e9,b\n".encode("latin-1"), "cannot be read as UTF-8"),
    "empty texts": (b"text,label\nhello,a\n,b\n  ,a\nbye,b\n", "the text column 'text' is empty in row 3, 4"),
}


@pytest.mark.parametrize("command", ["train", "predict", "cluster"])
@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_gives_one_line_error(tmp_path, capsys, case, command, trained):
    content, message = BAD_FILES[case]
    data = tmp_path / "bad.csv"
    data.write_bytes(content)
    out = tmp_path / ("out.csv" if command == "predict" else "out")
    args = {"train": ["classify", "train", "--out", tmp_path / "m.keras"],
            "predict": ["classify", "predict", "--model", trained[0], "--out", out],
            "cluster": ["cluster", "--out", out]}[command]
    code, _, err = cli(capsys, *args, "--data", data)
    assert code == 2 and str(data) in err and message in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and not (tmp_path / "m.keras").exists()  # nothing written


def test_latin1_file_reads_with_encoding(tmp_path, capsys, trained):
    data = tmp_path / "latin.csv"
    data.write_bytes("text\nun film superbe, caf\u00e9 cr\u00e8me\n".encode("latin-1"))
    code, out, err = cli(capsys, "classify", "predict", "--model", trained[0], "--data", data, "--encoding", "latin-1")
    assert code == 0, err
    assert "café crème" in out


def test_bad_labels_and_settings(tmp_path, capsys):
    (tmp_path / "one.csv").write_text("text,label\nhello,a\nbye,a\n", encoding="utf-8")
    code, _, err = cli(capsys, "classify", "train", "--data", tmp_path / "one.csv", "--out", tmp_path / "m.keras")
    assert code == 2 and "the label column 'label' holds only one class, 'a'" in err
    reviews().to_csv(tmp_path / "r.csv", index=False)
    code, _, err = cli(capsys, "classify", "train", "--data", tmp_path / "r.csv", "--out", tmp_path / "m.model")
    assert code == 2 and "--out must be a file name ending in .keras" in err
    code, _, err = cli(capsys, "classify", "train", "--data", tmp_path / "nothere.csv", "--out", tmp_path / "m.keras")
    assert code == 2 and "nothere.csv does not exist" in err
    code, _, err = cli(capsys, "classify", "predict", "--model", tmp_path / "r.csv", "--data", tmp_path / "r.csv")
    assert code == 2 and "is not a classifier written by `textmine classify train`" in err
    code, _, err = cli(capsys, "cluster", "--data", tmp_path / "r.csv", "--n-clusters", "61", "--out", tmp_path / "o")
    assert code == 2 and "--n-clusters=61 must be smaller than the number of samples, 60" in err
    code, _, err = cli(capsys, "cluster", "--data", tmp_path / "r.csv", "--max-k", "1", "--features", "tfidf", "--out", tmp_path / "o")
    assert code == 2 and "--max-k must be an integer >= 2, got 1" in err and not (tmp_path / "o").exists()
    with pytest.raises(SystemExit) as e: main(["cluster", "--data", "x.csv", "--out", "o", "--n-clusters", "one"])
    assert e.value.code == 2 and "must be an integer >= 2 or 'auto', got 'one'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e: main(["classify", "train", "--data", "x.csv", "--out", "m.keras", "--model", "svm"])
    assert e.value.code == 2 and "invalid choice: 'svm'" in capsys.readouterr().err


def test_existing_outputs_are_refused_without_force(tmp_path, capsys, trained):
    model_file, data = trained
    before = model_file.read_bytes()
    code, _, err = cli(capsys, "classify", "train", "--data", data, "--out", model_file, "--epochs", "1")
    assert code == 2 and "already exists; pass --force" in err and model_file.read_bytes() == before
    (tmp_path / "pred.csv").write_text("keep me", encoding="utf-8")
    code, _, err = cli(capsys, "classify", "predict", "--model", model_file, "--data", data, "--out", tmp_path / "pred.csv")
    assert code == 2 and "already exists; pass --force" in err and (tmp_path / "pred.csv").read_text(encoding="utf-8") == "keep me"
    code, _, err = cli(capsys, "classify", "predict", "--model", model_file, "--data", data, "--out", tmp_path / "pred.csv",
                       "--force", "--quiet")
    assert code == 0 and len(pd.read_csv(tmp_path / "pred.csv")) == 60
    topics().to_csv(tmp_path / "topics.csv", index=False)
    (tmp_path / "out").mkdir(); (tmp_path / "out" / "old.txt").write_text("x", encoding="utf-8")
    args = ["cluster", "--data", tmp_path / "topics.csv", "--n-clusters", "3", "--features", "tfidf", "--map", "pca",
            "--out", tmp_path / "out", "--quiet"]
    code, _, err = cli(capsys, *args)
    assert code == 2 and "already holds files; pass --force" in err and not (tmp_path / "out" / "clusters.csv").exists()
    assert cli(capsys, *args, "--force")[0] == 0 and (tmp_path / "out" / "clusters.csv").is_file()


@pytest.mark.parametrize("estimator", ["os.system", "subprocess.Popen", "textmine_evil.Payload", "textmine.core.Nothing"])
def test_a_model_file_naming_another_class_is_refused_and_nothing_is_imported(tmp_path, estimator):
    "`load` constructs only textmine's registered classes; whatever module a file names is never imported."
    import sys
    from textmine.workflows import load_classifier
    path = tmp_path / "m.keras"
    config = {"config": {"layers": [{"class_name": "textmine>LabelledSoftmax",
                                     "config": {"classes": ["a", "b"], "estimator": estimator, "params": {}}}]}}
    with zipfile.ZipFile(path, "w") as z: z.writestr("config.json", json.dumps(config))
    before = set(sys.modules)
    with pytest.raises(ValueError, match=re.escape(estimator)):
        load_classifier(path, verify=False)
    assert set(sys.modules) == before


def test_help_of_every_new_command(capsys):
    for args, words in ((["classify", "--help"], ["train", "predict"]),
                        (["classify", "train", "--help"], ["--model", "textcnn,rnn,transformer,minilm", "--label-col", "--random-state", "--force"]),
                        (["classify", "predict", "--help"], ["--model", "--out", "standard output", "--random-state"]),
                        (["cluster", "--help"], ["--n-clusters", "auto", "kmeans,dec,idec", "tfidf,lsa,minilm", "--random-state", "--force"])):
        with pytest.raises(SystemExit) as e: main(args)
        out = capsys.readouterr().out
        assert e.value.code == 0 and all(w in out for w in words), (args, out)


def test_console_script_on_a_bad_file(tmp_path):
    (tmp_path / "t.csv").write_text("body\nhello\n", encoding="utf-8")
    r = run("cluster", "--data", str(tmp_path / "t.csv"), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip() == f"textmine cluster: error: {tmp_path / 't.csv'} has no column 'text' (--text-col); the columns it has are 'body'"
    r = run("classify", "train", "--help")
    assert r.returncode == 0 and "--max-seq-length" in r.stdout


def test_bench_runs_only_the_chosen_datasets_and_models(tmp_path):
    r = run("bench", "cnn", "embeddings", "--quick", "--seeds", "0", "--datasets", "trec", "--models", "rand",
            "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "skipping embeddings: it has none of the chosen datasets or models" in r.stdout
    res = json.loads((tmp_path / "cnn" / "results.json").read_text(encoding="utf-8"))
    assert {x["corpus"] for x in res["rows"]} == {"trec"}
    assert {x["model"] for x in res["rows"]} == {"TF-IDF + LogReg", "TextCNN-rand"}
    assert res["selection"] == {"corpora": ["trec"], "variants": ["rand"]} and not (tmp_path / "embeddings").exists()
    bad = run("bench", "cluster", "--datasets", "mr", "--out", str(tmp_path / "x"))
    assert bad.returncode == 2 and "--datasets mr: none of the tasks cluster has it; they have bbc, r8, 20ng" in bad.stderr
    assert not (tmp_path / "x").exists()
