"""``send FILE --json`` for an Actual free-text message that is held as a draft prints the same
JSON document as ``draft FILE --json`` on stdout (and exits 2: nothing was sent)."""

from __future__ import annotations

import json

from tests.cli.conftest import EXAMPLES, Cli


async def test_send_json_of_a_held_message_prints_the_draft_document(cli: Cli) -> None:
    """Both commands print one JSON object with the same keys; the held send names its draft,
    is not ready, and says who must approve."""
    fire = str(EXAMPLES / "fire-alert.yaml")
    sent = await cli.run("send", fire, "--json", "--yes")
    drafted = await cli.run("draft", fire, "--json")
    assert sent.code == 2, sent.stderr
    assert drafted.code == 0, drafted.stderr
    held, draft = json.loads(sent.stdout), json.loads(drafted.stdout)
    assert set(held) == set(draft) == {"draft_id", "author", "ready", "missing", "needs"}
    assert held["draft_id"] != draft["draft_id"]
    assert held["needs"].replace(held["draft_id"], "ID") == draft["needs"].replace(draft["draft_id"], "ID")
    same = ("author", "ready", "missing")
    assert [held[k] for k in same] == [draft[k] for k in same]
    assert held["ready"] is False and held["needs"]
    assert "Nothing was sent" in sent.stderr
