"""crisiscast: one approved crisis message to every channel at once, retried, audited."""

__version__ = "0.1.0"
