"""The leaderboard is built from the committed benchmark JSON, not typed by hand."""
import json
import re
from pathlib import Path

import pytest

from textmine.bench.leaderboard import classification_board, clustering_board, embeddings_board, leaderboard_markdown, load_results

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "bench"


def test_committed_results_are_full_runs_with_their_environment():
    results = load_results(RESULTS)
    assert {"cnn", "cluster", "embeddings"} <= set(results)
    for task, r in results.items():
        assert not r["quick"] and r["seeds"] and r["environment"]["cpus"] >= 1, task
        assert r["rows"], task


def test_boards_agree_with_the_rows():
    results = load_results(RESULTS)
    board = classification_board(results)
    rows = [r for r in results["cnn"]["rows"] if r["corpus"] == "mr" and r["model"] == "TextCNN-rand"]
    mean = sum(r["accuracy"] for r in rows) / len(rows)
    assert board.loc["mr", "TextCNN-rand"].strip("*").startswith(f"{mean:.3f}")
    assert clustering_board(results).loc["bbc"].str.startswith("**").sum() == 1   # one best per corpus
    assert "words/s" in embeddings_board(results).columns


def test_duplicates_count_once_and_quick_runs_are_skipped(tmp_path):
    row = {"corpus": "c", "model": "m", "seed": 0, "accuracy": 0.5}
    for task, quick, acc in (("a", False, 0.5), ("b", False, 0.9), ("q", True, 0.1)):
        (tmp_path / task).mkdir()
        (tmp_path / task / "results.json").write_text(json.dumps(
            {"task": task, "quick": quick, "seeds": [0], "rows": [{**row, "accuracy": acc}]}), encoding="utf-8")
    results = load_results(tmp_path)
    assert set(results) == {"a", "b"}
    board = classification_board(results)   # two different measurements of one model: both kept, the second renamed
    assert board.loc["c", "m"] == "0.500" and board.loc["c", "m (b bench)"] == "**0.900**"
    assert "(not run yet)" in leaderboard_markdown(tmp_path)


def test_bad_folders_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a folder"): load_results(tmp_path / "nope")
    (tmp_path / "x").mkdir(); (tmp_path / "x" / "results.json").write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match="is not valid JSON"): load_results(tmp_path)


def test_validation_scores_stay_off_the_classification_board(tmp_path):
    runs = {"cnn": {"corpus": "c", "model": "m", "seed": 0, "accuracy": 0.5},
            "rnn-tuning": {"corpus": "c", "setting": "dropout 0.1", "seed": 0, "validation_accuracy": 0.9}}
    for task, row in runs.items():
        (tmp_path / task).mkdir()
        (tmp_path / task / "results.json").write_text(json.dumps(
            {"task": task, "quick": False, "seeds": [0], "rows": [row], "environment": {"cpus": 2}}), encoding="utf-8")
    assert list(classification_board(load_results(tmp_path)).columns) == ["m"]
    classification = leaderboard_markdown(tmp_path).split("### Clustering")[0]
    assert "`textmine bench cnn`" in classification and "rnn-tuning" not in classification


@pytest.mark.parametrize("task, module, grid_name, key", [
    ("rnn-tuning", "RNN_CORPORA", "RNN_TUNING_GRID", "rnn"), ("cnn-tuning", "CNN_CORPORA", "CNN_TUNING_GRID", "cnn")])
def test_benchmark_settings_are_the_winners_of_the_committed_tuning_runs(task, module, grid_name, key):
    "Each corpus's benchmark settings are the grid entry with the best mean validation accuracy, never a test-split pick."
    import pandas as pd
    import textmine.bench.classification as mod
    table, grid = getattr(mod, module), getattr(mod, grid_name)
    res = json.loads((RESULTS / task / "results.json").read_text(encoding="utf-8"))
    assert res["task"] == task and not res["quick"] and len(res["seeds"]) >= 3
    assert all("accuracy" not in r for r in res["rows"])   # validation scores never pass for test accuracy
    means = pd.DataFrame(res["rows"]).groupby(["corpus", "setting"])["validation_accuracy"].mean()
    for corpus, best in res["best"].items():
        assert set(means[corpus].index) == set(grid) and means[corpus].idxmax() == best
        assert res["best_settings"][corpus] == grid[best]
        shared = grid[next(iter(grid))]   # the first grid entry is the benchmark's shared setting
        assert table[corpus].get(key, shared) == grid[best], corpus


def test_readme_leaderboard_cells_are_the_reports_cells():
    "Every score cell of the README's classification and clustering tables stands, as written, in a committed report."
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    reports = " ".join(re.sub(r" *\| *", "|", p.read_text(encoding="utf-8")) for p in RESULTS.glob("*/report.md"))
    cells = []
    for title in ("### Classification: test-split accuracy", "### Clustering: NMI against the true classes"):
        table = [l for l in readme.split(title)[1].split("###")[0].splitlines() if l.startswith("|")][2:]
        cells += [c.strip().strip("*") for l in table for c in l.strip().strip("|").split("|")[1:] if c.strip() != "-"]
    assert len(cells) > 60
    missing = [c for c in cells if f"|{c}|" not in reports]
    assert not missing, missing
