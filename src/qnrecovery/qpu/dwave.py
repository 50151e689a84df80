"""Annealing targets: local simulated annealing, QPU-graph stand-ins, D-Wave.

:func:`annealing_sampler` turns an annealing target into a
:class:`dimod.Sampler` that any BQM-based backend can call:

``neal`` (default)
    ``dwave.samplers.SimulatedAnnealingSampler`` on the logical model.
``structured:pegasus``, ``structured:zephyr``, ``structured:chimera``
    The hardware path without the hardware: simulated annealing behind a
    :class:`dimod.StructureComposite` that accepts only the qubits and
    couplers of a full-size QPU graph (Advantage's Pegasus P16, Advantage2's
    Zephyr Z12, 2000Q's Chimera C16), reached through
    :class:`dwave.system.EmbeddingComposite`. Problems are minor-embedded
    with minorminer, chains are held by the configured chain strength and
    read back by the configured chain-break method, exactly as on a QPU.
    Needs the ``qpu`` extra (minorminer, dwave-graphs).
``dwave:<solver>``
    A D-Wave QPU solver (``DWaveSampler``) behind ``EmbeddingComposite``.
``dwave-hybrid``
    Leap's hybrid BQM solver; :func:`sample_cqm` sends a constrained model to
    the hybrid CQM solver (``LeapHybridCQMSampler``) instead.

Every embedded sample set's ``info["embedding"]`` holds the chain strength,
chain-break method, longest chain, physical qubit count and the mean fraction
of broken chains.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import dimod

from qnrecovery.exceptions import ConfigError
from qnrecovery.qpu.credentials import (
    Credential,
    redact,
    require_dwave_token,
    require_module,
)
from qnrecovery.qpu.fallback import FallbackResult, run_with_fallback
from qnrecovery.qpu.specs import STRUCTURED_GRAPHS, AnnealingSpec, parse_annealing_spec

if TYPE_CHECKING:
    import networkx as nx

    from qnrecovery.config import DWaveConfig, TargetsConfig

__all__ = [
    "EXTRA_MODULES",
    "ConfiguredEmbeddingSampler",
    "annealing_sampler",
    "qpu_graph",
    "sample_cqm",
    "sample_with_fallback",
]

logger = logging.getLogger(__name__)

#: Modules of the ``qpu`` extra that the D-Wave targets import.
EXTRA_MODULES = ("dwave.system", "dwave.cloud", "minorminer", "dwave.graphs")


def _dwave_settings(settings: TargetsConfig | DWaveConfig | None) -> DWaveConfig:
    from qnrecovery.config import DWaveConfig, TargetsConfig

    if isinstance(settings, TargetsConfig):
        return settings.dwave
    return settings if settings is not None else DWaveConfig()


def _spec(spec: str | AnnealingSpec) -> AnnealingSpec:
    try:
        return parse_annealing_spec(spec)
    except ValueError as err:
        raise ConfigError(f"{str(err)[0].upper()}{str(err)[1:]}.") from None


def qpu_graph(name: str) -> nx.Graph:
    """Return the full-size QPU graph ``'pegasus'``, ``'zephyr'`` or ``'chimera'``.

    Raises
    ------
    ConfigError
        If the name is unknown, or the ``qpu`` extra is missing.
    """
    if name not in STRUCTURED_GRAPHS:
        raise ConfigError(
            f"No QPU graph is called {name!r}; use one of "
            f"{', '.join(STRUCTURED_GRAPHS)}."
        )
    graphs = require_module("dwave.graphs", target=f"structured:{name}")
    family, size = STRUCTURED_GRAPHS[name]
    graph: nx.Graph = getattr(graphs, f"{family}_graph")(size)
    return graph


class ConfiguredEmbeddingSampler(dimod.ComposedSampler):
    """Minor-embeds every problem with the configured chain settings.

    Parameters
    ----------
    child : dimod.Sampler
        A structured sampler: a D-Wave QPU, or a :class:`dimod.StructureComposite`
        standing in for one.
    settings : DWaveConfig
        Reads, chain strength (fixed, or uniform torque compensation with the
        prefactor), chain-break method, embedding tries and time limit.
    seed : int or None, default=None
        Seed of the embedding heuristic and, where the child takes one, of
        the sampler.
    """

    def __init__(
        self, child: dimod.Sampler, settings: DWaveConfig, seed: int | None = None
    ):
        from dwave.system import EmbeddingComposite

        self.settings = settings
        self.seed = seed
        embedding_parameters: dict[str, Any] = {
            "tries": settings.embedding_tries,
            "timeout": settings.embedding_timeout_s,
        }
        if seed is not None:
            embedding_parameters["random_seed"] = seed
        self._embedding = EmbeddingComposite(
            child, embedding_parameters=embedding_parameters
        )
        self._children = [self._embedding]

    @property
    def children(self) -> list[dimod.Sampler]:
        """The embedding composite over the structured sampler."""
        return self._children

    @property
    def parameters(self) -> dict[str, Any]:
        """The embedding composite's parameters."""
        return dict(self._embedding.parameters)

    @property
    def properties(self) -> dict[str, Any]:
        """The embedding composite's properties."""
        return dict(self._embedding.properties)

    def chain_strength(self, bqm: dimod.BinaryQuadraticModel) -> float:
        """The chain strength used for `bqm`: fixed, or uniform torque compensation."""
        if self.settings.chain_strength is not None:
            return float(self.settings.chain_strength)
        from dwave.embedding.chain_strength import uniform_torque_compensation

        value = uniform_torque_compensation(
            bqm, prefactor=self.settings.chain_strength_prefactor
        )
        return float(value) if value else 1.0

    def sample(
        self, bqm: dimod.BinaryQuadraticModel, **parameters: Any
    ) -> dimod.SampleSet:
        """Embed, sample and unembed `bqm`; keyword arguments override settings."""
        import dwave.embedding as embedding

        known = self._embedding.parameters
        parameters.setdefault("chain_strength", self.chain_strength(bqm))
        parameters.setdefault(
            "chain_break_method", getattr(embedding, self.settings.chain_break_method)
        )
        parameters.setdefault("return_embedding", True)
        if "num_reads" in known:
            parameters.setdefault("num_reads", self.settings.num_reads)
        if "seed" in known and self.seed is not None:
            parameters.setdefault("seed", self.seed)

        sampleset = self._embedding.sample(bqm, **parameters)
        sampleset.resolve()
        sampleset.info["embedding"] = _embedding_summary(
            sampleset, parameters["chain_strength"], self.settings.chain_break_method
        )
        return sampleset


def _embedding_summary(
    sampleset: dimod.SampleSet, strength: float, method: str
) -> dict[str, Any]:
    context = sampleset.info.get("embedding_context", {})
    chains = context.get("embedding", {})
    lengths = [len(chain) for chain in chains.values()] or [0]
    fractions = (
        sampleset.record.chain_break_fraction
        if "chain_break_fraction" in sampleset.record.dtype.names
        else []
    )
    return {
        "chain_strength": strength,
        "chain_break_method": method,
        "physical_qubits": sum(lengths),
        "max_chain_length": max(lengths),
        "chain_break_fraction": float(sum(fractions) / len(fractions))
        if len(fractions)
        else 0.0,
    }


def annealing_sampler(
    spec: str | AnnealingSpec = "neal",
    settings: TargetsConfig | DWaveConfig | None = None,
    *,
    seed: int | None = None,
) -> dimod.Sampler:
    """Return the :class:`dimod.Sampler` of an annealing target.

    Parameters
    ----------
    spec : str or AnnealingSpec, default="neal"
        ``neal``, ``structured:pegasus``, ``structured:zephyr``,
        ``structured:chimera``, ``dwave:<solver>`` or ``dwave-hybrid``.
    settings : TargetsConfig or DWaveConfig or None
        The ``targets`` (or ``targets.dwave``) settings.
    seed : int or None, default=None
        Seed of the embedding heuristic; pass the sampler's own ``seed`` to
        ``sample`` for ``neal``.

    Returns
    -------
    dimod.Sampler
        For ``structured`` and ``dwave`` a :class:`ConfiguredEmbeddingSampler`.

    Raises
    ------
    ConfigError
        If the target is unknown or needs the ``qpu`` extra that is missing.
    MissingCredentialsError
        For ``dwave:<solver>`` and ``dwave-hybrid`` without a token.

    Examples
    --------
    >>> import dimod
    >>> sampler = annealing_sampler("neal")
    >>> bqm = dimod.BinaryQuadraticModel({"a": -1.0}, {}, 0.0, "BINARY")
    >>> sampler.sample(bqm, num_reads=5, seed=1).first.sample["a"]
    np.int8(1)
    """
    parsed = _spec(spec)
    dwave = _dwave_settings(settings)

    if parsed.kind == "neal":
        from dwave.samplers import SimulatedAnnealingSampler

        return SimulatedAnnealingSampler()
    for module in EXTRA_MODULES:
        require_module(module, target=parsed.spec)
    if parsed.kind == "structured":
        assert parsed.name is not None
        return ConfiguredEmbeddingSampler(_structured_child(parsed.name), dwave, seed)

    credential = require_dwave_token(dwave, target=parsed.spec)
    if parsed.kind == "dwave":
        from dwave.system import DWaveSampler

        child = _remote(DWaveSampler, credential, dwave, parsed, solver=parsed.name)
        return ConfiguredEmbeddingSampler(child, dwave, seed)
    from dwave.system import LeapHybridSampler

    return _remote(LeapHybridSampler, credential, dwave, parsed)


def _structured_child(name: str) -> dimod.Sampler:
    from dwave.samplers import SimulatedAnnealingSampler

    graph = qpu_graph(name)
    return dimod.StructureComposite(
        SimulatedAnnealingSampler(), list(graph.nodes), list(graph.edges)
    )


def _remote(
    factory: Callable[..., Any],
    credential: Credential,
    settings: DWaveConfig,
    spec: AnnealingSpec,
    **kwargs: Any,
) -> Any:
    """Open a Leap client; any message it raises is scrubbed of the token."""
    assert credential.token is not None
    if settings.profile:
        kwargs["profile"] = settings.profile
    try:
        return factory(token=credential.token.get_secret_value(), **kwargs)
    except Exception as err:
        raise ConfigError(
            f"D-Wave target {spec.spec!r} could not be opened ({credential.source}): "
            f"{type(err).__name__}: {redact(str(err), credential.token)}"
        ) from None


def sample_cqm(
    cqm: dimod.ConstrainedQuadraticModel,
    spec: str | AnnealingSpec = "neal",
    settings: TargetsConfig | DWaveConfig | None = None,
    *,
    seed: int | None = None,
    lagrange_multiplier: float | None = None,
    label: str = "qnrecovery",
) -> dimod.SampleSet:
    """Sample a constrained model on an annealing target.

    ``dwave-hybrid`` sends it to ``LeapHybridCQMSampler`` as is; the other
    targets convert it to a BQM (penalties weighted by `lagrange_multiplier`,
    ``None``: dimod's default), sample that, and map the samples back. The
    sample set has the CQM's variables and an ``is_feasible`` field.

    Raises
    ------
    ConfigError, MissingCredentialsError
        As :func:`annealing_sampler`.
    """
    parsed = _spec(spec)
    dwave = _dwave_settings(settings)

    if parsed.kind == "dwave-hybrid":
        for module in EXTRA_MODULES:
            require_module(module, target=parsed.spec)
        credential = require_dwave_token(dwave, target=parsed.spec)
        from dwave.system import LeapHybridCQMSampler

        sampler = _remote(LeapHybridCQMSampler, credential, dwave, parsed)
        sampleset: dimod.SampleSet = sampler.sample_cqm(
            cqm, time_limit=dwave.hybrid_time_limit_s, label=label
        )
        return sampleset

    bqm, invert = dimod.cqm_to_bqm(cqm, lagrange_multiplier=lagrange_multiplier)
    sampler = annealing_sampler(parsed, dwave, seed=seed)
    kwargs: dict[str, Any] = {"num_reads": dwave.num_reads}
    if parsed.kind == "neal" and seed is not None:
        kwargs["seed"] = seed
    raw = sampler.sample(bqm, **kwargs)
    samples = [invert(sample) for sample in raw.samples()]
    result = dimod.SampleSet.from_samples_cqm(samples, cqm)
    result.info.update({k: v for k, v in raw.info.items() if k == "embedding"})
    return result


def sample_with_fallback(
    bqm: dimod.BinaryQuadraticModel,
    spec: str | AnnealingSpec,
    settings: TargetsConfig | None = None,
    *,
    seed: int | None = None,
) -> FallbackResult[dimod.SampleSet]:
    """Sample `bqm` on `spec` under the ``targets.fallback`` policy.

    The fallback is local simulated annealing (``neal``) with the same reads.
    A failure to open the target (missing extra or token) is a configuration
    error and is raised whatever the policy.

    Raises
    ------
    QPUJobError, QPUTimeoutError
        If the job fails or times out and the policy is ``fail``.
    """
    from qnrecovery.config import TargetsConfig

    targets = settings if settings is not None else TargetsConfig()
    parsed = _spec(spec)
    sampler = annealing_sampler(parsed, targets, seed=seed)
    reads = targets.dwave.num_reads

    def job() -> dimod.SampleSet:
        kwargs: dict[str, Any] = {}
        if parsed.kind == "neal":
            kwargs = {"num_reads": reads, "seed": seed}
        sampleset: dimod.SampleSet = sampler.sample(bqm, **kwargs)
        sampleset.resolve()
        return sampleset

    def local() -> dimod.SampleSet:
        from dwave.samplers import SimulatedAnnealingSampler

        sampleset: dimod.SampleSet = SimulatedAnnealingSampler().sample(
            bqm, num_reads=reads, seed=seed
        )
        return sampleset

    return run_with_fallback(
        job,
        local,
        policy=targets.fallback,
        timeout_s=targets.job_timeout_s,
        target=parsed.spec,
        fallback_target="neal",
        secrets=(targets.dwave.token,),
    )
