"""Tests for bot.nemo.sse: WHATWG SSE framing and the tolerant ADK event parser."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.nemo.events import (
    ChatEvent,
    EndEvent,
    ErrorEvent,
    HeartbeatEvent,
    PartialTextEvent,
    StateDeltaEvent,
    TextEvent,
    ToolCallEvent,
    ToolResultEvent,
)
from bot.nemo.sse import (
    AdkEventParser,
    SseDecoder,
    SseLineTooLong,
    SseMessage,
    iter_chat_events,
    iter_sse_messages,
)

TIMEOUT = 10.0
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CHAT_EVENT_TYPES = (
    TextEvent,
    PartialTextEvent,
    ToolCallEvent,
    ToolResultEvent,
    StateDeltaEvent,
    HeartbeatEvent,
    ErrorEvent,
)


# --------------------------------------------------------------------------- helpers


async def agen(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def split_every(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def split_at(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, prev = [], 0
    for p in points:
        out.append(data[prev:p])
        prev = p
    out.append(data[prev:])
    return out


async def messages(chunks: Iterable[bytes], **kw: Any) -> list[SseMessage]:
    async with asyncio.timeout(TIMEOUT):
        return [m async for m in iter_sse_messages(agen(chunks), **kw)]


async def chat_events(chunks: Iterable[bytes], **kw: Any) -> list[ChatEvent]:
    async with asyncio.timeout(TIMEOUT):
        return [e async for e in iter_chat_events(agen(chunks), **kw)]


def parse(*datas: str | None, comment: bool = False) -> list[ChatEvent]:
    parser = AdkEventParser()
    out: list[ChatEvent] = []
    for data in datas:
        out.extend(parser.feed(SseMessage(data=data, comment=comment)))
    return out


def adk(
    parts: list[Any],
    *,
    role: str | None = "model",
    event_id: str | None = "ev1",
    invocation: str = "e-1",
    **extra: Any,
) -> str:
    obj: dict[str, Any] = {
        "invocationId": invocation,
        "author": "nemo_agent",
        "actions": {"stateDelta": {}, "artifactDelta": {}, "requestedAuthConfigs": {}},
    }
    content: dict[str, Any] = {"parts": parts}
    if role is not None:
        content["role"] = role
    obj["content"] = content
    if event_id is not None:
        obj["id"] = event_id
    obj.update(extra)
    return json.dumps(obj)


# Four realistic ADK lines (docs/backend-contract.md, section 4): text, tool call, tool result, text.
SPEC_LINES = [
    '{"content":{"parts":[{"text":"Got it! I\'ll add upbeat background music that matches the mood of your travel montage."}],"role":"model"},"invocationId":"e-3f6d7765-5287-419e-9991-5fffa1a75565","author":"nemo_agent","actions":{"stateDelta":{},"artifactDelta":{},"requestedAuthConfigs":{}},"id":"ptcjaZBa","timestamp":1763712255.313043}',  # noqa: E501
    '{"content":{"parts":[{"functionCall":{"id":"adk-9b2f3c1e-6a77-4c2e-9d0b-1f2e3a4b5c6d","args":{"action":"add_bgm","style":"upbeat","volume":0.35},"name":"edit_multitrack"}}],"role":"model"},"invocationId":"e-3f6d7765-5287-419e-9991-5fffa1a75565","author":"nemo_agent","actions":{"stateDelta":{},"artifactDelta":{},"requestedAuthConfigs":{}},"longRunningToolIds":[],"id":"5aocxjaq","timestamp":1763712257.387306}',
    '{"content":{"parts":[{"functionResponse":{"id":"adk-9b2f3c1e-6a77-4c2e-9d0b-1f2e3a4b5c6d","name":"edit_multitrack","response":{"status":"success"}}}],"role":"user"},"invocationId":"e-3f6d7765-5287-419e-9991-5fffa1a75565","author":"nemo_agent","actions":{"stateDelta":{"draft":{"t":[{"tt":0,"sg":[{"d":10000}]},{"tt":1,"sg":[{"d":10000}]}],"d":10000}},"artifactDelta":{},"requestedAuthConfigs":{}},"id":"rAnWGSiV","timestamp":1763712263.391317}',
    '{"content":{"parts":[{"text":"Done! Added a lo-fi track (0-10s, 35% volume). Click Export to save your video."}],"role":"model"},"invocationId":"e-3f6d7765-5287-419e-9991-5fffa1a75565","author":"nemo_agent","actions":{"stateDelta":{},"artifactDelta":{},"requestedAuthConfigs":{}},"id":"Qx81LmZt","timestamp":1763712264.010254}',  # noqa: E501
]
SPEC_EVENTS: list[ChatEvent] = [
    TextEvent("Got it! I'll add upbeat background music that matches the mood of your travel montage."),
    ToolCallEvent(
        name="edit_multitrack",
        args={"action": "add_bgm", "style": "upbeat", "volume": 0.35},
        call_id="adk-9b2f3c1e-6a77-4c2e-9d0b-1f2e3a4b5c6d",
    ),
    ToolResultEvent(
        name="edit_multitrack",
        response={"status": "success"},
        call_id="adk-9b2f3c1e-6a77-4c2e-9d0b-1f2e3a4b5c6d",
    ),
    StateDeltaEvent(
        delta={"draft": {"t": [{"tt": 0, "sg": [{"d": 10000}]}, {"tt": 1, "sg": [{"d": 10000}]}], "d": 10000}}
    ),
    TextEvent("Done! Added a lo-fi track (0-10s, 35% volume). Click Export to save your video."),
]


def spec_stream() -> bytes:
    body = [f"data: {line}\n\n" for line in SPEC_LINES]
    body.insert(2, 'data: {"type":"heartbeat"}\n\n')
    body.insert(4, "data: \n\n")
    body.insert(1, ": keep-alive\n\n")
    return "".join(body).encode()


SPEC_STREAM_EVENTS: list[ChatEvent] = [
    SPEC_EVENTS[0],
    HeartbeatEvent(),
    SPEC_EVENTS[1],
    HeartbeatEvent(),
    SPEC_EVENTS[2],
    SPEC_EVENTS[3],
    HeartbeatEvent(),
    SPEC_EVENTS[4],
]


# --------------------------------------------------------------------------- SSE framing


async def test_single_event_and_multiple_events() -> None:
    got = await messages([b"data: hello\n\ndata: world\n\n"])
    assert got == [SseMessage("hello"), SseMessage("world")]


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
async def test_each_line_ending(eol: bytes) -> None:
    stream = b"data: a" + eol + b"data: b" + eol + eol + b"data: c" + eol + eol
    for size in (1, 2, 3, len(stream)):
        assert await messages(split_every(stream, size)) == [SseMessage("a\nb"), SseMessage("c")]


async def test_mixed_line_endings() -> None:
    stream = b"data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r"
    assert await messages([stream]) == [SseMessage("a\nb\nc"), SseMessage("d")]


async def test_cr_at_chunk_end_then_lf_is_one_line_end() -> None:
    # Were the \r and \n counted separately, "a" would be dispatched alone (blank line).
    got = await messages([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"])
    assert got == [SseMessage("a\nb")]


async def test_cr_at_chunk_end_then_other_byte() -> None:
    got = await messages([b"data: a\r", b"data: b\r", b"\r"])
    assert got == [SseMessage("a\nb")]


async def test_cr_then_empty_chunks_then_lf() -> None:
    got = await messages([b"data: a\r", b"", b"\n", b"\n"])
    assert got == [SseMessage("a")]


async def test_value_loses_exactly_one_leading_space() -> None:
    got = await messages([b"data:  two\ndata:none\ndata: \tx \n\n"])
    assert got == [SseMessage(" two\nnone\n\tx ")]


async def test_field_without_colon_and_empty_data() -> None:
    got = await messages([b"data\n\ndata:\n\ndata\ndata\n\n"])
    assert got == [SseMessage(""), SseMessage(""), SseMessage("\n")]


async def test_comments_are_keepalives_and_do_not_touch_data() -> None:
    got = await messages([b": ping\n\n:\n\ndata: a\n: in between\ndata: b\n\n"])
    assert got == [SseMessage(None, comment=True), SseMessage(None, comment=True), SseMessage("a\nb")]


async def test_unknown_id_and_retry_fields_are_ignored() -> None:
    got = await messages([b"id: 7\n\nretry: 10\nfoo: bar\ndata: x\nDATA: y\n\n"])
    assert got == [SseMessage("x")]


async def test_event_field_and_reset_after_dispatch() -> None:
    got = await messages([b"event: update\ndata: x\n\ndata: y\n\nevent:\ndata: z\n\n"])
    assert got == [SseMessage("x", event="update"), SseMessage("y"), SseMessage("z")]


async def test_repeated_blank_lines_dispatch_nothing_extra() -> None:
    assert await messages([b"\n\n\r\n\rdata: a\n\n\n\n"]) == [SseMessage("a")]


async def test_multibyte_characters_split_across_chunks() -> None:
    text = "你好 🎬 ç\u2028é 🇯🇵"
    stream = f"data: {text}\r\n\r\n".encode()
    for size in (1, 2, 3, 5):
        assert await messages(split_every(stream, size)) == [SseMessage(text)]


async def test_invalid_utf8_is_replaced_not_raised() -> None:
    got = await messages([b"data: a\xff\xe4b\n", b"data: \xe4\xbd\n\n"])
    assert got == [SseMessage("a\ufffd\ufffdb\n\ufffd")]


async def test_bom_stripped_only_at_stream_start() -> None:
    bom = b"\xef\xbb\xbf"
    stream = bom + b"data: a\n\n" + bom + b"data: b\n\ndata: c\n\n"
    for size in (1, 2, len(stream)):
        # The second BOM makes the field name "\ufeffdata", an unknown field.
        assert await messages(split_every(stream, size)) == [SseMessage("a"), SseMessage("c")]


async def test_final_event_without_blank_line_is_dispatched_at_eof() -> None:
    assert await messages([b"data: a\n\ndata: b"]) == [SseMessage("a"), SseMessage("b")]
    assert await messages([b"data: a\ndata: b\n"]) == [SseMessage("a\nb")]
    assert await messages([b": tail"]) == [SseMessage(None, comment=True)]
    assert await messages([b"id: 1"]) == []
    assert await messages([]) == []


async def test_large_line_in_1kb_chunks() -> None:
    obj = {"content": {"parts": [{"text": "x" * 195_000 + "终"}], "role": "model"}, "id": "big"}
    line = json.dumps(obj, ensure_ascii=False)
    stream = f"data: {line}\n\n".encode()
    assert len(stream) > 195_000
    assert await messages(split_every(stream, 1024)) == [SseMessage(line)]
    assert await chat_events(split_every(stream, 1024)) == [TextEvent("x" * 195_000 + "终")]


async def test_200kb_line_in_1_byte_chunks_is_linear() -> None:
    line = "y" * 200_000
    chunks = split_every(f"data: {line}\r\n\r\n".encode(), 1)
    start = time.perf_counter()
    got = await messages(chunks)
    elapsed = time.perf_counter() - start
    assert got == [SseMessage(line)]
    # Linear work is well under a second; re-scanning the buffer per byte would take minutes.
    assert elapsed < 10.0


def test_many_events_in_one_64kb_chunk() -> None:
    stream = b"".join(b"data: %d\n\n" % i for i in range(10_000))
    decoder = SseDecoder()
    got = []
    for chunk in split_every(stream, 64 * 1024):
        got.extend(decoder.feed(chunk))
    got.extend(decoder.close())
    assert [m.data for m in got] == [str(i) for i in range(10_000)]


async def test_oversized_line_raises_without_buffering_everything() -> None:
    consumed = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal consumed
        yield b"data: "
        while True:
            consumed += 1
            yield b"x" * 100

    with pytest.raises(SseLineTooLong):
        async with asyncio.timeout(TIMEOUT):
            async for _ in iter_sse_messages(endless(), max_event_bytes=1000):
                pass
    assert consumed <= 1000 // 100 + 2


async def test_oversized_event_of_many_lines_raises() -> None:
    consumed = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal consumed
        while True:
            consumed += 1
            yield b"data: " + b"z" * 99 + b"\n"

    with pytest.raises(SseLineTooLong):
        async with asyncio.timeout(TIMEOUT):
            async for _ in iter_sse_messages(endless(), max_event_bytes=10_000):
                pass
    assert consumed <= 10_000 // 100 + 2


async def test_oversized_comment_line_also_bounded() -> None:
    with pytest.raises(SseLineTooLong):
        await messages([b":" + b"c" * 5000], max_event_bytes=1000)


async def test_limit_is_exact_on_data_bytes() -> None:
    # 3 + 1 ("\n" join) + 6 = 10 bytes of data, counted in UTF-8 bytes ("é" is two).
    ok = b"data: abc\ndata: \xc3\xa9\xc3\xa9xx\n\n"
    assert await messages([ok], max_event_bytes=10) == [SseMessage("abc\néé" + "xx")]
    with pytest.raises(SseLineTooLong):
        await messages([ok], max_event_bytes=9)
    # The limit is per event: many events each under it are fine.
    assert len(await messages([b"data: 12345\n\n" * 100], max_event_bytes=5)) == 100


def test_decoder_rejects_nonpositive_limit() -> None:
    with pytest.raises(ValueError, match="positive"):
        SseDecoder(0)


# --------------------------------------------------------------------------- parser: keep-alives, errors


def test_keepalive_variants_are_heartbeats() -> None:
    assert parse(None, comment=True) == [HeartbeatEvent()]
    assert parse("") == [HeartbeatEvent()]
    assert parse("  \n ") == [HeartbeatEvent()]
    for kind in ("heartbeat", "ping", "keepalive", "HEARTBEAT"):
        assert parse(json.dumps({"type": kind})) == [HeartbeatEvent()]
    assert parse(None) == []  # no data and not a comment: nothing happened
    assert AdkEventParser().feed(SseMessage("{}", event="ping")) == [HeartbeatEvent()]
    assert parse("{}") == []


def test_non_json_is_skipped_and_logged_truncated(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.nemo.sse")
    garbage = "not json " + "g" * 1000
    assert parse(garbage) == []
    assert parse("[1, 2]", "42", '"str"', "null", "{bad") == []
    records = [r.getMessage() for r in caplog.records]
    assert any("not json" in m for m in records)
    assert all(len(m) < 400 for m in records)
    assert any("not a JSON object" in m for m in records)


def test_error_objects() -> None:
    assert parse('{"error": "Deadline exceeded"}') == [ErrorEvent("Deadline exceeded")]
    line = json.dumps(
        {
            "error": "RuntimeError: boom",
            "error_details": {
                "error_type": "RuntimeError",
                "error_message": "boom",
                "timestamp": 1795560006.86,
            },
        }
    )
    assert parse(line) == [ErrorEvent("RuntimeError: boom", code="RuntimeError")]
    assert parse('{"error": "", "error_details": {"error_message": "inner"}}') == [ErrorEvent("inner")]
    assert parse('{"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}') == [
        ErrorEvent("overloaded", code="UNAVAILABLE")
    ]
    assert parse('{"error": 5}') == [ErrorEvent("5")]


def test_adk_fstring_error_with_quotes_still_reported() -> None:
    assert parse('{"error": "ValueError: bad "quote" in \'here\'"}') == [
        ErrorEvent("ValueError: bad \"quote\" in 'here'")
    ]
    broken = '{"error": "KeyError: "x"", "error_details": {"error_type": "KeyError", "error_message": ""x""}}'
    assert parse(broken) == [ErrorEvent('KeyError: "x"')]
    # A message with a newline is cut by the SSE framing: the first line is all we get.
    assert parse('{"error": "line one') == [ErrorEvent("line one")]
    assert parse('{"error": "}') == [ErrorEvent("backend error")]
    assert parse('{"errors": "x') == []


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"errorCode": "SAFETY", "errorMessage": "blocked"}, ErrorEvent("blocked", code="SAFETY")),
        (
            {"error_code": "MALFORMED_FUNCTION_CALL", "error_message": "m"},
            ErrorEvent("m", code="MALFORMED_FUNCTION_CALL"),
        ),
        ({"errorCode": "MAX_TOKENS"}, ErrorEvent("MAX_TOKENS", code="MAX_TOKENS")),
        ({"errorMessage": "only message"}, ErrorEvent("only message")),
    ],
)
def test_adk_error_code_events(obj: dict[str, Any], expected: ErrorEvent) -> None:
    obj |= {"invocationId": "e-1", "author": "nemo_agent", "actions": {"stateDelta": {}}, "id": "x"}
    assert parse(json.dumps(obj)) == [expected]


def test_empty_error_code_is_not_an_error() -> None:
    assert parse(json.dumps({"errorCode": "", "errorMessage": "", "actions": {}})) == []


# --------------------------------------------------------------------------- parser: ADK content


def test_spec_example_lines() -> None:
    assert parse(*SPEC_LINES) == SPEC_EVENTS


def test_thoughts_user_role_and_other_parts_hidden() -> None:
    line = adk(
        [
            {"text": "reasoning", "thought": True},
            {"text": "visible", "thought": False},
            {"inlineData": {"mimeType": "image/png", "data": "AAAA"}},
            {"executableCode": {"code": "print(1)", "language": "PYTHON"}},
            {"codeExecutionResult": {"outcome": "OUTCOME_OK"}},
            {"fileData": {"fileUri": "gs://x"}},
            {"thoughtSignature": "abc"},
            {"text": ""},
        ]
    )
    assert parse(line) == [TextEvent("visible")]
    assert parse(adk([{"text": "my own words"}], role="user")) == []
    assert parse(adk([{"text": "no role"}], role=None)) == [TextEvent("no role")]


def test_user_role_still_yields_tool_results() -> None:
    line = adk([{"text": "echo"}, {"functionResponse": {"name": "t", "response": {"ok": 1}}}], role="user")
    assert parse(line) == [ToolResultEvent("t", {"ok": 1})]


def test_snake_case_fields() -> None:
    line = json.dumps(
        {
            "invocation_id": "e-1",
            "id": "a",
            "content": {
                "role": "model",
                "parts": [
                    {
                        "function_call": {
                            "id": "c1",
                            "name": "generate_video_with_seedance",
                            "args": {"p": "cat"},
                        }
                    },
                    {
                        "function_response": {
                            "id": "c1",
                            "name": "generate_video_with_seedance",
                            "response": {"u": "v"},
                        }
                    },
                ],
            },
            "actions": {"state_delta": {"k": [1]}},
        }
    )
    assert parse(line) == [
        ToolCallEvent("generate_video_with_seedance", {"p": "cat"}, "c1"),
        ToolResultEvent("generate_video_with_seedance", {"u": "v"}, "c1"),
        StateDeltaEvent({"k": [1]}),
    ]


def test_state_delta_comes_after_content_and_empty_delta_is_silent() -> None:
    line = adk([{"text": "hi"}], actions={"stateDelta": {"draft": {"d": 1}}, "artifactDelta": {"a": 1}})
    assert parse(line) == [TextEvent("hi"), StateDeltaEvent({"draft": {"d": 1}})]
    assert parse(json.dumps({"actions": {"stateDelta": {}, "artifactDelta": {"f": 0}}})) == []


def test_content_then_state_then_error_order() -> None:
    line = adk([{"text": "partial answer"}], actions={"stateDelta": {"s": 1}}, errorCode="MAX_TOKENS")
    assert parse(line) == [
        TextEvent("partial answer"),
        StateDeltaEvent({"s": 1}),
        ErrorEvent("MAX_TOKENS", "MAX_TOKENS"),
    ]


def test_tool_values_of_wrong_shape_are_wrapped_not_lost() -> None:
    line = adk(
        [
            {"functionCall": {"name": "a", "args": ["x"]}},
            {"functionResponse": {"name": "b", "response": "done"}},
            {"functionResponse": {"name": "c"}},
            {"functionCall": {"args": {}}},  # no name: unreadable, skipped
        ]
    )
    assert parse(line) == [
        ToolCallEvent("a", {"args": ["x"]}),
        ToolResultEvent("b", {"result": "done"}),
        ToolResultEvent("c", {}),
    ]


@pytest.mark.parametrize(
    "obj",
    [
        {"content": {"parts": "not a list"}},
        {"content": {"parts": [{"text": 5}, "str", None, 3, [1]]}},
        {"content": "text"},
        {"content": {"parts": [{"functionCall": "x"}, {"functionResponse": [1]}]}},
        {"content": {"parts": [{"functionCall": {"name": 7}}]}},
        {"content": {"role": 3, "parts": [{"text": "role is odd"}]}},
        {"actions": [1, 2]},
        {"actions": {"stateDelta": [1]}},
        {"errorCode": {"x": 1}, "errorMessage": ["m"]},
        {"partial": "yes", "content": {"parts": [{"text": 1}]}},
        {"type": 5},
        {"type": "text", "content": 5},
        {"type": "tool_call", "name": None},
        {"id": 3, "invocationId": [], "content": {"parts": [{"thought": "maybe"}]}},
    ],
)
def test_wrong_types_do_not_raise(obj: dict[str, Any]) -> None:
    events = parse(json.dumps(obj))
    assert all(isinstance(e, CHAT_EVENT_TYPES) for e in events)
    assert not any(isinstance(e, TextEvent) for e in events)


def test_unknown_keys_everywhere_are_ignored() -> None:
    line = json.dumps(
        {
            "content": {"parts": [{"text": "ok", "newPartKey": {"x": 1}}], "role": "model", "extra": 1},
            "id": "n",
            "invocationId": "e",
            "nodeInfo": {"path": "a"},
            "usageMetadata": {"t": 3},
            "finishReason": "STOP",
            "modelVersion": "m",
            "turnComplete": True,
            "actions": {"stateDelta": {}, "requestedToolConfirmations": {}, "escalate": False},
        }
    )
    assert parse(line) == [TextEvent("ok")]


# --------------------------------------------------------------------------- parser: partials, dedup


def test_partials_then_aggregate_emit_full_text_once() -> None:
    parser = AdkEventParser()
    out: list[ChatEvent] = []
    out += parser.feed(SseMessage(adk([{"text": "Hel"}], partial=True, event_id="p1")))
    out += parser.feed(
        SseMessage(
            adk(
                [{"text": "lo", "thought": True}, {"text": "lo"}],
                partial=True,
                event_id="p2",
                actions={"stateDelta": {"ignored": 1}},
            )
        )
    )
    out += parser.feed(SseMessage(adk([{"text": "Hello"}], event_id="agg")))
    out += parser.flush()
    assert out == [PartialTextEvent("Hel"), PartialTextEvent("lo"), TextEvent("Hello")]


def test_partial_event_yields_only_partial_text() -> None:
    line = adk(
        [{"text": "chunk"}, {"functionCall": {"name": "t", "args": {}}}],
        partial=True,
        actions={"stateDelta": {"a": 1}},
        errorCode="X",
    )
    assert parse(line) == [PartialTextEvent("chunk")]
    assert parse(adk([{"text": "secret"}], role="user", partial=True)) == []


def test_flush_emits_orphaned_partials_once() -> None:
    parser = AdkEventParser()
    parser.feed(SseMessage(adk([{"text": "A "}], partial=True)))
    parser.feed(SseMessage(adk([{"functionCall": {"name": "t"}}])))  # no text: not the aggregate
    parser.feed(SseMessage(adk([{"text": "B"}], partial=True)))
    assert parser.flush() == [TextEvent("A B")]
    assert parser.flush() == []


def test_flush_after_aggregate_is_empty() -> None:
    parser = AdkEventParser()
    parser.feed(SseMessage(adk([{"text": "x"}], partial=True)))
    parser.feed(SseMessage(adk([{"text": "x"}])))
    assert parser.flush() == []


def test_repeated_event_with_same_id_is_not_emitted_twice() -> None:
    line = adk([{"text": "same"}], event_id="abc", invocation="e-9")
    assert parse(line, line) == [TextEvent("same")]
    # Different event id, different invocation or no id at all: genuinely new text.
    assert parse(line, adk([{"text": "same"}], event_id="abd", invocation="e-9")) == [TextEvent("same")] * 2
    assert parse(line, adk([{"text": "same"}], event_id="abc", invocation="e-8")) == [TextEvent("same")] * 2
    no_id = adk([{"text": "same"}], event_id=None)
    assert parse(no_id, no_id) == [TextEvent("same")] * 2


def test_repeated_event_still_repeats_tool_calls() -> None:
    line = adk([{"text": "t"}, {"functionCall": {"name": "n"}}], event_id="r")
    assert parse(line, line) == [TextEvent("t"), ToolCallEvent("n"), ToolCallEvent("n")]


# --------------------------------------------------------------------------- parser: simplified format


def test_simplified_format() -> None:
    lines = [
        '{"type":"text","content":"你好"}',
        '{"type":"text","text":"alt key"}',
        '{"type":"text","content":""}',
        '{"type":"tool_call","name":"generate_video_with_seedance","args":{"prompt":"x"}}',
        '{"type":"tool_result","name":"generate_video_with_seedance","result":{"url":"u"}}',
        '{"type":"tool_result","name":"n","result":"plain"}',
        '{"type":"error","message":"quota"}',
        '{"type":"error"}',
        '{"type":"done"}',
        '{"type":"end"}',
    ]
    assert parse(*lines) == [
        TextEvent("你好"),
        TextEvent("alt key"),
        ToolCallEvent("generate_video_with_seedance", {"prompt": "x"}),
        ToolResultEvent("generate_video_with_seedance", {"url": "u"}),
        ToolResultEvent("n", {"result": "plain"}),
        ErrorEvent("quota"),
        ErrorEvent("backend error"),
    ]


# --------------------------------------------------------------------------- iter_chat_events


async def test_iter_chat_events_full_stream_odd_chunks() -> None:
    stream = spec_stream()
    for size in (1, 7, 4096):
        assert await chat_events(split_every(stream, size)) == SPEC_STREAM_EVENTS


async def test_iter_chat_events_flushes_partials_and_adds_no_end_event() -> None:
    stream = (
        f"data: {adk([{'text': 'Rendering '}], partial=True)}\r\n\r\n"
        ": ping\r\n\r\n"
        f"data: {adk([{'text': '…'}], partial=True)}\r\n\r\n"
    ).encode()
    got = await chat_events([stream])
    assert got == [
        PartialTextEvent("Rendering "),
        HeartbeatEvent(),
        PartialTextEvent("…"),
        TextEvent("Rendering …"),
    ]
    assert not any(isinstance(e, EndEvent) for e in got)


async def test_iter_chat_events_propagates_line_too_long() -> None:
    with pytest.raises(SseLineTooLong):
        await chat_events([b"data: " + b"a" * 500 + b"\n\n"], max_event_bytes=100)


async def test_iter_chat_events_early_close_stops_cleanly() -> None:
    async def source() -> AsyncIterator[bytes]:
        while True:
            yield b'data: {"type":"text","content":"x"}\n\n'

    events = iter_chat_events(source())
    async with asyncio.timeout(TIMEOUT):
        assert await anext(events) == TextEvent("x")
        await events.aclose()
        with pytest.raises(StopAsyncIteration):
            await anext(events)


@pytest.mark.e2e
async def test_over_real_aiohttp_stream() -> None:
    """The client's actual call shape: `response.content.iter_any()` over chunked HTTP."""
    stream = spec_stream()
    pieces = [stream[:5], stream[5:300], stream[300:301], stream[301:]]

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
        await resp.prepare(request)
        for piece in pieces:
            await resp.write(piece)
            await asyncio.sleep(0)  # let each piece leave as its own chunk where possible
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_post("/run_sse", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        async with (
            asyncio.timeout(TIMEOUT),
            aiohttp.ClientSession() as session,
            session.post(f"http://127.0.0.1:{port}/run_sse") as resp,
        ):
            got = [e async for e in iter_chat_events(resp.content.iter_any())]
    finally:
        await runner.cleanup()
    assert got == SPEC_STREAM_EVENTS


# --------------------------------------------------------------------------- property tests

EOLS = ("\n", "\r\n", "\r")
RICH_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from('你好世界点击导出🎬🎵👍🏽\n\r\t"\\\u2028\ufeff'),
    ),
    max_size=40,
)
KEEPALIVE_DATA = ["", '{"type":"heartbeat"}', '{"type": "ping"}']
COMMENT_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=20)


@st.composite
def sse_streams(draw: st.DrawFn) -> tuple[bytes, list[SseMessage], list[ChatEvent]]:
    """A valid stream plus the messages and events it must produce."""
    items = draw(
        st.lists(
            st.one_of(
                st.tuples(st.just("text"), RICH_TEXT, st.booleans(), st.sampled_from([None, 1])),
                st.tuples(st.just("comment"), COMMENT_TEXT, st.just(False), st.none()),
                st.tuples(st.just("heartbeat"), st.sampled_from(KEEPALIVE_DATA), st.just(False), st.none()),
            ),
            max_size=12,
        )
    )
    blocks: list[list[str]] = []
    expected_msgs: list[SseMessage] = []
    expected_events: list[ChatEvent] = []
    for i, item in enumerate(items):
        kind, text, ascii_only, indent = item
        if kind == "text":
            obj = {
                "content": {"parts": [{"text": text}], "role": "model"},
                "id": f"e{i}",
                "invocationId": "e-x",
                "actions": {"stateDelta": {}},
            }
            data = json.dumps(obj, ensure_ascii=ascii_only, indent=indent)
            blocks.append([f"data: {line}" for line in data.split("\n")])
            expected_msgs.append(SseMessage(data))
            if text:
                expected_events.append(TextEvent(text))
        elif kind == "comment":
            blocks.append([f":{text}"])
            expected_msgs.append(SseMessage(None, comment=True))
            expected_events.append(HeartbeatEvent())
        else:
            blocks.append([f"data:{text}"])
            expected_msgs.append(SseMessage(text))
            expected_events.append(HeartbeatEvent())
    out: list[str] = []
    prev_eol = ""
    for block in blocks:
        for line in [*block, ""]:
            eol = draw(st.sampled_from(EOLS))
            if prev_eol == "\r" and line == "" and eol == "\n":
                eol = "\r\n"  # "\r" + "\n" would be one line end, not a blank line
            out.append(line + eol)
            prev_eol = eol
    bom = "\ufeff" if draw(st.booleans()) else ""
    return (bom + "".join(out)).encode(), expected_msgs, expected_events


@PROPERTY
@given(stream=sse_streams(), cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=30))
async def test_property_chunking_never_changes_the_result(
    stream: tuple[bytes, list[SseMessage], list[ChatEvent]], cuts: list[int]
) -> None:
    raw, expected_msgs, expected_events = stream
    single = await messages([raw])
    assert single == expected_msgs
    assert await messages(split_at(raw, cuts)) == single
    assert await chat_events(split_at(raw, cuts)) == expected_events


SSE_FRAGMENTS = st.sampled_from(
    [
        b"data:",
        b"data: ",
        b"event:",
        b"id:",
        b":",
        b" ",
        b"\r",
        b"\n",
        b"\r\n",
        b"{",
        b"}",
        b'{"error": "',
        b'{"type":"heartbeat"}',
        b"\xef\xbb\xbf",
        b"\xe4\xbd",
        b"\xff",
        b'{"content":{"parts":[{"text":"t"}]},"partial":true}',
    ]
)


@PROPERTY
@given(
    pieces=st.lists(st.one_of(st.binary(max_size=64), SSE_FRAGMENTS), max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=5_000), max_size=20),
    limit=st.integers(min_value=1, max_value=400),
)
async def test_property_arbitrary_bytes_only_raise_line_too_long(
    pieces: list[bytes], cuts: list[int], limit: int
) -> None:
    raw = b"".join(pieces)
    try:
        events = await chat_events(split_at(raw, cuts), max_event_bytes=limit)
    except SseLineTooLong:
        return
    assert all(isinstance(e, CHAT_EVENT_TYPES) for e in events)


JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=10),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
KNOWN_KEYS = [
    "content",
    "parts",
    "role",
    "text",
    "thought",
    "functionCall",
    "function_call",
    "functionResponse",
    "function_response",
    "name",
    "args",
    "response",
    "id",
    "invocationId",
    "invocation_id",
    "partial",
    "actions",
    "stateDelta",
    "state_delta",
    "errorCode",
    "error_code",
    "errorMessage",
    "error_message",
    "error",
    "error_details",
    "error_type",
    "type",
    "message",
    "result",
    "status",
    "code",
]


def _adkish(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keys = st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=6))
    return st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(keys, inner, max_size=5),
        st.sampled_from(["heartbeat", "text", "tool_call", "tool_result", "error", "done", "model", "user"]),
    )


ADKISH = st.recursive(JSON_SCALARS, _adkish, max_leaves=25)


@PROPERTY
@given(
    objs=st.lists(
        st.one_of(
            st.dictionaries(st.sampled_from(KNOWN_KEYS), ADKISH, max_size=6),
            st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=4),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_property_arbitrary_json_objects_never_raise(objs: list[dict[str, Any]]) -> None:
    parser = AdkEventParser()
    events: list[ChatEvent] = []
    for obj in objs:
        events += parser.feed(SseMessage(json.dumps(obj)))
        events += parser.feed(SseMessage(json.dumps(obj)[:-1]))  # truncated: not JSON
    events += parser.flush()
    assert all(isinstance(e, CHAT_EVENT_TYPES) for e in events)
