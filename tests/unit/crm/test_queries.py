"""$filter, QueryExpression and FetchXML all become the same query tree, and the tree becomes SQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from router.crm.dynamics.query_expression import query_expression
from router.crm.embedded import EmbeddedCrm
from router.crm.embedded.schema import email
from router.crm.embedded.sql import compile_node
from router.crm.facade.odata_filter import parse_filter
from router.crm.facade.query_parsers import parse_fetch, parse_query
from router.crm.outgoing_query import pending_send_query
from router.crm.query import Condition, Filter, Not, Op
from router.errors import CrmPermanentError

GUID = "0f0e0d0c-0b0a-0908-0706-050403020100"


def test_filter_with_every_literal_kind() -> None:
    node = parse_filter(
        f"statuscode eq 6 and (_sendermailboxid_value eq {GUID} or subject eq 'it''s') "
        "and deliverylastattemptedon lt 2026-03-02T09:00:00Z and not directioncode eq false "
        "and messageid ne null and contains(subject,'quote')"
    )
    assert isinstance(node, Filter) and node.operator == "and"
    first, either, when, negated, not_null, contains = node.children
    assert first == Condition("statuscode", Op.EQUAL, (6,))
    assert either == Filter(
        "or",
        (Condition("_sendermailboxid_value", Op.EQUAL, (GUID,)), Condition("subject", Op.EQUAL, ("it's",))),
    )
    assert when == Condition("deliverylastattemptedon", Op.LESS_THAN, (datetime(2026, 3, 2, 9, tzinfo=UTC),))
    assert negated == Not(Condition("directioncode", Op.EQUAL, (False,)))
    assert not_null == Condition("messageid", Op.NOT_NULL)
    assert contains == Condition("subject", Op.CONTAINS, ("quote",))


@pytest.mark.parametrize(
    "text",
    [
        "statuscode eq",
        "statuscode is 6",
        "(statuscode eq 6",
        "statuscode eq 6 and",
        "statuscode eq 'open",
        "eq 6",
        "statuscode eq 6 6",
    ],
)
def test_bad_filters_are_refused_with_a_position(text: str) -> None:
    with pytest.raises(CrmPermanentError) as caught:
        parse_filter(text)
    assert "$filter" in caught.value.message


def test_query_expression_round_trips_the_pending_send_query() -> None:
    cutoff = datetime(2026, 3, 2, 9, tzinfo=UTC)
    tree = pending_send_query([GUID], cutoff)
    parsed = parse_query(query_expression("email", tree, 5))
    assert parsed.entity_name == "email" and parsed.top == 5
    assert parsed.node == Filter(
        "and",
        (
            Condition("statuscode", Op.EQUAL, (6,)),
            Condition("directioncode", Op.EQUAL, (True,)),
            Condition("sendermailboxid", Op.IN, (GUID,)),
            Filter(
                "or",
                (
                    Condition("deliverylastattemptedon", Op.NULL),
                    Condition("deliverylastattemptedon", Op.LESS_THAN, ("2026-03-02T09:00:00Z",)),
                ),
            ),
        ),
    )


def test_fetch_xml_and_query_by_attribute_are_understood() -> None:
    fetch = parse_fetch(
        "<fetch count='3'><entity name='email'><all-attributes/><filter type='and'>"
        "<condition attribute='statuscode' operator='eq' value='6'/>"
        "<condition attribute='sendermailboxid' operator='in'><value>a</value><value>b</value>"
        "</condition></filter></entity></fetch>"
    )
    assert fetch.top == 3 and fetch.node == Filter(
        "and",
        (
            Filter(
                "and",
                (Condition("statuscode", Op.EQUAL, ("6",)), Condition("sendermailboxid", Op.IN, ("a", "b"))),
            ),
        ),
    )
    by_attribute = parse_query(
        {
            "@odata.type": "#Microsoft.Dynamics.CRM.QueryByAttribute",
            "EntityName": "email",
            "Attributes": ["statuscode"],
            "Values": [{"Type": "System.Int32", "Value": "6"}],
        }
    )
    assert by_attribute.node == Filter("and", (Condition("statuscode", Op.EQUAL, (6,)),))


@pytest.mark.parametrize(
    "query",
    [
        {"@odata.type": "Microsoft.Dynamics.CRM.Nonsense"},
        {"@odata.type": "Microsoft.Dynamics.CRM.FetchExpression", "Query": "<fetch><entity"},
        {"@odata.type": "Microsoft.Dynamics.CRM.FetchExpression", "Query": "<fetch/>"},
        {
            "@odata.type": "Microsoft.Dynamics.CRM.QueryExpression",
            "EntityName": "email",
            "Criteria": {"Conditions": [{"AttributeName": "statuscode", "Operator": "Between"}]},
        },
    ],
)
def test_unsupported_queries_are_refused(query: dict[str, object]) -> None:
    with pytest.raises(CrmPermanentError):
        parse_query(query)


def test_the_tree_compiles_to_sql_that_finds_the_rows(embedded_crm: EmbeddedCrm) -> None:
    embedded_crm.add_user("Alice", "alice@contoso.com", "CONTOSO\\alice")
    node = parse_filter("directioncode eq true and contains(subject,'50%_off')")
    with embedded_crm.reading() as conn:
        assert conn.execute(select(email.c.activityid).where(compile_node(email, node))).all() == []
    with pytest.raises(CrmPermanentError, match="no attribute 'nosuch'"):
        compile_node(email, parse_filter("nosuch eq 1"))
    with pytest.raises(CrmPermanentError, match="not a valid value"):
        compile_node(email, parse_filter("statuscode eq 'six'"))
