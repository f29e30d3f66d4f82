"""How the emails of a batch are shared out among CreateItem requests."""

from __future__ import annotations

from router.pipeline.outgoing.send import MAX_BYTES_PER_REQUEST, MAX_ITEMS_PER_REQUEST, request_chunks


def test_small_emails_go_up_to_the_item_limit_a_request() -> None:
    assert request_chunks([1000] * (2 * MAX_ITEMS_PER_REQUEST + 3)) == [MAX_ITEMS_PER_REQUEST,
                                                                        MAX_ITEMS_PER_REQUEST, 3]


def test_large_emails_share_requests_within_the_byte_limit_and_a_huge_one_goes_alone() -> None:
    third = MAX_BYTES_PER_REQUEST // 3
    assert request_chunks([third, third, third, third]) == [3, 1]
    assert request_chunks([10, 2 * MAX_BYTES_PER_REQUEST, 10]) == [1, 1, 1]


def test_one_by_one_transports_get_one_email_a_request() -> None:
    assert request_chunks([10, 10, 10], one_by_one=True) == [1, 1, 1]
    assert request_chunks([]) == []
