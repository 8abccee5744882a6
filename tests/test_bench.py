"""The leaderboard is built from the committed benchmark JSON, not typed by hand."""
import json
from pathlib import Path

import pytest

from textmine.bench import classification_board, clustering_board, embeddings_board, leaderboard_markdown, load_results

RESULTS = Path(__file__).resolve().parents[1] / "results" / "bench"


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
            {"task": task, "quick": quick, "seeds": [0], "rows": [{**row, "accuracy": acc}]}))
    results = load_results(tmp_path)
    assert set(results) == {"a", "b"}
    board = classification_board(results)   # two different measurements of one model: both kept, the second renamed
    assert board.loc["c", "m"] == "0.500" and board.loc["c", "m (b bench)"] == "**0.900**"
    assert "(not run yet)" in leaderboard_markdown(tmp_path)


def test_bad_folders_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a folder"): load_results(tmp_path / "nope")
    (tmp_path / "x").mkdir(); (tmp_path / "x" / "results.json").write_text("{")
    with pytest.raises(ValueError, match="is not valid JSON"): load_results(tmp_path)
