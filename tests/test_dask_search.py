"""scikit-learn's model search over scratchnet estimators on a Dask cluster (joblib's dask backend).

One `LocalCluster` of 2 worker processes for the module; each fit logs its worker's pid as a Dask
event, so the test sees where the fits ran (the workers import this module by name: they inherit
the sys.path that pytest's default import mode extends with tests/). The same search with ``n_jobs=1`` in this process gives
identical cross-validation scores: the estimators are bit-reproducible on NumPy, wherever they run.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("dask", reason="needs dask[distributed] (pip install scratchnet[dask])")
distributed = pytest.importorskip(
    "distributed", reason="needs dask[distributed] (pip install scratchnet[dask])"
)
import joblib  # noqa: E402  (scikit-learn's dependency)
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import GridSearchCV, ParameterGrid  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from scratchnet.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

TOPIC = "scratchnet-test-fit"
GRID = {"mlp__hidden_layer_sizes": [(8,), (32,)], "mlp__learning_rate_init": [1e-3, 1e-2]}
CV = 2
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _log_fit() -> None:
    try:
        worker = distributed.get_worker()
    except ValueError:  # not on a worker: the n_jobs=1 search and the refit
        return
    worker.log_event(TOPIC, {"pid": os.getpid(), "worker": worker.address})


class RecordedClassifier(MLPClassifier):
    """Logs the pid of the worker process that fits it (workers import this test module)."""

    def fit(self, X, y, *args, **kwargs):
        _log_fit()
        return super().fit(X, y, *args, **kwargs)


class RecordedRegressor(MLPRegressor):
    def fit(self, X, y, *args, **kwargs):
        _log_fit()
        return super().fit(X, y, *args, **kwargs)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        host="127.0.0.1",
    )  # fmt: skip
    try:
        client = distributed.Client(cluster)
        try:
            client.wait_for_workers(2, timeout=60)
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def _fit_events(client, since: float, expected: int) -> list[dict]:
    """Events logged since ``since`` (scheduler clock); they trail their tasks by a moment."""
    deadline = time.monotonic() + 10
    while True:
        events = [msg for t, msg in client.get_events(TOPIC) if t >= since]
        if len(events) >= expected or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


def _data(n: int = 400):
    X, y = load_digits(return_X_y=True)
    return X[:n], y[:n]


def _search(estimator, n_jobs):
    pipe = Pipeline([("scale", StandardScaler()), ("mlp", estimator)])
    return GridSearchCV(pipe, GRID, cv=CV, n_jobs=n_jobs)


def test_grid_search_runs_on_two_worker_processes_and_matches_n_jobs_1(client):
    X, y = _data()
    mlp = RecordedClassifier(max_iter=5, random_state=0)
    since = client.run_on_scheduler(time.time)
    with joblib.parallel_backend("dask"):
        remote = _search(clone(mlp), n_jobs=-1).fit(X, y)
    n_fits = len(ParameterGrid(GRID)) * CV
    events = _fit_events(client, since, n_fits)

    assert remote.best_params_ in list(ParameterGrid(GRID))
    assert remote.best_score_ == remote.cv_results_["mean_test_score"].max()
    # every fit ran on a worker process of this cluster, and both processes took some
    worker_pids = set(client.run(os.getpid).values())
    pids = [e["pid"] for e in events]
    assert len(pids) == n_fits
    assert set(pids) <= worker_pids and os.getpid() not in worker_pids
    assert len(set(pids)) == 2, f"all fits ran in one process: {events}"

    local = _search(clone(mlp), n_jobs=1).fit(X, y)
    for key in ("mean_test_score", "split0_test_score", "split1_test_score"):
        np.testing.assert_array_equal(remote.cv_results_[key], local.cv_results_[key], key)
    assert remote.best_params_ == local.best_params_
    # both refits ran in this process (no worker logged them): the same network, bit for bit
    pairs = zip(remote.best_estimator_[-1].coefs_, local.best_estimator_[-1].coefs_, strict=True)
    for a, b in pairs:
        np.testing.assert_array_equal(a, b)


def test_regressor_search_on_the_cluster_matches_n_jobs_1(client):
    X, y = _data(300)
    y = y.astype(float)
    mlp = RecordedRegressor(max_iter=5, random_state=1)
    with joblib.parallel_backend("dask"):
        remote = _search(clone(mlp), n_jobs=-1).fit(X, y)
    local = _search(clone(mlp), n_jobs=1).fit(X, y)
    # R^2 is continuous: equality holds only if every fit is bit-identical across processes
    np.testing.assert_array_equal(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
