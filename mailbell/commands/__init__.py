"""One module per command group, each exposing `app` (a Typer). Heavy imports stay inside functions."""
