"""The type model of the real v9.0 ``$metadata`` the facade's document declares beside its entity sets.

From the reference (dynamics-webapi.md §4.9 and §5.1, four public v9.0 exports compared): every entity
type derives from the abstract ``crmbaseentity``; ``email`` from ``activitypointer`` (key
``activityid``) and ``systemuser`` from the abstract ``principal`` (key ``ownerid``), so neither
declares a key of its own. The query types BackgroundSendEmail's ``Query`` is built from are complex
types with their enums, and the ``lookuplogicalname`` annotation term is declared.

``ConditionOperator`` lists the members the reference quotes (0 to 13), not all the real service's.
"""

from __future__ import annotations

BASE_TYPE = {"email": "activitypointer", "systemuser": "principal"}
"""Entity types whose base is not ``crmbaseentity`` directly."""

ABSTRACT_TYPES: dict[str, tuple[str | None, str | None]] = {
    "crmbaseentity": (None, None),
    "principal": ("crmbaseentity", "ownerid"),
}
"""Abstract entity types: name -> (base type, key property)."""

ACTIVITY_KEY = "activityid"
ACTIVITY_COLUMNS = ("activityid", "subject", "description", "statecode", "statuscode", "actualend", "senton",
                    "deliverylastattemptedon", "deliveryprioritycode", "createdon", "modifiedon",
                    "versionnumber")
"""Columns ``activitypointer`` declares (and ``email`` inherits rather than declares)."""

NAVIGATION_TYPES = {"objectid_activitypointer": "activitypointer"}
"""Navigation properties declared with another type than the table the facade binds them to."""

Properties = tuple[tuple[str, str], ...]

COMPLEX_TYPES: tuple[tuple[str, str | None, Properties], ...] = (
    ("QueryBase", None, ()),
    ("QueryExpression", "QueryBase", (
        ("Distinct", "Edm.Boolean"), ("NoLock", "Edm.Boolean"), ("PageInfo", "mscrm.PagingInfo"),
        ("LinkEntities", "Collection(mscrm.LinkEntity)"), ("Criteria", "mscrm.FilterExpression"),
        ("Orders", "Collection(mscrm.OrderExpression)"), ("EntityName", "Edm.String"),
        ("ColumnSet", "mscrm.ColumnSet"), ("TopCount", "Edm.Int32"))),
    ("FetchExpression", "QueryBase", (("Query", "Edm.String"),)),
    ("QueryByAttribute", "QueryBase", (
        ("EntityName", "Edm.String"), ("Attributes", "Collection(Edm.String)"),
        ("Values", "Collection(mscrm.Object)"), ("PageInfo", "mscrm.PagingInfo"),
        ("ColumnSet", "mscrm.ColumnSet"), ("Orders", "Collection(mscrm.OrderExpression)"),
        ("TopCount", "Edm.Int32"))),
    ("FilterExpression", None, (
        ("FilterOperator", "mscrm.LogicalOperator"), ("FilterHint", "Edm.String"),
        ("Conditions", "Collection(mscrm.ConditionExpression)"),
        ("Filters", "Collection(mscrm.FilterExpression)"), ("IsQuickFindFilter", "Edm.Boolean"))),
    ("ConditionExpression", None, (
        ("EntityName", "Edm.String"), ("AttributeName", "Edm.String"),
        ("Operator", "mscrm.ConditionOperator"), ("Values", "Collection(mscrm.Object)"))),
    ("Object", None, (("Type", "Edm.String"), ("Value", "Edm.String"))),
    ("ColumnSet", None, (("AllColumns", "Edm.Boolean"), ("Columns", "Collection(Edm.String)"))),
    ("PagingInfo", None, (
        ("PageNumber", "Edm.Int32"), ("Count", "Edm.Int32"), ("ReturnTotalRecordCount", "Edm.Boolean"),
        ("PagingCookie", "Edm.String"))),
    ("OrderExpression", None, (("AttributeName", "Edm.String"), ("OrderType", "mscrm.OrderType"))),
    ("LinkEntity", None, (
        ("LinkFromAttributeName", "Edm.String"), ("LinkFromEntityName", "Edm.String"),
        ("LinkToEntityName", "Edm.String"), ("LinkToAttributeName", "Edm.String"),
        ("JoinOperator", "mscrm.JoinOperator"), ("LinkCriteria", "mscrm.FilterExpression"),
        ("LinkEntities", "Collection(mscrm.LinkEntity)"), ("Columns", "mscrm.ColumnSet"),
        ("EntityAlias", "Edm.String"), ("Orders", "Collection(mscrm.OrderExpression)"))),
)
"""Query complex types: (name, base type, properties)."""

NOT_NULLABLE = {("Object", "Type"), ("Object", "Value")}
NOT_UNICODE = {"Edm.String", "Collection(Edm.String)"}
"""String properties of the query types are declared ``Unicode="false"``, as in the real document."""

ENUM_TYPES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ConditionOperator", ("Equal", "NotEqual", "GreaterThan", "LessThan", "GreaterEqual", "LessEqual",
                           "Like", "NotLike", "In", "NotIn", "Between", "NotBetween", "Null", "NotNull")),
    ("LogicalOperator", ("And", "Or")),
    ("OrderType", ("Ascending", "Descending")),
    ("JoinOperator", ("Inner", "LeftOuter", "Natural")),
)
"""Enum types: members numbered from 0 in order."""

TERMS = (("lookuplogicalname", "Edm.String"),)
