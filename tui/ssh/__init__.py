"""`mailbell ssh`: the TUI served over SSH, one `mailbell tui --as NAME` process a session.

Imported by the server process only: it never loads Textual (each session's child does).
"""
