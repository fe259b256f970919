"""Small data: `scratchnet.sklearn.MLPClassifier` against scikit-learn's, both with defaults.

Most scikit-learn users train on a few thousand rows, where the matrix products are tiny and the
per-step Python work decides the speed. This suite fits both estimators with their defaults
(hidden (100,), ReLU, Adam, batch min(200, n), up to 200 epochs with scikit-learn's stopping rule),
alternating them, on the small real sets scikit-learn ships and two synthetic sets of typical
sizes (2,310 x 18 with 7 classes, the shape of the UCI image-segmentation set; 10,000 x 20). It
prints fit time, epochs, time per epoch, and held-out accuracy, and the ratio scratchnet /
scikit-learn measured in the same run (target: <= 0.5 per epoch). Where Numba is installed, a
third estimator is scratchnet with its ufunc kernels (what it runs without Numba), so the fused
kernels' share shows in the same run.

The alternating fits run in one warm process with Numba's loops loaded (``SCRATCHNET_NUMBA=1``
unless set otherwise): the speed of a process that has trained a while. What a fresh process pays
first is a second table: each estimator imported and fitted twice in a new Python process (iris and
digits), scratchnet under each ``SCRATCHNET_NUMBA`` policy (``auto``, the default, loads the loops
only after 2 s of training; ``1`` loads them before the first step, about a second; ``0`` never).

Run from the repository root::

    python -m benchmarks.small_data            # 5 repeats per set
    python -m benchmarks.small_data --quick    # smoke run: 2 sets, 20 epochs, 1 repeat
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.memory import WorkerError, json_worker

ROOT = Path(__file__).resolve().parents[1]


def datasets(quick: bool) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Name -> (X, y), every set at most 10,000 rows."""
    from sklearn import datasets as skd

    sets = {
        "iris (150 x 4)": skd.load_iris(return_X_y=True),
        "wine (178 x 13)": skd.load_wine(return_X_y=True),
        "breast cancer (569 x 30)": skd.load_breast_cancer(return_X_y=True),
        "digits (1,797 x 64)": skd.load_digits(return_X_y=True),
        "synthetic (2,310 x 18, 7 classes)": skd.make_classification(
            n_samples=2310, n_features=18, n_informative=12, n_classes=7, random_state=0
        ),
        "synthetic (10,000 x 20, 5 classes)": skd.make_classification(
            n_samples=10_000, n_features=20, n_informative=12, n_classes=5, random_state=1
        ),
    }
    if quick:
        keep = ("wine (178 x 13)", "synthetic (2,310 x 18, 7 classes)")
        sets = {k: sets[k] for k in keep}
    return sets


class _UfuncKernelsOnly:
    """Within the block, the cached NumPy backend runs the ufunc kernels, as without Numba.

    Models take their kernels from the backend when they are built (here: in ``fit``), so an
    estimator fitted inside the block trains as it would where Numba is missing.
    """

    def __enter__(self) -> None:
        from scratchnet.backends import get_backend
        from scratchnet.backends.inplace import UfuncKernels

        self.backend = get_backend("numpy")
        self.kept = self.backend.kernels, self.backend.numba_deferred
        self.backend.kernels = UfuncKernels(self.backend.xp, np)
        self.backend.numba_deferred = False  # no switch to the loops inside the block

    def __exit__(self, *exc: object) -> None:
        self.backend.kernels, self.backend.numba_deferred = self.kept


def _fit(make: Any, X: np.ndarray, y: np.ndarray, Xt: np.ndarray, yt: np.ndarray) -> dict:
    if isinstance(make, tuple):  # (maker, context) for the ufunc-kernel variant
        with make[1]():
            return _fit(make[0], X, y, Xt, yt)
    est = make()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter is expected in --quick
        est.fit(X, y)
    seconds = time.perf_counter() - start
    return {
        "fit_s": seconds,
        "epochs": int(est.n_iter_),
        "ms_per_epoch": 1000.0 * seconds / max(int(est.n_iter_), 1),
        "accuracy": float(np.mean(np.asarray(est.predict(Xt)) == yt)),
    }


def run(quick: bool = False, repeats: int = 5, max_iter: int = 200, seed: int = 0) -> dict:
    """Time both estimators on every set; returns the report dict."""
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    from scratchnet.backends import get_backend
    from scratchnet.sklearn import MLPClassifier as ScratchnetMLP

    if quick:
        repeats, max_iter = 1, 20

    def scratchnet() -> ScratchnetMLP:
        return ScratchnetMLP(max_iter=max_iter, random_state=seed)

    makers: dict[str, Any] = {
        "scikit-learn": lambda: SklearnMLP(max_iter=max_iter, random_state=seed),
        "scratchnet": scratchnet,
    }
    kernels = get_backend("numpy").kernels.name
    if kernels == "numba":
        makers["scratchnet-ufunc"] = (scratchnet, _UfuncKernelsOnly)
    rows = []
    for name, (X, y) in datasets(quick).items():
        X_train, X_test, y_train, y_test = _split(X, y, seed)
        _fit(makers["scratchnet"], X_train[:64], y_train[:64], X_test, y_test)  # warm-up
        runs: dict[str, list[dict]] = {k: [] for k in makers}
        for _ in range(repeats):
            for label, make in makers.items():  # alternating, so drift hits both alike
                runs[label].append(_fit(make, X_train, y_train, X_test, y_test))
        row = {"dataset": name, "rows": int(X_train.shape[0])}
        for label, results in runs.items():
            row[label] = {key: statistics.median(r[key] for r in results) for key in results[0]}
        row["ratio_fit"] = row["scratchnet"]["fit_s"] / row["scikit-learn"]["fit_s"]
        row["ratio_epoch"] = row["scratchnet"]["ms_per_epoch"] / row["scikit-learn"]["ms_per_epoch"]
        if "scratchnet-ufunc" in row:  # fused kernels against the ufunc ones, per epoch
            unfused = row["scratchnet-ufunc"]["ms_per_epoch"]
            row["ratio_fused_unfused"] = row["scratchnet"]["ms_per_epoch"] / unfused
        rows.append(row)
    return {
        "suite": "small-data",
        "repeats": repeats,
        "max_iter": max_iter,
        "kernels": kernels,
        "rows": rows,
    }


#: (label, SCRATCHNET_NUMBA) of the first-fit workers; None: scikit-learn's estimator
FIRST_FIT_VARIANTS = (
    ("scikit-learn", None),
    ("scratchnet", "auto"),
    ("scratchnet", "1"),
    ("scratchnet", "0"),
)
FIRST_FIT_SETS = ("iris (150 x 4)", "digits (1,797 x 64)")


def _split(X: np.ndarray, y: np.ndarray, seed: int) -> tuple:
    """The suite's held-out split and scaling: (X_train, X_test, y_train, y_test)."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=seed, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def first_fit_worker(estimator: str, dataset: str, max_iter: int, seed: int) -> dict:
    """In this (fresh) process: import ``estimator``'s class, then fit it twice on ``dataset``.

    Returns ``import_s`` (the estimator's module), ``first_fit_s``, ``second_fit_s`` and, for
    scratchnet, the NumPy backend's kernels after the fits.
    """
    X, y = datasets(False)[dataset]
    X_train, _, y_train, _ = _split(X, y, seed)
    start = time.perf_counter()
    if estimator == "scikit-learn":
        from sklearn.neural_network import MLPClassifier
    else:
        from scratchnet.sklearn import MLPClassifier
    imported = time.perf_counter()
    seconds = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(2):
            begin = time.perf_counter()
            MLPClassifier(max_iter=max_iter, random_state=seed).fit(X_train, y_train)
            seconds.append(time.perf_counter() - begin)
    out = {"import_s": imported - start, "first_fit_s": seconds[0], "second_fit_s": seconds[1]}
    if estimator == "scratchnet":
        from scratchnet.backends import get_backend

        out["kernels_after"] = get_backend("numpy").kernels.name
    return out


def first_fits(quick: bool, max_iter: int, seed: int) -> list[dict]:
    """`first_fit_worker` in a new process per (data set, variant); quick: iris only."""
    rows = []
    for dataset in FIRST_FIT_SETS[:1] if quick else FIRST_FIT_SETS:
        for label, switch in FIRST_FIT_VARIANTS:
            env = {} if switch is None else {"SCRATCHNET_NUMBA": switch}
            args = ["--first-fit-worker", label, dataset, "--max-iter", str(max_iter)]
            row = {"dataset": dataset, "estimator": label, "SCRATCHNET_NUMBA": switch}
            try:
                row.update(json_worker("benchmarks.small_data", [*args, "--seed", str(seed)], env))
            except WorkerError as exc:
                row["error"] = str(exc)
            rows.append(row)
    return rows


def _first_fit_markdown(rows: list[dict]) -> list[str]:
    lines = [
        "",
        "First fits in a fresh process (import, then two fits of the same estimator):",
        "",
        "| data set | estimator | SCRATCHNET_NUMBA | import s | first fit s | second fit s "
        "| kernels after |",
        "| --- | --- | --- | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        switch = r["SCRATCHNET_NUMBA"] or ""
        if "error" in r:
            lines.append(f"| {r['dataset']} | {r['estimator']} | {switch} | {r['error']} |||||")
            continue
        lines.append(
            f"| {r['dataset']} | {r['estimator']} | {switch} | {r['import_s']:.2f} "
            f"| {r['first_fit_s']:.3f} | {r['second_fit_s']:.3f} | {r.get('kernels_after', '')} |"
        )
    return lines


def markdown(report: dict) -> str:
    """The report as a Markdown table."""
    unfused = all("scratchnet-ufunc" in r for r in report["rows"]) and report["rows"]
    lines = [
        f"Small data, scikit-learn defaults, medians of {report['repeats']} alternating fits "
        f"(scratchnet kernels: {report['kernels']}).",
        "",
        "| data set | sklearn fit s | epochs | ms/epoch | acc | scratchnet fit s | epochs "
        "| ms/epoch | acc | ratio per epoch | ratio fit |"
        + (" ufunc kernels ms/epoch | fused / ufunc |" if unfused else ""),
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        + (" ---: | ---: |" if unfused else ""),
    ]
    for r in report["rows"]:
        sk, sn = r["scikit-learn"], r["scratchnet"]
        line = (
            f"| {r['dataset']} | {sk['fit_s']:.3f} | {sk['epochs']:.0f} | {sk['ms_per_epoch']:.2f} "
            f"| {sk['accuracy']:.4f} | {sn['fit_s']:.3f} | {sn['epochs']:.0f} "
            f"| {sn['ms_per_epoch']:.2f} | {sn['accuracy']:.4f} | {r['ratio_epoch']:.2f} "
            f"| {r['ratio_fit']:.2f} |"
        )
        if unfused:
            line += (
                f" {r['scratchnet-ufunc']['ms_per_epoch']:.2f} | {r['ratio_fused_unfused']:.2f} |"
            )
        lines.append(line)
    if report.get("first_fits"):
        lines += _first_fit_markdown(report["first_fits"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.small_data", description=__doc__)
    p.add_argument("--quick", action="store_true", help="2 sets, 20 epochs, 1 repeat")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--max-iter", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--no-first-fit", action="store_true", help="skip the fresh-process table")
    p.add_argument("--first-fit-worker", nargs=2, metavar=("ESTIMATOR", "DATASET"),
                   help=argparse.SUPPRESS)  # fmt: skip
    args = p.parse_args(argv)
    if args.first_fit_worker:
        estimator, dataset = args.first_fit_worker
        print(json.dumps(first_fit_worker(estimator, dataset, args.max_iter, args.seed)))
        return 0
    os.environ.setdefault("SCRATCHNET_NUMBA", "1")  # the alternating fits: the steady state
    report = run(args.quick, args.repeats, args.max_iter, args.seed)
    if not args.no_first_fit:
        report["first_fits"] = first_fits(
            args.quick, 20 if args.quick else args.max_iter, args.seed
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "small_data.json").write_text(json.dumps(report, indent=1) + "\n")
    text = markdown(report)
    (out / "small_data.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
