"""Health watch: mailbell checks its own mail path and tells the right admins (docs/health.md).

- `store`: states from check results (two agreeing results change a state) and the notices;
- `runner`: runs the checks now or every interval (`HealthWatch`, one process per cluster);
- `checks/`: one module per kind of subject;
- `alerts`: sends the notices as mailbell events, by a path that does not depend on the broken one.
"""
