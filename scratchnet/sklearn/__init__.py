"""scikit-learn estimators: `MLPClassifier` and `MLPRegressor` on top of `scratchnet.Model`.

They take scikit-learn's ``sklearn.neural_network`` parameters with the same names and defaults
(``hidden_layer_sizes``, ``solver``, ``alpha``, ``learning_rate``, ``tol``, ``n_iter_no_change``,
``early_stopping``, ``warm_start``, ...), set the same fitted attributes (``coefs_``,
``loss_curve_``, ``n_iter_``, ``best_loss_``, ...) and stop by the same rule, so they drop into
`Pipeline`, `GridSearchCV` and `clone`. By default they start from scikit-learn's initial
network (Glorot uniform weights and biases, the very same draws for an int ``random_state``), and
``classes_`` and ``predict`` give labels of scikit-learn's dtypes. On top of that they offer what
scikit-learn's MLP lacks: ``dropout``, ``batch_norm``, one activation per hidden layer, any
scratchnet activation and initialiser (``init="he_normal"``, ...), ``class_weight``, and a
``backend`` argument that trains on NumPy, CuPy (GPU), PyTorch, JAX or array-api-strict.
Predictions always come back as host NumPy arrays.

Choices that differ from scikit-learn's MLP, all deliberate:

- ``solver`` is ``"adam"`` or ``"sgd"``; there is no L-BFGS, and ``partial_fit`` always exists.
- Sparse input is refused with a message (densify with ``X.toarray()``).
- ``dtype="float64"`` by default, so that results match scikit-learn's numerics on float64 data and
  predictions on a subset of rows equal the same rows of a full prediction. Pass
  ``dtype="float32"`` for speed on a GPU (JAX needs it unless ``JAX_ENABLE_X64=1``).
- A diverging loss (NaN/inf) stops training with `scratchnet.TrainingDivergedWarning` and puts
  back the weights of the best epoch, instead of raising after the last epoch.
- The regression loss reported in ``loss_curve_`` is (1/2) sum_k (f_k - y_k)^2 averaged over
  samples; scikit-learn also divides by the number of outputs (the gradients agree).

>>> from sklearn.datasets import load_iris
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> from scratchnet.sklearn import MLPClassifier
>>> X, y = load_iris(return_X_y=True)
>>> clf = make_pipeline(
...     StandardScaler(),
...     MLPClassifier((32,), dropout=0.1, learning_rate_init=0.01, max_iter=300, random_state=0),
... ).fit(X, y)
>>> clf.score(X, y) > 0.9
True
"""

try:  # scikit-learn >= 1.6 (validate_data is the newest name the estimators use)
    from sklearn.utils.validation import validate_data  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"scratchnet.sklearn needs scikit-learn >= 1.6: pip install 'scratchnet[sklearn]' ({exc})"
    ) from exc

from .classifier import MLPClassifier
from .regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
