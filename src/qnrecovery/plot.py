"""The drill's timeline plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["plot_timeline"]

_STRATEGY_COLOURS = {"hot": "tab:red", "warm": "tab:orange", "cold": "tab:blue"}


def plot_timeline(report: dict[str, Any], path: Path | str) -> Path:
    """Draw one lane per component: telemetry time against probability.

    Each lane shows the anomaly score and the predicted failure probability
    after every row, the labelled anomaly segments (shaded), the planner's
    thresholds (dotted) and each injected fault, coloured by the standby kind
    that recovered it and labelled with its recovery time.

    Parameters
    ----------
    report : dict
        A drill report (:func:`qnrecovery.drill.run_drill`).
    path : path-like
        PNG file to write.

    Returns
    -------
    Path
        The file written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    timeline = report["timeline"]
    period = report["data"]["row_period_s"]
    thresholds = report["prediction"]["thresholds"]
    names = list(timeline)
    figure, axes = plt.subplots(
        len(names), 1, figsize=(11, 2.3 * len(names) + 1.0), sharex=True, squeeze=False
    )

    for ax, name in zip(axes[:, 0], names, strict=True):
        lane = timeline[name]
        rows = range(len(lane["probability"]))
        seconds = [r * period for r in rows]
        for start, end in lane["segments"]:
            ax.axvspan(start * period, (end + 1) * period, color="0.85", lw=0)
        ax.plot(
            seconds,
            lane["score"],
            color="0.6",
            lw=0.4,
            alpha=0.6,
            label="anomaly score",
        )
        ax.plot(
            seconds,
            lane["probability"],
            color="tab:purple",
            lw=0.9,
            label="P(failure within horizon)",
        )
        for value in thresholds.values():
            ax.axhline(value, color="tab:purple", lw=0.6, ls=":")
        mine = [r for r in report["recoveries"] if r["component"] == name]
        for n, recovery in enumerate(mine):
            x = recovery["fault_at_s"]
            colour = _STRATEGY_COLOURS.get(recovery["strategy"] or "", "black")
            ax.axvline(x, color=colour, lw=1.2)
            if recovery["recovery_ms"] is not None:
                marker = "*" if recovery["predicted"] else ""
                # Labels alternate in height so that close faults stay legible.
                ax.text(
                    x,
                    1.02 + 0.13 * (n % 3),
                    f"{recovery['recovery_ms']:.0f} ms{marker}",
                    fontsize=7,
                    color=colour,
                    ha="center",
                    va="bottom",
                    rotation=0,
                    clip_on=False,
                )
        tier = next(c["tier"] for c in report["components"] if c["name"] == name)
        ax.set_ylim(0, 1.0)
        ax.set_ylabel(f"{name}\n{tier}", fontsize=8)
        ax.tick_params(labelsize=7)

    axes[0, 0].legend(loc="upper left", fontsize=7, ncols=2, framealpha=0.8)
    axes[-1, 0].set_xlabel(
        "drill time (s); shaded: labelled anomaly; vertical line: injected fault "
        "(red hot, orange warm, blue cold standby took over; * predicted)",
        fontsize=8,
    )
    figure.suptitle("qnrecovery drill timeline", fontsize=10)
    figure.tight_layout()
    out = Path(path)
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out
