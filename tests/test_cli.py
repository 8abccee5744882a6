"""The textmine command, run as a user runs it: a separate process."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from textmine.data import carrier_requirements

# the console script installed beside this interpreter, as a user would run it
TEXTMINE = [str(Path(sys.executable).with_name("textmine"))]


def run(*args, **kw):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(TEXTMINE + list(args), capture_output=True, text=True, env=env, timeout=600, **kw)


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


def test_demo_quick_writes_report_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "demo"
    r = run("demo", "--quick", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "TF-IDF + LogReg" in r.stdout and "TF-IDF + KMeans" in r.stdout
    saved = json.loads((out / "results.json").read_text())
    assert {row["dataset"] for row in saved["rows"]} == {"mr", "trec", "bbc"}
    assert saved["settings"] == {"seed": 0, "quick": True}
    report = (out / "report.md").read_text()
    assert "| dataset | model |" in report and "![" in report
    for line in report.splitlines():
        if line.startswith("!["):
            assert (out / line.split("(")[1].rstrip(")")).is_file()
    r = run("demo", "--quick", "--out", str(out))
    assert r.returncode == 2 and "pass --force" in r.stderr and "Traceback" not in r.stderr
    again = run("demo", "--quick", "--out", str(out), "--force", "--quiet")
    assert again.returncode == 0 and again.stdout == ""
    rows = json.loads((out / "results.json").read_text())["rows"]
    strip = lambda rs: [{k: v for k, v in r.items() if k != "seconds"} for r in rs]
    assert strip(rows) == strip(saved["rows"])  # same seed, same numbers


def test_bad_arguments_exit_nonzero_without_traceback():
    r = run("demo", "--seed", "abc")
    assert r.returncode == 2 and "invalid int value" in r.stderr
    r = run("nosuchcommand")
    assert r.returncode == 2 and "Traceback" not in r.stderr
