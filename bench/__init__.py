"""Benchmarks. Each measures single sends (an event, a message), so digests are off unless a
benchmark sets a policy of its own (digest_bench.py, recipient_mode_bench.py do): a burst of one
event would otherwise be held past its third message. Subprocesses inherit the variable."""

import os

os.environ.setdefault("MAILBELL_DIGEST_DEFAULT", "off")
