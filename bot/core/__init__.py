"""The core: what the bot does with a thread's messages. No discord.py here, only ports.

Along the message pipeline (bot/app.py builds them in this order, each from the ones before):
    ports     what the core needs from outside: a chat surface, the backend, attachment bytes
    tasks     the one background-task registry
    queues    one worker per busy thread: its jobs run one at a time, in order
    sessions  thread ↔ project ↔ backend session; the one retry on a lost session
    progress  the "⏳ Still working…" status of a long operation, on the bot's own clock
    uploads   attachments and links: checks, verdicts, streaming, progress
    chat      a chat turn: stream, status, end of turn, silent report, recovery
    info      the credits and status texts
    renders   a render's life: store, start, poll, resume, cancel, post the link
    exports   the one door for every export request, queued behind the thread's edits
    intake    every message: rate limit, queue, claim, catch-up, keyword routing
and the pure helpers they share: routing, timeline, texts, feedback, actions, formats, language,
gui_phrases, history, ratelimit, liveness.
"""
