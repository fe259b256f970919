"""Section 1 of the notes: a deep network with one neuron per layer, and the gradients of its output.

For f(x) = a h(J) + b with h(j) = u(h(j-1) B(j) + c(j)), the notes derive

    df/dB(j) = a * prod_{l=j..J} u'(z(l)) * prod_{l=j+1..J} B(l) * (x if j == 1 else h(j-1))

This script builds such a chain, asks scratchnet for the per-sample gradients of f (by
back-propagation), evaluates the closed-form products by hand, prints both side by side, and
shows how the gradient shrinks towards the input (the vanishing-gradient effect of sigmoid).

    python examples/single_neuron_chain.py [--depth 5] [--activation sigmoid]
"""

from __future__ import annotations

import numpy as np
from _common import parse, parser

import scratchnet as sn
from scratchnet.activations import get_activation


def main(argv=None) -> float:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--depth", type=int, default=5)
    p.add_argument("--activation", default="sigmoid")
    args = parse(p, argv)
    J = args.depth
    model = sn.Model(hidden=(1,) * J, activation=args.activation, output="identity", dtype="float64",
                     backend=args.backend, device=args.device, seed=args.seed, init="normal")  # fmt: skip
    model.build(n_features=3, n_outputs=1)
    x = np.array([[0.5, -1.0, 2.0]])
    grads = sn.to_numpy(model.output_gradients(x))
    P = sn.to_numpy(model.parameters())
    u = get_activation(args.activation)

    B = [None] + [P[f"dense{j}.B"] for j in range(1, J + 1)]
    c = [None] + [P[f"dense{j}.c"][0] for j in range(1, J + 1)]
    a = P[f"dense{J + 1}.B"][0, 0]
    z, h = [None] * (J + 1), [None] * (J + 1)
    for j in range(1, J + 1):
        z[j] = (x[0] @ B[1][:, 0] if j == 1 else h[j - 1] * B[j][0, 0]) + c[j]
        h[j] = float(u.forward(np.array(z[j])))
    du = [None] + [float(u.derivative(np.array(z[j]), np.array(h[j]))) for j in range(1, J + 1)]

    print(
        f"depth J = {J}, activation {args.activation}, f(x) = {float(sn.to_numpy(model.predict(x))[0]):.6f}"
    )
    print(f"{'layer':>5} {'df/dc(j) backprop':>20} {'closed form':>14} {'|df/dB(j)|':>12}")
    worst = 0.0
    for j in range(1, J + 1):
        closed = a * np.prod(du[j:]) * np.prod([B[m][0, 0] for m in range(j + 1, J + 1)])
        got = grads[f"dense{j}.c"][0, 0]
        worst = max(worst, abs(got - closed) / max(abs(closed), 1e-300))
        print(f"{j:>5} {got:>20.6e} {closed:>14.6e} {np.abs(grads[f'dense{j}.B'][0]).max():>12.3e}")
    print(f"largest relative difference: {worst:.1e}")
    return worst


if __name__ == "__main__":
    main()
