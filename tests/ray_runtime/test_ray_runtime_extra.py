"""Without Ray the runtime fails with a message naming the extra; bad inputs."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from qnrecovery.exceptions import ConfigError, DataError
from qnrecovery.ray_runtime.gram import gram_blocks_local


def _run_without_ray(code: str) -> subprocess.CompletedProcess[str]:
    script = "import sys\nsys.modules['ray'] = None\n" + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_run_ray_drill_without_ray_names_the_extra() -> None:
    done = _run_without_ray(
        """
        from qnrecovery.exceptions import ConfigError
        from qnrecovery.ray_runtime import run_ray_drill
        try:
            run_ray_drill()
        except ConfigError as err:
            print("ERROR:", err)
        """
    )
    assert done.returncode == 0, done.stderr
    assert 'pip install "qnrecovery[ray]"' in done.stdout
    assert "--runtime ray" in done.stdout


def test_gram_on_ray_without_ray_names_the_extra() -> None:
    done = _run_without_ray(
        """
        import numpy as np
        from qnrecovery.exceptions import ConfigError
        from qnrecovery.ray_runtime import gram_blocks_on_ray
        try:
            gram_blocks_on_ray(np.eye(2), np.eye(2), 1)
        except ConfigError as err:
            print("ERROR:", err)
        """
    )
    assert done.returncode == 0, done.stderr
    assert 'pip install "qnrecovery[ray]"' in done.stdout


def test_importing_the_package_does_not_import_ray() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, qnrecovery.ray_runtime as r; r.RAY_EXTRA; "
            "print('ray' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("faults", "address", "match"),
    [
        (["meteor"], None, "unknown or no Ray fault kind"),
        ([], None, "unknown or no Ray fault kind"),
        (["node-hard"], "auto", "need the local cluster"),
    ],
)
def test_bad_fault_kinds_are_refused(
    faults: list[str], address: str | None, match: str
) -> None:
    from qnrecovery.ray_runtime.drill import run_ray_drill

    with pytest.raises(ConfigError, match=match):
        run_ray_drill(faults=faults, address=address)


def test_unknown_tier_is_refused() -> None:
    from qnrecovery.ray_runtime.service import RayKVService

    with pytest.raises(ConfigError, match="unknown tier 'gold'"):
        RayKVService(None, [("a", "gold")])  # type: ignore[arg-type]


def test_local_gram_blocks_match_the_exact_kernel() -> None:
    from qnrecovery.quantum.kernel import fidelity_gram

    rng = np.random.default_rng(0)
    a = rng.normal(size=(9, 8)) + 1j * rng.normal(size=(9, 8))
    b = rng.normal(size=(7, 8)) + 1j * rng.normal(size=(7, 8))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    got = gram_blocks_local(a, b, 4)
    assert got.shape == (9, 7)
    np.testing.assert_allclose(got, fidelity_gram(a, b), rtol=0, atol=1e-12)


@pytest.mark.parametrize("block", [0, -1, 2.5, True])
def test_gram_refuses_a_bad_block(block: object) -> None:
    with pytest.raises(ConfigError, match="block must be a positive integer"):
        gram_blocks_local(np.eye(2), np.eye(2), block)  # type: ignore[arg-type]


def test_gram_refuses_mismatched_states() -> None:
    with pytest.raises(DataError, match="equal row length"):
        gram_blocks_local(np.eye(2), np.eye(4), 1)
    with pytest.raises(DataError, match="NaN or infinite"):
        gram_blocks_local(np.full((2, 2), np.nan), np.eye(2), 1)
