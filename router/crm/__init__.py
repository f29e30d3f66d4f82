"""The CRM side of the router: the ``CrmGateway`` contract and its embedded and Dynamics implementations."""
