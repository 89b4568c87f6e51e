"""After-action reports (``crisiscast report``): what was sent, to whom, how fast, and how to check it."""
