"""A hand-written NumPy MLP training loop: the "no library" reference for scratchnet's overhead.

The same code runs twice: with ``namespace="direct"`` every ``xp`` is the raw ``numpy`` module;
with ``namespace="compat"`` each function asks ``array_api_compat.array_namespace`` for it, as
scratchnet's math does, and so calls ``array_api_compat.numpy``. Their time ratio is the cost of the
array-api-compat path alone, everything else held equal. scratchnet's time over ``direct`` is the
whole library's overhead over a plain loop computing the same math:

    Z(l) = H(l-1) B(l) + c(l),  H(l) = relu(Z(l)),  F = Z(L)
    dF = (softmax(F) - Y) / n,  E(l) = (E(l+1) B(l+1)^T) * [H(l) > 0]
    dB(l) = H(l-1)^T E(l),  dc(l) = 1^T E(l),  Adam with bias correction (in place).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

NAMESPACES = ("direct", "compat")


def _namespace_getter(namespace: str) -> Callable[..., Any]:
    if namespace == "direct":
        return lambda *arrays: np
    if namespace == "compat":
        from array_api_compat import array_namespace

        return array_namespace
    raise ValueError(f"namespace must be one of {NAMESPACES}, got {namespace!r}")


class NumpyMLP:
    """ReLU MLP with a softmax/cross-entropy head, trained by mini-batch Adam.

    Parameters
    ----------
    params : sequence of (ndarray, ndarray)
        Initial (B, c) per layer, B of shape (fan_in, fan_out); copied.
    n_classes : int
    batch_size : int
    lr : float
        Adam learning rate; beta1 0.9, beta2 0.999, eps 1e-8.
    seed : int
        Seeds the per-epoch shuffles.
    namespace : {"direct", "compat"}
        Raw ``numpy`` or ``array_api_compat.numpy`` obtained through ``array_namespace``.
    """

    def __init__(
        self,
        params: Sequence[tuple[np.ndarray, np.ndarray]],
        n_classes: int,
        batch_size: int,
        lr: float,
        seed: int,
        namespace: str = "direct",
    ) -> None:
        self.ns = _namespace_getter(namespace)
        self.namespace = namespace
        self.B = [np.array(B, copy=True) for B, _ in params]
        self.c = [np.array(c, copy=True) for _, c in params]
        self.mB = [np.zeros_like(B) for B in self.B]
        self.vB = [np.zeros_like(B) for B in self.B]
        self.mc = [np.zeros_like(c) for c in self.c]
        self.vc = [np.zeros_like(c) for c in self.c]
        self.n_classes = n_classes
        self.batch_size = batch_size
        self.lr = float(lr)
        self.beta1, self.beta2, self.eps = 0.9, 0.999, 1e-8
        self.t = 0
        self.rng = np.random.default_rng(seed)

    # -- math, each function taking its namespace from its arguments ---------------------------
    def _forward(self, X: np.ndarray) -> list[np.ndarray]:
        """[X, H(1), ..., H(L-1), F]."""
        xp = self.ns(X)
        outs = [X]
        last = len(self.B) - 1
        for l, (B, c) in enumerate(zip(self.B, self.c, strict=True)):
            Z = outs[-1] @ B + c
            outs.append(Z if l == last else xp.maximum(Z, 0.0))
        return outs

    def _loss_and_delta(self, F: np.ndarray, Y: np.ndarray) -> tuple[Any, np.ndarray]:
        """Mean cross-entropy and dL/dF = (softmax(F) - Y) / n."""
        xp = self.ns(F, Y)
        S = F - xp.max(F, axis=1, keepdims=True)
        P = xp.exp(S)
        total = xp.sum(P, axis=1, keepdims=True)
        n = F.shape[0]
        loss = (xp.sum(xp.log(total)) - xp.sum(Y * S)) / n
        return loss, (P / total - Y) * (1.0 / n)

    def _backward(self, outs: list[np.ndarray], dF: np.ndarray) -> list[tuple[Any, Any]]:
        """(dB, dc) per layer, first layer first."""
        xp = self.ns(dF)
        grads = []
        E = dF
        for l in range(len(self.B) - 1, -1, -1):
            H = outs[l]
            grads.append((H.T @ E, xp.sum(E, axis=0)))
            if l > 0:
                E = (E @ self.B[l].T) * (H > 0)
        return grads[::-1]

    def _adam(self, p: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray) -> None:
        xp = self.ns(p, g)
        c1 = 1.0 - self.beta1**self.t
        c2 = 1.0 - self.beta2**self.t
        m *= self.beta1
        m += (1.0 - self.beta1) * g
        v *= self.beta2
        v += (1.0 - self.beta2) * (g * g)
        denom = xp.sqrt(v)
        denom *= 1.0 / math.sqrt(c2)
        denom += self.eps
        step = m / denom
        step *= self.lr / c1
        p -= step

    # -- training and inference ----------------------------------------------------------------
    def one_hot(self, y: np.ndarray) -> np.ndarray:
        """(n, n_classes) one-hot targets in the parameters' dtype."""
        Y = np.zeros((y.shape[0], self.n_classes), dtype=self.B[0].dtype)
        Y[np.arange(y.shape[0]), y] = 1.0
        return Y

    def train_epoch(self, X: np.ndarray, Y: np.ndarray) -> float:
        """One shuffled pass of mini-batch Adam; returns the mean training loss."""
        n = X.shape[0]
        order = self.rng.permutation(n)
        loss_sum = 0.0
        for start in range(0, n, self.batch_size):
            stop = min(start + self.batch_size, n)
            idx = order[start:stop]
            xp = self.ns(X)
            Xb = xp.take(X, idx, axis=0)
            Yb = xp.take(Y, idx, axis=0)
            outs = self._forward(Xb)
            loss, dF = self._loss_and_delta(outs[-1], Yb)
            grads = self._backward(outs, dF)
            self.t += 1
            for l, (dB, dc) in enumerate(grads):
                self._adam(self.B[l], dB, self.mB[l], self.vB[l])
                self._adam(self.c[l], dc, self.mc[l], self.vc[l])
            loss_sum += loss * (stop - start)
        return float(loss_sum) / n

    def predict(self, X: np.ndarray, chunk: int = 8192) -> np.ndarray:
        """Class indices, computed in chunks of ``chunk`` rows."""
        xp = self.ns(X)
        parts = [
            xp.argmax(self._forward(X[s : s + chunk])[-1], axis=1)
            for s in range(0, X.shape[0], chunk)
        ]
        return xp.concat(parts) if len(parts) > 1 else parts[0]
