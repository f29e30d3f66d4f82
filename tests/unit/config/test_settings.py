"""System settings carry the legacy knobs with the official sample's values, in seconds."""

from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from router.config import SystemSettings


def test_defaults_match_the_legacy_sample_in_human_units() -> None:
    s = SystemSettings()
    assert (s.max_threads, s.maximum_delivery_attempts, s.log_level) == (50, 10, 1)
    assert (s.max_thread_execution_seconds, s.scheduling_period_seconds) == (600, 1)
    assert (s.config_refresh_period_seconds, s.config_update_period_seconds) == (5, 3600)
    assert (s.pending_status_delay_seconds, s.sending_status_delay_seconds) == (300, 1800)
    assert (s.cache_capacity, s.ews_retrieve_message_count, s.batch_size, s.request_batch_size) == (
        1024, 10, 5, 5)


def test_every_field_is_documented_against_its_legacy_name() -> None:
    for name, field in SystemSettings.model_fields.items():
        assert field.description and "legacy:" in field.description, name


@pytest.mark.parametrize(("level", "python"), [(0, logging.CRITICAL), (1, logging.ERROR),
                                               (2, logging.INFO), (3, logging.DEBUG)])
def test_log_levels_map_to_python_logging(level: int, python: int) -> None:
    assert SystemSettings(log_level=level).python_log_level() == python


def test_out_of_range_log_level_is_refused() -> None:
    with pytest.raises(ValidationError):
        SystemSettings(log_level=4)
