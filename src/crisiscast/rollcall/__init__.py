"""Staff accountability: a poll on a message, replies in, and the roll-call derived from the audit.

- ``poll``: the numbered answers a message asks for, the line that says how to answer, and how
  the forms people type (``1``, `` 1.``, ``one``, ``uno``, ``safe``) are read;
- ``replies``: an inbound reply matched to the sender's newest open poll and recorded as an
  audit event on the chain (an opt-out keyword is recorded and surfaced, never an answer);
- ``view``: who is accounted for, per answer, from the dispatch's deliveries and reply events.
"""
