"""The dispatcher: one approved message → every channel at once, retried, audited.

``Dispatcher`` plans (render + persist the plan and approval before any send), fans out
(one task per channel, isolated), retries transient failures, reconciles in-doubt ones,
cancels at once, and resumes after a crash. See ``dispatcher.py`` for the flow.
"""

from crisiscast.dispatch.dispatcher import CANCEL_POLL_S, Dispatcher, unfinished_dispatches
from crisiscast.dispatch.plan import Plan, RenderFailure, new_dispatch_id
from crisiscast.dispatch.state import ProgressCallback, may_resend_unreconciled

__all__ = [
    "CANCEL_POLL_S",
    "Dispatcher",
    "Plan",
    "ProgressCallback",
    "RenderFailure",
    "may_resend_unreconciled",
    "new_dispatch_id",
    "unfinished_dispatches",
]
