"""Block Kit builders: pure functions from data to `{"text": fallback, "blocks": [...]}`."""
