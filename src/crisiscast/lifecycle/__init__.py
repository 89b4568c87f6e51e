"""The message lifecycle: drafts and approval, update, cancel and all-clear.

- ``identity``: who is operating (the OS account, or a shared console account's label);
- ``approval``: the policy — how many distinct people a message needs, and what is missing;
- ``drafts``: drafts, approvals and refusals as audit events;
- ``sending``: the approval record of a send, and a follow-up's targets;
- ``followup``: where an Update or all-clear goes (the original's actual reach);
- ``stop``: cancelling a dispatch and waiting until nothing of it can still be sent;
"""
