"""Tests of the Topology Zoo loader."""

from __future__ import annotations

import logging
import statistics
from collections.abc import Callable
from pathlib import Path

import networkx as nx
import pytest

from qnrecovery.data import collapse_parallel, haversine_km, load_topology
from qnrecovery.exceptions import ConfigError, DataError

GRAPHML_HEAD = """<?xml version="1.0" encoding="utf-8"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key attr.name="Latitude" attr.type="double" for="node" id="d0" />
  <key attr.name="Longitude" attr.type="double" for="node" id="d1" />
  <key attr.name="latency_ms" attr.type="double" for="edge" id="d2" />
  <graph edgedefault="undirected">
"""


def graphml(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "net.graphml"
    path.write_text(GRAPHML_HEAD + body + "  </graph>\n</graphml>\n")
    return path


def node(n: str, lat: float | None = None, lon: float | None = None) -> str:
    if lat is None or lon is None:
        return f'<node id="{n}" />\n'
    return (
        f'<node id="{n}"><data key="d0">{lat}</data>'
        f'<data key="d1">{lon}</data></node>\n'
    )


def edge(u: str, v: str, latency: float | None = None) -> str:
    if latency is None:
        return f'<edge source="{u}" target="{v}" />\n'
    return f'<edge source="{u}" target="{v}"><data key="d2">{latency}</data></edge>\n'


def test_haversine_known_distance() -> None:
    # London to Paris is about 344 km on the great circle.
    assert haversine_km(51.5074, -0.1278, 48.8566, 2.3522) == pytest.approx(
        343.5, abs=1.0
    )
    assert haversine_km(10, 20, 10, 20) == 0.0


def test_attmpls_multigraph(shared_file: Callable[..., Path]) -> None:
    g = load_topology(shared_file("topology_zoo", "graphml", "AttMpls.graphml"))
    assert isinstance(g, nx.MultiGraph)
    assert (g.number_of_nodes(), g.number_of_edges()) == (25, 57)
    assert all(lat > 0 for *_, lat in g.edges(data="latency_ms"))
    assert not any(est for *_, est in g.edges(data="latency_estimated"))
    simple = collapse_parallel(g)
    assert type(simple) is nx.Graph
    assert simple.number_of_edges() < g.number_of_edges()
    for u, v, data in simple.edges(data=True):
        parallel = [d["latency_ms"] for d in g.get_edge_data(u, v).values()]
        assert data["latency_ms"] == min(parallel)
        assert data["parallel_edges"] == len(parallel)


def test_abilene_latencies(shared_file: Callable[..., Path]) -> None:
    g = load_topology(shared_file("topology_zoo", "graphml", "Abilene.graphml"))
    assert isinstance(g, nx.MultiGraph)
    assert (g.number_of_nodes(), g.number_of_edges()) == (11, 14)
    for u, v, data in g.edges(data=True):
        a, b = g.nodes[u], g.nodes[v]
        km = haversine_km(a["Latitude"], a["Longitude"], b["Latitude"], b["Longitude"])
        assert data["latency_ms"] == pytest.approx(max(km / 200.0, 0.1))


def test_nordu2010_disconnected_and_estimated(
    shared_file: Callable[..., Path],
) -> None:
    g = load_topology(shared_file("topology_zoo", "graphml", "Nordu2010.graphml"))
    assert (g.number_of_nodes(), g.number_of_edges()) == (18, 17)
    assert nx.number_connected_components(g) == 2
    estimated = [d for *_, d in g.edges(data=True) if d["latency_estimated"]]
    measured = [
        d["latency_ms"] for *_, d in g.edges(data=True) if not d["latency_estimated"]
    ]
    assert estimated and measured
    assert all(
        d["latency_ms"] == pytest.approx(statistics.median(measured)) for d in estimated
    )


def test_rules_on_small_graph(tmp_path: Path) -> None:
    body = (
        node("a", 0.0, 0.0)
        + node("b", 0.0, 1.0)
        + node("c", 0.0, 1.0)
        + node("d")
        + edge("a", "b")  # ~111.2 km -> 0.556 ms
        + edge("b", "c")  # same place -> floor
        + edge("a", "c", 7.5)  # given
        + edge("c", "d")  # no coordinates -> median
    )
    g = load_topology(graphml(tmp_path, body), min_latency_ms=0.2)
    lat = {tuple(sorted((u, v))): d for u, v, d in g.edges(data=True)}
    assert lat[("a", "b")]["latency_ms"] == pytest.approx(111.195 / 200, rel=1e-3)
    assert lat[("b", "c")]["latency_ms"] == 0.2
    assert lat[("a", "c")]["latency_ms"] == 7.5
    assert lat[("c", "d")]["latency_ms"] == pytest.approx(
        statistics.median([111.195 / 200, 0.2, 7.5]), rel=1e-3
    )
    assert lat[("c", "d")]["latency_estimated"] is True
    assert lat[("a", "b")]["latency_estimated"] is False


def test_speed_parameter(tmp_path: Path) -> None:
    path = graphml(tmp_path, node("a", 0.0, 0.0) + node("b", 0.0, 1.0) + edge("a", "b"))
    fast = load_topology(path, speed_km_per_ms=400.0)
    (lat,) = [d for *_, d in fast.edges(data="latency_ms")]
    assert lat == pytest.approx(111.195 / 400, rel=1e-3)


def test_no_coordinates_anywhere(tmp_path: Path) -> None:
    g = load_topology(graphml(tmp_path, node("a") + node("b") + edge("a", "b")))
    (data,) = [d for *_, d in g.edges(data=True)]
    assert data == {"latency_ms": 0.1, "latency_estimated": True}


def test_self_loop_dropped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    body = node("a", 0, 0) + node("b", 0, 1) + edge("a", "b") + edge("a", "a")
    with caplog.at_level(logging.WARNING, logger="qnrecovery.data.topology"):
        g = load_topology(graphml(tmp_path, body))
    assert g.number_of_edges() == 1
    assert "dropped 1 self-loop(s)" in caplog.text


def test_parallel_edges_kept_and_collapsed(tmp_path: Path) -> None:
    body = node("a", 0, 0) + node("b", 0, 1) + edge("a", "b", 3.0) + edge("a", "b", 2.0)
    g = load_topology(graphml(tmp_path, body))
    assert g.number_of_edges() == 2
    simple = collapse_parallel(g)
    assert simple["a"]["b"]["latency_ms"] == 2.0
    assert simple["a"]["b"]["parallel_edges"] == 2


def test_directed_file_becomes_undirected(tmp_path: Path) -> None:
    path = graphml(tmp_path, node("a", 0, 0) + node("b", 0, 1) + edge("a", "b"))
    path.write_text(path.read_text().replace("undirected", "directed"))
    g = load_topology(path)
    assert type(g) is nx.MultiGraph


def test_bad_given_latency(tmp_path: Path) -> None:
    body = node("a", 0, 0) + node("b", 0, 1) + edge("a", "b", -1.0)
    with pytest.raises(DataError, match=r"latency_ms=-1.0; it must be a finite"):
        load_topology(graphml(tmp_path, body))


@pytest.mark.parametrize(
    "text",
    [
        "<graphml><graph><node id='a'></graph>",  # unclosed tag
        "this is not xml",
        "<foo />",  # XML, but not GraphML
        GRAPHML_HEAD + '<node id="a"><data key="d0">north</data></node>'
        "</graph></graphml>",  # a double that is not a number
    ],
)
def test_malformed_graphml(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.graphml"
    path.write_text(text)
    with pytest.raises(DataError, match=r"not well-formed GraphML|holds no node"):
        load_topology(path)


def test_empty_graph(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="holds no node"):
        load_topology(graphml(tmp_path, ""))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_topology(tmp_path / "none.graphml")


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"speed_km_per_ms": 0.0}, "speed_km_per_ms .* positive"),
        ({"min_latency_ms": -1.0}, "min_latency_ms .* >= 0"),
    ],
)
def test_bad_parameters(tmp_path: Path, kwargs: dict[str, float], pattern: str) -> None:
    path = graphml(tmp_path, node("a"))
    with pytest.raises(ConfigError, match=pattern):
        load_topology(path, **kwargs)
