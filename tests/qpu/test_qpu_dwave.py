"""The D-Wave path on local structured samplers standing in for the QPU graph.

``structured:<graph>`` puts simulated annealing behind a ``StructureComposite``
over a full-size Pegasus or Zephyr graph, so every problem is minor-embedded,
held together by chains and unembedded as on a QPU.
"""

from __future__ import annotations

import itertools

import dimod
import pytest

pytest.importorskip(
    "dwave.system", reason='needs the qpu extra: pip install "qnrecovery[qpu]"'
)

from dimod.testing import assert_sampleset_energies
from dwave.embedding import verify_embedding
from pydantic import SecretStr

from qnrecovery.config import DWaveConfig, TargetsConfig
from qnrecovery.exceptions import ConfigError, MissingCredentialsError
from qnrecovery.qpu.dwave import (
    ConfiguredEmbeddingSampler,
    annealing_sampler,
    qpu_graph,
    sample_cqm,
    sample_with_fallback,
)


def placement_qubo(services: int = 3, hosts: int = 5) -> dimod.BinaryQuadraticModel:
    """One-hot choice of a host per service, a cost per choice, co-location penalty."""
    bqm = dimod.BinaryQuadraticModel("BINARY")
    for s in range(services):
        choices = [f"s{s}h{h}" for h in range(hosts)]
        for h, name in enumerate(choices):
            bqm.add_variable(name, ((s * 7 + h * 3) % 5) / 5)
        bqm.update(dimod.generators.combinations(choices, 1, strength=4.0))
    for h in range(hosts):
        for a, b in itertools.combinations(range(services), 2):
            bqm.add_interaction(f"s{a}h{h}", f"s{b}h{h}", 2.0)
    return bqm


def one_host_each(sample: dict, services: int = 3, hosts: int = 5) -> bool:
    return all(
        sum(sample[f"s{s}h{h}"] for h in range(hosts)) == 1 for s in range(services)
    )


@pytest.fixture(scope="module")
def qubo() -> dimod.BinaryQuadraticModel:
    return placement_qubo()


@pytest.fixture(scope="module")
def optimum(qubo: dimod.BinaryQuadraticModel) -> float:
    return float(dimod.ExactSolver().sample(qubo).first.energy)


@pytest.mark.parametrize(("graph", "qubits"), [("pegasus", 5640), ("zephyr", 4800)])
def test_structured_sampler_embeds_with_chains_and_finds_the_optimum(
    qubo: dimod.BinaryQuadraticModel, optimum: float, graph: str, qubits: int
) -> None:
    sampler = annealing_sampler(
        f"structured:{graph}", DWaveConfig(num_reads=30), seed=2
    )
    assert isinstance(sampler, ConfiguredEmbeddingSampler)
    sampleset = sampler.sample(qubo)

    assert set(sampleset.variables) == set(qubo.variables)
    assert_sampleset_energies(sampleset, qubo)
    # Strong chains make the embedded landscape harder than the logical one:
    # the best sample is a valid placement near, not always at, the optimum.
    assert one_host_each(sampleset.first.sample)
    assert optimum <= sampleset.first.energy <= optimum + 1.0

    chains = sampleset.info["embedding_context"]["embedding"]
    target = qpu_graph(graph)
    assert target.number_of_nodes() == qubits
    assert verify_embedding(chains, list(qubo.quadratic), list(target.edges))
    summary = sampleset.info["embedding"]
    assert summary["max_chain_length"] >= 2  # the K5 one-hot groups need chains
    assert summary["physical_qubits"] > qubo.num_variables
    assert summary["chain_strength"] == pytest.approx(sampler.chain_strength(qubo))
    assert summary["chain_break_fraction"] == 0.0


def test_chain_strength_decides_whether_chains_hold(
    qubo: dimod.BinaryQuadraticModel, optimum: float
) -> None:
    weak = annealing_sampler(
        "structured:pegasus", DWaveConfig(num_reads=30, chain_strength=0.05), seed=2
    ).sample(qubo)
    strong = annealing_sampler(
        "structured:pegasus", DWaveConfig(num_reads=30, chain_strength=20.0), seed=2
    ).sample(qubo)

    assert weak.info["embedding"]["chain_strength"] == 0.05
    assert weak.info["embedding"]["chain_break_fraction"] > 0.05
    assert strong.info["embedding"]["chain_break_fraction"] == 0.0
    assert weak.first.energy > optimum


def test_discard_drops_samples_with_broken_chains(
    qubo: dimod.BinaryQuadraticModel,
) -> None:
    settings = DWaveConfig(
        num_reads=30, chain_strength=0.05, chain_break_method="discard"
    )
    sampleset = annealing_sampler("structured:pegasus", settings, seed=2).sample(qubo)
    assert len(sampleset) < 30
    assert sampleset.info["embedding"]["chain_break_method"] == "discard"


def test_uniform_torque_compensation_scales_with_the_prefactor(
    qubo: dimod.BinaryQuadraticModel,
) -> None:
    low = annealing_sampler(
        "structured:zephyr", DWaveConfig(chain_strength_prefactor=1.0)
    )
    high = annealing_sampler(
        "structured:zephyr", DWaveConfig(chain_strength_prefactor=2.0)
    )
    assert high.chain_strength(qubo) == pytest.approx(2 * low.chain_strength(qubo))


def brute_force(cqm: dimod.ConstrainedQuadraticModel) -> float:
    names = list(cqm.variables)
    energies = [
        cqm.objective.energy(dict(zip(names, values, strict=True)))
        for values in itertools.product((0, 1), repeat=len(names))
        if cqm.check_feasible(dict(zip(names, values, strict=True)))
    ]
    return min(energies)


@pytest.mark.parametrize("spec", ["neal", "structured:zephyr"])
def test_a_constrained_model_is_sampled_and_checked(spec: str) -> None:
    cqm = dimod.ConstrainedQuadraticModel()
    x = [dimod.Binary(f"y{i}") for i in range(5)]
    cqm.set_objective(sum((i % 3 + 1) * v for i, v in enumerate(x)) - 2 * x[0] * x[4])
    cqm.add_constraint(sum(x) == 2, label="two standbys")
    cqm.add_constraint(x[1] + x[2] <= 1, label="one per rack")

    sampleset = sample_cqm(cqm, spec, TargetsConfig(dwave={"num_reads": 40}), seed=1)
    feasible = sampleset.filter(lambda row: row.is_feasible)
    assert len(feasible) > 0
    assert feasible.first.energy == pytest.approx(brute_force(cqm))
    assert ("embedding" in sampleset.info) == (spec != "neal")


@pytest.mark.parametrize("spec", ["dwave:Advantage_system4.1", "dwave-hybrid"])
def test_remote_targets_need_a_token(spec: str) -> None:
    with pytest.raises(MissingCredentialsError, match="Set DWAVE_API_TOKEN"):
        annealing_sampler(spec)


def test_the_hybrid_cqm_solver_needs_a_token() -> None:
    cqm = dimod.ConstrainedQuadraticModel()
    cqm.set_objective(dimod.Binary("a"))
    with pytest.raises(MissingCredentialsError, match="'dwave-hybrid' needs a D-Wave"):
        sample_cqm(cqm, "dwave-hybrid")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("structured:torus", "Annealing target 'structured:torus' names no known"),
        ("anneal", "Unknown annealing target 'anneal'"),
    ],
)
def test_unknown_annealing_targets_are_refused(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        annealing_sampler(spec)
    with pytest.raises(ConfigError, match="No QPU graph is called 'torus'"):
        qpu_graph("torus")


def test_sample_with_fallback_on_a_local_target(
    qubo: dimod.BinaryQuadraticModel, optimum: float
) -> None:
    settings = TargetsConfig(dwave={"num_reads": 20}, fallback="simulator")
    outcome = sample_with_fallback(qubo, "structured:zephyr", settings, seed=5)
    assert outcome.info["fallback"] is False and outcome.info["target"] == (
        "structured:zephyr"
    )
    assert one_host_each(outcome.value.first.sample)

    logical = sample_with_fallback(qubo, "neal", settings, seed=5)
    assert logical.value.first.energy == pytest.approx(optimum)


def test_a_configured_token_is_used_but_never_shown() -> None:
    settings = DWaveConfig(token=SecretStr("dw-secret-token"))
    assert "dw-secret-token" not in repr(settings)
