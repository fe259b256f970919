"""Section 4 in one picture: no regularisation vs L2 vs dropout vs early stopping.

A wide network on a small, noisy two-moons set overfits; each regulariser is trained from the same
initial weights. Their validation losses are drawn in one plot (regularization_compared.png) and
their decision boundaries side by side (regularization_boundaries.png).

    python examples/regularization_compared.py [--backend torch] [--quick]
"""

from __future__ import annotations

from _common import parse, parser

import scratchnet as sn


def main(argv=None) -> dict:
    args = parse(parser(__doc__.splitlines()[0]), argv)
    X, y = sn.datasets.make_moons(300, noise=0.35, seed=args.seed)
    X_train, X_val, y_train, y_val = sn.data.train_test_split(X, y, test_size=0.5, seed=args.seed)
    epochs = 5 if args.quick else 400
    variants = {
        "none": ({}, []),
        "L2 (lambda = 3)": ({"l2": 3.0}, []),
        "dropout (rate 0.5)": ({"dropout": 0.5}, []),
        "early stopping": ({}, [sn.EarlyStopping(patience=20)]),
    }
    results, histories, models = {}, {}, {}
    for label, (extra, callbacks) in variants.items():
        model = sn.Model(hidden=(128, 128), activation="relu", backend=args.backend, device=args.device,
                         seed=args.seed, **extra)  # fmt: skip
        hist = model.fit(X_train, y_train, epochs=epochs, batch_size=16, lr=3e-3,
                         validation_data=(X_val, y_val), callbacks=callbacks)  # fmt: skip
        histories[label] = hist
        models[label] = model
        results[label] = model.evaluate(X_val, y_val)
        print(f"{label:<20} val loss {results[label]['loss']:.3f}  val accuracy "
              f"{results[label]['accuracy']:.3f}  epochs {len(hist.epoch)}")  # fmt: skip

    sn.plots.plot_histories(histories, "val_loss", path=args.out / "regularization_compared.png",
                            title="regularisation compared (two moons, noise 0.35)")  # fmt: skip
    sn.plots.plot_decision_boundaries(models, X_train, y_train, path=args.out / "regularization_boundaries.png",
                                      title="decision boundaries on the training points")  # fmt: skip
    return results


if __name__ == "__main__":
    main()
