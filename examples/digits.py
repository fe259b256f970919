"""Handwritten 8x8 digits (scikit-learn's set): a small MLP with L2 and dropout, above 97% test accuracy.

python examples/digits.py [--backend torch] [--quick]
"""

from __future__ import annotations

from _common import Timer, parse, parser

import scratchnet as sn


def main(argv=None) -> float:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=60)
    args = parse(p, argv)
    X_train, y_train, X_test, y_test = sn.datasets.load_digits(test_size=0.25, seed=args.seed)
    epochs = 3 if args.quick else args.epochs

    model = sn.Model(hidden=(128,), activation="relu", dropout=0.1, l2=1e-3,
                     backend=args.backend, device=args.device, seed=args.seed)  # fmt: skip
    with Timer() as t:
        history = model.fit(X_train, y_train, epochs=epochs, batch_size=32, optimizer="adam", lr=2e-3,
                            validation_data=(X_test, y_test), verbose=0)  # fmt: skip
    accuracy = model.evaluate(X_test, y_test)["accuracy"]
    print(f"digits: test accuracy {accuracy:.4f} after {epochs} epochs ({t.seconds:.1f} s)")
    history.plot(path=args.out / "digits_learning_curves.png", title="digits")
    return accuracy


if __name__ == "__main__":
    main()
