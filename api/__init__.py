"""mailbell api."""
