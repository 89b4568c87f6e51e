"""Escalation: after N minutes without an answer to a message's poll, act again for those who did not answer.

- ``policy``: the ``escalation:`` steps of a message or template (resend the SMS, call, notify
  the supervisor), validated with plain sentences;
- ``schedule``: what the audit says about a dispatch's escalation (scheduled, steps done,
  stopped) and which steps are due — computed from the events, never from memory;
- ``who``: who a step is for (those the roll-call shows without an answer) and who is
  notified in a person's place (``NextUp``, the seam);
- ``on_call``: that seam from the roster: the supervisor, or who is on call now for the
  person's department or role (``[roster.next_up]``);
- ``steps``: a step as deliveries of the dispatch, planned and audited like any delivery;
- ``loop``: the timer ``crisiscast serve`` runs: each due step claimed in the store (one worker
  of several), re-checked against the audit, planned, then sent;
- ``stop``: stop escalating (by hand, on the all-clear or on a cancel);
- ``serving``: the timer beside ``crisiscast serve``; ``view``: the escalation as a document.

See docs/escalation.md.
"""
