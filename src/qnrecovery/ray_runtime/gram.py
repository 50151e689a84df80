"""Exact quantum-kernel Gram matrices computed block by block as Ray tasks.

Block ``(i, j)`` of ``K = |A B^dagger|**2`` needs rows ``i`` of ``A`` and rows
``j`` of ``B`` only, so the blocks are independent tasks. Both sets of states
go into the object store once; every task reads them without a copy. Each
block runs the same NumPy expression as :func:`gram_blocks_local`, so the
distributed result equals the local one bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qnrecovery.exceptions import ConfigError, DataError

__all__ = ["gram_block", "gram_blocks_local", "gram_blocks_on_ray"]


def gram_block(
    states_a: np.ndarray, states_b: np.ndarray, rows: slice, cols: slice
) -> np.ndarray:
    """Fidelities ``|<a_i|b_j>|**2`` for rows `rows` of A and rows `cols` of B.

    Parameters
    ----------
    states_a, states_b : ndarray of shape (N, 2**n)
        Statevectors, one per row.
    rows, cols : slice
        The block.

    Returns
    -------
    ndarray
        The block, clipped to [0, 1].
    """
    overlap = states_a[rows] @ states_b[cols].conj().T
    block = overlap.real**2 + overlap.imag**2
    return np.clip(block, 0.0, 1.0)


def _blocks(n_a: int, n_b: int, block: int) -> list[tuple[slice, slice]]:
    return [
        (slice(i, min(i + block, n_a)), slice(j, min(j + block, n_b)))
        for i in range(0, n_a, block)
        for j in range(0, n_b, block)
    ]


def _check(states_a: Any, states_b: Any, block: int) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(states_a)
    b = np.asarray(states_b)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise DataError(
            f"statevectors must be two 2-D arrays with equal row length; got "
            f"shapes {a.shape} and {b.shape}"
        )
    if not np.all(np.isfinite(a)) or not np.all(np.isfinite(b)):
        raise DataError("statevectors contain NaN or infinite values")
    if isinstance(block, bool) or not isinstance(block, int) or block < 1:
        raise ConfigError(f"block must be a positive integer; got {block!r}")
    return a, b


def gram_blocks_local(states_a: Any, states_b: Any, block: int) -> np.ndarray:
    """The Gram matrix ``|A B^dagger|**2``, block by block in this process.

    Parameters
    ----------
    states_a : array-like of shape (N_a, 2**n)
    states_b : array-like of shape (N_b, 2**n)
    block : int
        Rows and columns per block.

    Returns
    -------
    ndarray of shape (N_a, N_b)

    Raises
    ------
    DataError
        If the arrays are not 2-D with equal row length, or not finite.
    ConfigError
        If `block` is not a positive integer.
    """
    a, b = _check(states_a, states_b, block)
    gram = np.empty((a.shape[0], b.shape[0]))
    for rows, cols in _blocks(a.shape[0], b.shape[0], block):
        gram[rows, cols] = gram_block(a, b, rows, cols)
    return gram


def gram_blocks_on_ray(states_a: Any, states_b: Any, block: int) -> np.ndarray:
    """The Gram matrix ``|A B^dagger|**2`` with one Ray task per block.

    Uses the Ray session of this process (``ray.init`` is called with no
    address when none is running, which starts a local one).

    Parameters
    ----------
    states_a : array-like of shape (N_a, 2**n)
    states_b : array-like of shape (N_b, 2**n)
    block : int
        Rows and columns per block.

    Returns
    -------
    ndarray of shape (N_a, N_b)
        Equal, element for element, to :func:`gram_blocks_local`.

    Raises
    ------
    ConfigError
        If Ray is not installed (names the ``ray`` extra), or `block` is bad.
    DataError
        If the arrays are not 2-D with equal row length, or not finite.
    """
    from qnrecovery.ray_runtime._extra import join_ray

    a, b = _check(states_a, states_b, block)
    ray, _ = join_ray(what="gram_blocks_on_ray")

    task = ray.remote(num_cpus=1)(gram_block)
    ref_a, ref_b = ray.put(a), ray.put(b)
    spans = _blocks(a.shape[0], b.shape[0], block)
    parts = ray.get([task.remote(ref_a, ref_b, rows, cols) for rows, cols in spans])
    gram = np.empty((a.shape[0], b.shape[0]))
    for (rows, cols), part in zip(spans, parts, strict=True):
        gram[rows, cols] = part
    return gram
