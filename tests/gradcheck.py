"""Shared check of the trainer's tests: analytic BPTT gradients against central finite differences."""
import numpy as np

from workloads.trainer import loss_and_gradients


def check_gradients(model, x, labels, rng, per_param: int = 6, eps: float = 1e-6) -> int:
    """Compare every op's gradients (from :func:`loss_and_gradients`) with central differences at up to
    ``per_param`` random entries of each parameter; returns how many entries were checked."""
    loss_and_gradients(model, x, labels)
    analytic = [(op, key, op.grads[key].copy()) for op in model.ops() for key in op.params]
    checked = 0
    for op, key, grad in analytic:
        param = op.params[key]
        for flat in rng.choice(param.size, size=min(per_param, param.size), replace=False):
            idx = np.unravel_index(flat, param.shape)
            saved = param[idx]
            param[idx] = saved + eps
            up = loss_and_gradients(model, x, labels)[0]
            param[idx] = saved - eps
            down = loss_and_gradients(model, x, labels)[0]
            param[idx] = saved
            numeric = (up - down) / (2 * eps)
            assert abs(numeric - grad[idx]) <= 1e-6 + 1e-4 * abs(numeric), (key, idx, numeric, grad[idx])
            checked += 1
    return checked
