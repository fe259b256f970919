"""scikit-learn's stopping rule for the MLP estimators, as a `scratchnet.Callback`."""

from __future__ import annotations

from typing import Any

from ..callbacks import Callback
from ..schedules import AdaptiveRate


class NoImprovementStopping(Callback):
    """scikit-learn's convergence rule, checked after each epoch of `Model.fit`.

    Without early stopping, an epoch counts as "no improvement" when its training loss is above
    ``best_loss_ - tol``; with early stopping, when its validation score is below
    ``best_validation_score_ + tol``. Any other epoch resets the count. When the count exceeds
    ``n_iter_no_change``, training stops, or with ``learning_rate="adaptive"`` the rate is divided
    by 5 and the count restarts (training stops once the rate is at most 1e-6). It also keeps the
    estimator's ``loss_curve_``, ``n_iter_``, ``t_`` and validation scores up to date.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
    n_train : int
        Training rows per epoch (for ``t_``).
    validation : tuple (X_val, y_val, w_val) or None
        Held-out data for early stopping: device features, host targets in the estimator's
        encoding, host weights or None.
    """

    def __init__(self, estimator: Any, n_train: int, validation: tuple | None) -> None:
        self.estimator = estimator
        self.n_train = n_train
        self.validation = validation
        self.converged = False

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        est = self.estimator
        loss = float(logs["loss"])
        est.loss_ = loss
        est.loss_curve_.append(loss)
        est.n_iter_ += 1
        est.t_ += self.n_train
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {loss:.8f}")
        if self.validation is not None:
            score = est._validation_score(*self.validation)
            est.validation_scores_.append(score)
            if est.verbose:
                print(f"Validation score: {score:f}")
            # a NaN score compares False both times, as in scikit-learn
            if score < est.best_validation_score_ + est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                est._best_snapshot = self.model.snapshot()
        else:
            if loss > est.best_loss_ - est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            est.best_loss_ = min(est.best_loss_, loss)
        if est._no_improvement_count > est.n_iter_no_change:
            what = "Validation score" if self.validation is not None else "Training loss"
            msg = (
                f"{what} did not improve more than tol={est.tol:f} for "
                f"{est.n_iter_no_change} consecutive epochs."
            )
            schedule = self.model.optimizer.schedule
            if isinstance(schedule, AdaptiveRate):
                if schedule.can_reduce:
                    lr = schedule.reduce()
                    est._no_improvement_count = 0
                    if est.verbose:
                        print(f"{msg} Setting learning rate to {lr:f}")
                    return
                msg += " Learning rate too small."
            if est.verbose:
                print(f"{msg} Stopping.")
            self.model.stop_training = True
            self.model.stop_reason = "tol"
            self.converged = True
