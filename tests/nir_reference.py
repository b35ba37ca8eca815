"""An independent NumPy interpreter of NIR graphs, for checking archsim's importer (it imports nir, not archsim).

It runs a graph node by node, one time step at a time, in NIR's own semantics discretised by forward Euler
at ``dt``: ``LIF``: ``v += dt / tau (v_leak - v + r I)``, spike where ``v > v_threshold``, then ``v = v_reset``;
``IF``: ``v += dt r I``; ``CubaLIF``: ``i += dt / tau_syn (-i + w_in I)`` then the LIF membrane on ``i``;
``LI``: the LIF membrane without spikes. Linear nodes (Affine, Linear, Conv2d, SumPool2d, AvgPool2d, Flatten,
Scale) are applied as written. Every edge into a node sums. Nodes run in depth-first order from the Input; an
edge that points back in that order (a recurrent edge) delivers the previous step's value, zero at the start.
Nested graphs are not supported here (the paper graphs are flat).
"""
from __future__ import annotations

import numpy as np


def _pair(v):
    v = np.atleast_1d(np.asarray(v)).astype(int).ravel()
    return (int(v[0]), int(v[0])) if v.size == 1 else (int(v[0]), int(v[1]))


def _conv2d(x, node):
    """x (B, C, H, W); cross-correlation by summing shifted slices (no im2col, unlike archsim)."""
    w = np.asarray(node.weight, dtype=np.float64)
    (sh, sw), (ph, pw), (dh, dw) = _pair(node.stride), _pair(node.padding), _pair(node.dilation)
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    b, c, h, wd = x.shape
    co, ci, kh, kw = w.shape
    oh, ow = (h - dh * (kh - 1) - 1) // sh + 1, (wd - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((b, co, oh, ow))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, :, i * dh: i * dh + sh * (oh - 1) + 1: sh, j * dw: j * dw + sw * (ow - 1) + 1: sw]
            out += np.einsum("bchw,oc->bohw", patch, w[:, :, i, j])
    if node.bias is not None:
        out += np.asarray(node.bias, dtype=np.float64)[None, :, None, None]
    return out


def _pool(x, node, average):
    (kh, kw), (sh, sw) = _pair(node.kernel_size), _pair(node.stride)
    b, c, h, w = x.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.zeros((b, c, oh, ow))
    for i in range(kh):
        for j in range(kw):
            out += x[:, :, i: i + sh * (oh - 1) + 1: sh, j: j + sw * (ow - 1) + 1: sw]
    return out / (kh * kw) if average else out


class Interpreter:
    """``Interpreter(graph, dt).run(x)`` with ``x`` of shape ``(T, B, *input_shape)`` gives every node's outputs."""

    def __init__(self, graph, dt: float):
        self.graph, self.dt = graph, dt
        self.preds = {n: [a for a, b in graph.edges if b == n] for n in graph.nodes}
        succs = {n: [b for a, b in graph.edges if a == n] for n in graph.nodes}
        self.input = next(n for n, node in graph.nodes.items() if type(node).__name__ == "Input")
        self.order, seen = [], set()

        def visit(n):
            seen.add(n)
            self.order.append(n)
            for s in sorted(succs[n]):
                if s not in seen and all(p in seen or self._is_back(p, s) for p in self.preds[s]):
                    visit(s)

        visit(self.input)
        missing = [n for n in graph.nodes if n not in seen]
        while missing:      # nodes reached only through a back edge: take them in DFS order anyway
            visit(missing[0])
            missing = [n for n in graph.nodes if n not in seen]

    def _is_back(self, pred, node) -> bool:
        """pred -> node is a back edge when pred depends, through linear nodes, on node itself."""
        stack, seen = [pred], set()
        while stack:
            n = stack.pop()
            if n == node:
                return True
            if n in seen:
                continue
            seen.add(n)
            stack.extend(self.preds[n])
        return False

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        steps, batch = x.shape[:2]
        out = {n: [] for n in self.graph.nodes}
        state: dict[str, dict] = {n: {} for n in self.graph.nodes}
        last: dict[str, np.ndarray] = {}
        for t in range(steps):
            now: dict[str, np.ndarray] = {}
            for n in self.order:
                node = self.graph.nodes[n]
                if n == self.input:
                    now[n] = np.asarray(x[t], dtype=np.float64)
                else:
                    parts = [now[p] if p in now else last.get(p) for p in self.preds[n]]
                    parts = [p for p in parts if p is not None]
                    current = sum(parts) if parts else None
                    now[n] = self._step(node, current, state[n], batch)
                out[n].append(now[n])
            last = now
        return {n: np.stack(v) for n, v in out.items() if v and all(a is not None for a in v)}

    def _step(self, node, current, st, batch):
        kind, dt = type(node).__name__, self.dt
        if current is None:                      # a recurrent-only input at t = 0
            current = 0.0
        if kind in ("Input", "Output"):
            return current
        if kind == "Affine":
            return current.reshape(batch, -1) @ np.asarray(node.weight, np.float64).T + np.asarray(node.bias, np.float64)
        if kind == "Linear":
            return current.reshape(batch, -1) @ np.asarray(node.weight, np.float64).T
        if kind == "Conv2d":
            return _conv2d(current, node)
        if kind in ("SumPool2d", "AvgPool2d"):
            return _pool(current, node, kind == "AvgPool2d")
        if kind == "Flatten":
            return current.reshape(batch, -1)
        if kind == "Scale":
            return current * np.asarray(node.scale, np.float64)
        p = {k: np.asarray(v, np.float64) for k, v in vars(node).items() if isinstance(v, np.ndarray)}
        v = st.get("v", 0.0)
        if kind == "CubaLIF":
            i = st.get("i", 0.0)
            i = i + dt / p["tau_syn"] * (-i + p["w_in"] * current)
            st["i"] = i
            v = v + dt / p["tau_mem"] * (p["v_leak"] - v + p["r"] * i)
        elif kind in ("LIF", "LI"):
            v = v + dt / p["tau"] * (p["v_leak"] - v + p["r"] * current)
        elif kind in ("IF", "I"):
            v = v + dt * p["r"] * current
        else:
            raise NotImplementedError(kind)
        if kind in ("LI", "I"):
            st["v"] = v
            return v
        s = (v > p["v_threshold"]).astype(np.float64)
        st["v"] = np.where(s > 0, p.get("v_reset", 0.0), v)
        return s
