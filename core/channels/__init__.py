"""Channels send one delivery and classify failures; retry and pacing live in the pipeline."""
