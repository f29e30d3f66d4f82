"""Smoke test of the benchmark: every scenario runs with tiny counts and the report has its shape.

No figure is asserted on (the suite never times anything); only that each scenario ran, counted the
items it was given, and that the JSON and the tables say what the README documents.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from router.bench.run import BenchSettings, run_bench
from router.ews import perf

TINY = BenchSettings(repeats=1, messages_8kb=4, messages_50kb=2, sends=3)
THROUGHPUT_KEYS = {"id", "group", "label", "title", "size", "items", "repeats", "per_second",
                   "client_cpu_us_per_item", "server_cpu_us_per_item", "note", "samples"}


@pytest.fixture(scope="module")
def report_json(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    before = perf.is_installed()
    report = run_bench(TINY, lambda _text: None, tmp_path_factory.mktemp("bench"))
    assert perf.is_installed() == before, "the benchmark must leave exchangelib as it found it"
    path = report.write(tmp_path_factory.mktemp("out") / "bench.json")
    console = Console(file=io.StringIO(), width=160)
    report.render(console)
    data: dict[str, object] = json.loads(Path(path).read_text())
    data["_rendered"] = console.file.getvalue()  # type: ignore[attr-defined]
    return data


def test_every_transport_scenario_ran_with_the_counts_given(report_json: dict[str, object]) -> None:
    rows = {row["id"]: row for row in report_json["throughput"]}  # type: ignore[attr-defined]
    assert set(rows) >= {"naive-8KB", "ceiling-8KB-stock", "ceiling-8KB-patched", "naive-50KB",
                         "ceiling-50KB-stock", "ceiling-50KB-patched", "sends"}
    assert rows["naive-8KB"]["items"] == rows["ceiling-8KB-patched"]["items"] == 4
    assert rows["naive-50KB"]["items"] == rows["ceiling-50KB-stock"]["items"] == 2
    assert rows["sends"]["items"] == 3
    for row in rows.values():
        assert set(row) == THROUGHPUT_KEYS
        assert row["repeats"] == len(row["samples"]) == 1
        assert row["per_second"] > 0


def test_report_names_the_machine_settings_and_ratios(report_json: dict[str, object]) -> None:
    machine = report_json["machine"]
    assert {"date", "cpu_model", "nproc", "python", "exchangelib"} <= set(machine)  # type: ignore[arg-type]
    assert report_json["settings"] == {"repeats": 1, "messages_8kb": 4, "messages_50kb": 2, "sends": 3}
    ratios = {r["numerator"]: r for r in report_json["ratios"]}  # type: ignore[attr-defined]
    assert ratios["ceiling-8KB-patched"]["denominator"] == "ceiling-8KB-stock"
    assert all(r["value"] > 0 for r in ratios.values())
    assert {"latency", "scale"} <= set(report_json)


def test_tables_show_each_scenario(report_json: dict[str, object]) -> None:
    text = str(report_json["_rendered"])
    for label in ("hand-written script (stock)", "fetch ceiling (stock)", "fetch ceiling (perf)",
                  "send ceiling (perf)", "Ratios"):
        assert label in text
