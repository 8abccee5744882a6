"""Execute notebooks at full size, store their outputs, and record in each what produced them and how long it ran.

    python tools/execute_pages.py                 # every page: nbs/*.ipynb, nbs/solutions/*.ipynb, the index last
    python tools/execute_pages.py 07_rnn          # one page (or several), then the index, whose run-time table reads them

Each page runs in a fresh python3 kernel with its folder as working directory, one at a time, with
- TQDM_DISABLE=1: progress bars would be stored as frozen widgets or raw text;
- TF_CPP_MIN_LOG_LEVEL=2 and a kernel that does not copy what C and C++ libraries write to file descriptors 1 and 2
  into the notebook (`--IPKernelApp.capture_fd_output=False`): TensorFlow's native log lines (oneDNN, absl) go to this
  terminal, not into stored outputs; what Python code prints, warnings included, is still stored, so
  `tools/check_pages.py` catches it;
- no IN_TEST: full size, as readers run it.
The record (`metadata.textmine_execution`: the inputs' hashes and the measured seconds) is what check_pages compares;
then nbdev_clean tidies the notebook as it does for every commit.
"""
import argparse, json, os, subprocess, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_pages import KEY, NBS, ROOT, inputs, pages, reads_run_times  # noqa: E402

ENV = {"TQDM_DISABLE": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
KERNEL_ARGS = ["--IPKernelApp.capture_fd_output=False"]


def kernel_args() -> list:
    "KERNEL_ARGS less those the python3 kernelspec already passes (`make install` writes them there for JupyterLab)."
    from jupyter_client.kernelspec import KernelSpecManager
    try: argv = KernelSpecManager().get_kernel_spec("python3").argv
    except Exception: argv = []
    return [a for a in KERNEL_ARGS if a not in argv]


def find(name: str) -> Path:
    "The notebook a name means: `07_rnn`, `07_rnn.ipynb`, `nbs/07_rnn.ipynb` or `solutions/07_rnn_solutions`."
    p = Path(name)
    for cand in (p, NBS / p, ROOT / p):
        for c in (cand, cand.with_name(cand.name + ".ipynb")):
            if c.is_file() and c.suffix == ".ipynb": return c.resolve()
    matches = [q for q in pages() if q.stem == p.stem]
    if len(matches) == 1: return matches[0]
    raise SystemExit(f"execute: no notebook {name!r} in {NBS.relative_to(ROOT)}/ (try e.g. 07_rnn or solutions/07_rnn_solutions)"
                     if not matches else f"execute: {name!r} is ambiguous: {[str(m.relative_to(NBS)) for m in matches]}")


def order(paths):
    "Pages in the order they run: chapters, then their solutions, the index last (it shows the others' run times)."
    return sorted(set(paths), key=lambda p: (p.stem == "index", len(p.relative_to(NBS).parts), p))


def execute(path: Path, timeout: int = 3600) -> float:
    "Run one notebook in a fresh kernel, store its outputs and execution record, clean it; returns the seconds it ran."
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    for k, v in ENV.items(): os.environ[k] = v
    os.environ.pop("IN_TEST", None)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", extra_arguments=kernel_args(),
                            resources={"metadata": {"path": str(path.parent)}})
    t0 = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - t0
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    nb.metadata[KEY] = {"inputs": inputs(path, nb), "seconds": round(seconds, 1), "cpus": cpus}
    nbformat.write(nb, path)
    clean = Path(sys.executable).with_name("nbdev_clean")
    subprocess.run([str(clean) if clean.exists() else "nbdev_clean", "--fname", str(path)], cwd=ROOT, check=True)
    if KEY not in json.loads(path.read_text(encoding="utf-8")).get("metadata", {}):
        raise SystemExit(f"execute: nbdev_clean dropped metadata.{KEY}: list it in settings.ini's allowed_metadata_keys")
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebooks to run (default: every page)")
    parser.add_argument("--no-index", action="store_true", help="do not re-run the index after the named pages")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds one cell may run (default: %(default)s)")
    args = parser.parse_args(argv)
    todo = [find(n) for n in " ".join(args.names).split()] or pages()
    index = NBS / "index.ipynb"
    if not args.no_index and index.exists() and index not in todo and reads_run_times(json.loads(index.read_text())):
        todo.append(index)  # its run-time table shows what the pages just recorded
    failed = []
    for path in order(todo):
        name = path.relative_to(NBS).as_posix()
        print(f"execute: {name} ...", flush=True)
        try: print(f"execute: {name} ran in {execute(path, args.timeout):.1f} s", flush=True)
        except Exception as e:  # a failing cell: keep the stored notebook as it was, go on with the others
            failed.append(name)
            print(f"execute: {name} FAILED, not saved:\n{str(e)[-3000:]}", file=sys.stderr, flush=True)
    if failed: print(f"execute: {len(failed)} failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
