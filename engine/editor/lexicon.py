"""The editor's words, English and Chinese, one pattern per idea (docs/engine.md, "Editor").

Kept apart from the grammar (engine/editor/intents.py) so that teaching the editor a new way of
saying something is a one-line change here. Every pattern runs on text that was NFKC-normalised and
lower-cased, with quoted words already replaced by placeholders (so a title can never trigger a
command). The mood vocabulary is not here: it belongs to the music (engine.music.choose_mood).
"""

from __future__ import annotations

import re


def _re(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{a})" for a in alternatives))


# ---------------------------------------------------------------------------- message structure
SILENT_PREFIX = re.compile(r"^\s*(?:silent|静默)\s*[:：]\s*", re.IGNORECASE)
"""`silent: add music` applies the edit and answers with the tool events only (the bot's silent path)."""

CLAUSE_SPLIT = re.compile(
    r"(?:(?<!\s)\s*|(?=\S))(?:[;；。!?！？\n]+|(?<!\.)\.+(?=\s|$)|,\s*(?:and\s+)?then\b|,|，|、"
    r"|\band\s+then\b|\bthen\b|\balso\b|\bplus\b|\band\b|\bbut\b|\bas\s+well\s+as\b"
    r"|然后|接着|并且|同时|另外|还要|以及|但是|不过|再把|再给|再加|再将)\s*"
)
"""Where one request ends and the next begins; fragments with no subject of their own are joined back.
A full stop ends a sentence only before a space or the end ("2.5 s" and "v1.2" stay whole).
A match starts where a run of spaces does, or right after one (an earlier match took it): trying it at
every space inside the run found nothing more and took seconds on a long message of spaces."""

NEGATION = r"(?:\bdon'?t|\bdo\s+not|\bno\s+need\s+to|\bnever|\bstop|不要|别|不用|无需|取消)"

# ---------------------------------------------------------------------------- conversation
GREETING = _re(
    r"^\s*(?:hi|hello|hey|hiya|yo|howdy|greetings|good\s+(?:morning|afternoon|evening))\b",
    r"^\s*(?:你好|您好|嗨|哈喽|哈罗|在吗)",
)
HELP = _re(
    r"^\s*(?:help|\?+|commands|menu|options|examples?)\W*$",
    r"\bwhat\s+(?:else\s+)?(?:can|could|do)\s+(?:you|i)\s+(?:do|say|ask|type)\b",
    r"\bhow\s+(?:does\s+(?:this|it)\s+work|do\s+i\s+use\s+(?:this|you|it))\b",
    r"\b(?:can\s+you\s+)?help\s+me\b",
    r"\bwhat\s+are\s+(?:you|your\s+(?:features|options|commands))\b",
    r"帮助|你能做什么|你会做什么|你会什么|能做什么|可以做什么|能帮我(?:做)?什么|可以帮我(?:做)?什么|怎么用|有什么功能|使用说明",
)
THANKS = _re(
    r"^\s*(?:thanks?(?:\s+you)?|thx|ty|cheers|great|perfect|awesome|nice|cool|ok(?:ay)?|got\s+it)\W*$",
    r"^\s*(?:谢谢|多谢|感谢|好的|好|棒|完美|太好了)\W*$",
)
DESCRIBE = _re(
    r"\bwhat(?:'s|\s+is)\s+(?:on\s+)?(?:the\s+)?(?:timeline|draft|project)\b",
    r"\bshow\s+(?:me\s+)?(?:the\s+)?(?:timeline|draft|edit)\b",
    r"\bwhat\s+do\s+(?:i|we)\s+have\b",
    r"\b(?:current|where\s+are\s+we)\b.*\b(?:timeline|draft|edit|project)\b",
    r"现在是什么样|现在什么样|目前的(?:时间线|草稿)|看看(?:时间线|草稿)|(?:时间线|草稿)(?:上|里)?(?:现在)?有什么|现在有什么",
)
EXPORT = _re(r"\bexport\b|\bdownload\b|\brender\b|\bsend\s+me\s+the\s+(?:final\s+)?video\b", r"导出|下载|渲染")

# ---------------------------------------------------------------------------- undo
UNDO = _re(
    r"\bundo\b|\bun-do\b|\brevert\b|\bgo\s+back\b|\bstep\s+back\b|\btake\s+(?:that|it)\s+back\b|\bctrl\s*\+?\s*z\b",
    r"\bcancel\s+(?:that|it|the\s+last\s+(?:change|edit|step))\b|\bnever\s*mind\b|\bscratch\s+that\b",
    r"\bchange\s+(?:it|that)\s+back\b|\bput\s+it\s+back\b",
    r"撤销|撤回|回退|返回上一步|回到上一步|恢复上一步|退回上一步|上一步",
)
UNDO_COUNT = re.compile(
    r"\b(twice|two\s+times|2\s+times|three\s+times|3\s+times|(\d+)\s+times)\b"
    r"|\blast\s+(\d+|two|three|four|five)\s+(?:changes|edits|steps)\b|(两|二|三|四|五|\d+)\s*(?:次|步)"
)

# ---------------------------------------------------------------------------- music
MUSIC_NOUN = _re(
    r"\b(?:music|song|songs|soundtrack|bgm|tune|tunes|melody|instrumental|score|background\s+(?:audio|sound|track))\b",
    r"\btrack\b(?!s)",
    r"音乐|配乐|背景乐|歌曲|歌|曲子|旋律|伴奏|bgm",
)
MUSIC_OFF = _re(
    r"\b(?:remove|delete|drop|kill|ditch|lose|get\s+rid\s+of|turn\s+off|switch\s+off|take\s+(?:out|away|off)|cut\s+out|disable|clear)\b"
    r"(?:\s+\w+){0,3}?\s+(?:music|song|bgm|soundtrack|track)\b",
    r"\b(?:no|without|zero)\s+(?:background\s+)?(?:music|bgm|soundtrack|song)\b",
    r"\b(?:music|bgm|soundtrack)\s+off\b",
    r"\b(?:don'?t|do\s+not)\s+(?:want|need|add|use|put|like)\s+(?:any\s+)?(?:the\s+)?(?:background\s+)?(?:music|bgm|song)\b",
    r"(?:去掉|删除|删掉|关掉|关闭|取消|移除|去除|拿掉|清除)(?:背景)?(?:音乐|配乐|bgm|歌曲|歌)",
    r"(?:不要|不需要|无|没有|不用)(?:任何)?(?:背景)?(?:音乐|配乐|bgm)(?![，,]?(?:太|那么|过于))",
    r"(?:音乐|配乐|bgm)(?:去掉|删掉|关掉|不要了|拿掉)",
)
MUSIC_MUTE = _re(
    r"\b(?:mute|silence)\s+(?:the\s+)?(?:background\s+)?(?:music|song|bgm|track)\b",
    r"(?:音乐|配乐)静音|静音(?:背景)?音乐",
)
MUSIC_UNMUTE = _re(
    r"\bun-?mute\s+(?:the\s+)?(?:background\s+)?(?:music|song|bgm|track)\b", r"(?:音乐|配乐)(?:取消静音|恢复)"
)
MUSIC_ADD_VERB = _re(
    r"\b(?:add|adding|put|use|give|want|need|choose|pick|compose|generate|create|play|try|include|insert|throw\s+in|lay|"
    r"score|match|matches|matching|fit|fits|suit|suits|with)\b",
    r"加(?!大|强|快|长|重|速)|添加|配上|配个|配一|来一?首|放(?!大|慢|快|小)|用|生成|创作|给.*配|选|匹配|符合|适合|(?<![不只])要(?!求)",
)
"""Words that ask for music (a new track, or a new mood): "add", "use", "music that matches the mood"."""
NOT_SO = _re(r"\bnot\s+(?:so|too|that|as)\b", r"不要(?:那么|太|这么)|别(?:那么|太|这么)|不(?:那么|太)")
"""Inverts a volume word: "not so loud" is quieter, "不要那么大声" too."""
ANOTHER = _re(
    r"\banother\s+(?:\w+\s+)?(?:one|track|song|piece|tune|version|take|option|variation)\b",
    r"\bdifferent\s+(?:music|track|song|piece|tune|one|version)\b",
    r"\b(?:something|anything)\s+else\b",
    r"\btry\s+(?:again|another)\b",
    r"\bnew\s+(?:track|song|piece|tune|version)\b",
    r"\bre-?roll\b|\bshuffle\b|\bnext\s+(?:one|track|song)\b|\bone\s+more\s+(?:time|try)\b",
    r"换一首|换首|换一个|换个|再来一首|再换|另一首|别的(?:音乐|歌)|其他(?:的)?(?:音乐|歌)|不同的(?:音乐|歌)|重新生成|换一下(?:音乐|歌)?",
)
MY_AUDIO = _re(
    r"\b(?:my|our)\s+(?:own\s+)?(?:song|music|track|audio|mp3|wav|m4a|aac|tune|recording|sound\s*track|file|voice\s*over)\b",
    r"\b(?:the|this|that)\s+(?:uploaded|attached|audio)\s+(?:song|music|track|audio|file|mp3|wav)\b",
    r"\b(?:song|music|track|audio(?:\s+file)?|mp3|wav|file)\s+(?:that\s+)?(?:i|we)\s+(?:just\s+)?(?:uploaded|attached|sent|shared|added|dropped|gave)\b",
    r"我(?:自己)?的(?:歌|音乐|音频|歌曲|配乐|录音|曲子)|我(?:刚)?(?:上传|发|传)的(?:歌|音乐|音频|歌曲|文件|录音)|用我(?:自己)?(?:的|上传的)",
)

VOLUME_WORD = _re(r"\b(?:volume|level|loudness|gain)\b", r"音量|声音大小|响度")
LOUDER = _re(
    r"\b(?:louder|higher|increase|raise|boost|turn\s+(?:it\s+|the\s+\w+\s+)?up|pump\s+(?:it\s+)?up|more\s+volume|stronger|more\s+prominent|volume\s+up)\b",
    r"大声|响一?点|大一?点|调高|提高|增大|加大|调大|高一?点|强一?点|放大",
)
QUIETER = _re(
    r"\b(?:quieter|softer|lower|decrease|reduce|turn\s+(?:it\s+|the\s+\w+\s+)?down|less\s+(?:loud|volume)|quiet|subtle|subtler|"
    r"weaker|gentler|tone\s+(?:it\s+)?down|volume\s+down|less\s+prominent)\b",
    r"小声|轻一?点|小一?点|调低|降低|减小|调小|低一?点|弱一?点|轻柔|减弱|压低",
)
TOO_QUIET = _re(
    r"\btoo\s+(?:quiet|soft|low|faint)\b|\bcan'?t\s+hear\b|\bbarely\s+(?:hear|audible)\b",
    r"太小声|太轻|太小|听不见|听不到|听不清",
)
TOO_LOUD = _re(
    r"\btoo\s+(?:loud|strong|much|high|prominent|overpowering)\b|\bdrowns?\b|\boverpower\w*\b",
    r"太吵|太大声|太响|太大|盖过|压过",
)
"""Complaints say the opposite of their words ("too quiet" means louder); checked before LOUDER/QUIETER."""
A_BIT = _re(r"\b(?:a\s+(?:bit|little|touch|tad)|slightly|bit|little)\b", r"稍微|一点点|稍稍|略微|有点")
A_LOT = _re(r"\b(?:much|a\s+lot|way|lots|significantly|far|considerably|heaps)\b", r"很多|多一?点|大幅|非常|更多|明显")
FULL = _re(r"\b(?:full|max(?:imum)?|100)\s*(?:volume|level)?\b", r"最大|满")
HALF = _re(r"\bhalf\b", r"一半")

FADE_IN = _re(
    r"\bfade[- ]?in\b|\bfades?\s+(?:it\s+|the\s+\w+\s+|them\s+)?in\b|\bfading\s+in\b|\bease\s+in\b",
    r"\bbuild\s+up\s+slowly\b|\bfades\b",
    r"淡入|渐入|渐强|慢慢进入|逐渐进入",
)
FADE_OUT = _re(
    r"\bfade[- ]?out\b|\bfades?\s+(?:it\s+|the\s+\w+\s+|them\s+)?(?:out|away)\b",
    r"\bfading\s+(?:out|away)\b|\bease\s+out\b",
    r"\bfade\s+(?:it\s+|the\s+\w+\s+)?in\s+(?:and|&)\s+out\b|\bfades\b",
    r"淡出|渐出|渐弱|慢慢消失|逐渐消失|渐隐",
)
FADE_ANY = _re(r"\bfad(?:e|es|ed|ing)\b", r"淡入淡出|渐变")
NO_FADE = _re(
    r"\b(?:no|without|remove(?:\s+the)?|kill(?:\s+the)?|drop(?:\s+the)?|turn\s+off(?:\s+the)?|skip(?:\s+the)?)\s+fad",
    r"\b(?:don'?t|do\s+not)\s+fade\b",
    r"(?:不要|去掉|取消|删除|关闭|无)(?:淡入|淡出|渐入|渐出|渐变|淡入淡出)",
)

# ---------------------------------------------------------------------------- the clips' own sound
CLIP_SOUND = _re(
    r"\b(?:original|orig|clip'?s?|clips'|video'?s?|videos'|camera|source|native|own|ambient|natural|live)\s+"
    r"(?:audio|sound|sounds|voice|voices|noise|noises)\b|\bbackground\s+noises?\b",
    r"\b(?:audio|sound)\s+(?:of|from|in|on)\s+(?:the\s+|my\s+)?(?:clip|video|footage|recording)s?\b",
    r"\b(?:voices?|dialogue|dialog|talking|people\s+talking|speaking|vocals)\b",
    r"原声|原音|原视频(?:的)?声音|视频(?:的)?声音|视频原声|原来的声音|人声|现场声|现场音|环境声|环境音|说话声|对白|对话",
)
GENERIC_SOUND = _re(r"\b(?:audio|sound)\b", r"声音|音频")
""""mute the audio": the clips' own sound unless music is named."""
DUCK = _re(
    r"\bduck(?:s|ed|ing)?\b",
    r"\b(?:under|below|beneath|behind)\s+(?:the\s+)?(?:speech|voices?|talking|dialogue|dialog|speaking)\b",
    r"\bwhen\s+(?:people|someone|somebody|anyone|they|i|we|he|she)\s+(?:talk|speak|talks|speaks)\b",
    r"\bsidechain\b",
    r"闪避|避让|说话时|说话的时候|人声时|有人说话",
)
STEADY = _re(
    r"\b(?:keep|leave)\s+(?:the\s+)?music\s+(?:steady|constant|level|the\s+same|flat|even)\b",
    r"\b(?:steady|constant|fixed|even)\s+(?:music|volume|level)\b",
    r"\bmusic\s+at\s+a\s+(?:steady|constant|fixed)\s+(?:level|volume)\b",
    r"音乐(?:音量)?(?:保持不变|不变|恒定|保持一致)|音量(?:保持)?(?:不变|恒定|一致)",
)
MUTE = _re(
    r"\b(?:mute|muted|silence|silent|remove|delete|drop|kill|cut|turn\s+off|switch\s+off|get\s+rid\s+of|no|without|disable|lose|off|strip)\b",
    r"静音|去掉|删除|删掉|关掉|关闭|不要|去除|消除|静掉|取消",
)
KEEP = _re(
    r"\b(?:keep|keeping|restore|un-?mute|bring\s+back|leave|full|normal|back\s+on|turn\s+on|retain|preserve|with)\b",
    r"保留|恢复|保持|开启|打开|要原声|留着",
)

# ---------------------------------------------------------------------------- canvas
ASPECTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("9:16", _re(r"\b9\s*[:x×/]\s*16\b", r"9\s*比\s*16")),
    ("4:5", _re(r"\b4\s*[:x×/]\s*5\b", r"4\s*比\s*5")),
    ("1:1", _re(r"\b1\s*[:x×/]\s*1\b", r"1\s*比\s*1")),
    ("16:9", _re(r"\b16\s*[:x×/]\s*9\b", r"16\s*比\s*9")),
    ("4:5", _re(r"\b(?:instagram|insta|ig)\s+(?:portrait|feed|post)s?\b")),
    (
        "9:16",
        _re(
            r"\bvertical(?:ly)?\b|\bportrait\b|\bupright\b|\b(?:phone|mobile)\s+(?:format|screen|size|shape)\b",
            r"竖屏|竖版|竖向|竖着|竖的",
        ),
    ),
    ("1:1", _re(r"\bsquare(?:d)?\b", r"正方形|方形|方屏|方的")),
    ("16:9", _re(r"\blandscape\b|\bhorizontal(?:ly)?\b|\bwide\s?screen\b|\bwide\b", r"横屏|横版|横向|横着|宽屏")),
    (
        "9:16",
        _re(r"\btik\s?tok\b|\breels?\b|\bshorts\b|\bstor(?:y|ies)\b|\bsnapchat\b", r"抖音|快手|视频号|短视频格式"),
    ),
    ("4:5", _re(r"\b(?:instagram|insta)\b")),
    ("16:9", _re(r"\byoutube\b|\btv\b")),
)
"""Aspect words, most specific first: a ratio, then a shape ("square"), then a platform
("instagram"), so "a square video for instagram" is 1:1 and "Instagram portrait" 4:5."""
ASPECT_ANY = _re(*(p.pattern for _, p in ASPECTS))
FIT_BLUR = _re(r"\bblur(?:red|ry|ring)?\b", r"模糊")
FIT_CROP = _re(
    r"\bcrop(?:s|ped|ping)?\b|\bfill(?:s|ed|ing)?\b|\b(?:no|without|remove(?:\s+the)?|get\s+rid\s+of(?:\s+the)?)\s+(?:black\s+)?(?:bars|borders)\b"
    r"|\bzoom(?:ed)?\s+(?:in|to\s+fill)\b|\bfull\s*-?screen\b|\bedge\s+to\s+edge\b|\bcover\s+the\s+(?:frame|screen|canvas)\b",
    r"裁剪|裁切|填满|铺满|全屏|(?:不要|去掉|去|没有|无)黑边|放大填充|充满",
)
FIT_FIT = _re(
    r"\bfit\s+(?:it\s+|them\s+|the\s+(?:video|clips?|picture|image|whole\s+thing)\s+)?(?:in(?:to|side)?\s+|within\s+|to\s+)?(?:the\s+)?"
    r"(?:frame|screen|canvas)\b|\bfit\s*$|\b(?:shrink|scale)\s+to\s+fit\b",
    r"适应画面|完整显示",
)
""""fit" is the opposite of fill: no cropping, with whatever bars the canvas uses (black or blurred)."""
FIT_PAD = _re(
    r"\bblack\s+(?:bars?|borders?|edges?)\b|\bletter-?box(?:ed|ing)?\b|\bpillar-?box(?:ed|ing)?\b|\bpad(?:s|ded|ding)?\b"
    r"|\bbars\b|\bwhole\s+(?:frame|picture|image)\s+visible\b|\bdon'?t\s+crop\b|\bno\s+crop(?:ping)?\b",
    r"黑边|留边|加边|完整显示|不要裁剪|不裁剪",
)

# ---------------------------------------------------------------------------- text
TEXT_NOUN = _re(
    r"\b(?:title|titles|heading|headline|caption|text|texts|overlay|label|words|wording|lower\s+third|name\s+card|subtitle|tagline|slogan)\b",
    r"标题|文字|字幕|文本|大字|标语|文案",
)
CAPTION_NOUN = _re(r"\b(?:caption|text|texts|words|wording|lower\s+third|label|subtitle)\b", r"文字|字幕|文本|文案")
"""Text that reads as a caption rather than a title: placed at the bottom, medium size, unless told."""
TEXT_REMOVE = _re(
    r"\b(?:remove|delete|drop|clear|get\s+rid\s+of|take\s+(?:off|out|away|down)|erase|hide|kill|no|without)\b",
    r"删除|去掉|删掉|移除|清除|不要|取消|拿掉|隐藏",
)
TEXT_ALL = _re(r"\ball\b|\bevery\b|\btexts\b|\btitles\b|\bcaptions\b", r"所有|全部|都")
TEXT_EDIT = _re(
    r"\b(?:change|rename|replace|edit|update|correct|fix|switch|swap|retitle|reword)\b",
    r"\b(?:make|set)\s+(?:the\s+)?(?:title|text|caption|heading)\s+(?:say|says|read|reads|to)\b",
    r"改成|改为|换成|改一下|修改|更改|替换|改",
)
TEXT_SAYING = re.compile(
    r"\b(?:saying|that\s+says|which\s+says|says|reading|that\s+reads|called|named|with\s+the\s+words?)\s+(?P<words>.+)$"
    r"|\b(?:title|heading|caption|text)\s*:\s*(?P<words2>.+)$"
    r"|(?:标题|文字|字幕)\s*(?::|为|是|叫|写)\s*(?P<words3>.+)$"
)
"""Unquoted words of a title run to the end of the clause ("add a title saying Summer Trip")."""

TEXT_STYLE = _re(
    r"\b(?:red|blue|green|yellow|white|black|pink|purple|orange|gold|golden|silver|grey|gray|colou?r(?:ed|ful)?|font|"
    r"italics?|underlined?|shadow|outline|glow(?:ing)?|neon|animated?|typewriter|handwritten|serif|cursive)\b",
    r"红色|蓝色|绿色|黄色|白色|黑色|粉色|紫色|橙色|金色|颜色|字体|加粗|粗体|斜体|阴影|描边|发光|动画|手写",
)
"""What a title cannot have here (it has words, a position, a size and a time)."""
POS_TOP_LEFT = _re(r"\b(?:top|upper)[- ]?left\b|\bleft[- ]?(?:top|upper)\b|\btop\s+left\s+corner\b", r"左上")
POS_TOP_RIGHT = _re(r"\b(?:top|upper)[- ]?right\b|\bright[- ]?(?:top|upper)\b", r"右上")
POS_BOTTOM_LEFT = _re(r"\b(?:bottom|lower)[- ]?left\b|\bleft[- ]?(?:bottom|lower)\b", r"左下")
POS_BOTTOM_RIGHT = _re(r"\b(?:bottom|lower)[- ]?right\b|\bright[- ]?(?:bottom|lower)\b", r"右下")
POS_TOP = _re(r"\b(?:top|upper|header|on\s+top|up\s+top|above)\b", r"顶部|上方|上面|顶端|最上|上边|顶上|上部")
POS_BOTTOM = _re(
    r"\b(?:bottom|lower\s+third|footer|below|underneath|base)\b|\blower\b", r"底部|下方|下面|底端|最下|下边|底下|下部"
)
POS_CENTER = _re(r"\b(?:center|centre|middle|centered|centred)\b", r"中间|中央|居中|正中|中心")
SIZE_LARGE = _re(r"\b(?:big|large|huge|bold|giant)\b", r"大字|大号|特大")
SIZE_LARGER = _re(r"\b(?:bigger|larger|increase\s+the\s+size)\b", r"大一?点|更大|放大|加大")
SIZE_SMALL = _re(r"\b(?:small|tiny|little|subtle)\b", r"小字|小号")
SIZE_SMALLER = _re(r"\b(?:smaller|shrink|decrease\s+the\s+size)\b", r"小一?点|更小|缩小|变小")
SIZE_MEDIUM = _re(r"\b(?:medium|normal|regular|mid-?sized?)\b", r"中等|中号|正常大小")

# ---------------------------------------------------------------------------- clips and trims
CLIP_NOUN_EN = (
    r"(?:clip|clips|video|videos|photo|photos|image|images|picture|pictures|pic|pics|still|stills|shot|shots|footage|segment|"
    r"segments|part|one|file)"
)
IMAGE_NOUN = _re(
    r"\b(?:photo|photos|image|images|picture|pictures|pic|pics|still|stills|jpe?g|png)\b", r"图片|照片|相片|图"
)
VIDEO_NOUN = _re(r"\b(?:clip|clips|video|videos|footage|shot|shots)\b", r"片段|视频|镜头|素材")
CLIP_SELECTOR_EN = re.compile(
    r"\b(?:the\s+)?(?P<ord>first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last|final|\d{1,2}(?:st|nd|rd|th)|"
    r"second[- ]to[- ]last|penultimate)\s+(?:(?:video|photo|image|picture)\s+)?(?P<noun>"
    + CLIP_NOUN_EN
    + r")\b|\b(?P<noun2>clip|video|photo|image|picture|shot)\s*(?:#|no\.?|number)?\s*(?P<num>\d{1,2})\b"
    r"(?!\s*(?:\.\d|:\d|ms\b|s\b|secs?\b|seconds?\b|m\b|mins?\b|minutes?\b|%|秒|分))"
)
CLIP_SELECTOR_ZH = re.compile(
    r"(?:第\s*(?P<ord>[零一二两三四五六七八九十\d]+)|(?P<last>最后|倒数第一)\s*一?|(?P<penult>倒数第二))\s*(?:个|段|张|条|部)?\s*"
    r"(?P<noun>片段|视频|素材|图片|照片|相片|镜头|图|段|个|张)"
)
THE_IMAGE = _re(r"\bthe\s+(?:photo|image|picture|pic|still)s?\b|\b(?:photo|image|picture)s?\b", r"图片|照片|相片")
REMOVE_VERB = _re(
    r"\b(?:remove|delete|drop|take\s+out|get\s+rid\s+of|cut|lose|ditch|kill|skip|throw\s+out|exclude)\b",
    r"删除|删掉|去掉|移除|拿掉|不要|去除|剪掉",
)
TRIM_VERB = _re(
    r"\b(?:trim|trims|cut|cuts|chop|remove|delete|drop|lose|shave|skip|clip|crop|take\s+off|get\s+rid\s+of|shorten)\b",
    r"剪掉|剪去|剪|去掉|删掉|删除|裁掉|切掉|截掉|砍掉|去除|不要",
)
KEEP_VERB = _re(r"\b(?:keep|only|just|use|leave)\b", r"保留|只要|只留|截取|只用|留下")
LENGTH_STRONG = _re(
    r"\b(?:long|length|duration|shorten|shorter)\b",
    r"\b(?:trim|cut|chop|crop)\b(?:\s+\w+){0,3}?\s+(?:down\s+)?to\s+(?:about\s+|just\s+)?(?:\d|[a-z]+\s+(?:second|minute))",
    r"缩短|剪成|剪到|时长|长度",
)
""""shorten it to 15 s", "make it 15 seconds long": a length for the whole video without naming it."""
LENGTH_WEAK = _re(r"\b(?:make|set|change|be|extend|lengthen)\b", r"改成|改为|设为|设置为|变成|延长")
""""make … 5 seconds": a length only with what it applies to ("the photo", "the video", "it")."""
SHOW_VERB = _re(r"\b(?:show|shows|display|hold|stay|stays|last|lasts|remain)\b", r"显示|停留|持续|出现|展示")
""""show the photo for 5 s": how long a photo (or a title) is on screen, never the whole video's length."""
LENGTH_VERB = _re(LENGTH_STRONG.pattern, LENGTH_WEAK.pattern, SHOW_VERB.pattern)
WHOLE_VIDEO = _re(
    r"\b(?:it|the\s+(?:whole\s+)?video|the\s+edit|the\s+movie|the\s+timeline|everything|total)\b",
    r"整个视频|视频|总长|总时长",
)

# ---------------------------------------------------------------------------- what the editor cannot do
UNSUPPORTED: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "generate",
        _re(
            r"\bgenerat\w*\b(?:\s+\w+){0,4}?\s+(?:video|clip|footage|scene|image|picture|animation|movie|b-?roll)s?\b",
            r"\b(?:create|make|film|shoot|render)\s+(?:me\s+)?(?:a|an)\s+(?:new\s+)?(?:\w+\s+)?(?:video|clip|animation|movie|scene)\s+"
            r"(?:of|about|with|where|showing|featuring)\b",
            r"\btext[- ]to[- ]video\b|\bai[- ]video\b|\bimage[- ]to[- ]video\b",
            r"生成(?:一个|一段|一条)?(?:\S{0,8})?(?:视频|画面|片段|图片|动画)|文生视频|图生视频|帮我拍",
        ),
    ),
    (
        "grade",
        _re(
            r"\bcolou?r(?:[- ]?(?:grad\w*|correct\w*|balance|tone|palette|look))?\b|\bgrad(?:e|ing)\b|\bluts?\b"
            r"|\bfilters?\b|\bsaturat\w+\b"
            r"|\bcontrast\b|\bbrightness\b|\bbrighten\b|\bbrighter\b|\bdarken\b|\bdarker\b|\bexposure\b|\bvintage\b|\bsepia\b|\bretro\b"
            r"|\bblack\s+and\s+white\b|\bb&w\b|\bmonochrome\b|\bwarmer\b|\bcooler\b|\bhdr\b|\bvignette\b|\bsharpen\w*\b",
            r"\b(?:look|looks|feel|feels)\s+(?:more\s+)?(?:cinematic|vintage|retro|professional|better|good|nice|moody|dreamy|film-?like)\b",
            r"调色|滤镜|色调|饱和度|对比度|亮度|曝光|黑白|复古|画面(?:更|变)|电影感画面|美颜|锐化",
        ),
    ),
    (
        "subtitles",
        _re(
            r"\b(?:subtitles|captions|closed[- ]captions?|transcri\w+|speech[- ]to[- ]text|lyrics)\b",
            r"\bauto[- ]?(?:captions?|subtitles?)\b",
            r"\bsubtitle\s+(?:it|the\s+video|this)\b|\bcaption\s+(?:it|the\s+video|this|what)\b|\bwhat\s+(?:they|people|i|we)\s+(?:say|said)\b",
            r"自动字幕|加字幕|生成字幕|识别字幕|语音识别|识别语音|转文字|听写|歌词|配字幕|字幕(?!\s*[\ue000-\ue0ff])",
        ),
    ),
    (
        "transitions",
        _re(
            r"\btransitions?\b|\bcross[- ]?fad\w*\b|\bcross[- ]?dissolve\b|\bdissolve\b|\bwipes?\b"
            r"|\bfade\s+(?:to|from|into)\s+(?:black|white)\b|\bfade\s+(?:between|the\s+clips|the\s+video)\b",
            r"转场|过渡|交叉淡化|淡入黑|黑场",
        ),
    ),
    (
        "speed",
        _re(
            r"\bslow[- ]?mo(?:tion)?\b|\bspeed\b|\bspeed\s+(?:it\s+)?up\b|\bfaster\b|\bslower\b"
            r"|\btime[- ]?lapse\b|\bhyper[- ]?lapse\b"
            r"|\b\d+(?:\.\d+)?\s?x\s+(?:speed|faster|slower)\b|\bplayback\s+rate\b",
            r"慢动作|慢放|加速|倍速|变速|快进|延时摄影|放慢|快放",
        ),
    ),
    (
        "denoise",
        _re(
            r"\b(?:remove|reduce|clean\s+up|get\s+rid\s+of|cut\s+out|filter\s+out)\s+(?:the\s+|all\s+the\s+)?"
            r"(?:background\s+|wind\s+|hiss\s+)?(?:noise|hiss|hum|wind)\b|\bde-?nois\w*\b|\bnoise\s+(?:reduction|removal)\b",
            r"降噪|去噪|去除杂音|消除噪音|去掉杂音|去掉噪音|去除噪音|风噪",
        ),
    ),
    ("reverse", _re(r"\breverse\b|\bbackwards?\b|\brewind\b|\bplay\s+it\s+in\s+reverse\b", r"倒放|倒带|反向播放")),
    (
        "stabilize",
        _re(
            r"\bstabili[sz]\w*\b|\bshaky\b|\bde-?shake\b|\bsteady\s+the\s+(?:camera|footage|shot)\b",
            r"防抖|稳定画面|去抖",
        ),
    ),
    (
        "voiceover",
        _re(
            r"\bvoice[- ]?over\b|\bnarrat\w+\b|\btext[- ]to[- ]speech\b|\btts\b|\bdub\w*\b"
            r"|\bread\s+(?:it|this|the\s+\w+)\s+(?:out|aloud)\b"
            r"|\bai\s+voice\b|\bsing\b",
            r"配音|旁白|解说|朗读|ai声音|念出来",
        ),
    ),
    (
        "effects",
        _re(
            r"\beffects?\b|\bfx\b|\bstickers?\b|\bemojis?\b|\banimat\w+\b|\bglitch\w*\b|\bken\s+burns\b|\bshake\b|\bglow\b|\bsparkl\w*\b"
            r"|\bconfetti\b|\bparticles?\b|\bgifs?\b|\bzoom\s+effect\b|\bspotlight\b|\bframe\s+around\b|\bborder\s+around\b",
            r"特效|贴纸|表情|动画|动效|闪光|粒子|缩放效果",
        ),
    ),
    (
        "background",
        _re(
            r"\b(?:remove|replace|change|swap|blur)\s+(?:the\s+)?background\b(?!\s+(?:music|sound|audio|noise|track|song))"
            r"|\bgreen\s?screen\b|\bchroma\b|\bcut\s?out\s+the\s+(?:person|subject|people)\b",
            r"抠像|去背景|换背景|绿幕|抠图|去除背景|替换背景",
        ),
    ),
    (
        "quality",
        _re(
            r"\b(?:4k|8k|2160p|1440p|60\s?fps|\d+\s?fps|frame\s?rate|resolution|upscale|bitrate|higher\s+quality|hd|uhd|1080p|720p)\b",
            r"分辨率|帧率|超清|高清|4k|画质|码率",
        ),
    ),
    (
        "rotate",
        _re(
            r"\brotat\w+\b|\bflip\w*\b|\bmirror\w*\b|\bupside\s+down\b|\bturn\s+(?:it\s+)?sideways\b",
            r"旋转|翻转|镜像|倒过来",
        ),
    ),
    ("translate", _re(r"\btranslat\w+\b", r"翻译")),
    (
        "logo",
        _re(
            r"\bwatermark\b|\blogo\b|\boverlay\s+(?:an?\s+)?(?:image|picture|photo)\b",
            r"\bpicture[- ]in[- ]picture\b|\bpip\b",
            r"水印|logo|画中画",
        ),
    ),
    (
        "reorder",
        _re(
            r"\b(?:reorder|rearrange|swap|switch|move)\b(?:\s+\w+){0,4}?\s+(?:clips?|videos?|photos?|order)\b|\bchange\s+the\s+order\b",
            r"调换顺序|调整顺序|交换|换个顺序|改变顺序",
        ),
    ),
)
"""Requests that are recognisably out of scope, each with its honest answer in the reply catalogue."""
