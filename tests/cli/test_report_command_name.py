"""The send report names the command as a user types it: ``crisiscast audit show ID``.

The console script is started by its full path from another directory with ``crisiscast``
not on PATH, the way a relative script path such as ``../../.venv/bin/crisiscast`` would
otherwise leak into the hint.
"""

from __future__ import annotations

import re

from tests.cli.conftest import EXAMPLES, Cli


async def test_send_report_names_the_command_crisiscast(cli: Cli) -> None:
    """The report ends with ``Full record: crisiscast audit show <dispatch id>``, not a script path."""
    sent = await cli.run("send", str(EXAMPLES / "exercise.yaml"), "--yes", env={"PATH": "/usr/bin:/bin"})
    assert sent.code == 0, sent.stderr
    assert re.search(r"Full record: crisiscast audit show \S+$", sent.stdout, re.MULTILINE), sent.stdout
    assert "bin/crisiscast" not in sent.stdout and "../" not in sent.stdout
