"""Loader for Internet Topology Zoo GraphML networks, with link latencies.

networkx is imported inside the functions, so ``import qnrecovery.data`` stays
light.
"""

from __future__ import annotations

import logging
import math
import os
import statistics
from typing import TYPE_CHECKING, Any

from qnrecovery.data._common import as_existing_path
from qnrecovery.exceptions import ConfigError, DataError

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["EARTH_RADIUS_KM", "collapse_parallel", "haversine_km", "load_topology"]

logger = logging.getLogger(__name__)

#: Mean Earth radius used for great-circle distances, in km.
EARTH_RADIUS_KM = 6371.0


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two points, in km.

    Parameters
    ----------
    lat1, lon1, lat2, lon2 : float
        Latitudes and longitudes in degrees.

    Returns
    -------
    float
        Distance along the surface of a sphere of radius ``EARTH_RADIUS_KM``.
    """
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2 - lon1)
    a = (
        math.sin(dphi / 2) ** 2
        + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def load_topology(
    path: str | os.PathLike[str],
    *,
    speed_km_per_ms: float = 200.0,
    min_latency_ms: float = 0.1,
) -> nx.MultiGraph:
    """Load a Topology Zoo GraphML file as an undirected MultiGraph with latencies.

    Every edge gets a ``latency_ms`` attribute (float, milliseconds), by this rule:

    1. an edge that already has ``latency_ms`` keeps it;
    2. else, when both endpoints have ``Latitude`` and ``Longitude``, the
       great-circle (haversine) distance between them divided by
       ``speed_km_per_ms`` (light in fibre covers about 200 km per ms, i.e.
       5 µs/km), and at least ``min_latency_ms``;
    3. else the median ``latency_ms`` of the edges set by rules 1 and 2, and
       ``min_latency_ms`` if there are none; these edges also get
       ``latency_estimated=True`` (all others get False).

    Self-loops are dropped (a warning is logged). Parallel edges are kept; see
    :func:`collapse_parallel`.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.graphml`` file.
    speed_km_per_ms : float, default=200.0
        Signal speed in fibre, in km per millisecond.
    min_latency_ms : float, default=0.1
        Floor for a computed latency, in ms (co-located PoPs are not free).

    Returns
    -------
    networkx.MultiGraph
        Always a MultiGraph, even when the file has no parallel edges; a
        directed file is made undirected.

    Raises
    ------
    DataError
        If the file is missing, is not well-formed GraphML, holds no node, or
        has a ``latency_ms`` that is not a non-negative number.
    ConfigError
        If ``speed_km_per_ms`` is not positive or ``min_latency_ms`` is negative.

    Examples
    --------
    >>> from qnrecovery.data import load_topology, sample_path
    >>> g = load_topology(sample_path("topology_zoo", "Abilene.graphml"))
    >>> g.number_of_nodes(), g.number_of_edges()
    (11, 14)
    """
    if not speed_km_per_ms > 0:
        raise ConfigError(
            f"speed_km_per_ms of load_topology must be positive; got "
            f"{speed_km_per_ms!r}."
        )
    if not min_latency_ms >= 0:
        raise ConfigError(
            f"min_latency_ms of load_topology must be >= 0; got {min_latency_ms!r}."
        )
    g = _read_graphml(path)
    _drop_self_loops(g)
    _set_latencies(g, speed_km_per_ms, min_latency_ms)
    return g


def collapse_parallel(g: nx.MultiGraph, weight: str = "latency_ms") -> nx.Graph:
    """Collapse parallel edges, keeping the fastest one of each node pair.

    Parameters
    ----------
    g : networkx.MultiGraph
        Graph whose edges carry ``weight`` (as :func:`load_topology` returns).
    weight : str, default="latency_ms"
        Edge attribute to minimise; an edge without it counts as infinitely slow.

    Returns
    -------
    networkx.Graph
        Same nodes and graph attributes; for each node pair, the attributes of
        its edge with the smallest ``weight``, plus ``parallel_edges``, the
        number of edges the pair had.
    """
    import networkx as nx

    out = nx.Graph()
    out.graph.update(g.graph)
    out.add_nodes_from(g.nodes(data=True))
    for u, v, data in g.edges(data=True):
        latency = float(data.get(weight, math.inf))
        if out.has_edge(u, v):
            best = out[u][v]
            count = best["parallel_edges"] + 1
            if latency < float(best.get(weight, math.inf)):
                best.clear()
                best.update(data)
            best["parallel_edges"] = count
        else:
            out.add_edge(u, v, **data, parallel_edges=1)
    return out


def _read_graphml(path: str | os.PathLike[str]) -> nx.MultiGraph:
    import xml.etree.ElementTree as ET

    import networkx as nx

    p = as_existing_path(path, "GraphML file")
    try:
        g = nx.read_graphml(p, force_multigraph=True)
    except (ET.ParseError, nx.NetworkXError, ValueError, KeyError) as err:
        raise DataError(
            f"{str(p)!r} is not well-formed GraphML ({type(err).__name__}: {err}); "
            "check that the file is a complete GraphML document."
        ) from err
    if g.number_of_nodes() == 0:
        raise DataError(f"GraphML file {str(p)!r} holds no node.")
    if g.is_directed():
        logger.info("made the directed graph in %s undirected", p)
        g = nx.MultiGraph(g)
    return g


def _drop_self_loops(g: nx.MultiGraph) -> None:
    import networkx as nx

    loops = list(nx.selfloop_edges(g, keys=True))
    if loops:
        nodes = sorted({str(u) for u, _, _ in loops})
        logger.warning(
            "dropped %d self-loop(s) of %s at node(s) %s",
            len(loops),
            g.graph.get("Network", "graph"),
            ", ".join(nodes),
        )
        g.remove_edges_from(loops)


def _set_latencies(g: nx.MultiGraph, speed: float, floor: float) -> None:
    unknown = []
    for u, v, key, data in g.edges(keys=True, data=True):
        if "latency_ms" in data:
            data["latency_ms"] = _given_latency(data["latency_ms"], u, v)
        else:
            dist = _distance_km(g.nodes[u], g.nodes[v])
            if dist is None:
                unknown.append((u, v, key))
                continue
            data["latency_ms"] = max(dist / speed, floor)
        data["latency_estimated"] = False

    if unknown:
        known = [
            d["latency_ms"]
            for *_, d in g.edges(keys=True, data=True)
            if "latency_ms" in d
        ]
        fill = statistics.median(known) if known else floor
        logger.info(
            "%d edge(s) of %s lack endpoint coordinates; latency set to %.3f ms",
            len(unknown),
            g.graph.get("Network", "graph"),
            fill,
        )
        for u, v, key in unknown:
            g.edges[u, v, key].update(latency_ms=fill, latency_estimated=True)


def _given_latency(value: Any, u: object, v: object) -> float:
    try:
        latency = float(value)
    except (TypeError, ValueError):
        latency = math.nan
    if not latency >= 0 or math.isinf(latency):
        raise DataError(
            f"edge {u!r}-{v!r} has latency_ms={value!r}; it must be a finite "
            "number >= 0."
        )
    return latency


def _distance_km(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    try:
        coords = [float(n[k]) for n in (a, b) for k in ("Latitude", "Longitude")]
    except (KeyError, TypeError, ValueError):
        return None
    if not all(math.isfinite(c) for c in coords):
        return None
    return haversine_km(*coords)
