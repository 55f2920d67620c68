"""Release gate: golden records, API snapshot, performance gate and the gate CLI."""
