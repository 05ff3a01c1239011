"""mailbell mailbell."""
