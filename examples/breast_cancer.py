"""Binary classification: a sigmoid-output MLP on scikit-learn's breast-cancer set (section 2).

python examples/breast_cancer.py [--backend torch] [--quick]
"""

from __future__ import annotations

import numpy as np
from _common import parse, parser

import scratchnet as sn


def main(argv=None) -> float:
    args = parse(parser(__doc__.splitlines()[0]), argv)
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    X_train, X_test, y_train, y_test = sn.data.train_test_split(
        data.data, data.target, 0.25, seed=args.seed
    )
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)  # standardise with training statistics
    X_train, X_test = (X_train - mean) / std, (X_test - mean) / std

    model = sn.Model(hidden=(32, 16), activation="tanh", output="sigmoid", l2=1e-2,
                     backend=args.backend, device=args.device, seed=args.seed)  # fmt: skip
    history = model.fit(X_train, y_train, epochs=3 if args.quick else 80, batch_size=32, lr=1e-3,
                        validation_split=0.2, class_weight="balanced")  # fmt: skip
    proba = sn.to_numpy(model.predict_proba(X_test))[:, 0]  # P(y = 1 | x) = sigma(f(x))
    accuracy = float(np.mean((proba > 0.5) == y_test))
    print(
        f"breast cancer: test accuracy {accuracy:.4f}; first probabilities {np.round(proba[:5], 3)}"
    )
    history.plot(
        path=args.out / "breast_cancer_learning_curves.png", title="breast cancer (sigmoid head)"
    )
    return accuracy


if __name__ == "__main__":
    main()
