"""Channels: one package each (email/, slack/, webhook/) behind the protocol of base.py,
registered in registry.py. A channel renders its deliveries at emit time, sends them from the
worker and classifies failures; retries, backoff and the delivery log live in the pipeline."""
