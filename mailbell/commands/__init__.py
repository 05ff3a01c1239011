"""One module per command group, each exposing `app` (a Typer); heavy imports stay inside."""
