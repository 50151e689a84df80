"""Make a placement feasible, then improve it without ever leaving feasibility.

:func:`repair` takes any full or partial placement (host number per slot):
standbys in their primary's domain, standbys sharing a domain with another
of their service and standbys on an overfull host are lifted off (the
costlier or larger ones first) and put back, largest reservation first, on
the cheapest host that has room and a free domain. :func:`local_search` then
applies improving moves of one standby to another host and swaps of two
standbys between hosts until none is left. Both work on every allowed host,
not only on the annealer's candidates.
"""

from __future__ import annotations

import numpy as np

from qnrecovery.annealing.model import PlacementIndex

__all__ = ["Ledger", "local_search", "repair"]

_TOLERANCE = 1e-9


class Ledger:
    """Loads and used domains of a partial placement, kept up to date.

    Parameters
    ----------
    index : PlacementIndex
    chosen : ndarray of int
        Host number per slot; -1 for a slot not placed yet.
    """

    def __init__(self, index: PlacementIndex, chosen: np.ndarray) -> None:
        self.index = index
        self.chosen = np.array(chosen, dtype=int)
        self.load = np.zeros(len(index.hosts))
        n_services = int(index.service.max()) + 1 if index.n_slots else 0
        self.used = np.zeros((n_services, len(index.domains)), dtype=int)
        for i, j in enumerate(self.chosen):
            if j >= 0:
                self._count(i, int(j), +1)

    def _count(self, slot: int, host: int, sign: int) -> None:
        self.load[host] += sign * self.index.reserve[slot]
        self.used[self.index.service[slot], self.index.domain[host]] += sign

    def lift(self, slot: int) -> None:
        """Take ``slot`` off its host."""
        host = int(self.chosen[slot])
        if host >= 0:
            self._count(slot, host, -1)
            self.chosen[slot] = -1

    def put(self, slot: int, host: int) -> None:
        """Place the unplaced ``slot`` on ``host``."""
        self._count(slot, host, +1)
        self.chosen[slot] = host

    def open_hosts(self, slot: int) -> np.ndarray:
        """Mask of hosts where the unplaced ``slot`` may go now."""
        index = self.index
        fits = self.load + index.reserve[slot] <= index.room + _TOLERANCE
        free = self.used[index.service[slot], index.domain] == 0
        return fits & free & np.isfinite(index.cost[slot])


def repair(index: PlacementIndex, chosen: np.ndarray) -> np.ndarray | None:
    """A feasible placement close to ``chosen``, or ``None`` if none was found.

    Parameters
    ----------
    index : PlacementIndex
    chosen : ndarray of int
        Host number per slot (-1 for unplaced).

    Returns
    -------
    ndarray of int or None
    """
    ledger = Ledger(index, np.where(chosen >= 0, chosen, -1))
    cost = index.cost

    # Lift standbys in a forbidden domain, or sharing one (keep the cheapest).
    for i in range(index.n_slots):
        j = ledger.chosen[i]
        if j >= 0 and not np.isfinite(cost[i, j]):
            ledger.lift(i)
    for i in np.argsort(-cost[np.arange(index.n_slots), np.maximum(ledger.chosen, 0)]):
        j = ledger.chosen[i]
        if j >= 0 and ledger.used[index.service[i], index.domain[j]] > 1:
            ledger.lift(int(i))

    # Lift from overfull hosts, largest reservation first.
    for h in np.flatnonzero(ledger.load > index.room + _TOLERANCE):
        on = np.flatnonzero(ledger.chosen == h)
        for i in on[np.argsort(-index.reserve[on], kind="stable")]:
            if ledger.load[h] <= index.room[h] + _TOLERANCE:
                break
            ledger.lift(int(i))

    # Put back, largest reservation first, on the cheapest open host.
    waiting = np.flatnonzero(ledger.chosen < 0)
    for i in waiting[np.argsort(-index.reserve[waiting], kind="stable")]:
        open_ = ledger.open_hosts(int(i))
        if not open_.any():
            return None
        ledger.put(int(i), int(np.argmin(np.where(open_, cost[i], np.inf))))
    return ledger.chosen


def local_search(
    index: PlacementIndex, chosen: np.ndarray, max_rounds: int = 100
) -> tuple[np.ndarray, int]:
    """Improve a feasible placement by moves and swaps that keep it feasible.

    Parameters
    ----------
    index : PlacementIndex
    chosen : ndarray of int
        A feasible placement.
    max_rounds : int, default=100
        Most passes over all slots.

    Returns
    -------
    chosen : ndarray of int
        The improved placement.
    moves : int
        Moves and swaps made.
    """
    ledger = Ledger(index, chosen)
    moves = 0
    for _ in range(max_rounds):
        changed = _moves(ledger) + _swaps(ledger)
        if not changed:
            changed = _ejections(ledger)
        moves += changed
        if not changed:
            break
    return ledger.chosen, moves


def _moves(ledger: Ledger) -> int:
    """Move single standbys to cheaper open hosts."""
    index, made = ledger.index, 0
    for i in range(index.n_slots):
        current = int(ledger.chosen[i])
        ledger.lift(i)
        open_ = ledger.open_hosts(i)
        open_[current] = True
        best = int(np.argmin(np.where(open_, index.cost[i], np.inf)))
        if index.cost[i, best] >= index.cost[i, current] - _TOLERANCE:
            best = current
        ledger.put(i, best)
        made += best != current
    return made


def _ejections(ledger: Ledger) -> int:
    """Move a standby to a cheaper full host by pushing one standby off it.

    For standby ``i`` on host ``a`` and a cheaper host ``b`` it may use but
    that lacks room, some standby ``j`` on ``b`` moves to its best other open
    host; done when the saving on ``i`` beats the extra cost of ``j``.
    """
    index, made = ledger.index, 0
    cost, reserve = index.cost, index.reserve
    for i in range(index.n_slots):
        a = int(ledger.chosen[i])
        saving = cost[i, a] - cost[i]
        ledger.lift(i)
        free = ledger.used[index.service[i], index.domain] == 0
        targets = np.flatnonzero((saving > _TOLERANCE) & free)
        best: tuple[float, int, int, int] | None = None
        for b in targets[np.argsort(-saving[targets])]:
            short = ledger.load[b] + reserve[i] - index.room[b]
            if short <= _TOLERANCE:
                continue  # a plain move; _moves handles it
            for j in np.flatnonzero(ledger.chosen == b):
                if (
                    reserve[j] + _TOLERANCE < short
                    or index.service[j] == index.service[i]
                ):
                    continue
                ledger.lift(int(j))
                open_ = ledger.open_hosts(int(j))
                open_[b] = False
                ledger.put(int(j), int(b))
                if not open_.any():
                    continue
                c = int(np.argmin(np.where(open_, cost[j], np.inf)))
                net = saving[b] - (cost[j, c] - cost[j, b])
                if net > _TOLERANCE and (best is None or net > best[0]):
                    best = (float(net), int(b), int(j), c)
        if best is None:
            ledger.put(i, a)
            continue
        _, b, j, c = best
        ledger.lift(j)
        ledger.put(j, c)
        ledger.put(i, b)
        made += 1
    return made


def _swaps(ledger: Ledger) -> int:
    """Exchange the hosts of two standbys when it lowers the cost."""
    index, made = ledger.index, 0
    cost, reserve, domain = index.cost, index.reserve, index.domain
    for i in range(index.n_slots):
        a = int(ledger.chosen[i])
        hosts = ledger.chosen
        gain = (
            cost[i, a]
            + cost[np.arange(index.n_slots), hosts]
            - cost[i, hosts]
            - cost[np.arange(index.n_slots), a]
        )
        gain[hosts == a] = -np.inf
        ok = gain > _TOLERANCE
        if not ok.any():
            continue
        delta = reserve - reserve[i]  # what host a gains, host b loses
        ok &= ledger.load[a] + delta <= index.room[a] + _TOLERANCE
        ok &= ledger.load[hosts] - delta <= index.room[hosts] + _TOLERANCE
        same_domain = domain[hosts] == domain[a]
        same_service = index.service == index.service[i]
        ok &= (
            same_domain
            | same_service
            | (
                (ledger.used[index.service[i], domain[hosts]] == 0)
                & (ledger.used[index.service, domain[a]] == 0)
            )
        )
        if not ok.any():
            continue
        j = int(np.argmax(np.where(ok, gain, -np.inf)))
        b = int(hosts[j])
        ledger.lift(i)
        ledger.lift(j)
        ledger.put(i, b)
        ledger.put(j, a)
        made += 1
    return made
