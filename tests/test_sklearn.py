"""scikit-learn estimators: the estimator-check suite, scikit-learn's stopping rule, fitted attributes,
extras (dropout, batch norm, per-layer activations, class weights, backends), Pipeline/GridSearchCV,
clone and pickling."""

from __future__ import annotations

import ast
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn import neural_network
from sklearn.base import clone
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    load_wine,
    make_multilabel_classification,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import parametrize_with_checks

import scratchnet as sn
from scratchnet.schedules import AdaptiveRate, InverseScaling
from scratchnet.sklearn import MLPClassifier, MLPRegressor
from scratchnet.sklearn.stopping import NoImprovementStopping

# ------------------------------------------------------------------------------------------------
# scikit-learn's own estimator checks

_SAMPLE_WEIGHT_REASON = (
    "batch normalisation uses unweighted batch means and variances, and dropout draws one mask "
    "per row, so a sample weight of 2 is not the same as a repeated row (the default "
    "configuration passes this check)"
)


def _expected_failed_checks(estimator) -> dict[str, str]:
    if estimator.batch_norm or np.any(np.asarray(estimator.dropout) > 0):
        return {"check_sample_weight_equivalence_on_dense_data": _SAMPLE_WEIGHT_REASON}
    return {}


@parametrize_with_checks(
    [
        MLPClassifier(max_iter=100),
        MLPRegressor(max_iter=100),
        MLPClassifier(
            (16, 8), activation=["tanh", "relu"], dropout=[0.1, 0.0], batch_norm=True, max_iter=100
        ),
        MLPRegressor(
            (32, 16),
            activation="gelu",
            dropout=0.1,
            batch_norm=True,
            learning_rate_init=0.01,
            max_iter=100,
        ),
    ],
    expected_failed_checks=_expected_failed_checks,
    xfail_strict=True,
)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


# ------------------------------------------------------------------------------------------------
# data


def _split(X, y, seed=0, stratify=True):
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=seed, stratify=y if stratify else None)
    scaler = StandardScaler().fit(Xtr)
    return scaler.transform(Xtr), scaler.transform(Xte), ytr, yte


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(autouse=True)
def _quiet_convergence():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _smooth_regression(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.5, 1.5, size=(n, 3))
    y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] + 0.05 * rng.normal(size=n)
    return X, y


# ------------------------------------------------------------------------------------------------
# accuracy on real data


def test_iris_multiclass_accuracy_and_attributes(iris):
    X, y = load_iris(return_X_y=True)
    Xtr, Xte, ytr, yte = _split(X, y)
    clf = MLPClassifier((16,), learning_rate_init=0.01, max_iter=200, random_state=0)
    assert clf.fit(Xtr, ytr) is clf
    assert clf.score(Xte, yte) > 0.88
    assert clf.out_activation_ == "softmax"
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.n_features_in_ == 4
    assert (clf.n_layers_, clf.n_outputs_) == (3, 3)
    assert [c.shape for c in clf.coefs_] == [(4, 16), (16, 3)]
    assert [b.shape for b in clf.intercepts_] == [(16,), (3,)]
    assert all(isinstance(c, np.ndarray) for c in clf.coefs_ + clf.intercepts_)
    assert len(clf.loss_curve_) == clf.n_iter_ >= 1
    assert clf.t_ == clf.n_iter_ * Xtr.shape[0]
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.loss_ == clf.loss_curve_[-1]
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    assert isinstance(clf.model_, sn.Model) and clf.model_.l2 == clf.alpha
    P = clf.predict_proba(Xte)
    assert P.shape == (Xte.shape[0], 3)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(Xte), clf.classes_[P.argmax(axis=1)])


def test_digits_accuracy():
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = _split(X, y)
    clf = MLPClassifier((64,), learning_rate_init=0.01, max_iter=30, random_state=0)
    assert clf.fit(Xtr, ytr).score(Xte, yte) > 0.94


def test_breast_cancer_binary_uses_one_sigmoid_unit():
    X, y = load_breast_cancer(return_X_y=True)
    Xtr, Xte, ytr, yte = _split(X, y)
    clf = MLPClassifier((16,), max_iter=100, random_state=0).fit(Xtr, ytr)
    assert clf.score(Xte, yte) > 0.92
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 1
    assert clf.coefs_[-1].shape == (16, 1)
    P = clf.predict_proba(Xte)
    assert P.shape == (Xte.shape[0], 2)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(Xte), (P[:, 1] > 0.5).astype(int))


def test_regression_r2_and_shapes():
    X, y = _smooth_regression()
    Xtr, Xte, ytr, yte = _split(X, y, stratify=False)
    reg = MLPRegressor((32,), learning_rate_init=0.01, max_iter=300, random_state=0)
    reg.fit(Xtr, ytr)
    assert reg.score(Xte, yte) > 0.9
    assert reg.out_activation_ == "identity" and reg.n_outputs_ == 1
    assert reg.predict(Xte).shape == (Xte.shape[0],)
    assert len(reg.loss_curve_) == reg.n_iter_


def test_multioutput_regression():
    X, Y = make_regression(n_samples=300, n_features=5, n_targets=2, noise=1.0, random_state=0)
    Y = Y / Y.std(axis=0)
    reg = MLPRegressor((32,), learning_rate_init=0.01, max_iter=200, random_state=0).fit(X, Y)
    assert reg.n_outputs_ == 2 and reg.coefs_[-1].shape == (32, 2)
    assert reg.predict(X).shape == (300, 2)
    assert reg.score(X, Y) > 0.95


def test_multilabel_uses_k_sigmoid_units():
    X, Y = make_multilabel_classification(n_samples=300, n_classes=4, random_state=0)
    X = StandardScaler().fit_transform(X)
    clf = MLPClassifier((32,), learning_rate_init=0.01, max_iter=100, random_state=0).fit(X, Y)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 4
    np.testing.assert_array_equal(clf.classes_, np.arange(4))
    pred = clf.predict(X)
    assert pred.shape == Y.shape and set(np.unique(pred)) <= {0, 1}
    P = clf.predict_proba(X)
    assert P.shape == Y.shape and ((P >= 0) & (P <= 1)).all()
    np.testing.assert_array_equal(pred, (P > 0.5).astype(int))
    assert (pred == Y).mean() > 0.85


def test_string_labels_round_trip(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = MLPClassifier((16,), learning_rate_init=0.01, max_iter=100, random_state=0)
    clf.fit(X, names)
    np.testing.assert_array_equal(clf.classes_, ["setosa", "versicolor", "virginica"])
    assert set(clf.predict(X)) <= set(names)
    assert clf.score(X, names) > 0.9
    binary = np.where(y == 0, "yes", "no")
    clf.fit(X, binary)
    assert clf.out_activation_ == "logistic"
    assert set(clf.predict(X)) <= {"yes", "no"}


def test_predict_log_proba_is_stable_log_of_predict_proba(iris):
    X, y = iris
    for target in (y, (y == 0).astype(int)):
        clf = MLPClassifier((8,), max_iter=30, random_state=0).fit(X, target)
        np.testing.assert_allclose(
            clf.predict_log_proba(X), np.log(clf.predict_proba(X)), rtol=1e-9, atol=1e-12
        )
        far = X * 1e4  # saturated probabilities: exact 0 or 1, yet finite log-probabilities
        assert np.isfinite(clf.predict_log_proba(far)).all()


# ------------------------------------------------------------------------------------------------
# scikit-learn's stopping rule, learning-rate schedules and warnings


@pytest.mark.parametrize(
    "params",
    [
        {"tol": 1e3, "n_iter_no_change": 3},
        {"tol": 1e3, "n_iter_no_change": 3, "early_stopping": True},
        {"solver": "sgd", "learning_rate": "adaptive", "tol": 1e3, "n_iter_no_change": 1},
        {
            "solver": "sgd",
            "learning_rate": "adaptive",
            "tol": 1e3,
            "n_iter_no_change": 1,
            "early_stopping": True,
        },
    ],
    ids=["loss", "validation", "adaptive-loss", "adaptive-validation"],
)
def test_stopping_matches_scikit_learn(iris, params):
    # With a huge tol every epoch after the first counts as "no improvement", so the epoch at
    # which training stops (and the adaptive rate's reductions) depend on the rule alone.
    X, y = iris
    ours = MLPClassifier((8,), random_state=0, **params).fit(X, y)
    ref = neural_network.MLPClassifier((8,), random_state=0, **params).fit(X, y)
    assert ours.n_iter_ == ref.n_iter_ < 200
    assert len(ours.loss_curve_) == ours.n_iter_
    if params.get("early_stopping"):
        assert ours.best_loss_ is None
        assert len(ours.validation_scores_) == ours.n_iter_
        assert ours.best_validation_score_ == max(ours.validation_scores_)
    else:
        assert ours.validation_scores_ is None and ours.best_validation_score_ is None
    if params.get("learning_rate") == "adaptive":
        schedule = ours.model_.optimizer.schedule
        assert isinstance(schedule, AdaptiveRate)
        assert schedule.current == pytest.approx(ref._optimizer.learning_rate, rel=1e-12)
        assert schedule.current <= 1e-6


def test_stopping_rule_counts_epochs_without_tol_improvement(iris):
    X, y = iris
    clf = MLPClassifier((4,), tol=0.1, n_iter_no_change=2, max_iter=1, random_state=0).fit(X, y)
    clf.loss_curve_, clf.best_loss_, clf._no_improvement_count, clf.t_ = [], np.inf, 0, 0
    rule = NoImprovementStopping(clf, n_train=150, validation=None)
    rule.set_model(clf.model_)
    clf.model_.stop_training = False
    # 0.95 improves by less than tol (count 1), 0.80 by more (reset); then three small steps
    losses = [1.0, 0.95, 0.80, 0.75, 0.74, 0.73]
    for epoch, loss in enumerate(losses):
        assert not clf.model_.stop_training, f"stopped before epoch {epoch}"
        rule.on_epoch_end(epoch, {"loss": loss})
    assert clf.model_.stop_training and rule.converged
    assert clf.best_loss_ == 0.73 and clf.loss_curve_ == losses and clf.t_ == 150 * 6


def test_early_stopping_restores_the_best_epoch(iris):
    X, y = iris
    params = dict(early_stopping=True, validation_fraction=0.2, tol=1e3, n_iter_no_change=6)
    clf = MLPClassifier((8,), learning_rate_init=0.01, random_state=3, **params).fit(X, y)
    best = int(np.argmax(clf.validation_scores_))
    assert best < clf.n_iter_ - 1, "the test needs a best epoch before the last one"
    # the same run stopped right at the best epoch ends with the same weights
    short = MLPClassifier((8,), learning_rate_init=0.01, random_state=3, max_iter=best + 1)
    short.set_params(**params).fit(X, y)
    np.testing.assert_array_equal(short.predict_proba(X), clf.predict_proba(X))
    assert short.best_validation_score_ == clf.best_validation_score_


def test_convergence_warning_only_when_max_iter_is_reached(iris):
    X, y = iris
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(5\) reached"):
        MLPClassifier((8,), max_iter=5, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = MLPClassifier((8,), tol=1e3, n_iter_no_change=2, random_state=0).fit(X, y)
        assert clf.n_iter_ == 4
        clf.partial_fit(X, y)  # one epoch: never a convergence warning
    with pytest.warns(ConvergenceWarning):
        clf = MLPClassifier((8,), tol=0.0, n_iter_no_change=np.inf, max_iter=20, random_state=0)
        clf.fit(X, y)
    assert clf.n_iter_ == 20


def test_invscaling_decays_with_samples_seen(iris):
    X, y = iris
    clf = MLPClassifier(
        (8,), solver="sgd", learning_rate="invscaling", power_t=0.5, max_iter=5, random_state=0
    ).fit(X, y)
    assert isinstance(clf.model_.optimizer.schedule, InverseScaling)
    expected = [0.001 / (1 + 150 * k) ** 0.5 for k in range(5)]
    np.testing.assert_allclose(clf.model_.history.history["lr"], expected, rtol=1e-12)


def test_adam_ignores_learning_rate_schedule(iris):
    X, y = iris
    clf = MLPClassifier((8,), learning_rate="invscaling", max_iter=3, random_state=0).fit(X, y)
    assert isinstance(clf.model_.optimizer, sn.Adam)
    assert clf.model_.history.history["lr"] == [0.001] * 3


def test_sgd_solver_uses_nesterov_momentum(iris):
    X, y = iris
    clf = MLPClassifier((8,), solver="sgd", momentum=0.8, max_iter=2, random_state=0).fit(X, y)
    opt = clf.model_.optimizer
    assert isinstance(opt, sn.SGD) and opt.momentum == 0.8 and opt.nesterov
    plain = clf.set_params(momentum=0.0).fit(X, y).model_.optimizer
    assert plain.momentum == 0.0 and not plain.nesterov


def test_verbose_prints_progress(iris, capsys):
    X, y = iris
    MLPClassifier((4,), max_iter=2, verbose=True, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert "Iteration 1, loss = " in out and "Iteration 2, loss = " in out


def test_batch_size_larger_than_data_is_clipped_with_warning(iris):
    X, y = iris
    with pytest.warns(UserWarning, match="clipped"):
        clf = MLPClassifier((4,), batch_size=1000, max_iter=2, random_state=0).fit(X, y)
    assert clf.model_.steps_done == 2  # one full batch per epoch


# ------------------------------------------------------------------------------------------------
# partial_fit and warm_start


def test_partial_fit_classifier_improves_and_counts(iris):
    X, y = iris
    clf = MLPClassifier((16,), learning_rate_init=0.01, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    for _ in range(20):
        clf.partial_fit(X, y, classes=[0, 1, 2])
        assert clf.n_iter_ == 1
    assert len(clf.loss_curve_) == 20 and clf.t_ == 20 * 150
    assert clf.loss_curve_[-1] < 0.6 * clf.loss_curve_[0]
    clf.partial_fit(X[y < 2], y[y < 2])  # a batch may lack classes
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X, y + 1)
    with pytest.raises(ValueError, match="not the same"):
        clf.partial_fit(X, y, classes=[0, 1])


def test_partial_fit_regressor_improves():
    X, y = _smooth_regression(200)
    reg = MLPRegressor((16,), learning_rate_init=0.01, random_state=0)
    for _ in range(15):
        reg.partial_fit(X, y)
    assert reg.loss_curve_[-1] < 0.5 * reg.loss_curve_[0]
    assert reg.n_iter_ == 1 and reg.t_ == 15 * 200


def test_partial_fit_refuses_early_stopping(iris):
    X, y = iris
    with pytest.raises(ValueError, match="early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])


def test_warm_start_continues_training(iris):
    X, y = iris
    clf = MLPClassifier((16,), learning_rate_init=0.01, max_iter=5, random_state=0).fit(X, y)
    first = list(clf.loss_curve_)
    clf.set_params(warm_start=True).fit(X, y)
    assert len(clf.loss_curve_) == 10 and clf.loss_curve_[:5] == first
    assert clf.n_iter_ == 5 and clf.t_ == 10 * 150
    assert abs(clf.loss_curve_[5] - first[-1]) < abs(first[0] - first[-1]) / 2
    clf.set_params(warm_start=False).fit(X, y)
    assert clf.loss_curve_ == first  # a cold fit starts again from the seed
    with pytest.raises(ValueError, match="same classes"):
        clf.set_params(warm_start=True).fit(X[y < 2], y[y < 2])
    with pytest.raises(ValueError, match="continue the fitted network"):
        clf.set_params(hidden_layer_sizes=(8,)).fit(X, y)
    with pytest.raises(ValueError, match="continue the fitted network"):
        clf.set_params(hidden_layer_sizes=(16,), dropout=0.5).partial_fit(X, y)
    clf.set_params(dropout=0.0, alpha=0.5).fit(X, y)  # the penalty may change between fits
    assert clf.model_.l2 == 0.5 and len(clf.loss_curve_) == 10


# ------------------------------------------------------------------------------------------------
# parity with scikit-learn's MLPClassifier: initial network, label dtypes, accuracy


def _nearly_untrained(est, X, y):
    """``est`` fitted for one epoch at a learning rate too small to move its initial weights."""
    return est.set_params(max_iter=1, learning_rate_init=1e-12).fit(X, y)


@pytest.mark.parametrize("activation", ["relu", "logistic", "tanh"])
@pytest.mark.parametrize("hidden", [(7,), (5, 3), ()])
def test_default_init_is_scikit_learns_initial_network(iris, activation, hidden):
    # init=None draws scikit-learn's Glorot-uniform weights *and* biases (bound sqrt(2/(in+out))
    # for the logistic activation, sqrt(6/(in+out)) otherwise) in scikit-learn's order
    X, y = iris
    theirs = _nearly_untrained(
        neural_network.MLPClassifier(hidden, activation, random_state=7), X, y
    )
    ours = _nearly_untrained(MLPClassifier(hidden, activation, random_state=7), X, y)
    for a, b in zip(
        [*ours.coefs_, *ours.intercepts_], [*theirs.coefs_, *theirs.intercepts_], strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)
    factor = 2.0 if activation == "logistic" else 6.0
    assert ours.model_.get_config()["init"] == {"name": "sklearn_glorot", "factor": factor}
    fan_in, fan_out = ours.coefs_[0].shape
    bound = np.sqrt(factor / (fan_in + fan_out))
    assert np.abs(ours.intercepts_[0]).max() <= bound and np.abs(ours.intercepts_[0]).max() > 0


def test_regressor_default_init_is_scikit_learns_initial_network():
    X, y = _smooth_regression(60)
    theirs = _nearly_untrained(
        neural_network.MLPRegressor(hidden_layer_sizes=(8, 4), random_state=5), X, y
    )
    ours = _nearly_untrained(MLPRegressor((8, 4), random_state=5), X, y)
    for a, b in zip(
        [*ours.coefs_, *ours.intercepts_], [*theirs.coefs_, *theirs.intercepts_], strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)


def test_default_init_with_batch_norm_keeps_scikit_learns_draws(iris):
    # hidden Dense layers have no biases under batch norm, but their draws are still consumed,
    # so every weight matrix (and the output biases) is scikit-learn's
    X, y = iris
    theirs = _nearly_untrained(neural_network.MLPClassifier((6, 5), random_state=1), X, y)
    ours = _nearly_untrained(MLPClassifier((6, 5), batch_norm=True, random_state=1), X, y)
    params = sn.to_numpy(ours.model_.parameters())
    for i, coef in enumerate(theirs.coefs_, start=1):
        np.testing.assert_allclose(params[f"dense{i}.B"], coef, rtol=0, atol=1e-9)
    np.testing.assert_allclose(params["dense3.c"], theirs.intercepts_[-1], rtol=0, atol=1e-9)


def test_other_initialisers_stay_available(iris):
    X, y = iris
    # "auto" is scratchnet's Model default: chosen per layer by activation, biases at zero
    auto = _nearly_untrained(MLPClassifier((6,), "tanh", init="auto", random_state=2), X, y)
    reference = sn.Model(hidden=(6,), activation="tanh", dtype="float64", seed=2).build(4, 3)
    for name, value in sn.to_numpy(reference.parameters()).items():
        np.testing.assert_allclose(sn.to_numpy(auto.model_.parameters())[name], value, atol=1e-9)
    assert [d.init for d in auto.model_.layers if d.kind == "dense"] == ["xavier_uniform"] * 2
    for init in ("he_normal", "he_uniform", "xavier_uniform", "lecun_normal"):
        clf = _nearly_untrained(MLPClassifier((6,), init=init, random_state=2), X, y)
        assert clf.model_.init == init
        assert np.abs(clf.intercepts_[0]).max() < 1e-9  # biases start at zero
    he = _nearly_untrained(MLPClassifier((300,), init="he_normal", random_state=2), X, y)
    assert he.coefs_[0].std() == pytest.approx(np.sqrt(2 / 4), rel=0.1)
    with pytest.raises(ValueError, match="unknown initializer 'kaiming'"):
        MLPClassifier(init="kaiming").fit(X, y)


_BASE = np.arange(48) % 3
_LABELS = {
    "int64": _BASE.astype(np.int64),
    "int32": _BASE.astype(np.int32),
    "uint8": _BASE.astype(np.uint8),
    "float64": _BASE.astype(np.float64),
    "float32": _BASE.astype(np.float32),
    "str": np.array(["ant", "bee", "cat"])[_BASE],
    "object": np.array(["ant", "bee", "cat"], dtype=object)[_BASE],
    "list of str": np.array(["ant", "bee", "cat"])[_BASE].tolist(),
    "binary str": np.array(["no", "yes"])[_BASE % 2],
    "binary object": np.array(["no", "yes"], dtype=object)[_BASE % 2],
    "bool": (_BASE % 2).astype(bool),
    "multilabel": np.stack([_BASE == 0, _BASE == 1], axis=1).astype(int),
}


def _fit_labels(cls, X, y, entry):
    est = cls((4,), max_iter=3, random_state=0)
    if entry == "fit":
        return est.fit(X, y)
    if entry == "partial_fit":  # classes with y's own dtype
        classes = [0, 1] if np.ndim(y) == 2 else np.unique(np.asarray(y))
    else:  # "partial_fit, list": Python scalars, whose dtype scikit-learn then follows
        classes = [0, 1] if np.ndim(y) == 2 else np.unique(np.asarray(y)).tolist()
    return est.partial_fit(X, y, classes=classes)


@pytest.mark.parametrize("entry", ["fit", "partial_fit", "partial_fit, list"])
@pytest.mark.parametrize("kind", list(_LABELS))
def test_label_dtypes_follow_scikit_learn(kind, entry):
    X = np.random.default_rng(0).normal(size=(48, 3))
    y = _LABELS[kind]
    theirs = _fit_labels(neural_network.MLPClassifier, X, y, entry)
    ours = _fit_labels(MLPClassifier, X, y, entry)
    assert ours.classes_.dtype == theirs.classes_.dtype
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    pred = ours.predict(X)
    assert pred.dtype == theirs.predict(X).dtype and pred.shape == np.shape(y)
    if entry == "partial_fit":  # fit and partial_fit(classes=...) agree
        fitted = _fit_labels(MLPClassifier, X, y, "fit")
        assert ours.classes_.dtype == fitted.classes_.dtype
        assert pred.dtype == fitted.predict(X).dtype


def test_accuracy_is_within_a_point_and_a_half_of_scikit_learn():
    # both estimators with their defaults on scikit-learn's real data sets, stratified 75/25
    # splits, mean over 2 seeds; benchmarks/sklearn_parity.py makes the full table (MNIST too)
    threadpoolctl = pytest.importorskip("threadpoolctl")
    sets = {
        "iris": load_iris(return_X_y=True),
        "wine": load_wine(return_X_y=True),
        "breast cancer": load_breast_cancer(return_X_y=True),
        "digits": load_digits(return_X_y=True),
    }
    gaps = {}
    with threadpoolctl.threadpool_limits(1):  # small products: one BLAS thread is fastest
        for name, (X, y) in sets.items():
            scores = {"sklearn": [], "scratchnet": []}
            for seed in (0, 1):
                Xtr, Xte, ytr, yte = _split(X, y, seed=seed)
                for label, cls in (
                    ("sklearn", neural_network.MLPClassifier),
                    ("scratchnet", MLPClassifier),
                ):
                    est = cls(random_state=seed).fit(Xtr, ytr)
                    scores[label].append(np.mean(est.predict(Xte) == yte))
            gaps[name] = 100 * (np.mean(scores["scratchnet"]) - np.mean(scores["sklearn"]))
    assert all(abs(gap) <= 1.5 for gap in gaps.values()), gaps


# ------------------------------------------------------------------------------------------------
# extras: dropout, batch norm, per-layer activations, init, class and sample weights, dtype


def test_dropout_batch_norm_and_per_layer_activations(iris):
    X, y = iris
    clf = MLPClassifier(
        (32, 16),
        activation=["tanh", "relu"],
        dropout=[0.2, 0.1],
        batch_norm=True,
        init="xavier_normal",
        learning_rate_init=0.01,
        max_iter=150,
        random_state=0,
    ).fit(X, y)
    model = clf.model_
    assert model.activation == ("tanh", "relu") and model.dropout == (0.2, 0.1)
    assert model.batch_norm and model.init == "xavier_normal"
    kinds = [layer.kind for layer in model.layers]
    assert kinds.count("batchnorm") == 2 and kinds.count("dropout") == 2
    assert clf.score(X, y) > 0.9
    assert [c.shape for c in clf.coefs_] == [(4, 32), (32, 16), (16, 3)]


@pytest.mark.parametrize("batch_norm", [False, True])
def test_coefs_and_intercepts_reproduce_predictions(iris, batch_norm):
    # scikit-learn's forward pass over coefs_/intercepts_ gives the estimator's predictions;
    # batch normalisation is folded into them
    X, y = iris
    clf = MLPClassifier(
        (8, 6), activation=["tanh", "relu"], batch_norm=batch_norm, max_iter=20, random_state=0
    ).fit(X, y)
    H = X
    for W, b, act in zip(
        clf.coefs_[:-1], clf.intercepts_[:-1], (np.tanh, lambda z: np.maximum(z, 0)), strict=True
    ):
        H = act(H @ W + b)
    F = H @ clf.coefs_[-1] + clf.intercepts_[-1]
    P = np.exp(F - F.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(P, clf.predict_proba(X), rtol=1e-10, atol=1e-12)


def test_linear_network_without_hidden_layers(iris):
    X, y = iris
    clf = MLPClassifier((), learning_rate_init=0.05, max_iter=100, random_state=0).fit(X, y)
    assert clf.n_layers_ == 2 and [c.shape for c in clf.coefs_] == [(4, 3)]
    assert clf.score(X, y) > 0.9


def test_class_weight_dict_equals_sample_weight(iris):
    X, y = iris
    labels = np.array(["a", "b", "c"])[y]
    weights = {"b": 5.0, "c": 0.5}
    by_class = MLPClassifier((8,), max_iter=20, random_state=0, class_weight=weights)
    by_class.fit(X, labels)
    per_row = np.array([{"a": 1.0, **weights}[label] for label in labels])
    by_row = MLPClassifier((8,), max_iter=20, random_state=0).fit(X, labels, sample_weight=per_row)
    np.testing.assert_allclose(by_class.predict_proba(X), by_row.predict_proba(X), rtol=1e-12)


def test_class_weight_shifts_predictions_towards_heavy_class():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(-0.5, 1, size=(300, 2)), rng.normal(0.5, 1, size=(60, 2))])
    y = np.array(["big"] * 300 + ["small"] * 60)
    kw = dict(hidden_layer_sizes=(8,), learning_rate_init=0.01, max_iter=100, random_state=0)
    plain = MLPClassifier(**kw).fit(X, y)
    balanced = MLPClassifier(class_weight="balanced", **kw).fit(X, y)
    heavy = MLPClassifier(class_weight={"small": 20.0}, **kw).fit(X, y)
    recall = [np.mean(m.predict(X[y == "small"]) == "small") for m in (plain, balanced, heavy)]
    assert recall[1] > recall[0] + 0.2 and recall[2] > recall[0] + 0.2


def test_class_weight_errors(iris):
    X, y = iris
    with pytest.raises(ValueError, match="not in classes_"):
        MLPClassifier(class_weight={7: 2.0}, max_iter=1).fit(X, y)
    Xm, Ym = make_multilabel_classification(n_samples=50, random_state=0)
    with pytest.raises(ValueError, match="multi-label"):
        MLPClassifier(class_weight={0: 2.0}, max_iter=1).fit(Xm, Ym)
    with pytest.raises(ValueError, match="partial_fit"):
        MLPClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1, 2])


def test_sample_weight_zero_rows_are_ignored():
    X, y = _smooth_regression(100)
    w = np.ones(100)
    w[::2] = 0.0
    kw = dict(hidden_layer_sizes=(8,), max_iter=10, shuffle=False, random_state=0)
    weighted = MLPRegressor(**kw).fit(X, y, sample_weight=w)
    subset = MLPRegressor(**kw).fit(X[1::2], y[1::2])  # full batches: same gradients
    np.testing.assert_allclose(weighted.predict(X), subset.predict(X), rtol=1e-9, atol=1e-12)


def test_float32_dtype(iris):
    X, y = iris
    clf = MLPClassifier((8,), dtype="float32", max_iter=5, random_state=0).fit(X, y)
    assert clf.model_.dtype_name == "float32"
    assert clf.predict_proba(X).dtype == np.float32 and clf.coefs_[0].dtype == np.float32


# ------------------------------------------------------------------------------------------------
# scikit-learn integration: Pipeline, GridSearchCV, clone, pickle, tags


def test_pipeline_and_grid_search(iris):
    X, y = load_iris(return_X_y=True)
    pipe = Pipeline(
        [("scale", StandardScaler()), ("mlp", MLPClassifier(max_iter=100, random_state=0))]
    )
    grid = GridSearchCV(
        pipe,
        {"mlp__hidden_layer_sizes": [(4,), (16,)], "mlp__learning_rate_init": [0.001, 0.01]},
        cv=3,
    ).fit(X, y)
    assert grid.best_score_ > 0.85
    assert grid.best_params_["mlp__learning_rate_init"] == 0.01
    assert isinstance(grid.predict(X), np.ndarray) and grid.score(X, y) > 0.9


def test_clone_keeps_backend_and_predictions_are_numpy(iris):
    pytest.importorskip("torch")
    X, y = iris
    est = MLPClassifier((8,), backend="torch", max_iter=20, random_state=0)
    twin = clone(est)
    assert twin.backend == "torch" and twin.get_params() == est.get_params()
    twin.fit(X, y)
    assert twin.model_.backend.name == "torch"
    for out in (twin.predict(X), twin.predict_proba(X), twin.predict_log_proba(X), *twin.coefs_):
        assert type(out) is np.ndarray
    reference = MLPClassifier((8,), max_iter=20, random_state=0).fit(X, y)
    np.testing.assert_allclose(twin.predict_proba(X), reference.predict_proba(X), rtol=1e-9)


@pytest.mark.parametrize("backend", ["array_api_strict", "torch", "jax"])
def test_backends_agree_with_numpy(backend):
    status = sn.available_backends()[backend]
    if not status.available:
        pytest.skip(f"{backend} backend unavailable here: {status.reason}")
    X, y = _smooth_regression(120)
    kw = dict(hidden_layer_sizes=(8,), early_stopping=True, max_iter=10, random_state=0)
    ours = MLPRegressor(backend=backend, **kw).fit(X, y)
    ref = MLPRegressor(**kw).fit(X, y)
    assert type(ours.predict(X)) is np.ndarray
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-9, atol=1e-12)
    assert ours.validation_scores_ == pytest.approx(ref.validation_scores_, rel=1e-9)


def test_device_arrays_stay_on_the_device(iris):
    torch = pytest.importorskip("torch")
    X, y = iris
    est = MLPClassifier((8,), backend="torch", max_iter=10, random_state=0)
    est.fit(torch.asarray(X), torch.asarray(y))
    host = clone(est).fit(X, y)
    assert est.n_features_in_ == 4
    np.testing.assert_array_equal(est.predict_proba(torch.asarray(X)), host.predict_proba(X))
    with pytest.raises(ValueError, match="expecting 4 features"):
        est.predict(torch.ones((3, 5), dtype=torch.float64))


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_pickle_round_trip_and_resume(iris, backend):
    if backend == "torch":
        pytest.importorskip("torch")
    X, y = iris
    clf = MLPClassifier(
        (8,), solver="sgd", learning_rate="adaptive", batch_norm=True, backend=backend,
        random_state=0,
    )  # fmt: skip
    for _ in range(3):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    copy = pickle.loads(pickle.dumps(clf))
    assert copy.model_.backend.name == backend
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    assert isinstance(copy.model_.optimizer.schedule, AdaptiveRate)
    copy.partial_fit(X, y)
    clf.partial_fit(X, y)  # resumes exactly: optimiser state and random streams travel too
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    assert copy.loss_curve_ == clf.loss_curve_


def test_pickle_with_early_stopping_snapshot(iris):
    X, y = iris
    clf = MLPClassifier((8,), early_stopping=True, max_iter=5, random_state=0).fit(X, y)
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict(X), clf.predict(X))
    copy.set_params(warm_start=True).fit(X, y)
    assert len(copy.validation_scores_) == 10
    copy.set_params(early_stopping=False).fit(X, y)  # switching the rule on a warm start
    assert copy.validation_scores_ is None and copy.best_loss_ == min(copy.loss_curve_[10:])


@pytest.mark.parametrize("resume", ["partial_fit", "warm_start"])
def test_adaptive_rate_pickled_mid_training_resumes_exactly(iris, resume):
    # tol=10: every epoch after the first is "no improvement", so with n_iter_no_change=1 the
    # rate is divided by 5 every second epoch, and the pickle is taken after two reductions
    X, y = iris
    clf = MLPClassifier(
        (8,), solver="sgd", learning_rate="adaptive", learning_rate_init=0.05, tol=10.0,
        n_iter_no_change=1, random_state=0,
    )  # fmt: skip
    for _ in range(5):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    schedule = clf.model_.optimizer.schedule
    assert isinstance(schedule, AdaptiveRate) and schedule.current == pytest.approx(0.002)
    copy = pickle.loads(pickle.dumps(clf))
    assert isinstance(copy.model_.optimizer.schedule, AdaptiveRate)
    assert copy.model_.optimizer.schedule.get_config() == schedule.get_config()
    for est in (clf, copy):
        if resume == "partial_fit":
            for _ in range(3):
                est.partial_fit(X, y)
        else:
            est.set_params(warm_start=True, max_iter=4).fit(X, y)
    for ours, theirs in zip(
        copy.coefs_ + copy.intercepts_, clf.coefs_ + clf.intercepts_, strict=True
    ):
        np.testing.assert_array_equal(ours, theirs)
    assert copy.loss_curve_ == clf.loss_curve_
    assert copy.model_.optimizer.schedule.current == clf.model_.optimizer.schedule.current


def _imported_modules(path, root):
    """Absolute names of everything ``path`` (a file of the scratchnet package) imports."""
    # the package the file belongs to (for an __init__.py, the package itself)
    package = [*path.relative_to(root.parent).parts[:-1]]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


def test_sklearn_package_imports():
    # scratchnet.sklearn does not import scratchnet.io (a Model pickles by itself), nothing else in
    # scratchnet imports scratchnet.sklearn, and inside the package imports only go downward
    root = Path(sn.__file__).parent
    below = {
        "__init__": {"classifier", "regressor"},
        "classifier": {"base", "docstrings"},
        "regressor": {"base", "docstrings"},
        "base": {"inputs", "layout", "stopping"},
    }
    for path in root.rglob("*.py"):
        inside = path.parent == root / "sklearn"
        for name in _imported_modules(path, root):
            parts = name.split(".")
            if not inside:
                assert parts[:2] != ["scratchnet", "sklearn"], f"{path} imports {name}"
                continue
            assert parts[:2] != ["scratchnet", "io"], f"{path.name} imports {name}"
            if parts[:2] == ["scratchnet", "sklearn"] and len(parts) > 2:
                assert parts[2] in below.get(path.stem, set()), f"{path.name} imports {name}"


def test_auto_backend_resolves_at_fit_time(iris):
    X, y = iris
    est = MLPClassifier((4,), backend="auto", max_iter=2, random_state=0)
    assert clone(est).backend == "auto"
    expected = "cupy" if sn.available_backends()["cupy"].available else "numpy"
    assert est.fit(X, y).model_.backend.name == expected
    assert type(est.predict(X)) is np.ndarray


def test_tags():
    clf_tags, reg_tags = get_tags(MLPClassifier()), get_tags(MLPRegressor())
    assert clf_tags.estimator_type == "classifier" and reg_tags.estimator_type == "regressor"
    assert clf_tags.classifier_tags.multi_label and clf_tags.classifier_tags.multi_class
    assert reg_tags.target_tags.multi_output and reg_tags.target_tags.single_output
    assert not clf_tags.input_tags.sparse and not clf_tags.input_tags.allow_nan


def test_feature_names_from_dataframe(iris):
    pd = pytest.importorskip("pandas")
    X, y = iris
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = MLPClassifier((4,), max_iter=3, random_state=0).fit(frame, y)
    np.testing.assert_array_equal(clf.feature_names_in_, ["a", "b", "c", "d"])
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X)


# ------------------------------------------------------------------------------------------------
# errors


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"alpha": -1}, "'alpha' parameter .* must be a float in the range \\[0.0, inf\\)"),
        ({"solver": "lbfgs"}, "'solver' parameter"),
        ({"backend": "tensorflow"}, "'backend' parameter"),
        ({"dtype": "float16"}, "'dtype' parameter"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": [0.1, 0.2]}, "dropout has 2 entries but hidden_layer_sizes has 1"),
        ({"activation": "swishy"}, "activation must be one of 'identity'"),
        ({"activation": ["relu", "tanh"]}, "activation has 2 entries"),
        ({"hidden_layer_sizes": [4, 0]}, "hidden_layer_sizes must be positive ints"),
        ({"init": "nope"}, "unknown initializer"),
        ({"early_stopping": True, "validation_fraction": 0.0}, "validation_fraction must be > 0"),
    ],
)
def test_bad_hyperparameters_raise_value_error(iris, params, match):
    X, y = iris
    with pytest.raises(ValueError, match=match):
        MLPClassifier(max_iter=1, **params).fit(X, y)


def test_bad_data_raises_clear_errors(iris):
    X, y = iris
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(X)
    with pytest.raises(ValueError, match="Unknown label type"):
        MLPClassifier(max_iter=1).fit(X, X[:, 0])
    with pytest.raises(ValueError, match="at least 2 classes"):
        MLPClassifier(max_iter=1).fit(X, np.zeros(len(X)))
    with pytest.raises(TypeError, match="toarray"):
        from scipy import sparse

        MLPClassifier(max_iter=1).fit(sparse.csr_matrix(X), y)
    clf = MLPClassifier((4,), max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="expecting 4 features"):
        clf.predict(X[:, :3])
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(np.full((2, 4), np.nan))
    with pytest.raises(ValueError, match=r"sample_weight|Sample weights"):
        MLPRegressor(max_iter=1).fit(X, X[:, 0], sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="too small"):
        MLPRegressor(early_stopping=True, validation_fraction=0.01).fit(X[:20], X[:20, 0])
