"""Cutaway's engine: a NemoVideo-compatible local backend that edits and renders with ffmpeg.

It speaks the same HTTP API as the hosted service (docs/backend-contract.md), so the bot's client
talks to it unchanged; `python -m engine` serves it, and `NEMO_API_BASE=local` makes the bot run
it in its own process. Layout and draft schema: docs/engine.md.
"""
