import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.routing import Intent, route


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("export", Intent.EXPORT),
        ("Export please!", Intent.EXPORT),
        ("can you export it now?", Intent.EXPORT),
        ("send me the video", Intent.EXPORT),
        ("download", Intent.EXPORT),
        ("导出", Intent.EXPORT),
        ("请帮我导出视频", Intent.EXPORT),
        ("credits", Intent.CREDITS),
        ("how many credits do I have left?", Intent.CREDITS),
        ("balance", Intent.CREDITS),
        ("积分", Intent.CREDITS),
        ("余额还有多少", Intent.CREDITS),
        ("status", Intent.STATUS),
        ("show tracks", Intent.STATUS),
        ("状态", Intent.STATUS),
        ("upload", Intent.UPLOAD),
        ("上传", Intent.UPLOAD),
        ("add background music that matches the mood", Intent.CHAT),
        ("add upbeat music, make it vertical and then export it as a 1080p file", Intent.CHAT),
        ("what's the status of the music? make it quieter and add a title", Intent.CHAT),
        ("添加与氛围相符的背景音乐", Intent.CHAT),
        ("把背景音乐调小一点然后加一个标题再导出", Intent.CHAT),
        ("", Intent.CHAT),
        ("   ", Intent.CHAT),
        ("<@123> export", Intent.EXPORT),
        ("exporter", Intent.CHAT),
    ],
)
def test_route(text: str, intent: Intent) -> None:
    assert route(text).intent is intent


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_route_never_raises_and_keeps_text(text: str) -> None:
    result = route(text)
    assert result.text == text
    assert result.intent in Intent


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(["add", "music", "title", "vertical", "fade", "cut", "louder", "intro"]),
        min_size=4,
        max_size=12,
    )
)
def test_long_editing_requests_mentioning_export_stay_chat(words: list[str]) -> None:
    # An editing request that happens to mention export is still an editing request.
    assert route(" ".join([*words, "and", "export"])).intent is Intent.CHAT
