"""A protocol-faithful fake of Teams Workflows webhooks (a flow's "manual" HTTP trigger).

Routes: ``POST /workflows/{id}/triggers/manual/paths/invoke`` (``*.logic.azure.com``) and
``POST /powerautomate/automations/direct/workflows/{id}/triggers/manual/paths/invoke``
(``*.environment.api.powerplatform.com``), with ``api-version``, ``sp``, ``sv`` and ``sig`` in the
query. What it enforces, answering ``{"error": {"code", "message"}}`` as the service does:

- an unknown workflow → 404 ``WorkflowNotFound``; a turned-off one → 403 ``WorkflowNotEnabled``;
  no ``sig`` → 401 ``DirectApiAuthorizationRequired``; a wrong one → 401
  ``DirectApiInvalidAuthorizationSignature``;
- the trigger's schema, as the Teams template declares it: ``{"type": "message", "attachments":
  [{"contentType": "application/vnd.microsoft.card.adaptive", "content": AdaptiveCard}]}`` with
  an AdaptiveCard of version 1.0–1.5 whose body elements have a known ``type`` and whose
  TextBlocks have text → else 400 ``TriggerInputSchemaMismatch``;
- a message of 28 KB or more → 413 ``MessageTooLarge`` (Teams' limit);
- more than ``burst`` requests to one workflow within a second → 429 ``WorkflowTriggerIsThrottled``
  with ``Retry-After: 1``.

Accepted: 202 with an empty body and the run's id in ``x-ms-workflow-run-id``. ``cards`` keeps
every accepted card with its workflow id, oldest first.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import defaultdict, deque
from typing import Any

from aiohttp import web

from crisiscast.jsontypes import JsonObject
from crisiscast.sandbox.common import FakeProvider, FaultPlan, RecordedRequest

__all__ = ["EXERCISE_WORKFLOW", "SANDBOX_WORKFLOW", "FakeTeams", "sandbox_env", "workflow_url"]

SANDBOX_WORKFLOW = ("a1b2c3d4e5f6478899aabbccddeeff01", "sandboxTeamsSig0000000000000000000001")
EXERCISE_WORKFLOW = ("a1b2c3d4e5f6478899aabbccddeeff02", "sandboxTeamsSig0000000000000000000002")
ELEMENTS = frozenset(
    {"TextBlock", "Container", "FactSet", "ColumnSet", "Image", "ActionSet", "RichTextBlock"}
)
VERSIONS = frozenset({"1.0", "1.1", "1.2", "1.3", "1.4", "1.5"})
MAX_BYTES = 28_000


def workflow_url(workflow_id: str, sig: str, host: str = "prod-12.westus.logic.azure.com:443") -> str:
    query = f"api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={sig}"
    return f"https://{host}/workflows/{workflow_id}/triggers/manual/paths/invoke?{query}"


def sandbox_env(*, exercise: bool = False) -> dict[str, str]:
    """The webhook URLs the fake serves (both: one fake serves the alert and the drill channel)."""
    return {
        "CRISISCAST_TEAMS_WEBHOOK_URL": workflow_url(*SANDBOX_WORKFLOW),
        "CRISISCAST_TEAMS_EXERCISE_WEBHOOK_URL": workflow_url(*EXERCISE_WORKFLOW),
    }


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


def _element_ok(element: Any) -> bool:
    if not isinstance(element, dict) or element.get("type") not in ELEMENTS:
        return False
    if element["type"] == "TextBlock":
        return isinstance(element.get("text"), str) and bool(element["text"].strip())
    if element["type"] == "Container":
        items = element.get("items")
        return isinstance(items, list) and all(_element_ok(i) for i in items)
    if element["type"] == "FactSet":
        facts = element.get("facts")
        return isinstance(facts, list) and all(
            isinstance(f, dict) and isinstance(f.get("title"), str) and isinstance(f.get("value"), str)
            for f in facts
        )
    return True


def _schema_ok(body: Any) -> bool:
    if not isinstance(body, dict) or body.get("type") != "message":
        return False
    attachments = body.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return False
    for attachment in attachments:
        if (
            not isinstance(attachment, dict)
            or attachment.get("contentType") != "application/vnd.microsoft.card.adaptive"
        ):
            return False
        card = attachment.get("content")
        if (
            not isinstance(card, dict)
            or card.get("type") != "AdaptiveCard"
            or card.get("version") not in VERSIONS
        ):
            return False
        elements = card.get("body")
        if not isinstance(elements, list) or not elements or not all(_element_ok(e) for e in elements):
            return False
        for action in card.get("actions") or []:
            if (
                not isinstance(action, dict)
                or action.get("type") != "Action.OpenUrl"
                or not action.get("url")
            ):
                return False
    return True


class FakeTeams(FakeProvider):
    """The fake workflows: ``workflows`` maps a workflow id to its ``sig``; ``disabled`` ids are off."""

    name = "teams"

    def __init__(
        self,
        faults: FaultPlan | None = None,
        *,
        exercise: bool = False,
        workflows: tuple[tuple[str, str], ...] = (SANDBOX_WORKFLOW, EXERCISE_WORKFLOW),
        burst: int = 20,
    ) -> None:
        super().__init__(faults)
        self.workflows = dict(workflows)
        self.disabled: set[str] = set()
        self.burst = burst
        self.cards: list[JsonObject] = []
        self._recent: dict[str, deque[float]] = defaultdict(deque)
        self._runs = itertools.count(1)
        self.route("POST", "/workflows/{id}/triggers/manual/paths/invoke", self._invoke)
        self.route(
            "POST",
            "/powerautomate/automations/direct/workflows/{id}/triggers/manual/paths/invoke",
            self._invoke,
        )

    def reset_state(self) -> None:
        self.cards = []
        self._recent.clear()

    def error_body(self, status: int) -> Any:
        codes = {
            429: "WorkflowTriggerIsThrottled",
            400: "TriggerInputSchemaMismatch",
            404: "WorkflowNotFound",
        }
        code = codes.get(status, "ServiceUnavailable" if status == 503 else f"Http{status}")
        return {"error": {"code": code, "message": f"The request failed with status {status}."}}

    async def _invoke(self, request: web.Request, rec: RecordedRequest) -> web.Response:
        workflow = request.match_info["id"]
        if workflow not in self.workflows:
            return _error(404, "WorkflowNotFound", f"The workflow '{workflow}' could not be found.")
        if workflow in self.disabled:
            return _error(403, "WorkflowNotEnabled", "The workflow is disabled.")
        sig = request.query.get("sig")
        if not sig:
            return _error(
                401,
                "DirectApiAuthorizationRequired",
                "The request must be authenticated only by Shared Access scheme.",
            )
        if sig != self.workflows[workflow]:
            return _error(
                401, "DirectApiInvalidAuthorizationSignature", "The provided signature is not valid."
            )
        if len(rec.body.encode("utf-8")) >= MAX_BYTES:
            return _error(413, "MessageTooLarge", "The message is larger than Teams allows.")
        try:
            body = json.loads(rec.body)
        except ValueError:
            return _error(400, "InvalidRequestContent", "The request content is not valid JSON.")
        if not _schema_ok(body):
            return _error(
                400,
                "TriggerInputSchemaMismatch",
                "The input body for trigger 'manual' did not match its schema.",
            )
        now = time.monotonic()
        recent = self._recent[workflow]
        while recent and now - recent[0] >= 1.0:
            recent.popleft()
        if len(recent) >= self.burst:
            return _error(429, "WorkflowTriggerIsThrottled", "Rate limit is exceeded.", {"Retry-After": "1"})
        recent.append(now)
        run_id = f"08584{next(self._runs):020d}CU00"
        self.cards.append({"workflow": workflow, "run_id": run_id, **body})
        return web.Response(status=202, headers={"x-ms-workflow-run-id": run_id})
