"""Every user-facing string, in English and Chinese. Nothing user-visible is a literal elsewhere.

`t(key, lang, **params)` formats a message; a missing key in a language falls back to English
(tests check that every key exists in every language, so the fallback is only a safety net).
"""

from __future__ import annotations

from collections.abc import Mapping

SUPPORTED_FORMATS_TEXT = "mp4, mov, avi, webm, mkv, jpg, png, gif, webp, mp3, wav, m4a, aac"
REGISTER_URL = "https://nemovideo.com/register"

CATALOGUE: dict[str, dict[str, str]] = {
    "en": {
        "welcome": (
            "🎬 This thread is your Cutaway video project. Drop clips, images or audio here and say what you "
            "want, e.g. “add background music that matches the mood”.\n"
            "Type **export** (or `/export`) for an MP4 link, **status** to see the timeline, **credits** for "
            "your balance."
        ),
        "uploaded_one": "📥 Uploaded **{name}**.",
        "uploaded_many": "📥 Uploaded {count} files: {names}.",
        "upload_skipped": "⚠️ Skipped {name}: {reason}",
        "reason_type": "not a format I can use (supported: {formats})",
        "reason_size": "larger than {limit} — try compressing or trimming it",
        "reason_empty": "the file is empty",
        "reason_content": "its contents don't look like {ext}",
        "reason_download": "I couldn't download it from Discord — please attach it again",
        "reason_download_expired": "its Discord link has expired or the file was removed — please attach it again",
        "reason_download_cut": "the download from Discord broke off partway — please attach it again",
        "upload_batch_aborted": (
            "⚠️ The other files of that message went in the same upload, so they weren't uploaded either: "
            "{names}. Attach them again."
        ),
        "upload_url_refused": "⚠️ I only take links from Discord's own file CDN, not from {url}. Attach the file here.",
        "upload_hint": "To add media, attach files (video, image or audio, up to 500 MB each) to a message here.",
        "still_working": "⏳ Still working… ({elapsed})",
        "still_working_stage": "⏳ Still working… {stage} ({elapsed})",
        "stage_thinking": "thinking",
        "silent_changed": "✅ Done. What changed in the timeline:\n{changes}",
        "silent_unchanged": (
            "I finished, but the timeline didn't change. Try saying exactly what you want, e.g. "
            "“add background music that matches the mood”."
        ),
        "queue_full": "🚦 This thread has too many messages waiting. Give me a moment, then send it again.",
        "export_starting": "🎞️ Starting the export…",
        "export_started": "🎞️ Export started — I'll post the link in this thread when it's ready.",
        "export_already_running": (
            "🎞️ An export is already running in this thread — I'll post its link here when it's ready. "
            "Use `/export` again after it has finished."
        ),
        "export_already_running_at": (
            "🎞️ An export is already running in this thread: {link} — I'll post its link here when it's ready. "
            "Use `/export` again after it has finished."
        ),
        "qa_mood": "Match the mood",
        "qa_quieter": "Music quieter",
        "qa_vertical": "Vertical 9:16",
        "qa_square": "Square 1:1",
        "qa_export": "Export",
        "qa_mood_text": "add background music that matches the mood",
        "qa_quieter_text": "make the background music quieter",
        "qa_vertical_text": "change the aspect ratio to vertical 9:16",
        "qa_square_text": "change the aspect ratio to square 1:1",
        "qa_pressed": "🎛️ {user}: “{text}”",
        "button_outside": "This button belongs to a Cutaway project thread; it does nothing here.",
        "export_again": "Export again",
        "cancel_render": "Cancel",
        "export_cancelled": (
            "🛑 Export cancelled. Chat edits already made are still charged; the export itself was free."
        ),
        "export_cancel_late": "This export has already finished.",
        "stage_uploading": "uploading {names}",
        "stage_waiting": "{count} more waiting",
        "turn_done_mention": "✅ Done in {elapsed}, {mention}.",
        "turn_failed_mention": "⚠️ Stopped after {elapsed}, {mention} — see above.",
        "history_title": "🎞️ Exports in this thread, newest first (page {page})",
        "history_row": "{when} {status} by {who} — {link}",
        "history_empty": "No exports in this thread yet. Use `/export`.",
        "history_newer": "◀ Newer",
        "history_older": "Older ▶",
        "status_completed": "✅",
        "status_failed": "❌",
        "status_cancelled": "🛑",
        "status_running": "⏳",
        "no_link": "no link",
        "setup_done": "✅ {channel} is now a project channel{role}.",
        "setup_role": " — only {role} (and server managers) may start projects and export",
        "setup_bad_channel": "Pick a text or forum channel.",
        "setup_denied": "Only members with the Manage Server permission can use `/setup`.",
        "cmd_history": "List this thread's exports",
        "cmd_setup": "Make this channel (or another) a project channel",
        "cmd_setup_channel": "A text or forum channel (default: this one)",
        "cmd_setup_role": "Only this role may start projects and export",
        "cmd_export_quality": "Render quality (default high)",
        "cmd_export_resolution": "Resolution (default 1080p)",
        "cmd_project": "Start a new video project thread",
        "cmd_project_name": "A name for the project thread",
        "cmd_export": "Render the project to an MP4 and get a download link",
        "cmd_credits": "Show the NemoVideo credit balance",
        "cmd_status": "Show the project's timeline",
        "project_default_name": "{user}'s video project",
        "export_progress": "🎞️ Rendering… {progress}% ({elapsed})",
        "export_done": "✅ Your video is ready, {mention}: {url}",
        "export_link_label": "Download MP4",
        "export_nothing": ("There's nothing to export yet — upload a clip and tell me what to make first."),
        "export_resumed": "🔄 The bot restarted during this export; still rendering…",
        "credits": "💳 Credits — available: **{available}**, frozen: **{frozen}**, total: **{total}**",
        "credits_local": (
            "💳 This project runs on Cutaway's local engine, on this server: edits and exports cost no credits."
        ),
        "status": "📋 {summary}",
        "status_canvas": "Canvas: {canvas}",
        "timeline_empty": "The timeline is empty so far — upload a clip to start.",
        "not_project": "This isn't a project thread. Use `/project` in a text channel to start one.",
        "project_created": "🎬 Your project is ready: {mention}",
        "project_where": "Use `/project` in a text channel (not inside a thread or DM).",
        "project_exists": "This thread is already a project.",
        "no_permission_thread": "I can't create threads here — I need the **Create Public Threads** permission.",
        "not_allowed": "Only members with the project role can do that here.",
        "slow_down": "🚦 You're sending messages faster than I can take them. Wait {seconds}s, then send that again.",
        "restart_interrupted": (
            "⚠️ The bot restarted while working on “{preview}”. It was not re-sent (that could charge "
            "twice) — send it again if you still want it."
        ),
        "err_backend": "⚠️ The editing service gave an answer I couldn't use. Please try again.",
        "err_token": "⚠️ I couldn't sign in to the editing service. The operator has been told; try again later.",
        "err_session_lost": "The editing session had expired, so I started a fresh one.",
        "err_credits_anon": ("💳 You're out of free credits. Register to keep going (your work carries over): {link}"),
        "err_credits": "💳 The account is out of credits — top up at https://nemovideo.com to keep going.",
        "err_file_type": "⚠️ That file type isn't supported. Use one of: {formats}.",
        "err_file_too_large": "⚠️ That file is too large. Try compressing or trimming it.",
        "err_export_blocked": (
            "⚠️ Export isn't available on the free plan (this is about the plan, not credits). "
            "Register at https://nemovideo.com to unlock export."
        ),
        "err_rate_limited": "⚠️ The editing service is busy right now. Please try again in a minute.",
        "err_unavailable": "⚠️ I can't reach the editing service right now. Please try again in a few minutes.",
        "err_stream": "⚠️ The editor hit a problem while working on that. Please try again.",
        "err_stream_partial": (
            "⚠️ The editor hit a problem before it finished that, so it may be only partly done. "
            "Check `status`, then ask again for what's missing."
        ),
        "err_stream_timeout": (
            "⚠️ That took longer than {minutes} minutes, so I stopped waiting. Check `status` before asking again."
        ),
        "err_stream_dropped": (
            "⚠️ The connection to the editor dropped while it was working. I didn't re-send your message "
            "(that could charge twice)."
        ),
        "recovered_changed": "The timeline did change meanwhile:\n{changes}",
        "recovered_unchanged": "The timeline hasn't changed, so the request probably didn't finish — send it again.",
        "err_render_failed": "❌ The export failed. Try `/export` again in a moment.",
        "err_render_failed_reason": "❌ The export failed: {reason}",
        "err_render_timeout": "❌ The export didn't finish in time. Try `/export` again later.",
        "err_internal": "⚠️ Something went wrong on my side. Your project is safe — please try again.",
        "duration_s": "{s}s",
        "duration_ms": "{m}m {s:02d}s",
        "tl_header": "Timeline ({count} tracks): {items}",
        "tl_header_one": "Timeline (1 track): {items}",
        "tl_video": "Video",
        "tl_audio": "BGM",
        "tl_text": "Title",
        "tl_other": "Track",
        "tl_more": "+{count} more",
        "diff_added": "• added {item}",
        "diff_removed": "• removed {item}",
        "diff_changed": "• changed {before} → {after}",
        "diff_duration": "• length {before} → {after}",
        "diff_canvas": "• format {before} → {after}",
        "diff_many": "• …and {count} more changes",
    },
    "zh": {
        "welcome": (
            "🎬 这个帖子就是你的 Cutaway 视频项目。把视频、图片或音频发到这里，并告诉我你想要什么，"
            "例如“添加与氛围相符的背景音乐”。\n"
            "发送 **导出**（或 `/export`）获取 MP4 链接，**状态** 查看时间线，**积分** 查看余额。"
        ),
        "uploaded_one": "📥 已上传 **{name}**。",
        "uploaded_many": "📥 已上传 {count} 个文件：{names}。",
        "upload_skipped": "⚠️ 已跳过 {name}：{reason}",
        "reason_type": "不支持该格式（支持：{formats}）",
        "reason_size": "超过 {limit}，请压缩或裁剪后再试",
        "reason_empty": "文件是空的",
        "reason_content": "文件内容看起来不是 {ext}",
        "reason_download": "无法从 Discord 下载该文件，请重新上传",
        "reason_download_expired": "它在 Discord 上的链接已过期或文件已被删除，请重新上传",
        "reason_download_cut": "从 Discord 下载到一半中断了，请重新上传",
        "upload_batch_aborted": "⚠️ 同一条消息中的其他文件在同一次上传中，因此也没有上传：{names}。请重新上传。",
        "upload_url_refused": "⚠️ 我只接受 Discord 文件 CDN 的链接，不接受来自 {url} 的链接。请直接在这里上传文件。",
        "upload_hint": "要添加素材，请在此帖子中发送附件（视频、图片或音频，每个不超过 500 MB）。",
        "still_working": "⏳ 仍在处理中…（{elapsed}）",
        "still_working_stage": "⏳ 仍在处理中…{stage}（{elapsed}）",
        "stage_thinking": "思考中",
        "silent_changed": "✅ 完成。时间线的变化：\n{changes}",
        "silent_unchanged": "处理已结束，但时间线没有变化。请更具体地描述你的需求，例如“添加与氛围相符的背景音乐”。",
        "queue_full": "🚦 这个帖子里等待处理的消息太多了，请稍后再发送。",
        "export_starting": "🎞️ 正在开始导出…",
        "export_started": "🎞️ 已开始导出——完成后我会在这个帖子里发送链接。",
        "export_already_running": (
            "🎞️ 这个帖子里已经有一个导出正在进行——完成后我会在这里发送链接。结束后可以再次使用 `/export`。"
        ),
        "export_already_running_at": (
            "🎞️ 这个帖子里已经有一个导出正在进行：{link}——完成后我会在这里发送链接。结束后可以再次使用 `/export`。"
        ),
        "qa_mood": "匹配氛围",
        "qa_quieter": "音乐小声点",
        "qa_vertical": "竖屏 9:16",
        "qa_square": "方形 1:1",
        "qa_export": "导出",
        "qa_mood_text": "添加与氛围相符的背景音乐",
        "qa_quieter_text": "把背景音乐调小一点",
        "qa_vertical_text": "把画面比例改成竖屏 9:16",
        "qa_square_text": "把画面比例改成方形 1:1",
        "qa_pressed": "🎛️ {user}：“{text}”",
        "button_outside": "这个按钮属于 Cutaway 项目帖子，在这里不起作用。",
        "export_again": "再次导出",
        "cancel_render": "取消",
        "export_cancelled": "🛑 已取消导出。已完成的编辑仍会计费；导出本身是免费的。",
        "export_cancel_late": "这次导出已经结束了。",
        "stage_uploading": "正在上传 {names}",
        "stage_waiting": "还有 {count} 条在等待",
        "turn_done_mention": "✅ 完成（用时 {elapsed}），{mention}。",
        "turn_failed_mention": "⚠️ 已在 {elapsed} 后停止，{mention}——详见上方。",
        "history_title": "🎞️ 本帖子的导出记录，最新在前（第 {page} 页）",
        "history_row": "{when} {status} 由 {who} 发起 — {link}",
        "history_empty": "这个帖子还没有导出记录。使用 `/export` 导出。",
        "history_newer": "◀ 较新",
        "history_older": "较早 ▶",
        "status_completed": "✅",
        "status_failed": "❌",
        "status_cancelled": "🛑",
        "status_running": "⏳",
        "no_link": "无链接",
        "setup_done": "✅ {channel} 现在是项目频道{role}。",
        "setup_role": "——只有 {role}（以及服务器管理员）可以创建项目和导出",
        "setup_bad_channel": "请选择文字频道或论坛频道。",
        "setup_denied": "只有拥有“管理服务器”权限的成员才能使用 `/setup`。",
        "cmd_history": "列出本帖子的导出记录",
        "cmd_setup": "将此频道（或其他频道）设为项目频道",
        "cmd_setup_channel": "文字频道或论坛频道（默认：当前频道）",
        "cmd_setup_role": "只有该角色可以创建项目和导出",
        "cmd_export_quality": "渲染质量（默认 high）",
        "cmd_export_resolution": "分辨率（默认 1080p）",
        "cmd_project": "新建一个视频项目帖子",
        "cmd_project_name": "项目帖子的名称",
        "cmd_export": "将项目渲染为 MP4 并获取下载链接",
        "cmd_credits": "查看 NemoVideo 积分余额",
        "cmd_status": "查看项目的时间线",
        "project_default_name": "{user} 的视频项目",
        "export_progress": "🎞️ 渲染中… {progress}%（{elapsed}）",
        "export_done": "✅ 视频已就绪，{mention}：{url}",
        "export_link_label": "下载 MP4",
        "export_nothing": "还没有可以导出的内容——请先上传素材并告诉我要做什么。",
        "export_resumed": "🔄 机器人在导出期间重启过，渲染仍在继续…",
        "credits": "💳 积分——可用：**{available}**，冻结：**{frozen}**，总计：**{total}**",
        "credits_local": "💳 这个项目由 Cutaway 本地引擎在这台服务器上处理：编辑和导出都不消耗积分。",
        "status": "📋 {summary}",
        "status_canvas": "画布：{canvas}",
        "timeline_empty": "时间线还是空的——先上传一个素材吧。",
        "not_project": "这里不是项目帖子。请在文字频道中使用 `/project` 创建项目。",
        "project_created": "🎬 项目已创建：{mention}",
        "project_where": "请在文字频道中使用 `/project`（不要在帖子或私信中）。",
        "project_exists": "这个帖子已经是一个项目了。",
        "no_permission_thread": "我无法在这里创建帖子——需要 **创建公开子区** 权限。",
        "not_allowed": "只有拥有项目角色的成员才能在这里执行此操作。",
        "slow_down": "🚦 你发消息太快了，我处理不过来。请等 {seconds} 秒后再发一次。",
        "restart_interrupted": (
            "⚠️ 机器人在处理“{preview}”时重启了。为避免重复扣费，没有自动重新发送——如仍需要，请再发一次。"
        ),
        "err_backend": "⚠️ 编辑服务返回了无法识别的结果，请重试。",
        "err_token": "⚠️ 无法登录编辑服务，已通知管理员，请稍后再试。",
        "err_session_lost": "编辑会话已过期，我已为你新建了一个。",
        "err_credits_anon": "💳 免费积分已用完。注册后即可继续（作品会保留）：{link}",
        "err_credits": "💳 账户积分已用完——请到 https://nemovideo.com 充值后继续。",
        "err_file_type": "⚠️ 不支持该文件类型。支持的格式：{formats}。",
        "err_file_too_large": "⚠️ 文件太大了，请压缩或裁剪后再试。",
        "err_export_blocked": "⚠️ 免费套餐不支持导出（与积分无关）。请到 https://nemovideo.com 注册以解锁导出。",
        "err_rate_limited": "⚠️ 编辑服务当前繁忙，请一分钟后再试。",
        "err_unavailable": "⚠️ 暂时无法连接编辑服务，请几分钟后再试。",
        "err_stream": "⚠️ 编辑器处理时出现问题，请重试。",
        "err_stream_partial": "⚠️ 编辑器在完成之前出了问题，可能只完成了一部分。请先用 `状态` 查看，再补充还缺的部分。",
        "err_stream_timeout": "⚠️ 处理超过了 {minutes} 分钟，我已停止等待。再次请求前请先查看 `状态`。",
        "err_stream_dropped": "⚠️ 与编辑器的连接在处理中断开了。为避免重复扣费，我没有重新发送你的消息。",
        "recovered_changed": "不过时间线已经更新：\n{changes}",
        "recovered_unchanged": "时间线没有变化，请求可能没有完成——请再发一次。",
        "err_render_failed": "❌ 导出失败，请稍后再试 `/export`。",
        "err_render_failed_reason": "❌ 导出失败：{reason}",
        "err_render_timeout": "❌ 导出未能按时完成，请稍后再试 `/export`。",
        "err_internal": "⚠️ 我这边出了点问题。你的项目是安全的——请重试。",
        "duration_s": "{s}秒",
        "duration_ms": "{m}分{s:02d}秒",
        "tl_header": "时间线（{count} 条轨道）：{items}",
        "tl_header_one": "时间线（1 条轨道）：{items}",
        "tl_video": "视频",
        "tl_audio": "背景音乐",
        "tl_text": "标题",
        "tl_other": "轨道",
        "tl_more": "另有 {count} 段",
        "diff_added": "• 新增 {item}",
        "diff_removed": "• 删除 {item}",
        "diff_changed": "• 修改 {before} → {after}",
        "diff_duration": "• 时长 {before} → {after}",
        "diff_canvas": "• 画面比例 {before} → {after}",
        "diff_many": "• …另有 {count} 处变化",
    },
}


def t(key: str, lang: str = "en", /, **params: object) -> str:
    table: Mapping[str, str] = CATALOGUE.get(lang, CATALOGUE["en"])
    template = table.get(key) or CATALOGUE["en"][key]
    return template.format(**params) if params else template


def format_duration(seconds: float, lang: str = "en") -> str:
    total = max(0, int(seconds))
    if total < 60:
        return t("duration_s", lang, s=total)
    return t("duration_ms", lang, m=total // 60, s=total % 60)
