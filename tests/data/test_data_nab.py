"""Tests of the NAB loader."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from qnrecovery.data import NabSeries, load_nab, load_nab_series, read_nab_windows
from qnrecovery.exceptions import ConfigError, DataError

REAL_KNOWN_CAUSE_WINDOWS = {
    "ambient_temperature_system_failure.csv": 2,
    "cpu_utilization_asg_misconfiguration.csv": 1,
    "ec2_request_latency_system_failure.csv": 3,
    "machine_temperature_system_failure.csv": 4,
    "nyc_taxi.csv": 5,
    "rogue_agent_key_hold.csv": 2,
    "rogue_agent_key_updown.csv": 2,
}


def write_csv(path: Path, rows: list[str], header: str = "timestamp,value") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def five_min_rows(n: int = 10) -> list[str]:
    return [f"2020-01-01 00:{5 * i:02d}:00,{i}.5" for i in range(n)]


# --- real data --------------------------------------------------------------


def test_nyc_taxi_single_csv(shared_file: Callable[..., Path]) -> None:
    (s,) = load_nab(shared_file("nab", "data", "realKnownCause", "nyc_taxi.csv"))
    assert isinstance(s, NabSeries)
    assert s.name == "realKnownCause/nyc_taxi.csv"
    assert s.timestamps.dtype == np.dtype("datetime64[s]")
    assert s.values.dtype == np.float64
    assert s.values.shape == (10320,)
    assert s.timestamps[0] == np.datetime64("2014-07-01T00:00:00")
    assert len(s.windows) == 5
    assert s.windows[0] == (
        np.datetime64("2014-10-30T15:30:00"),
        np.datetime64("2014-11-03T22:30:00"),
    )
    assert s.labels.dtype == np.int8
    assert s.interval_s == 1800.0
    assert s.gaps == []
    # Each window is inclusive at both ends.
    for start, end in s.windows:
        assert s.labels[s.timestamps == start][0] == 1
        assert s.labels[s.timestamps == end][0] == 1


def test_real_known_cause_windows(shared_file: Callable[..., Path]) -> None:
    folder = shared_file("nab", "data", "realKnownCause")
    for csv_name, count in REAL_KNOWN_CAUSE_WINDOWS.items():
        (s,) = load_nab(folder / csv_name, sort=True, dedupe="last")
        assert len(s.windows) == count, csv_name
        assert s.labels.sum() > 0


def test_real_known_cause_repeats_raise_by_default(
    shared_file: Callable[..., Path],
) -> None:
    path = shared_file(
        "nab", "data", "realKnownCause", "ec2_request_latency_system_failure.csv"
    )
    with pytest.raises(DataError, match="repeated timestamp"):
        load_nab(path)
    (s,) = load_nab(path, dedupe="last")
    assert s.values.shape == (4032 - 11,)
    assert s.values[s.timestamps == np.datetime64("2014-03-09T03:00:00")][0] == 47.09


def test_other_category_with_gaps(shared_file: Callable[..., Path]) -> None:
    path = shared_file("nab", "data", "realTraffic", "TravelTime_387.csv")
    (s,) = load_nab(path)
    assert s.name == "realTraffic/TravelTime_387.csv"
    assert s.values.shape == (2500,)
    assert len(s.windows) == 3
    assert s.gaps  # irregular sampling is reported...
    limit = 3 * s.interval_s
    for before, after in s.gaps:  # ... as steps longer than 3x the median
        assert (after - before) / np.timedelta64(1, "s") > limit
    # ... and not filled.
    assert s.timestamps.shape == s.values.shape


def test_nab_root(shared_file: Callable[..., Path]) -> None:
    series = load_nab(shared_file("nab"), sort=True, dedupe="last")
    assert len(series) == 31
    assert sum(len(s.windows) for s in series) == 53


# --- windows and labels -----------------------------------------------------


def test_windows_label_inclusive(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", five_min_rows())
    s = load_nab_series(
        path,
        [("2020-01-01 00:10:00.000000", "2020-01-01 00:20:00.000000")],
        name="cat/x.csv",
    )
    assert s.name == "cat/x.csv"
    assert s.labels.tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 0, 0]


def test_window_bad(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", five_min_rows())
    with pytest.raises(DataError, match="ends before it starts"):
        load_nab_series(path, [("2020-01-02", "2020-01-01")])
    with pytest.raises(DataError, match="not a \\(start, end\\) pair"):
        load_nab_series(path, [("2020-01-02", "soon")])


def test_gaps_reported(tmp_path: Path) -> None:
    rows = [*five_min_rows(5), "2020-01-01 02:00:00,1", "2020-01-01 02:05:00,1"]
    s = load_nab_series(write_csv(tmp_path / "x.csv", rows))
    assert s.gaps == [
        (np.datetime64("2020-01-01T00:20:00"), np.datetime64("2020-01-01T02:00:00"))
    ]
    assert s.values.shape == (7,)


def nab_tree(tmp_path: Path, labels: dict[str, list[list[str]]] | None) -> Path:
    folder = tmp_path / "nab" / "data" / "cat"
    folder.mkdir(parents=True)
    write_csv(folder / "a.csv", five_min_rows())
    write_csv(folder / "b.csv", five_min_rows())
    if labels is not None:
        (tmp_path / "nab" / "labels").mkdir()
        (tmp_path / "nab" / "labels" / "combined_windows.json").write_text(
            json.dumps(labels)
        )
    return tmp_path / "nab"


def test_root_and_single_csv_find_labels(tmp_path: Path) -> None:
    root = nab_tree(
        tmp_path, {"cat/a.csv": [["2020-01-01 00:00:00", "2020-01-01 00:05:00"]]}
    )
    a, _ = load_nab(root)
    assert a.name == "cat/a.csv" and a.labels.sum() == 2
    (single,) = load_nab(root / "data" / "cat" / "a.csv")
    assert single.windows == a.windows


def test_missing_labels_logs_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = nab_tree(tmp_path, None)
    with caplog.at_level(logging.WARNING, logger="qnrecovery.data.nab"):
        series = load_nab(root / "data" / "cat" / "a.csv")
    assert series[0].windows == [] and series[0].labels.sum() == 0
    assert "no NAB label file" in caplog.text


def test_series_missing_from_labels_logs_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = nab_tree(tmp_path, {"cat/a.csv": []})
    with caplog.at_level(logging.WARNING, logger="qnrecovery.data.nab"):
        load_nab(root)
    assert "cat/b.csv has no entry" in caplog.text


def test_bad_label_file(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        read_nab_windows(path)
    path.write_text('{"a.csv": ["2020-01-01"]}')
    with pytest.raises(DataError, match="not in NAB's layout"):
        read_nab_windows(path)


def test_root_without_data(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is not a NAB root"):
        load_nab(tmp_path)


# --- malformed CSV ----------------------------------------------------------


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_nab_series(tmp_path / "nope.csv")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("")
    with pytest.raises(DataError, match="is empty"):
        load_nab_series(path)


def test_header_only(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no data rows"):
        load_nab_series(write_csv(tmp_path / "x.csv", []))


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        ("time,value", "timestamp"),
        ("timestamp,val", "value"),
        ("a,b", "timestamp, value"),
    ],
)
def test_missing_columns(tmp_path: Path, header: str, missing: str) -> None:
    path = write_csv(tmp_path / "x.csv", five_min_rows(), header=header)
    with pytest.raises(DataError, match=f"lacks the column\\(s\\) {missing};"):
        load_nab_series(path)


def test_extra_columns_and_order(tmp_path: Path) -> None:
    rows = ["1.5,x,2020-01-01 00:00:00", "2.5,y,2020-01-01 00:05:00"]
    s = load_nab_series(write_csv(tmp_path / "x.csv", rows, "value,note,timestamp"))
    assert s.values.tolist() == [1.5, 2.5]


@pytest.mark.parametrize("stamp", ["yesterday", "", "2020-13-01 00:00:00", "NaT"])
def test_unparseable_timestamp(tmp_path: Path, stamp: str) -> None:
    rows = [*five_min_rows(3), f"{stamp},1.0"]
    with pytest.raises(DataError, match=r"row 5 .* unparseable timestamp"):
        load_nab_series(write_csv(tmp_path / "x.csv", rows))


@pytest.mark.parametrize("value", ["abc", ""])
def test_unparseable_value(tmp_path: Path, value: str) -> None:
    rows = [*five_min_rows(3), f"2020-01-01 01:00:00,{value}"]
    with pytest.raises(DataError, match=r"row 5 .* unparseable value"):
        load_nab_series(write_csv(tmp_path / "x.csv", rows))


def test_non_finite_value(tmp_path: Path) -> None:
    rows = [*five_min_rows(3), "2020-01-01 01:00:00,nan"]
    with pytest.raises(DataError, match=r"1 NaN or infinite value.*row 5"):
        load_nab_series(write_csv(tmp_path / "x.csv", rows))


def test_short_row(tmp_path: Path) -> None:
    rows = [*five_min_rows(2), "2020-01-01 01:00:00"]
    with pytest.raises(DataError, match=r"row 4 .* too few fields"):
        load_nab_series(write_csv(tmp_path / "x.csv", rows))


def test_unsorted_timestamps(tmp_path: Path) -> None:
    rows = five_min_rows(4)
    rows[1], rows[2] = rows[2], rows[1]
    path = write_csv(tmp_path / "x.csv", rows)
    with pytest.raises(DataError, match=r"not in order .* row 4.*sort=True"):
        load_nab_series(path)
    s = load_nab_series(path, sort=True)
    assert s.values.tolist() == [0.5, 1.5, 2.5, 3.5]
    assert (np.diff(s.timestamps) > np.timedelta64(0, "s")).all()


@pytest.mark.parametrize(("dedupe", "kept"), [("first", 1.0), ("last", 3.0)])
def test_duplicate_timestamps(tmp_path: Path, dedupe: str, kept: float) -> None:
    rows = [
        "2020-01-01 00:00:00,0",
        "2020-01-01 00:05:00,1",
        "2020-01-01 00:05:00,2",
        "2020-01-01 00:05:00,3",
        "2020-01-01 00:10:00,4",
    ]
    path = write_csv(tmp_path / "x.csv", rows)
    with pytest.raises(DataError, match=r"2 repeated timestamp.*dedupe="):
        load_nab_series(path)
    s = load_nab_series(path, dedupe=dedupe)  # type: ignore[arg-type]
    assert s.values.tolist() == [0.0, kept, 4.0]


def test_unsorted_duplicates_sort_then_dedupe(tmp_path: Path) -> None:
    rows = [
        "2020-01-01 00:05:00,1",
        "2020-01-01 00:00:00,0",
        "2020-01-01 00:05:00,2",
    ]
    s = load_nab_series(write_csv(tmp_path / "x.csv", rows), sort=True, dedupe="last")
    assert s.values.tolist() == [0.0, 2.0]


def test_bad_dedupe_option(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", five_min_rows())
    with pytest.raises(ConfigError, match=r"dedupe .* 'first' or 'last'"):
        load_nab_series(path, dedupe="mean")  # type: ignore[arg-type]
