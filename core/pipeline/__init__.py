"""Events in, deliveries out: `emit` writes the outbox, the worker drains it."""
