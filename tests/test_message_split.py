"""Long replies split into Discord-sized messages without breaking their markdown (bot/message_split.py)."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.message_split import FENCE, MESSAGE_LIMIT, split_message, split_parts
from tests.harness import Cutaway

# ---------------------------------------------------------------------------------------------- examples


def test_a_code_block_cut_in_two_is_closed_and_reopened_with_its_language() -> None:
    code = "\n".join(f"value_{i} = compute({i})  # step {i} of the long example" for i in range(90))
    text = f"Here is the script:\n\n```python\n{code}\n```\n\nRun it with `python script.py`."
    chunks = split_message(text)
    assert len(chunks) == 3
    assert chunks[0].startswith("Here is the script:") and chunks[0].endswith("\n```")
    assert chunks[1].startswith("```python\nvalue_") and chunks[1].endswith("\n```")
    assert chunks[2].startswith("```python\nvalue_") and chunks[2].endswith("Run it with `python script.py`.")
    for chunk in chunks:
        assert chunk.count(FENCE) % 2 == 0 and len(chunk) <= MESSAGE_LIMIT
    # Every code line arrives whole, in order, exactly once.
    lines = [line for chunk in chunks for line in chunk.splitlines() if line.startswith("value_")]
    assert lines == code.splitlines()


def test_a_cut_before_a_code_block_is_preferred_to_a_cut_inside_it() -> None:
    code = "\n".join(f"line {i}" for i in range(150))  # about 1,300 characters: fits in one message
    text = "intro " * 200 + f"\n\n```\n{code}\n```"
    chunks = split_message(text)
    assert len(chunks) == 2 and chunks[1] == f"```\n{code}\n```"


def test_a_quote_line_cut_mid_line_keeps_its_marker() -> None:
    text = "> " + " ".join(f"quoted{i}" for i in range(600))
    chunks = split_message(text)
    assert len(chunks) >= 2
    assert all(chunk.startswith("> quoted") for chunk in chunks)


def test_a_block_quote_goes_on_in_every_message() -> None:
    text = "Before the quote\n>>> " + "\n".join(f"line {i} of the quoted block, long enough" for i in range(120))
    chunks = split_message(text)
    assert len(chunks) >= 2
    assert all(chunk.startswith(">>> line") for chunk in chunks[1:])


def test_list_items_stay_whole_and_keep_their_markers() -> None:
    items = [f"- item {i}: " + "detail " * (i % 7 + 3) for i in range(160)]
    chunks = split_message("\n".join(items))
    assert len(chunks) >= 2
    assert [line.rstrip() for chunk in chunks for line in chunk.splitlines()] == [item.rstrip() for item in items]


def test_no_cut_inside_a_link_mention_emoji_timestamp_or_inline_code() -> None:
    atoms = ["[the render](https://example.com/render/1234)", "<@123456789>", "<:party:98765>", "<t:1700000000:f>"]
    atoms.append("`a b c`")
    for atom in atoms:
        for pad in range(1980, 2000):  # put the atom across the 2,000th character
            text = "x " * (pad // 2) + atom + " tail" * 10
            bodies = [part.body for part in split_parts(text)]
            assert any(atom in body for body in bodies), (atom, pad, [b[-40:] for b in bodies])


def test_a_mid_line_dash_or_angle_never_starts_a_message() -> None:
    text = "word " * 399 + "- not a list > not a quote # not a header " + "word " * 50
    chunks = split_message(text)
    assert len(chunks) == 2
    assert chunks[1][0] not in "->#", chunks[1][:20]


def test_a_word_longer_than_a_message_is_cut_inside_and_nothing_is_lost() -> None:
    url = "https://example.com/" + "a" * 4500
    chunks = split_message(f"see {url} end")
    assert all(len(chunk) <= MESSAGE_LIMIT for chunk in chunks)
    assert "".join(chunks).replace(" ", "") == f"see{url}end"


def test_short_text_is_one_message_unchanged() -> None:
    assert split_message("  ```py\nprint(1)\n  ") == ["```py\nprint(1)"]
    assert split_message(" \n ") == []


# ---------------------------------------------------------------------------------------------- property

_WORD_CHARS = st.characters(exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"))
_word = st.text(_WORD_CHARS, min_size=1, max_size=12)
# The same atoms as a flatmap over the number would give, drawn without one (flatmap cost a quarter of the run).
_ATOM_FORMS = ["[link {n}](https://e.com/{n})", "<@{n}>", "<#{n}>", "<:e{n}:{n}>", "<t:{n}:f>", "`code {n}`"]
_atom = st.builds(str.format, st.sampled_from(_ATOM_FORMS), n=st.integers(10**6, 10**9))
_sentence = st.lists(st.one_of(_word, _word, _word, _atom), min_size=3, max_size=40).map(" ".join)
_line = st.one_of(
    _sentence,
    _sentence,
    _sentence.map(lambda s: "> " + s),
    _sentence.map(lambda s: "- " + s),
    _sentence.map(lambda s: "12. " + s),
    _sentence.map(lambda s: "## " + s),
    _sentence.map(lambda s: ">>> " + s),
    st.sampled_from(["```", "```python", "```js", "```", "", ""]),
    _sentence.map(lambda s: "    " + s),
    st.text(st.sampled_from("ab`>-#[]()<@: "), min_size=50, max_size=2600),  # long words, backtick runs
)
_markdown = st.lists(_line, min_size=15, max_size=150).map("\n".join)

_ATOM_RE = re.compile(r"\[link \d+\]\(https://e\.com/\d+\)|<@\d+>|<#\d+>|<:e\d+:\d+>|<t:\d+:f>|`code \d+`")


def _atoms_outside_code(text: str) -> list[str]:
    """The generated atoms on lines that are neither in a code block nor touch a fence."""
    found, in_code = [], False
    for line in text.strip().split("\n"):
        if FENCE in line:
            in_code ^= line.count(FENCE) % 2 == 1
            continue
        if not in_code:
            found.extend(_ATOM_RE.findall(line))
    return found


def _squash(text: str) -> str:
    return "".join(text.split())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_markdown, _markdown, st.text(max_size=7000)))
def test_every_message_fits_fences_balance_and_nothing_is_lost(text: str) -> None:
    parts = split_parts(text)
    chunks = split_message(text)
    assert chunks == [part.text for part in parts]
    assert all(chunk.strip() and len(chunk) <= MESSAGE_LIMIT for chunk in chunks)
    # The bodies are the text itself, in order; the only markup added is what the cuts need.
    assert _squash("".join(part.body for part in parts)) == _squash(text)
    if len(parts) == 1:
        assert chunks == [text.replace("\r\n", "\n").strip()]
        return
    for part in parts:
        assert part.opener in ("", "> ", ">>> ") or re.fullmatch(r"(>>> |> )?```[\w+#.-]*\n", part.opener)
        assert part.closer in ("", "\n```")
        assert part.text.count(FENCE) % 2 == 0, part.text
    for atom in _atoms_outside_code(text):
        assert any(atom in part.body for part in parts), atom


# ---------------------------------------------------------------------------------------------- end to end


@pytest.mark.e2e
async def test_a_long_reply_with_code_arrives_as_balanced_messages(cutaway: Cutaway) -> None:
    from devkit.fakes.nemo_steps import Text

    code = "\n".join(f"ffmpeg -i clip_{i}.mp4 -vf scale=1080:-2 out_{i}.mp4  # pass {i}" for i in range(60))
    reply = f"Here are the commands:\n```bash\n{code}\n```\nThat is all."
    thread_id = await cutaway.new_project()
    cutaway.nemo.script_turn([Text(reply)])
    await cutaway.discord.send_message(thread_id, "show me the commands")
    await cutaway.discord.wait_for_bot_message(thread_id, contains="That is all.", timeout=15)
    texts = [t for t in cutaway.texts(thread_id) if "ffmpeg" in t or "That is all." in t]
    assert len(texts) >= 2
    assert texts[0].startswith("Here are the commands:\n```bash")
    for text in texts:
        assert text.count(FENCE) % 2 == 0 and len(text) <= MESSAGE_LIMIT
    assert all(text.startswith("```bash\n") for text in texts[1:])
