"""Accuracy parity: `scratchnet.sklearn.MLPClassifier` against scikit-learn's, both with defaults.

Both estimators keep every default (hidden (100,), ReLU, Adam, batch min(200, n), up to 200 epochs
with scikit-learn's stopping rule, scratchnet's default ``init`` = scikit-learn's Glorot uniform
initialisation) and get the same ``random_state``; only held-out accuracy is compared, as the mean
over seeds 0, 1, ... (each seed also draws a new split). The data sets are every real one at
hand:

- scikit-learn's bundled iris, wine, breast cancer and digits: a stratified 75/25 split per seed,
  standardised with a `StandardScaler` fitted on the training part;
- MNIST and Fashion-MNIST where their IDX files are found (``--mnist PATH`` / ``--fashion-mnist
  PATH``, else the folders `scratchnet.datasets.load_mnist` searches, without downloading): a
  stratified subsample of 10,000 rows of the official training set and 2,000 of the test set per
  seed, pixels divided by 255. A set that is not found is listed as skipped.

The table gives per set the mean accuracy of each estimator, the difference scratchnet minus
scikit-learn in percentage points, the largest per-seed difference and the mean epochs.

Run from the repository root::

    python -m benchmarks.sklearn_parity            # every set, 3 seeds (minutes)
    python -m benchmarks.sklearn_parity --quick    # the four small sets, 1 seed
    python -m benchmarks.sklearn_parity --compare-init auto   # plus a column for init="auto"
    python -m benchmarks.sklearn_parity --threads 1   # one BLAS thread (a busy machine)

On 2 busy cores with one BLAS thread the full run takes about a quarter of an hour (the image
sets: about a minute per fit); ``--quick`` under a minute.
"""

from __future__ import annotations

import argparse
import contextlib
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: rows kept of each image set's official training and test files
IMAGE_TRAIN, IMAGE_TEST = 10_000, 2_000
SMALL_SETS = ("iris", "wine", "breast_cancer", "digits")
IMAGE_SETS = ("mnist", "fashion_mnist")


@dataclass
class Split:
    """One seed's training and held-out rows of a data set."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


@dataclass
class DataSet:
    """A named set and how to split it for a seed (or why it is missing)."""

    name: str
    splits: Callable[[int], Split] | None
    shape: str = ""
    skipped: str = ""


@dataclass
class Row:
    """Per-seed results of one data set."""

    name: str
    shape: str
    accuracy: dict[str, list[float]] = field(default_factory=dict)
    epochs: dict[str, list[int]] = field(default_factory=dict)
    seconds: dict[str, list[float]] = field(default_factory=dict)
    skipped: str = ""


def _small_set(name: str) -> DataSet:
    from sklearn import datasets as skd
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = getattr(skd, f"load_{name}")(return_X_y=True)

    def split(seed: int) -> Split:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.25, random_state=seed, stratify=y
        )
        scaler = StandardScaler().fit(X_train)
        return Split(scaler.transform(X_train), y_train, scaler.transform(X_test), y_test)

    shape = f"{X.shape[0]:,} x {X.shape[1]}, 75/25"
    return DataSet(name.replace("_", " "), split, shape)


def _image_set(name: str, path: str | None) -> DataSet:
    from sklearn.model_selection import train_test_split

    from scratchnet.datasets import DatasetNotFoundError, load_fashion_mnist, load_mnist

    loader = load_mnist if name == "mnist" else load_fashion_mnist
    title = (
        name.replace("_", "-").replace("fashion-mnist", "Fashion-MNIST").replace("mnist", "MNIST")
    )
    try:  # normalize=True divides the pixels by 255
        data = loader(path, download=False, dtype="float64")
    except DatasetNotFoundError:
        option = "--" + name.replace("_", "-")
        return DataSet(title, None, skipped=f"IDX files not found (pass {option} FOLDER)")
    except (OSError, ValueError) as exc:  # unreadable or damaged files
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return DataSet(title, None, skipped=f"unreadable ({first})")

    def subsample(X: np.ndarray, y: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, ...]:
        X_part, _, y_part, _ = train_test_split(X, y, train_size=n, random_state=seed, stratify=y)
        return X_part, y_part

    def split(seed: int) -> Split:
        X_train, y_train = subsample(data.X_train, data.y_train, IMAGE_TRAIN, seed)
        X_test, y_test = subsample(data.X_test, data.y_test, IMAGE_TEST, seed)
        return Split(X_train, y_train, X_test, y_test)

    shape = f"{IMAGE_TRAIN:,} + {IMAGE_TEST:,} x {data.X_train.shape[1]}"
    return DataSet(title, split, shape)


def datasets(
    quick: bool = False, mnist: str | None = None, fashion_mnist: str | None = None
) -> Iterator[DataSet]:
    """The small sets, then (unless ``quick``) the image sets, loaded lazily one at a time."""
    for name in SMALL_SETS:
        yield _small_set(name)
    if quick:
        return
    yield _image_set("mnist", mnist)
    yield _image_set("fashion_mnist", fashion_mnist)


def estimators(compare_init: str | None = None) -> dict[str, Callable[[int], Any]]:
    """Label -> factory of a default estimator for a seed."""
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    from scratchnet.sklearn import MLPClassifier as ScratchnetMLP

    makers: dict[str, Callable[[int], Any]] = {
        "scikit-learn": lambda seed: SklearnMLP(random_state=seed),
        "scratchnet": lambda seed: ScratchnetMLP(random_state=seed),
    }
    if compare_init is not None:
        makers[f"scratchnet init={compare_init!r}"] = lambda seed: ScratchnetMLP(
            init=compare_init, random_state=seed
        )
    return makers


def evaluate(
    data: DataSet, seeds: int, makers: dict[str, Callable[[int], Any]], log: Callable = print
) -> Row:
    """Fit every estimator on every seed's split of ``data``."""
    row = Row(data.name, data.shape, skipped=data.skipped)
    if data.splits is None:
        return row
    for label in makers:
        row.accuracy[label], row.epochs[label], row.seconds[label] = [], [], []
    for seed in range(seeds):
        split = data.splits(seed)
        for label, make in makers.items():
            est = make(seed)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter
                est.fit(split.X_train, split.y_train)
            row.seconds[label].append(time.perf_counter() - start)
            accuracy = float(np.mean(est.predict(split.X_test) == split.y_test))
            row.accuracy[label].append(accuracy)
            row.epochs[label].append(int(est.n_iter_))
            log(
                f"  {data.name}, seed {seed}, {label}: accuracy {accuracy:.4f}, "
                f"{est.n_iter_} epochs, {row.seconds[label][-1]:.1f} s"
            )
    return row


def gaps(row: Row, label: str = "scratchnet") -> np.ndarray:
    """Per-seed accuracy differences ``label`` minus scikit-learn, in percentage points."""
    return 100.0 * (np.asarray(row.accuracy[label]) - np.asarray(row.accuracy["scikit-learn"]))


def markdown(rows: list[Row], seeds: int) -> str:
    """The results as a Markdown table."""
    labels = next((list(r.accuracy) for r in rows if r.accuracy), [])
    extra = [k for k in labels if k not in ("scikit-learn", "scratchnet")]
    head = "| data set | rows x features | scikit-learn acc | scratchnet acc | difference (points) "
    head += "| largest per-seed difference | epochs sklearn / scratchnet |"
    rule = "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
    for label in extra:
        head += f" {label} acc | its difference |"
        rule += " ---: | ---: |"
    lines = [
        f"Held-out accuracy, both estimators with their defaults, mean of {seeds} seed(s) "
        "(random_state = split seed = 0, 1, ...); difference = scratchnet - scikit-learn.",
        "",
        head,
        rule,
    ]
    for r in rows:
        if r.skipped:
            lines.append(f"| {r.name} | skipped: {r.skipped} |" + " |" * (5 + 2 * len(extra)))
            continue
        sk, sn = np.mean(r.accuracy["scikit-learn"]), np.mean(r.accuracy["scratchnet"])
        diff = gaps(r)
        worst = diff[np.argmax(np.abs(diff))]
        line = (
            f"| {r.name} | {r.shape} | {100 * sk:.2f} | {100 * sn:.2f} | {diff.mean():+.2f} "
            f"| {worst:+.2f} | {np.mean(r.epochs['scikit-learn']):.0f} / "
            f"{np.mean(r.epochs['scratchnet']):.0f} |"
        )
        for label in extra:
            line += f" {100 * np.mean(r.accuracy[label]):.2f} | {gaps(r, label).mean():+.2f} |"
        lines.append(line)
    return "\n".join(lines)


def run(
    quick: bool = False,
    seeds: int = 3,
    mnist: str | None = None,
    fashion_mnist: str | None = None,
    compare_init: str | None = None,
    log: Callable = print,
) -> list[Row]:
    """Every data set's row (``quick``: the four small sets, one seed)."""
    makers = estimators(compare_init)
    return [
        evaluate(data, 1 if quick else seeds, makers, log)
        for data in datasets(quick, mnist, fashion_mnist)
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.sklearn_parity", description=__doc__)
    p.add_argument("--quick", action="store_true", help="the four small sets, 1 seed")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1 (default 3)")
    p.add_argument("--mnist", help="folder with the four MNIST IDX files")
    p.add_argument("--fashion-mnist", help="folder with the four Fashion-MNIST IDX files")
    p.add_argument(
        "--compare-init", help="also fit scratchnet with this init (e.g. auto, he_normal)"
    )
    p.add_argument("--threads", type=int, help="BLAS threads (default: the library's own)")
    args = p.parse_args(argv)
    if args.seeds < 1:
        p.error("--seeds must be >= 1")
    with contextlib.ExitStack() as stack:
        if args.threads is not None:  # one thread avoids oversubscription on a busy machine
            from threadpoolctl import threadpool_limits

            stack.enter_context(threadpool_limits(args.threads))
        rows = run(args.quick, args.seeds, args.mnist, args.fashion_mnist, args.compare_init)
    print()
    print(markdown(rows, 1 if args.quick else args.seeds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
