"""scikit-learn users: MLPClassifier with dropout and batch norm, in a Pipeline, tuned by GridSearchCV.

python examples/sklearn_pipeline.py [--backend torch] [--quick]
"""

from __future__ import annotations

import warnings

from _common import Timer, parse, parser


def main(argv=None) -> float:
    args = parse(parser(__doc__.splitlines()[0]), argv)
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV, train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from scratchnet.sklearn import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                        random_state=args.seed)  # fmt: skip
    pipe = Pipeline([
        ("scale", StandardScaler()),
        ("mlp", MLPClassifier(hidden_layer_sizes=(64,), max_iter=5 if args.quick else 200,
                              random_state=args.seed, backend=args.backend, device=args.device)),
    ])  # fmt: skip
    grid = {
        "mlp__dropout": [0.0, 0.2],
        "mlp__batch_norm": [False, True],
        "mlp__alpha": [1e-4] if args.quick else [1e-4, 1e-2],
    }
    search = GridSearchCV(pipe, grid, cv=2 if args.quick else 3, n_jobs=1)
    with Timer() as t, warnings.catch_warnings(record=True) as caught:
        # dropout keeps the training loss noisy, so some grid points run to max_iter (as they would
        # with scikit-learn's own MLP); count those warnings instead of printing each one
        warnings.simplefilter("always", ConvergenceWarning)
        search.fit(X_train, y_train)
    stopped = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    accuracy = search.score(X_test, y_test)
    print(f"best parameters {search.best_params_} (cv accuracy {search.best_score_:.4f})")
    print(f"test accuracy {accuracy:.4f}; search took {t.seconds:.1f} s "
          f"({stopped} of the fits reached max_iter)")  # fmt: skip
    mlp = search.best_estimator_.named_steps["mlp"]
    print(f"fitted: n_iter_={mlp.n_iter_}, coefs_ shapes {[c.shape for c in mlp.coefs_]}, "
          f"out_activation_={mlp.out_activation_!r}")  # fmt: skip
    return accuracy


if __name__ == "__main__":
    main()
