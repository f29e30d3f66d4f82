"""JSON batching (``POST /v1.0/$batch``): at most 20 steps, each served like a request of its own.

Binary answers (``$value``) come back base64-encoded in the step's ``body``, JSON answers as JSON, as
Graph does. A text/plain step body (MIME) is sent base64 as a string. ``dependsOn`` names earlier steps
(a later or unknown one: 400 for the whole batch); the simulator runs steps in order, which satisfies
every dependency, and a step whose dependency failed (status 400 or more) is not run but answered 424
Failed Dependency, as Graph does. Each step meets throttling and faults on its own (429 with
Retry-After per step).
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from router.simulator.graph.context import GraphResponse
from router.simulator.graph.resources import GraphError

if TYPE_CHECKING:
    from router.simulator.graph.endpoint import GraphEndpoint
    from router.simulator.model import App

MAX_STEPS = 20


def _steps(body: bytes) -> list[dict[str, Any]]:
    try:
        data = json.loads(body or b"{}")
    except ValueError as exc:
        raise GraphError(400, "BadRequest", "Unable to read JSON request payload.") from exc
    steps = data.get("requests") if isinstance(data, dict) else None
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps) or not steps:
        raise GraphError(
            400, "BadRequest", "Invalid batch payload format: 'requests' must be a non-empty list."
        )
    if len(steps) > MAX_STEPS:
        raise GraphError(
            400, "BadRequest", f"Number of batch request steps exceeds the maximum of {MAX_STEPS}."
        )
    ids = [str(s.get("id", "")) for s in steps]
    if len(set(ids)) != len(ids) or "" in ids:
        raise GraphError(400, "BadRequest", "Every batch step needs a unique id.")
    for n, step in enumerate(steps):
        if any(dep not in ids[:n] for dep in _depends_on(step)):
            raise GraphError(400, "BadRequest", f"Step {ids[n]} depends on a step that is not before it.")
    return steps


def _depends_on(step: dict[str, Any]) -> list[str]:
    deps = step.get("dependsOn") or []
    if not isinstance(deps, list):
        raise GraphError(400, "BadRequest", "dependsOn must be a list of step ids.")
    return [str(dep) for dep in deps]


def _failed_dependency(step_id: str) -> dict[str, object]:
    return {"id": step_id, "status": 424, "headers": {"Content-Type": "application/json"},
            "body": {"error": {"code": "FailedDependency", "message": "The request could not be executed "
                                                                  "because a request it depends on failed."}}}


def _step_body(step: dict[str, Any]) -> bytes:
    body = step.get("body")
    if body is None:
        return b""
    return body.encode() if isinstance(body, str) else json.dumps(body).encode()


def _answer(step_id: str, response: GraphResponse) -> dict[str, object]:
    headers = {name: value for name, value in response.headers}
    answer: dict[str, object] = {"id": step_id, "status": response.status, "headers": headers}
    if response.content_type:
        headers["Content-Type"] = response.content_type
    if response.body and (response.content_type or "").startswith("application/json"):
        answer["body"] = json.loads(response.body)
    elif response.body:
        answer["body"] = base64.b64encode(response.body).decode("ascii")
    return answer


def run_batch(
    endpoint: GraphEndpoint, app: App, headers: dict[str, str], body: bytes, base: str
) -> GraphResponse:
    """Serve every step and answer ``{"responses": [...]}`` (200 even when steps failed)."""
    try:
        steps = _steps(body)
    except GraphError as err:
        return GraphResponse.error(err)
    answers: list[dict[str, object]] = []
    statuses: dict[str, int] = {}
    for step in steps:
        step_id = str(step["id"])
        if any(statuses[dep] >= 400 for dep in _depends_on(step)):
            answers.append(_failed_dependency(step_id))
            statuses[step_id] = 424
            continue
        step_headers = {str(k).lower(): str(v) for k, v in (step.get("headers") or {}).items()}
        step_headers["authorization"] = headers.get("authorization", "")
        response = endpoint.serve(
            app,
            str(step.get("method", "GET")).upper(),
            str(step.get("url", "")),
            step_headers,
            _step_body(step),
            base,
        )
        if response.drop:
            return response
        answers.append(_answer(step_id, response))
        statuses[step_id] = response.status
    endpoint.record_batch(app, len(steps))
    return GraphResponse.of(200, {"responses": answers})
