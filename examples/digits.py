"""Handwritten 8x8 digits (scikit-learn's set): a small MLP with L2 and dropout, above 97% test accuracy.

The code between the quickstart markers is the README's quickstart, character for character
(tests/test_readme.py checks it). Validation rows come from the training set; the test set is
used once, at the end.

python examples/digits.py [--backend torch] [--quick]
"""

from __future__ import annotations

# --- quickstart ---
import scratchnet as sn


def train_digits(backend="numpy", device=None, epochs=60, out=".", seed=0):
    """Train an MLP on scikit-learn's 8x8 digits, test it once, check its gradients, save it."""
    X_train, y_train, X_test, y_test = sn.datasets.load_digits(seed=seed)  # scaled to [0, 1]

    model = sn.Model(
        hidden=(128,),
        activation="relu",
        output="softmax",
        dropout=0.1,
        l2=1e-3,
        backend=backend,
        device=device,
        seed=seed,
    )
    history = model.fit(
        X_train,
        y_train,
        epochs=epochs,
        batch_size=32,
        optimizer="adam",
        lr=2e-3,
        validation_split=0.1,  # 10% of the training rows, stratified; never the test set
        callbacks=[sn.EarlyStopping(patience=10)],  # keeps the weights of the best epoch
    )
    scores = model.evaluate(X_test, y_test)  # {'loss': ..., 'accuracy': ...}
    print(f"digits: test accuracy {scores['accuracy']:.4f} after {len(history.epoch)} epochs")
    history.plot(path=f"{out}/digits_curves.png")  # learning curves (matplotlib)

    loss, grads = model.loss_and_gradients(X_train[:32], y_train[:32])  # hand-derived gradients
    print(f"batch loss {loss:.4f}; dL/dB(1) has shape {tuple(grads['dense1.B'].shape)}")
    check = sn.testing.check_gradients(sn.Model(hidden=(4,), seed=0), X_train[:5], y_train[:5])
    print(f"gradient check: central differences agree to {check.max_error:.1e}")  # float64

    model.save(f"{out}/digits.npz")  # one file, JSON + arrays, never pickled
    restored = sn.load(f"{out}/digits.npz", backend="auto")  # CuPy where a GPU works, else NumPy
    print(f"saved {out}/digits.npz and loaded it on {restored.backend.describe()}")
    return model, scores


# --- end quickstart ---


def main(argv=None) -> float:
    from _common import parse, parser

    p = parser(__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=60)
    args = parse(p, argv)
    epochs = 3 if args.quick else args.epochs
    _, scores = train_digits(args.backend, args.device, epochs, args.out, args.seed)
    return scores["accuracy"]


if __name__ == "__main__":
    main()
