"""mailbell tui."""
