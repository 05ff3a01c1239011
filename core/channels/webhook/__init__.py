"""The webhook channel: each routed event POSTed as signed JSON to the owner's targets.

`body` is the JSON, `http` signs, posts and classifies, `render` makes an event's webhook
deliveries at emit time, `channel` sends them from the worker. Targets are managed by
core/services/webhooks.py.
"""
