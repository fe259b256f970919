"""Regression: an identity-output MLP on scikit-learn's diabetes set, loss 1/(2N) sum ||f - y||^2.

python examples/diabetes_regression.py [--backend jax] [--quick]
"""

from __future__ import annotations

from _common import parse, parser

import scratchnet as sn


def main(argv=None) -> float:
    args = parse(parser(__doc__.splitlines()[0]), argv)
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = sn.data.train_test_split(
        X, y, 0.25, seed=args.seed, stratify=False
    )
    x_mean, x_std = X_train.mean(axis=0), X_train.std(axis=0)
    y_mean, y_std = y_train.mean(), y_train.std()
    X_train, X_test = (X_train - x_mean) / x_std, (X_test - x_mean) / x_std

    model = sn.Model(hidden=(16,), activation="relu", output="identity", l2=1.0,
                     backend=args.backend, device=args.device, seed=args.seed)  # fmt: skip
    stop = sn.EarlyStopping(patience=30)
    history = model.fit(X_train, (y_train - y_mean) / y_std, epochs=3 if args.quick else 400,
                        batch_size=32, lr=1e-2, validation_split=0.2, callbacks=[stop])  # fmt: skip
    scores = model.evaluate(X_test, (y_test - y_mean) / y_std)
    print(f"diabetes: test R^2 {scores['r2']:.3f} after {len(history.epoch)} epochs")
    if stop.message:  # e.g. "stopped at epoch 95: val_loss has not improved for 30 epochs; ..."
        print(stop.message)
    history.plot(
        metrics=["loss", "r2"], path=args.out / "diabetes_learning_curves.png", title="diabetes"
    )
    return scores["r2"]


if __name__ == "__main__":
    main()
