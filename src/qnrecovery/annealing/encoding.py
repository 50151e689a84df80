"""The placement model as a binary quadratic model an annealer can sample.

Two encodings of "each slot takes one of its candidate hosts":

``domain-wall`` (default)
    A slot with ``K`` candidates, cheapest first, gets ``K - 1`` binaries
    ``d_1 .. d_{K-1}``; the valid states are ``0..0 1..1`` and the host is
    where the wall sits (``x_k = d_k - d_{k-1}`` with ``d_0 = 0``,
    ``d_K = 1``). One bit flip moves the wall by one place, so moving a
    standby to the next-cheapest host passes through valid states only, and
    a broken wall costs ``A * d_k * (1 - d_{k+1})``.
``one-hot``
    One binary per candidate and ``A * (sum_k x_k - 1) ** 2``; moving a
    standby needs two flips through an invalid state.

Capacity is penalised without slack variables (unbalanced penalisation): on
host ``h`` with load ``L`` and room ``R``::

    lam_h * ((L - R) ** 2 + 2 * g_h * (L - R))

which grows above ``R`` and has its minimum ``g_h`` below it (see
:meth:`Penalties.from_scale` for where). The
domain rule (two standbys of a service in one failure domain) is the exact
quadratic ``B * x_p * x_q``. Every quadratic in ``x`` is rewritten in the
encoding's binaries through ``x = T y + e``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from scipy import sparse

from qnrecovery.annealing.model import PlacementIndex, variable_label

if TYPE_CHECKING:
    import dimod

__all__ = ["ENCODINGS", "Encoded", "Penalties", "encode"]

# Capacity curvature relative to the choice penalty: overflowing a host by
# one typical reservation costs this share of a typical cost spread (times
# ``strength``). Stiffer capacity penalties gave more feasible samples but a
# worse objective on the random benchmark instances (see docs/benchmarks.md).
_CAPACITY_SHARE = 0.03

Encoding = Literal["domain-wall", "one-hot"]
ENCODINGS: tuple[Encoding, ...] = ("domain-wall", "one-hot")


@dataclass
class Penalties:
    """Penalty strengths of one encoding run.

    Attributes
    ----------
    choice : ndarray of shape (n_slots,)
        Strength of the one-host-per-slot penalty (``A``), per slot.
    capacity : ndarray of shape (n_hosts,)
        Curvature ``lam_h`` of each host's capacity penalty.
    offset : ndarray of shape (n_hosts,)
        ``g_h``: the capacity penalty is smallest this far below the room.
    domain : float
        Strength ``B`` of the same-domain penalty.
    """

    choice: np.ndarray
    capacity: np.ndarray
    offset: np.ndarray
    domain: float

    @classmethod
    def from_scale(
        cls, index: PlacementIndex, candidates: Sequence[np.ndarray], strength: float
    ) -> Penalties:
        """Strengths proportional to the objective's own scale.

        With ``s`` the median spread of a slot's candidate costs and ``u``
        the median reservation: the domain penalty is ``(strength + 1) * s``;
        a slot's choice penalty is ``strength`` times its own spread (at
        least ``s``) plus twice the domain penalty, so breaking an encoding
        never pays; the capacity curvature is ``0.03 * strength * s / u**2``
        and each host's capacity penalty is lowest at the load it gets when
        every slot takes its cheapest candidate, but at least half a
        reservation below its room. A quadratic capacity penalty cannot be
        flat below the room and steep above it; centring it on the
        unconstrained loads keeps it from pulling standbys onto hosts that
        nobody prefers.
        """
        spread = np.array(
            [
                np.ptp(index.cost[i, c]) if len(c) > 1 else 0.0
                for i, c in enumerate(candidates)
            ]
        )
        typical = float(np.median(spread[spread > 0])) if np.any(spread > 0) else 1.0
        positive = index.reserve[index.reserve > 0]
        unit = float(np.median(positive)) if len(positive) else 1.0
        domain = strength * typical + typical
        choice = strength * np.maximum(spread, typical) + 2 * domain
        capacity = np.full(
            len(index.hosts), _CAPACITY_SHARE * strength * typical / unit**2
        )

        # Lowest penalty at the load each host gets when every slot takes its
        # cheapest candidate, capped half a reservation below the room.
        first = np.array([c[0] for c in candidates], dtype=int)
        wanted = np.bincount(first, weights=index.reserve, minlength=len(index.hosts))
        centre = np.minimum(wanted, index.room - 0.5 * unit)
        offset = index.room - centre
        return cls(choice, capacity, offset, domain)

    def scaled(self, factor: float, hosts: np.ndarray | None = None) -> Penalties:
        """A copy with every strength (or only ``hosts``' capacity) times ``factor``."""
        if hosts is not None:
            capacity = self.capacity.copy()
            capacity[hosts] *= factor
            return Penalties(self.choice, capacity, self.offset, self.domain)
        return Penalties(
            self.choice * factor,
            self.capacity * factor,
            self.offset,
            self.domain * factor,
        )

    def summary(self) -> dict[str, float]:
        """Mean strengths, for ``info``."""
        return {
            "choice": float(np.mean(self.choice)),
            "capacity": float(np.mean(self.capacity)),
            "domain": float(self.domain),
        }


@dataclass
class Encoded:
    """A BQM and how to read its samples back as placements.

    Attributes
    ----------
    bqm : dimod.BinaryQuadraticModel
    encoding : str
    candidates : list of ndarray
        Host numbers per slot, in encoding order.
    pair_labels : list of str
        CQM label of every slot-host pair, in the order of :meth:`choices`.
    """

    bqm: dimod.BinaryQuadraticModel
    encoding: Encoding
    candidates: list[np.ndarray]
    pair_labels: list[str]
    _transform: sparse.csr_array
    _constant: np.ndarray

    def choices(self, samples: np.ndarray) -> np.ndarray:
        """The ``x`` values (possibly -1 or 2 when broken) of each sample row."""
        return (self._transform @ samples.T).T + self._constant

    def decode(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Host number per slot of each sample, and whether its encoding held.

        A slot whose encoding is broken takes its first candidate with
        ``x = 1`` (or its cheapest if none); the second array says which
        samples had every slot's encoding intact.
        """
        x = self.choices(samples)
        n_slots = len(self.candidates)
        intact = np.ones(len(samples), dtype=bool)
        chosen = np.empty((len(samples), n_slots), dtype=int)
        starts = np.cumsum([0] + [len(c) for c in self.candidates])
        for i in range(n_slots):
            block = x[:, starts[i] : starts[i + 1]]
            valid = np.all((block == 0) | (block == 1), axis=1) & (block.sum(1) == 1)
            intact &= valid
            first = np.argmax(block >= 1, axis=1)
            chosen[:, i] = self.candidates[i][first]
        return chosen, intact

    def encode_choice(self, chosen: np.ndarray) -> dict[str, int]:
        """The binary sample that represents a placement (host numbers)."""
        values: dict[str, int] = {}
        for i, hosts in enumerate(self.candidates):
            k = int(np.flatnonzero(hosts == chosen[i])[0])
            for label, value in _slot_bits(self.encoding, i, len(hosts), k):
                values[label] = value
        return values


def _slot_bits(
    encoding: Encoding, slot: int, n_candidates: int, k: int
) -> list[tuple[str, int]]:
    if encoding == "one-hot":
        return [(f"x{slot}_{m}", int(m == k)) for m in range(n_candidates)]
    # Wall before position k: d_m = 1 for m >= k (1-based d_1..d_{K-1}).
    return [(f"d{slot}_{m}", int(m >= k + 1)) for m in range(1, n_candidates)]


def encode(
    index: PlacementIndex,
    candidates: Sequence[np.ndarray],
    penalties: Penalties,
    encoding: Encoding = "domain-wall",
) -> Encoded:
    """Build the BQM of a placement problem restricted to ``candidates``.

    Parameters
    ----------
    index : PlacementIndex
    candidates : list of ndarray
        Host numbers per slot, cheapest first.
    penalties : Penalties
    encoding : {"domain-wall", "one-hot"}, default="domain-wall"

    Returns
    -------
    Encoded
    """
    import dimod

    pair_slot = np.concatenate(
        [np.full(len(c), i, dtype=int) for i, c in enumerate(candidates)]
    )
    pair_host = np.concatenate([np.asarray(c, dtype=int) for c in candidates])
    n_pairs = len(pair_slot)
    cost = index.cost[pair_slot, pair_host]

    # The objective and the x-space penalties: x^T Q x + c^T x + const.
    quad, linear, constant = _x_penalties(index, pair_slot, pair_host, penalties)
    linear = linear + cost

    transform, shift, labels, extra = _transform(encoding, candidates, penalties)
    q = sparse.csr_array(quad, shape=(n_pairs, n_pairs))
    mq = (transform.T @ q @ transform).tocoo()
    lin_y = transform.T @ ((q + q.T) @ shift) + transform.T @ linear
    offset = float(shift @ (q @ shift) + linear @ shift + constant)

    # Binary y: y^2 = y, so the diagonal joins the linear part.
    diag = mq.row == mq.col
    lin_y = lin_y + np.bincount(
        mq.row[diag], weights=mq.data[diag], minlength=len(labels)
    )
    rows, cols, data = mq.row[~diag], mq.col[~diag], mq.data[~diag]
    extra_rows, extra_cols, extra_data, extra_lin, extra_offset = extra
    offset += extra_offset
    rows = np.concatenate([rows, extra_rows])
    cols = np.concatenate([cols, extra_cols])
    data = np.concatenate([data, extra_data])
    lin_y = lin_y + extra_lin
    bqm = dimod.BinaryQuadraticModel.from_numpy_vectors(
        lin_y, (rows, cols, data), offset, dimod.BINARY, variable_order=labels
    )
    pair_labels = [
        variable_label(index.slots[i].key, index.hosts[j])
        for i, j in zip(pair_slot, pair_host, strict=True)
    ]
    return Encoded(
        bqm,
        encoding,
        [np.asarray(c, dtype=int) for c in candidates],
        pair_labels,
        transform.tocsr(),
        shift,
    )


def _x_penalties(
    index: PlacementIndex,
    pair_slot: np.ndarray,
    pair_host: np.ndarray,
    penalties: Penalties,
) -> tuple[tuple[np.ndarray, tuple[np.ndarray, np.ndarray]], np.ndarray, float]:
    """Capacity and domain penalties as a quadratic form in the pair binaries."""
    n_pairs = len(pair_slot)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    linear = np.zeros(n_pairs)
    constant = 0.0
    weight = index.reserve[pair_slot]

    for h in range(len(index.hosts)):
        on = np.flatnonzero((pair_host == h) & (weight > 0))
        if len(on) == 0:
            continue
        lam, room, g = penalties.capacity[h], index.room[h], penalties.offset[h]
        w = weight[on]
        r, c = np.meshgrid(on, on, indexing="ij")
        rows.append(r.ravel())
        cols.append(c.ravel())
        vals.append(lam * np.outer(w, w).ravel())
        # lam * ((L - R)^2 + 2 g (L - R)) = lam * (L^2 + (2g - 2R) L + R^2 - 2gR)
        linear[on] += lam * (2 * g - 2 * room) * w
        constant += lam * (room**2 - 2 * g * room)

    key = index.service[pair_slot] * len(index.domains) + index.domain[pair_host]
    order = np.argsort(key, kind="stable")
    bounds = np.flatnonzero(np.diff(key[order])) + 1
    for group in np.split(order, bounds):
        if len(group) < 2:
            continue
        r, c = np.meshgrid(group, group, indexing="ij")
        mask = pair_slot[r] < pair_slot[c]
        rows.append(r[mask])
        cols.append(c[mask])
        vals.append(np.full(int(mask.sum()), penalties.domain))

    if rows:
        data = np.concatenate(vals)
        coords = (np.concatenate(rows), np.concatenate(cols))
    else:
        data, coords = np.zeros(0), (np.zeros(0, dtype=int), np.zeros(0, dtype=int))
    return (data, coords), linear, constant


def _transform(
    encoding: Encoding, candidates: Sequence[np.ndarray], penalties: Penalties
) -> tuple[
    sparse.coo_array,
    np.ndarray,
    list[str],
    tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float],
]:
    """``x = T y + e`` for the encoding, its labels and its own penalty terms."""
    t_rows: list[int] = []
    t_cols: list[int] = []
    t_vals: list[float] = []
    shift: list[float] = []
    labels: list[str] = []
    p_rows: list[int] = []
    p_cols: list[int] = []
    p_vals: list[float] = []
    lin: list[float] = []
    offset = 0.0
    pair = 0
    for i, hosts in enumerate(candidates):
        n = len(hosts)
        a = float(penalties.choice[i])
        base = len(labels)
        if encoding == "one-hot":
            labels.extend(f"x{i}_{m}" for m in range(n))
            offset += a
            for m in range(n):
                t_rows.append(pair + m)
                t_cols.append(base + m)
                t_vals.append(1.0)
                shift.append(0.0)
                lin.append(-a)  # a * (sum x - 1)^2 = a*(2 sum_{m<l} x x - sum x + 1)
                for m2 in range(m + 1, n):
                    p_rows.append(base + m)
                    p_cols.append(base + m2)
                    p_vals.append(2 * a)
        else:
            labels.extend(f"d{i}_{m}" for m in range(1, n))
            lin.extend([0.0] * (n - 1))
            for k in range(n):  # x_k = d_k - d_{k-1}, d_0 = 0, d_n = 1
                if k < n - 1:
                    t_rows.append(pair + k)
                    t_cols.append(base + k)
                    t_vals.append(1.0)
                if k > 0:
                    t_rows.append(pair + k)
                    t_cols.append(base + k - 1)
                    t_vals.append(-1.0)
                shift.append(1.0 if k == n - 1 else 0.0)
            for m in range(n - 2):  # a * d_m * (1 - d_{m+1})
                lin[base + m] += a
                p_rows.append(base + m)
                p_cols.append(base + m + 1)
                p_vals.append(-a)
        pair += n
    transform = sparse.coo_array((t_vals, (t_rows, t_cols)), shape=(pair, len(labels)))
    extra = (
        np.array(p_rows, dtype=int),
        np.array(p_cols, dtype=int),
        np.array(p_vals, dtype=float),
        np.array(lin, dtype=float),
        offset,
    )
    return transform, np.array(shift), labels, extra
