"""The ``annealing`` placer: simulated annealing on the placement's BQM.

See :class:`AnnealingPlacer`.
"""

from __future__ import annotations

import logging
import math
import numbers
import time
from collections.abc import Callable
from typing import Any, cast

import numpy as np

from qnrecovery.annealing.encoding import (
    ENCODINGS,
    Encoded,
    Encoding,
    Penalties,
    encode,
)
from qnrecovery.annealing.model import PlacementIndex, build_cqm, infeasibility
from qnrecovery.annealing.repair import local_search, repair
from qnrecovery.exceptions import ConfigError
from qnrecovery.interfaces import PlacementProblem, PlacementSolution

__all__ = ["AnnealingPlacer"]

logger = logging.getLogger(__name__)

_REPAIRED_SAMPLES = 8

# Capacity penalties start soft (see encoding.Penalties.from_scale), so they
# grow faster than the others when a host overflows.
_CAPACITY_STEP = 4.0


class AnnealingPlacer:
    """Standby placement by simulated annealing on a binary quadratic model.

    The problem becomes a :class:`dimod.ConstrainedQuadraticModel` (see
    :func:`~qnrecovery.annealing.model.build_cqm`; the objective is the one
    the exact MILP placer minimises). Each slot keeps its ``candidates``
    cheapest allowed hosts; the model is written as a BQM with a domain-wall
    (or one-hot) encoding of each slot's choice, capacity penalised without
    slack variables and the domain rule as an exact quadratic penalty (see
    :mod:`qnrecovery.annealing.encoding`); penalty strengths start from the
    objective's own scale. ``dwave.samplers.SimulatedAnnealingSampler``
    samples it; every sample is decoded and checked against the CQM. While no
    sample is feasible, the penalties of the constraints the best sample
    breaks are doubled and the model sampled again, at most
    ``max_escalations`` times. With ``repair``, the lowest-energy samples are
    then made feasible and improved by moves and swaps that keep feasibility
    (:mod:`qnrecovery.annealing.repair`), over every allowed host.

    Parameters
    ----------
    num_reads : int, default=20
        Annealing runs per model.
    num_sweeps : int, default=500
        Sweeps of every variable per run.
    random_state : int or None, default=None
        Seed of the sampler; ``None`` draws one.
    time_limit_s : float, default=10.0
        Wall-clock budget in seconds; no new read or escalation starts after
        it (the read under way finishes).
    candidates : int or None, default=8
        Cheapest allowed hosts kept per slot; ``None`` keeps every one.
    encoding : {"domain-wall", "one-hot"}, default="domain-wall"
        How a slot's choice of host is written in binaries.
    penalty : float, default=1.0
        Penalty strengths in units of the objective's typical spread.
    max_escalations : int, default=4
        Most times the penalties are doubled while no sample is feasible.
    beta_range : tuple of float or None, default=None
        Inverse temperatures (hot, cold); ``None`` derives them from the
        objective's scale so the hot end crosses a typical cost difference
        and the cold end resolves a hundredth of it.
    repair : bool, default=True
        Repair and locally improve the best samples.
    max_rounds : int, default=100
        Most passes of the local search.
    target : str, default="neal"
        Where the model is sampled: ``neal`` (local simulated annealing),
        ``structured:pegasus`` / ``structured:zephyr`` / ``structured:chimera``
        (local annealing behind a QPU graph, with minor embedding), or
        ``dwave:<solver>`` (a D-Wave QPU; needs the ``qpu`` extra and a token).
        Non-local targets take ``num_reads`` only. See ``docs/hardware.md``.

    Notes
    -----
    ``info`` holds ``wall_time_s``, ``variables`` and ``interactions`` (of
    the BQM), ``constraints`` (of the CQM), ``status``, ``reads``,
    ``sweeps``, ``encoding``, ``candidates``, ``tries`` (one entry per
    model sampled: penalties, best energy, feasible share), ``escalations``,
    ``penalties`` (the last strengths), ``energy`` (lowest), ``feasible_share``
    (feasible samples before repair, over every try), ``raw_objective``
    (best feasible sample before repair, ``inf`` if none), ``moves`` (of the
    local search), ``lower_bound`` (each slot on its cheapest allowed host)
    and ``gap_bound`` (relative distance to it), and ``reason`` when
    infeasible.

    Examples
    --------
    >>> from qnrecovery.annealing import AnnealingPlacer
    >>> from qnrecovery.interfaces import HostSpec, PlacementProblem, ServiceSpec
    >>> problem = PlacementProblem(
    ...     services=(ServiceSpec("db", "critical", 2.0, "h1"),),
    ...     hosts=(HostSpec("h1", 4.0, "rack-a"), HostSpec("h2", 4.0, "rack-b")),
    ... )
    >>> AnnealingPlacer(random_state=0).place(problem).assignment
    {'db/hot': 'h2'}
    """

    def __init__(
        self,
        *,
        num_reads: int = 20,
        num_sweeps: int = 500,
        random_state: int | None = None,
        time_limit_s: float = 10.0,
        candidates: int | None = 8,
        encoding: str = "domain-wall",
        penalty: float = 1.0,
        max_escalations: int = 4,
        beta_range: tuple[float, float] | None = None,
        repair: bool = True,
        max_rounds: int = 100,
        target: str = "neal",
    ) -> None:
        self.num_reads = num_reads
        self.num_sweeps = num_sweeps
        self.random_state = random_state
        self.time_limit_s = time_limit_s
        self.candidates = candidates
        self.encoding = encoding
        self.penalty = penalty
        self.max_escalations = max_escalations
        self.beta_range = beta_range
        self.repair = repair
        self.max_rounds = max_rounds
        self.target = target

    _PARAMS = (
        "num_reads",
        "num_sweeps",
        "random_state",
        "time_limit_s",
        "candidates",
        "encoding",
        "penalty",
        "max_escalations",
        "beta_range",
        "repair",
        "max_rounds",
        "target",
    )

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's options."""
        return {name: getattr(self, name) for name in self._PARAMS}

    def set_params(self, **params: Any) -> AnnealingPlacer:
        """Change options; unknown names are refused."""
        for name, value in params.items():
            if name not in self._PARAMS:
                raise ConfigError(
                    f"`AnnealingPlacer` has no option {name!r}; expected one of "
                    f"{', '.join(self._PARAMS)}."
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------------ place

    def place(self, problem: PlacementProblem) -> PlacementSolution:
        """Place every standby of ``problem``.

        Returns
        -------
        PlacementSolution
            ``feasible=False`` with ``info["reason"]`` when the problem is
            infeasible or no feasible placement was found.

        Raises
        ------
        ConfigError
            If an option or the problem is malformed.
        """
        start = time.perf_counter()
        self._check_options()
        problem.validate()
        index = PlacementIndex.build(problem)
        info: dict[str, Any] = {"reads": 0, "sweeps": self.num_sweeps, "tries": []}
        if index.n_slots == 0:
            info.update(variables=0, interactions=0, constraints=0)
            info["status"] = "nothing to place"
            return _finish(index, np.zeros(0, dtype=int), info, start)

        reasons = infeasibility(index)
        if reasons:
            info.update(variables=0, interactions=0, constraints=0)
            info["status"] = "infeasible"
            info["reason"] = "; ".join(reasons)
            return _failed(index, None, info, start, reasons)

        candidates = index.candidates(self.candidates)
        cqm = build_cqm(index, candidates)
        info.update(
            constraints=len(cqm.constraints),
            encoding=self.encoding,
            candidates=self.candidates,
        )
        lower = float(np.min(index.cost, axis=1).sum())
        info["lower_bound"] = lower

        samples, best_raw = self._anneal(index, candidates, cqm, info, start)
        chosen = best_raw
        if self.repair:
            chosen = self._repair(index, samples, best_raw, info)
        if chosen is None:
            info["status"] = "no feasible sample"
            info["reason"] = (
                f"no feasible placement among {info['reads']} samples after "
                f"{info['escalations']} penalty escalation(s)"
                + ("" if self.repair else " (repair is off)")
                + f"; the best sample breaks: {info.get('violated', 'nothing')}"
            )
            return _failed(index, samples[0] if len(samples) else None, info, start)
        info["status"] = "feasible" + (" after repair" if self.repair else "")
        return _finish(index, chosen, info, start)

    def _anneal(
        self,
        index: PlacementIndex,
        candidates: list[np.ndarray],
        cqm: Any,
        info: dict[str, Any],
        start: float,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Sample, escalating penalties while nothing is feasible.

        Returns the decoded samples of every try, lowest energy first, and the
        best feasible one (``None`` if none was feasible).
        """
        rng = np.random.default_rng(self.random_state)
        deadline = start + float(self.time_limit_s)
        penalties = Penalties.from_scale(index, candidates, float(self.penalty))
        sampler, local = self._sampler()
        info["target"] = self.target
        decoded: list[tuple[float, np.ndarray]] = []
        best: tuple[float, np.ndarray] | None = None
        feasible_total = 0
        info["escalations"] = 0
        for attempt in range(int(self.max_escalations) + 1):
            encoding = cast(Encoding, self.encoding)  # checked in _check_options
            encoded = encode(index, candidates, penalties, encoding)
            info["variables"] = encoded.bqm.num_variables
            info["interactions"] = encoded.bqm.num_interactions
            if local:
                sampleset = sampler.sample(
                    encoded.bqm,
                    num_reads=int(self.num_reads),
                    num_sweeps=int(self.num_sweeps),
                    beta_range=self.beta_range or _beta_range(index, candidates),
                    seed=int(rng.integers(2**31 - 1)),
                    interrupt_function=_interrupt(deadline),
                )
            else:
                sampleset = sampler.sample(encoded.bqm, num_reads=int(self.num_reads))
            chosen, energies, feasible, violated = _judge(encoded, cqm, sampleset)
            info["reads"] += len(chosen)
            feasible_total += int(feasible.sum())
            info["tries"].append(
                {
                    "penalties": penalties.summary(),
                    "reads": len(chosen),
                    "energy": float(energies.min()),
                    "feasible_share": float(feasible.mean()),
                }
            )
            decoded.extend(zip(energies.tolist(), chosen, strict=True))
            for row in np.flatnonzero(feasible):
                value = index.objective(chosen[row])
                if best is None or value < best[0]:
                    best = (value, chosen[row])
            info["violated"] = ", ".join(violated) or "nothing"
            if best is not None or time.perf_counter() >= deadline:
                break
            if attempt < int(self.max_escalations):
                penalties = _escalate(penalties, violated, index)
                info["escalations"] += 1
                logger.info("No feasible sample; escalating penalties on %s", violated)

        info["penalties"] = penalties.summary()
        info["energy"] = min(e for e, _ in decoded)
        info["feasible_share"] = feasible_total / max(info["reads"], 1)
        info["raw_objective"] = best[0] if best is not None else math.inf
        decoded.sort(key=lambda pair: pair[0])
        samples = np.array([c for _, c in decoded], dtype=int)
        return samples, (best[1] if best is not None else None)

    def _sampler(self) -> tuple[Any, bool]:
        """Return the sampler of ``target`` and whether it is the local annealer.

        ``neal`` is :class:`dwave.samplers.SimulatedAnnealingSampler`, driven
        with this placer's sweeps, ``beta_range``, seed and time limit; other
        targets (``structured:<graph>``, ``dwave:<solver>``) come from
        :func:`qnrecovery.qpu.dwave.annealing_sampler` and take ``num_reads``.
        """
        if self.target == "neal":
            from dwave.samplers import SimulatedAnnealingSampler

            return SimulatedAnnealingSampler(), True

        from qnrecovery.qpu.dwave import annealing_sampler

        return annealing_sampler(self.target, seed=self.random_state), False

    def _repair(
        self,
        index: PlacementIndex,
        samples: np.ndarray,
        best_raw: np.ndarray | None,
        info: dict[str, Any],
    ) -> np.ndarray | None:
        """Repair and improve the lowest-energy distinct samples; keep the best."""
        starts = [best_raw] if best_raw is not None else []
        unique = {tuple(s) for s in starts}
        for sample in samples:
            if len(starts) >= _REPAIRED_SAMPLES:
                break
            if tuple(sample) not in unique:
                unique.add(tuple(sample))
                starts.append(sample)
        best: np.ndarray | None = None
        moves = 0
        for sample in starts:
            fixed = repair(index, sample)
            if fixed is None:
                continue
            improved, made = local_search(index, fixed, int(self.max_rounds))
            if best is None or index.objective(improved) < index.objective(best):
                best, moves = improved, made
        info["repaired_samples"] = len(starts)
        info["moves"] = moves
        return best

    def _check_options(self) -> None:
        _positive_int("num_reads", self.num_reads)
        _positive_int("num_sweeps", self.num_sweeps)
        _positive_int("max_rounds", self.max_rounds, allow_zero=True)
        _positive_int("max_escalations", self.max_escalations, allow_zero=True)
        if self.candidates is not None:
            _positive_int("candidates", self.candidates)
        if self.random_state is not None:
            _positive_int("random_state", self.random_state, allow_zero=True)
        for name in ("time_limit_s", "penalty"):
            value = getattr(self, name)
            if (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or not value > 0
                or not math.isfinite(value)
            ):
                raise ConfigError(
                    f"`{name}` of `AnnealingPlacer` must be a positive number; "
                    f"got {value!r}."
                )
        if self.encoding not in ENCODINGS:
            raise ConfigError(
                f"`encoding` of `AnnealingPlacer` must be one of "
                f"{', '.join(ENCODINGS)}; got {self.encoding!r}."
            )
        if self.beta_range is not None:
            pair = tuple(self.beta_range)
            if len(pair) != 2 or not all(
                isinstance(b, int | float) and 0 < b < math.inf for b in pair
            ):
                raise ConfigError(
                    "`beta_range` of `AnnealingPlacer` must be two positive numbers "
                    f"(hot, cold); got {self.beta_range!r}."
                )
        if not isinstance(self.repair, bool):
            raise ConfigError(
                f"`repair` of `AnnealingPlacer` must be true or false; "
                f"got {self.repair!r}."
            )


def _positive_int(name: str, value: Any, allow_zero: bool = False) -> None:
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or value < (0 if allow_zero else 1)
    ):
        kind = "non-negative" if allow_zero else "positive"
        raise ConfigError(
            f"`{name}` of `AnnealingPlacer` must be a {kind} integer; got {value!r}."
        )


def _interrupt(deadline: float) -> Callable[[], bool]:
    return lambda: time.perf_counter() >= deadline


def _beta_range(
    index: PlacementIndex, candidates: list[np.ndarray]
) -> tuple[float, float]:
    """Hot end accepts a typical cost step half the time; cold end 1% of it 1%."""
    steps = [np.diff(index.cost[i, c]) for i, c in enumerate(candidates) if len(c) > 1]
    flat = np.concatenate(steps) if steps else np.zeros(0)
    flat = flat[flat > 1e-12]
    typical = float(np.median(flat)) if len(flat) else 1.0
    return (math.log(2) / (10 * typical), math.log(100) / (0.01 * typical))


def _judge(
    encoded: Encoded, cqm: Any, sampleset: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Decode every sample and check it against the CQM.

    Returns host numbers per sample, energies, the feasibility mask, and the
    constraints the lowest-energy sample breaks.
    """
    import dimod

    order = [sampleset.variables.index(v) for v in encoded.bqm.variables]
    raw = sampleset.record.sample[:, order].astype(float)
    energies = np.asarray(sampleset.record.energy, dtype=float)
    chosen, _ = encoded.decode(raw)
    x = np.clip(encoded.choices(raw), 0, 1)
    checked = dimod.SampleSet.from_samples_cqm(
        (x, encoded.pair_labels), cqm, sort_labels=False
    )
    feasible = np.asarray(checked.record.is_feasible, dtype=bool)
    lowest = int(np.argmin(energies))
    values = dict(zip(encoded.pair_labels, x[lowest].tolist(), strict=True))
    broken = cqm.violations(values, skip_satisfied=True, clip=True)
    return chosen, energies, feasible, sorted(str(k) for k in broken)


def _escalate(
    penalties: Penalties, violated: list[str], index: PlacementIndex
) -> Penalties:
    """Double the penalties of the constraints the best sample broke."""
    hosts = [
        index.hosts.index(label[len("capacity[") : -1])
        for label in violated
        if label.startswith("capacity[")
    ]
    result = penalties
    if any(label.startswith("one[") for label in violated):
        # A broken encoding makes the other penalties meaningless; fix it first.
        return Penalties(
            result.choice * 2.0, result.capacity, result.offset, result.domain
        )
    if hosts:
        result = result.scaled(_CAPACITY_STEP, np.array(hosts, dtype=int))
    if any(label.startswith("domain[") for label in violated) or not violated:
        result = Penalties(
            result.choice, result.capacity, result.offset, result.domain * 2.0
        )
    return result


def _finish(
    index: PlacementIndex, chosen: np.ndarray, info: dict[str, Any], start: float
) -> PlacementSolution:
    """Judge a placement with the problem's own checks and build the solution."""
    assignment = index.assignment(chosen)
    violations = index.problem.violations(assignment)
    info["wall_time_s"] = time.perf_counter() - start
    if violations:
        info["status"] = "infeasible"
        info.setdefault("reason", "; ".join(violations))
        return PlacementSolution(False, math.inf, info, violations=violations)
    objective = index.problem.objective(assignment)
    if "lower_bound" in info and objective > 0:
        info["gap_bound"] = (objective - info["lower_bound"]) / objective
    return PlacementSolution(True, objective, info, assignment=assignment)


def _failed(
    index: PlacementIndex,
    chosen: np.ndarray | None,
    info: dict[str, Any],
    start: float,
    reasons: list[str] | None = None,
) -> PlacementSolution:
    """An infeasible answer: what breaks, and why."""
    info["wall_time_s"] = time.perf_counter() - start
    if chosen is not None:
        info["partial_assignment"] = index.assignment(chosen)
    violations = list(reasons or [])
    if chosen is not None:
        violations += index.problem.violations(index.assignment(chosen))
    if not violations:
        violations = [info["reason"]]
    logger.info("No feasible placement: %s", info["reason"])
    return PlacementSolution(False, math.inf, info, violations=violations)
