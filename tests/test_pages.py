"""tools/check_pages.py and tools/execute_pages.py: each check of the stored outputs fails on a scratch notebook that
has the fault, and passes on one that does not; executing a page stores its outputs and its execution record."""
import configparser
import json
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import check_pages as cp  # noqa: E402
import execute_pages as ex  # noqa: E402


@pytest.fixture
def repo(tmp_path, monkeypatch):
    "A scratch repository (no git): a two-module `textmine` package, a results file and an nbs/ folder."
    lib = tmp_path / "textmine"
    (lib / "bench").mkdir(parents=True)
    (lib / "__init__.py").write_text('__version__ = "0.0.1"\n')
    (lib / "core.py").write_text("def twice(x): return 2 * x\n")
    (lib / "data.py").write_text("from .core import twice\n")
    (lib / "bench" / "__init__.py").write_text("")
    (lib / "bench" / "common.py").write_text("X = 1\n")  # imported by nothing below
    (tmp_path / "results" / "bench" / "cnn").mkdir(parents=True)
    (tmp_path / "results" / "bench" / "cnn" / "results.json").write_text('{"accuracy": 0.75}')
    (tmp_path / "nbs").mkdir()
    monkeypatch.setattr(cp, "ROOT", tmp_path)
    monkeypatch.setattr(cp, "LIB", lib)
    monkeypatch.setattr(cp, "NBS", tmp_path / "nbs")
    monkeypatch.delenv("PAGES_ALLOW_UNRECORDED", raising=False)
    return tmp_path


def notebook(*cells, outputs=None):
    "A notebook of code cells (markdown where a cell starts with '# '), each with the outputs given for it."
    nb = nbformat.v4.new_notebook()
    for i, src in enumerate(cells):
        if src.startswith("# "): nb.cells.append(nbformat.v4.new_markdown_cell(src))
        else: nb.cells.append(nbformat.v4.new_code_cell(src, outputs=(outputs or {}).get(i, [])))
    return nb


def stdout(text): return [nbformat.v4.new_output("stream", name="stdout", text=text)]


def save(repo, nb, name="page.ipynb", record=True):
    "Write `nb` into the scratch nbs/, with the execution record `make execute` would store when `record`."
    path = repo / "nbs" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if record: nb.metadata[cp.KEY] = {"inputs": cp.inputs(path, json.loads(nbformat.writes(nb))), "seconds": 1.0}
    nbformat.write(nb, path)
    return path


PAGE = ("from textmine.data import twice", 'print(twice(2))',
        'import json\nprint(json.load(open("../results/bench/cnn/results.json")))')
PAGE_OUT = {1: stdout("4\n"), 2: stdout("{'accuracy': 0.75}\n")}


def test_a_recorded_page_passes(repo):
    assert cp.check(save(repo, notebook(*PAGE, outputs=PAGE_OUT))) == []


def test_what_the_record_covers(repo):
    "The page's code cells, the modules it imports followed through their imports, and the results files it names."
    path = save(repo, notebook(*PAGE, outputs=PAGE_OUT))
    assert set(cp.recorded(path)["inputs"]) == {"code cells", "textmine/__init__.py", "textmine/data.py", "textmine/core.py",
                                                 "results/bench/cnn/results.json"}


def test_stale_when_a_code_cell_changes(repo):
    path = save(repo, notebook(*PAGE, outputs=PAGE_OUT))
    nb = json.loads(path.read_text())
    nb["cells"][1]["source"] = "print(twice(3))"
    path.write_text(json.dumps(nb))
    assert cp.check(path) == ["stale: outputs were produced by different code; changed since `make execute`: code cells"]


def test_stale_when_a_module_it_imports_indirectly_changes(repo):
    path = save(repo, notebook(*PAGE, outputs=PAGE_OUT))
    (repo / "textmine" / "bench" / "common.py").write_text("X = 2\n")  # not imported: still fresh
    assert cp.check(path) == []
    (repo / "textmine" / "core.py").write_text("def twice(x): return x + x\n")  # imported by textmine.data
    assert cp.check(path) == ["stale: outputs were produced by different code; changed since `make execute`: textmine/core.py"]


def test_stale_when_a_results_file_it_reads_changes(repo):
    path = save(repo, notebook(*PAGE, outputs=PAGE_OUT))
    (repo / "results" / "bench" / "cnn" / "results.json").write_text('{"accuracy": 0.76}')
    assert cp.check(path) == ["stale: outputs were produced by different code; changed since `make execute`: "
                              "results/bench/cnn/results.json"]


def test_unrecorded_fails_unless_skipped_by_the_escape(repo, monkeypatch):
    path = save(repo, notebook(*PAGE, outputs=PAGE_OUT), record=False)
    assert len(cp.check(path)) == 1 and cp.check(path)[0].startswith("unrecorded:")
    empty = save(repo, notebook("print(1)"), "empty.ipynb", record=False)
    monkeypatch.setenv("PAGES_ALLOW_UNRECORDED", "1")  # unrecorded pages are skipped whole
    assert cp.check(path) == [] and cp.check(empty) == []
    recorded_empty = save(repo, notebook("print(1)"), "recorded.ipynb")  # a recorded page is still checked
    assert cp.check(recorded_empty)[0].startswith("empty:")
    monkeypatch.setenv("PAGES_ALLOW_UNRECORDED", "0")  # only "1" skips
    assert cp.check(path)[0].startswith("unrecorded:")


def test_a_page_showing_run_times_goes_stale_when_another_page_records_new_ones(repo):
    other = save(repo, notebook("x = 1"), "01_other.ipynb")
    index = save(repo, notebook(f'import json\nprint(json.load(open("01_other.ipynb"))["metadata"]["{cp.KEY}"]["seconds"])',
                                outputs={0: stdout("1.0\n")}), "index.ipynb")
    assert cp.check(index) == []
    nb = json.loads(other.read_text())
    nb["metadata"][cp.KEY]["seconds"] = 2.0
    other.write_text(json.dumps(nb))
    assert cp.check(index) == ["stale: outputs were produced by different code; changed since `make execute`: run times"]


@pytest.mark.parametrize("src", ["print(1)", "x = 2\nx", "df.head()", "import matplotlib.pyplot as plt\nplt.plot([1, 2])",
                                 "plt.plot([1, 2]);",  # `;` hides the value, not the figure
                                 "for i in range(2):\n    print(i)", "display(x)", "x = 1\n!echo hi"])
def test_empty_output_fails(repo, src):
    path = save(repo, notebook(src))
    problems = cp.check(path)
    assert len(problems) == 1 and problems[0].startswith("empty: cell 0 has no output"), problems


@pytest.mark.parametrize("src", ["x = 1", "#| hide\nprint(1)", "#| export\ndef f(): print(1)", "def f():\n    print(1)",
                                 "#| no-output\nprint(1) if False else None", "x = 1;", "xs.append(1)", "time.sleep(1)",
                                 "test_eq(1, 1)", "#| eval: false\nprint(1)", "%%capture\nprint(1)", "import os"])
def test_cells_that_need_no_output_pass(repo, src):
    assert cp.check(save(repo, notebook(src))) == []


NOISE = {
    "stderr": [nbformat.v4.new_output("stream", name="stderr", text="some message\n")],
    "an error": [nbformat.v4.new_output("error", ename="ValueError", evalue="bad", traceback=["ValueError: bad"])],
    "absl": stdout("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"),
    "tf log": stdout("I0000 00:00:1720000000.1 12345 port.cc:153] oneDNN custom operations are on.\n"),
    "oneDNN": stdout("oneDNN custom operations are on. You may see slightly different numerical results\n"),
    "retracing": stdout("WARNING:tensorflow:5 out of the last 5 calls to <function f> triggered tf.function retracing.\n"),
    "warning": stdout("UserWarning: Your input ran out of data\n"),
    "carriage return": stdout("epoch 1\repoch 2\n"),
    "tqdm": stdout("training: 100%|██████████| 34/34 [00:02<00:00, 14.2it/s]\n"),
    "keras bar": stdout("10/10 [==============================] - 1s 5ms/step\n"),
    "tmp path": stdout("saved to /tmp/tmpab12/model.keras\n"),
    "home path": stdout("/home/reader/textmine/nbs\n"),
    "venv path": [nbformat.v4.new_output("execute_result", data={"text/plain": "'.venv/lib/python3.11/site-packages/x.py'"})],
    "html path": [nbformat.v4.new_output("display_data", data={"text/html": "<td>/root/data.csv</td>"})],
    "widget": [nbformat.v4.new_output("display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": "a"}})],
}


@pytest.mark.parametrize("kind", NOISE)
def test_noisy_output_fails(repo, kind):
    path = save(repo, notebook("print(1)", outputs={0: NOISE[kind]}))
    problems = cp.check(path)
    assert problems and all(p.startswith("noisy: cell 0 ") for p in problems), problems


def test_clean_outputs_pass(repo):
    "Numbers, tables, pictures and prose that merely mention a warning or a path-like word are fine."
    outs = {0: stdout("accuracy 0.748 ± 0.004 over 5 runs\n"),
            1: [nbformat.v4.new_output("display_data", data={"text/markdown": "| model | acc |\n|---|---|\n| cnn | 0.75 |",
                                                             "image/png": "iVBORw0KGgo="})],
            2: stdout("results go to results/bench/cnn (a warning sign: training accuracy above test accuracy)\n")}
    assert cp.check(save(repo, notebook("print(1)", "display(x)", "print(2)", outputs=outs))) == []


def test_main_names_the_failing_notebook(repo, capsys):
    good = save(repo, notebook("print(1)", outputs={0: stdout("1\n")}), "00_good.ipynb")
    bad = save(repo, notebook("print(1)"), "solutions/01_bad_solutions.ipynb")
    assert cp.main([str(good)]) == 0
    assert cp.main([str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert "nbs/solutions/01_bad_solutions.ipynb:" in out and "00_good" not in out.split("check-pages:")[1]
    assert cp.pages(repo / "nbs") == [good, bad]  # subfolders too


def test_nbdev_clean_keeps_the_record():
    "settings.ini lists the record's key, so the nbdev_clean that every commit runs keeps it."
    from nbdev.clean import clean_nb
    allowed = configparser.ConfigParser()
    allowed.read(ROOT / "settings.ini")
    keys = allowed["DEFAULT"].get("allowed_metadata_keys", "").split()
    assert cp.KEY in keys
    nb = json.loads(nbformat.writes(notebook("x = 1")))
    nb["metadata"][cp.KEY] = {"seconds": 1.0}
    clean_nb(nb, allowed_metadata_keys=keys)
    assert nb["metadata"][cp.KEY] == {"seconds": 1.0}
    clean_nb(nb)  # without the setting it would be dropped: the check above can fail
    assert cp.KEY not in nb["metadata"]


def test_execute_finds_pages_and_runs_the_index_last():
    assert ex.find("80_core") == ex.find("nbs/80_core.ipynb") == ROOT / "nbs" / "80_core.ipynb"
    assert ex.find("solutions/07_rnn_solutions") == ex.find("07_rnn_solutions") == ROOT / "nbs" / "solutions" / "07_rnn_solutions.ipynb"
    with pytest.raises(SystemExit, match="no notebook 'nope'"): ex.find("nope")
    ordered = ex.order(cp.pages())
    assert ordered[-1].name == "index.ipynb" and ordered[0].name.startswith("00_")
    assert all(p.parent.name == "solutions" for p in ordered[ordered.index(next(p for p in ordered if "solutions" in p.parts)):-1])


def test_execute_stores_python_output_but_not_native_stderr(tmp_path, monkeypatch):
    "A real kernel: prints are stored, what C code writes to file descriptor 2 is not, the record and run time are."
    nb = notebook('import os\nos.write(2, b"I0000 00:00:1.0 native log line\\n")\nprint("hello")', "import time\ntime.sleep(0.5)")
    path = tmp_path / "scratch.ipynb"
    nbformat.write(nb, path)
    monkeypatch.setenv("IN_TEST", "1")
    seconds = ex.execute(path, timeout=120)
    stored = json.loads(path.read_text())
    assert [o.get("text") for o in stored["cells"][0]["outputs"]] in (["hello\n"], [["hello\n"]])
    rec = stored["metadata"][cp.KEY]
    assert rec["seconds"] == round(seconds, 1) >= 0.5 and rec["inputs"] == cp.inputs(path, stored) and rec["cpus"] >= 1
    assert cp.check(path) == []
