"""The render: a draft and its media in, a compliant MP4 out (docs/engine.md, "Render").

`render(job)` is the one entry point the job queue calls. It plans the ffmpeg graph from the
draft (canvas, fit, trims, joins, stills, titles), prepares the music (engine.music) and the
mix (clip sound, ducking, loudness to −14 LUFS / −1 dBTP), then runs ffmpeg once for the video,
reporting ffmpeg's own progress. Cancelling the awaiting task stops ffmpeg at once.
"""
