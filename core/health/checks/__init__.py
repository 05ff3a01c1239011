"""One module per kind of subject, each with `async def check(ctx, scope) -> list[CheckResult]`."""
