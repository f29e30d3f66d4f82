"""Smoke test of the benchmark: every scenario runs with tiny counts and the report has its shape.

No figure is asserted on (the suite never times anything); only that each scenario ran, counted the
items it was given, and that the JSON and the tables say what the README documents. One test, so
that pytest-xdist does not run the (slow) benchmark once per worker.
"""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from router.bench.run import BenchSettings, run_bench
from router.ews import perf

pytestmark = pytest.mark.slow

TINY = BenchSettings(repeats=1, messages_8kb=4, messages_50kb=2, sends=3, router_mailboxes=2,
                     router_per_mailbox_8kb=2, router_per_mailbox_50kb=1, router_sends=2, latency_messages=2,
                     latency_interval=0.05, scale_mailboxes=(10,), graph_scale_mailboxes=(6,),
                     scale_warm_up=1.0, scale_window=1.0, scale_facade_mailboxes=(10,),
                     latency_scale_mailboxes=4, latency_scale_messages=3, latency_scale_interval=0.05,
                     instances_per_mailbox=2)
THROUGHPUT_KEYS = {"id", "group", "label", "title", "size", "items", "repeats", "per_second",
                   "client_cpu_us_per_item", "server_cpu_us_per_item", "note", "samples"}


def test_a_tiny_benchmark_runs_every_scenario_and_reports_them(tmp_path: Path) -> None:
    before = perf.is_installed()
    report = run_bench(TINY, lambda _text: None, tmp_path / "work")
    assert perf.is_installed() == before, "the benchmark must leave exchangelib as it found it"
    data: dict[str, Any] = json.loads(report.write(tmp_path / "bench.json").read_text())
    console = Console(file=io.StringIO(), width=200)
    report.render(console)
    _check_transport(data)
    _check_router(data)
    _check_report(data, console.file.getvalue())  # type: ignore[attr-defined]


def _check_transport(data: dict[str, Any]) -> None:
    rows = {row["id"]: row for row in data["throughput"]}
    assert set(rows) >= {"naive-8KB", "ceiling-8KB-stock", "ceiling-8KB-patched", "naive-50KB",
                         "ceiling-50KB-stock", "ceiling-50KB-patched", "sends"}
    assert rows["naive-8KB"]["items"] == rows["ceiling-8KB-patched"]["items"] == 4
    assert rows["naive-50KB"]["items"] == rows["ceiling-50KB-stock"]["items"] == 2
    assert rows["sends"]["items"] == 3
    for row in rows.values():
        assert set(row) == THROUGHPUT_KEYS
        assert row["repeats"] == len(row["samples"]) == 1
        assert row["per_second"] > 0


def _check_router(data: dict[str, Any]) -> None:
    rows = {row["id"]: row for row in data["throughput"]}
    assert rows["router-incoming-8KB"]["items"] == 4 and rows["router-incoming-50KB"]["items"] == 2
    assert rows["router-outgoing"]["items"] == 2
    assert rows["router-incoming-8KB-graph"]["items"] == 4
    assert rows["router-incoming-50KB-graph"]["items"] == 2
    assert rows["router-outgoing-graph"]["items"] == 2
    assert rows["ceiling-8KB-graph"]["items"] == 4 and rows["ceiling-50KB-graph"]["items"] == 2
    assert rows["naive-8KB-graph"]["items"] == 4 and rows["naive-50KB-graph"]["items"] == 2
    assert rows["sends-graph"]["items"] == 3
    assert rows["router-incoming-pg-1"]["items"] == rows["router-incoming-pg-2"]["items"] == 4
    latency = {x["id"]: x for x in data["latency"]}
    assert set(latency) == {"latency-notifications", "latency-polling", "latency-notifications-4"}
    assert all(x["p99_s"] >= x["p50_s"] >= 0 and x["missing"] == 0 for x in latency.values())
    assert latency["latency-notifications"]["messages"] == latency["latency-polling"]["messages"] == 2
    assert latency["latency-notifications-4"]["messages"] == 3
    embedded, graph, facade = data["scale"]
    assert (embedded["crm"], graph["crm"], facade["crm"]) == ("embedded", "embedded", "dynamics-facade")
    assert (embedded["id"], graph["id"], facade["id"]) == (
        "scale-10", "scale-6-graph", "scale-10-dynamics-facade")
    assert (embedded["transport"], graph["transport"], facade["transport"]) == ("ews", "graph", "ews")
    assert graph["mailboxes"] == 6 and graph["rss_mib"] > 0 and graph["idle_cpu_percent_of_one_core"] >= 0
    for scale in (embedded, facade):
        assert scale["mailboxes"] == 10 and scale["rss_mib"] > 0 and scale["note"] == ""
        assert scale["crm_requests_per_minute"] >= 0 and scale["first_pass_s"] >= 0


def _check_report(data: dict[str, Any], rendered: str) -> None:
    assert {"date", "cpu_model", "nproc", "python", "exchangelib"} <= set(data["machine"])
    assert data["settings"]["messages_8kb"] == 4
    ratios = {r["numerator"] + "/" + r["denominator"]: r["value"] for r in data["ratios"]}
    assert {"ceiling-8KB-patched/ceiling-8KB-stock", "router-incoming-8KB/naive-8KB",
            "router-outgoing/sends", "router-incoming-8KB-graph/router-incoming-8KB",
            "router-outgoing-graph/router-outgoing",
            "router-incoming-pg-2/router-incoming-pg-1"} <= set(ratios)
    assert all(value >= 0 for value in ratios.values()), ratios  # Tiny counts: a ratio may round to 0.
    for label in ("hand-written script (stock)", "fetch ceiling (stock)", "fetch ceiling (perf)",
                  "send ceiling (perf)", "router incoming (perf)",
                  "router incoming over Graph (perf)", "Latency", "Scale", "Ratios"):
        assert label in rendered


def test_only_runs_the_chosen_groups_and_the_ratios_whose_rows_both_ran(tmp_path: Path) -> None:
    settings = replace(TINY, only=frozenset({"transport", "outgoing"}))
    report = run_bench(settings, lambda _text: None, tmp_path / "work")
    data: dict[str, Any] = json.loads(report.write(tmp_path / "bench.json").read_text())
    ids = {row["id"] for row in data["throughput"]}
    assert "router-outgoing" in ids and "sends" in ids
    assert not any(i.startswith("router-incoming") for i in ids), ids
    assert data["latency"] == [] and data["scale"] == []
    assert [(r["numerator"], r["denominator"]) for r in data["ratios"]
            if r["numerator"].startswith("router")] == [("router-outgoing", "sends")]
    assert data["settings"]["only"] == ["outgoing", "transport"]
