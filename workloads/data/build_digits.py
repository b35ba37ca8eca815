"""Rebuild ``digits.npz`` from the UCI digits CSV (``digits.csv.gz``, 65 integer columns per row).

Usage: ``python workloads/data/build_digits.py PATH/TO/digits.csv.gz``. The CSV is the copy inside
scikit-learn's wheel (``sklearn/datasets/data/digits.csv.gz``); see README.md in this folder.
The train/test split is stratified per class with a fixed seed, so the file is reproducible.
"""
from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np

SPLIT_SEED = 20240601
TEST_FRACTION = 0.2


def split_indices(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split: in each class, a seeded shuffle gives round(20%) to test, the rest to train."""
    rng = np.random.default_rng(SPLIT_SEED)
    train, test = [], []
    for cls in range(10):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        n_test = int(round(TEST_FRACTION * idx.size))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def main(csv_gz: str) -> None:
    with gzip.open(csv_gz, "rt") as fh:
        rows = np.loadtxt(fh, delimiter=",", dtype=np.int64)
    images = rows[:, :64].reshape(-1, 8, 8).astype(np.uint8)
    labels = rows[:, 64].astype(np.uint8)
    assert images.shape == (1797, 8, 8) and images.max() <= 16
    train, test = split_indices(labels)
    out = Path(__file__).with_name("digits.npz")
    np.savez_compressed(out, x_train=images[train], y_train=labels[train],
                        x_test=images[test], y_test=labels[test])
    print(f"wrote {out}: {train.size} train, {test.size} test")


if __name__ == "__main__":
    main(sys.argv[1])
