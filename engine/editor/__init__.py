"""The editor: what answers `/run_sse`. A deterministic request interpreter (English and Chinese)
that turns one chat message into edits of the draft and replies like the agent (docs/engine.md,
"Editor")."""
