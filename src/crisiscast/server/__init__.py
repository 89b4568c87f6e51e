"""The HTTP server: webhook intake, status callbacks, the banner feed, health and metrics."""
