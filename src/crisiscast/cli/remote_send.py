"""``crisiscast send --server URL``: hand the broadcast to a running ``crisiscast serve``.

A ``send`` on its own starts a new process that imports the channels, reads the configuration,
the templates and the contacts, and builds the preview before its first text leaves (about a
second and a half on a small machine). ``serve`` has all of that loaded already; through
``POST /v1/drafts`` (``crisiscast.server.drafts_api``) it previews, drafts, approves and plans
the message the same way, so the first text leaves within a few tens of milliseconds of the
request, and the fan-out, its retries and its escalation belong to the server, which carries
on if this terminal is closed.

The person acting is the holder of the API token in ``CRISISCAST_API_TOKEN`` (in the
environment, or in the ``CRISISCAST_SECRETS_FILE``; their own
``name=token`` entry of the server's ``CRISISCAST_API_TOKENS``): the server records that name as
author and sender, ``via: "api"``, under the server's approval policy — the same rules as the
command line (an Actual free-text message still needs a second person; a drill goes to
exercise targets only). Without ``--yes`` the server's confirmation question, which names every
channel and says whether it is a drill, is asked here before anything is sent.

Only the standard library is used (``urllib``), so this path starts in about 0.1 s. The command
then follows the dispatch (``GET /v1/dispatches/{id}/progress``, held by the server until the
counts move) until it is over, and prints where it stands from the status document
(``GET /v1/dispatches/{id}``); Ctrl-C stops the waiting, never the broadcast.

Exit codes as for ``send``: 0 delivered everywhere, 3 a delivery failed, 2 nothing was sent (bad
input, not confirmed, approvers missing, refused by the server, server unreachable).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit

import typer

from crisiscast.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    confirm_send,
    fail,
    options,
    template_variables,
)
from crisiscast.phases import mark

__all__ = ["TOKEN_ENV", "send_via_server"]

TOKEN_ENV = "CRISISCAST_API_TOKEN"  # noqa: S105 (the variable's name, not a token)
REQUEST_TIMEOUT_S = 30.0
PROGRESS_WAIT_S = 10.0  # the longest the server holds one progress request (its long-poll)


def _token() -> str:
    """The commander's API token. It lives only in this function's caller, to build the
    Authorization header, and is added to the values every error sentence is scrubbed of; it is
    not wrapped in pydantic's ``SecretStr`` here because importing pydantic would double this
    client's start (the server keeps its tokens as digests, ``crisiscast.server.auth``)."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    secrets_file = os.environ.get("CRISISCAST_SECRETS_FILE")
    if not token and secrets_file:  # the .env-style file of the other secrets
        if not Path(secrets_file).is_file():
            fail(f"The secrets file {secrets_file} does not exist; fix CRISISCAST_SECRETS_FILE.")
        from dotenv import dotenv_values

        token = (dotenv_values(secrets_file).get(TOKEN_ENV) or "").strip()
    if not token:
        fail(
            f"Sending through --server needs your own API token in {TOKEN_ENV} (the token of your "
            "name=token entry in the server's CRISISCAST_API_TOKENS); nothing was sent."
        )
    options().secret_values = [*options().secret_values, token]  # never echoed in an error
    return token


def _base(server: str) -> str:
    parts = urlsplit(server.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        shown = server[:100]
        fail(f"--server {shown!r} is not an http(s) address like http://127.0.0.1:8080; nothing was sent.")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


class _Client:
    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        """``(status, JSON answer)``; exits with one sentence when the server cannot be reached."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = dict(self.headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(  # noqa: S310 (only http(s): _base)
            self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:  # noqa: S310
                return response.status, _json(response.read())
        except urllib.error.HTTPError as answer:
            return answer.code, _json(answer.read())
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, ConnectionRefusedError):  # the request never left this machine
                fail(
                    f"The crisiscast server at {self.base} did not answer (nothing listens there); "
                    "nothing was sent: start crisiscast serve, or send without --server."
                )
            if method == "GET":
                fail(
                    f"The crisiscast server at {self.base} did not answer ({reason}); "
                    "the broadcast may still be running there."
                )
            fail(
                f"The crisiscast server at {self.base} did not answer ({reason}). If the request reached it, "
                "the alert may have been sent: look at the console or the status API before sending again."
            )


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8")) if raw else {}
    except (UnicodeDecodeError, ValueError):
        return {}


def _refused(status: int, answer: Any) -> NoReturn:
    sentence = answer.get("error") if isinstance(answer, dict) else None
    if not sentence:
        sentence = f"The server answered HTTP {status}."
    findings = answer.get("findings") if isinstance(answer, dict) else None
    if findings:
        sentence += " Findings: " + "; ".join(
            str(f.get("message", f)) if isinstance(f, dict) else str(f) for f in findings
        )
    fail(f"Nothing was sent: {sentence}" if not str(sentence).startswith("Nothing") else str(sentence))



def _message_body(file: str) -> dict[str, Any]:
    from crisiscast.loader import load_message

    return {"message": load_message(Path(file)).model_dump(mode="json")}


def _say(as_json: bool, text: str) -> None:
    typer.echo(text, err=as_json)



def _follow(client: _Client, dispatch_id: str, *, as_json: bool) -> dict[str, Any]:
    """Follow the dispatch's progress until it is over; then its status document.

    Each ``GET …/progress?seen=<version>`` is held by the server until something changed
    (``crisiscast.server.progress``), so a line is printed as the counts move and the command
    ends as soon as the dispatch does; the status document, rebuilt from the events, is read once.
    """
    shown, seen = "", ""
    while True:
        query = f"?wait_s={PROGRESS_WAIT_S:g}" + (f"&seen={quote(seen)}" if seen else "")
        status, progress = client.call("GET", f"/v1/dispatches/{dispatch_id}/progress{query}")
        if status != 200 or not isinstance(progress, dict):
            _refused(status, progress)
        seen = str(progress.get("version", ""))
        counts = progress.get("channels") or {}
        line = ", ".join(
            f"{name} {c.get('delivered', 0)}/{c.get('planned', 0)}" for name, c in sorted(counts.items())
        )
        if line and line != shown:
            typer.echo(f"{progress.get('state', '')}: {line}", err=True)
            shown = line
        if progress.get("finished"):
            break
        if progress.get("run_over"):  # ended with deliveries held: nobody is sending them now
            held = sum(int(c.get("in_progress", 0)) for c in counts.values() if isinstance(c, dict))
            typer.echo(
                f"The server's run of dispatch {dispatch_id} is over with {held} deliveries still pending "
                f"or in doubt; crisiscast resume {dispatch_id} sends them (in-doubt ones are checked first).",
                err=True,
            )
            break
    status, document = client.call("GET", f"/v1/dispatches/{dispatch_id}")
    if status != 200 or not isinstance(document, dict):
        _refused(status, document)
    return document


def send_via_server(
    server: str,
    *,
    file: str | None,
    template: str | None,
    variables: list[str] | None,
    status: str,
    yes: bool,
    as_json: bool,
    quality_override: str | None,
    draft_id: str | None = None,
) -> NoReturn:
    """The whole ``send --server`` command (exits)."""
    client = _Client(_base(server), _token())
    extra: dict[str, Any] = {}
    if quality_override is not None:
        extra["quality_override"] = quality_override
    if draft_id is not None:
        if not yes:
            fail(
                "Sending a stored draft through --server needs --yes "
                "(its preview is on the console's draft page)."
            )
        code, answer = client.call("POST", f"/v1/drafts/{draft_id}/send", extra)
        if code != 202:
            _refused(code, answer)
    else:
        body: dict[str, Any] = (
            {"template": template, "variables": template_variables(variables), "status": status}
            if template is not None
            else _message_body(str(file))
        )
        mark("request")
        code, answer = client.call("POST", "/v1/drafts", {**body, **extra, "send": yes})
        mark("answer")
        if code not in (201, 202) or not isinstance(answer, dict):
            _refused(code, answer)
        draft_id = str(answer["draft_id"])
        if answer.get("state") == "awaiting_approval":
            _say(as_json, f"Saved as draft {draft_id} on the server.")
            fail(
                f"Nothing was sent: {answer.get('needs')} They approve it on the console "
                f"or with POST /v1/drafts/{draft_id}/approvals."
            )
        if answer.get("state") == "draft":
            _say(as_json, f"Draft {draft_id} on {client.base}.")
            confirm_send(str(answer.get("question")))
            code, answer = client.call("POST", f"/v1/drafts/{draft_id}/send", extra)
            if code != 202:
                _refused(code, answer)
    _say(as_json, f"Dispatch {draft_id} is being sent by {client.base}.")
    try:
        document = _follow(client, draft_id, as_json=as_json)
    except KeyboardInterrupt:
        fail(
            f"Stopped waiting; the server goes on sending dispatch {draft_id} (follow it on the console).",
            EXIT_INTERRUPTED,
        )
    if as_json:
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        for name, c in sorted((document.get("channels") or {}).items()):
            typer.echo(
                f"{name}: {c.get('delivered', 0)} delivered, {c.get('failed', 0)} failed, "
                f"{c.get('skipped', 0)} skipped of {c.get('planned', 0)}"
            )
        typer.echo(f"Dispatch {draft_id}: {document.get('state')}.")
    raise typer.Exit(EXIT_OK if document.get("state") == "delivered" else EXIT_FAILED)
