"""Cluster-wide model search: GridSearchCV over a scratchnet MLPClassifier, its fits on Dask workers.

    python examples/dask_model_search.py [--quick]               # a LocalCluster of 2 processes
    python examples/dask_model_search.py --scheduler tcp://host:8786  # a running cluster
    python examples/dask_model_search.py --compare                # also n_jobs=1 here, and compare

scikit-learn's search hands its fits to joblib; ``joblib.parallel_backend("dask")`` sends them to
the workers of a ``distributed.Client``. Each fit logs an event on its worker, so the script can
say which worker process ran how many fits. The refit of the best candidate runs here, in the client
process. Needs ``dask[distributed]`` (``pip install scratchnet[dask]``); docs/model-search.md.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from collections import Counter

from _common import Timer, parse, parser

from scratchnet.sklearn import MLPClassifier

TOPIC = "scratchnet-fit"  # the event topic each fit logs on its worker


class RecordedMLPClassifier(MLPClassifier):
    """`MLPClassifier` that logs ``{"worker", "pid"}`` on the Dask worker where it is fitted.

    Defined in this script, so Dask sends the class itself to the workers (cloudpickle); outside a
    worker (the refit, or a search with plain joblib) it logs nothing.
    """

    def fit(self, X, y, *args, **kwargs):
        try:
            from distributed import get_worker

            worker = get_worker()
        except (ImportError, ValueError):  # not on a Dask worker
            worker = None
        if worker is not None:
            worker.log_event(TOPIC, {"worker": worker.address, "pid": os.getpid()})
        return super().fit(X, y, *args, **kwargs)


def fits_per_worker(client, since: float, expected: int, wait: float = 10.0) -> Counter:
    """(worker address, pid) -> number of fits logged since ``since`` (scheduler clock).

    Events reach the scheduler a moment after the task that logged them, so wait (a few seconds at
    most) until all ``expected`` fits are there.
    """
    deadline = time.monotonic() + wait
    while True:
        events = [msg for t, msg in client.get_events(TOPIC) if t >= since]
        if len(events) >= expected or time.monotonic() > deadline:
            return Counter((msg["worker"], msg["pid"]) for msg in events)
        time.sleep(0.1)


def main(argv=None) -> float:
    p = parser(__doc__.splitlines()[0])
    p.add_argument(
        "--scheduler", default=None, help="address of a running scheduler (default: a LocalCluster)"
    )
    p.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    p.add_argument(
        "--compare", action="store_true", help="also run the search with n_jobs=1 here, compare"
    )
    args = parse(p, argv)
    try:
        import joblib
        from distributed import Client, LocalCluster
    except ImportError as e:
        sys.exit(f"this example needs dask[distributed] (pip install scratchnet[dask]): {e}")
    from sklearn.base import clone
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV, ParameterGrid, train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                        random_state=args.seed)  # fmt: skip
    pipe = Pipeline([
        ("scale", StandardScaler()),
        ("mlp", RecordedMLPClassifier(max_iter=5 if args.quick else 200, random_state=args.seed,
                                      backend=args.backend, device=args.device)),
    ])  # fmt: skip
    grid = {
        "mlp__hidden_layer_sizes": [(32,), (64,)] if args.quick else [(64,), (128,)],
        "mlp__learning_rate_init": [1e-3, 1e-2],
        "mlp__alpha": [1e-4] if args.quick else [1e-4, 1e-2],
    }
    cv = 2 if args.quick else 3
    search = GridSearchCV(pipe, grid, cv=cv, n_jobs=-1)
    n_fits = cv * len(ParameterGrid(grid))

    cluster = client = None
    try:
        with Timer() as t_start:
            if args.scheduler:
                client = Client(args.scheduler, timeout="30s")
            else:
                cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                       processes=True, dashboard_address=None)  # fmt: skip
                client = Client(cluster)
        workers = client.scheduler_info()["workers"]
        where = args.scheduler or f"a LocalCluster of {args.workers} processes"
        print(f"cluster: {where}, {len(workers)} workers, {sum(client.ncores().values())} "
              f"threads (connected in {t_start.seconds:.1f} s)")  # fmt: skip
        since = client.run_on_scheduler(time.time)  # the scheduler's clock stamps the events
        with Timer() as t, warnings.catch_warnings():
            # with --quick the fits stop at max_iter=5, long before they converge (the workers' own
            # warnings stay in their logs; this silences the refit's, here)
            warnings.simplefilter("ignore", ConvergenceWarning)
            with joblib.parallel_backend("dask"):
                search.fit(X_train, y_train)
        counts = fits_per_worker(client, since, n_fits)
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    accuracy = search.score(X_test, y_test)
    print(f"best parameters {search.best_params_} (cv accuracy {search.best_score_:.4f})")
    print(f"test accuracy {accuracy:.4f}; the search ({n_fits} fits on the cluster, then the refit "
          f"here) took {t.seconds:.1f} s; fits per worker process:")  # fmt: skip
    for (worker, pid), n in sorted(counts.items()):
        print(f"  {worker} (pid {pid}): {n} fits")
    if sum(counts.values()) != n_fits:
        print(f"  ({n_fits - sum(counts.values())} fits logged no event in time)")

    result = {
        "best_params": {k: list(v) if isinstance(v, tuple) else v
                        for k, v in search.best_params_.items()},
        "cv_accuracy": float(search.best_score_),
        "test_accuracy": float(accuracy),
        "mean_test_score": search.cv_results_["mean_test_score"].tolist(),
        "search_seconds": t.seconds,
        "fits_per_worker": [{"worker": w, "pid": pid, "fits": n}
                            for (w, pid), n in sorted(counts.items())],
    }  # fmt: skip
    if args.compare:
        local = GridSearchCV(clone(pipe), grid, cv=cv, n_jobs=1)
        with Timer() as t_local, warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            local.fit(X_train, y_train)
        same = bool(
            (local.cv_results_["mean_test_score"] == search.cv_results_["mean_test_score"]).all()
        )
        print(f"n_jobs=1 in this process: {t_local.seconds:.1f} s; "
              f"cv scores {'identical' if same else 'DIFFERENT'} to the cluster's")  # fmt: skip
        result.update(local_seconds=t_local.seconds, identical_to_local=same)
    (args.out / "dask_model_search.json").write_text(json.dumps(result, indent=2) + "\n")
    return accuracy


if __name__ == "__main__":
    main()
