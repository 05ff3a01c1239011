"""Use cases as plain functions: `(*, session, ...) -> model`. Validation lives here, once.

Every mutating service takes an `Actor`, writes an audit entry and commits.
"""
