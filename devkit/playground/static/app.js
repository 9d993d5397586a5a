// Cutaway playground: a tiny Discord client for the project's fake Discord. Plain JS, no build step.
// State comes from one websocket (/api/ws: a snapshot, then batches of changes); actions are JSON
// POSTs to /api/*. Every id is a string: snowflakes do not fit in a JavaScript number.
"use strict";

(() => {
  const $ = (sel) => document.querySelector(sel);
  const state = {
    world: null,
    messages: new Map(),        // id -> message view
    current: null,              // channel or thread id on screen
    me: null,                   // user id acting on the page
    locale: localStorage.getItem("playground.locale") || "en-US",
    pending: [],                // {key, name, size, id?, error?}
    unread: new Map(),          // channel id -> count
    typing: new Map(),          // channel id -> timeout handle
    notices: [],                // local system lines {channel_id, text, at}
    menuIndex: 0,
    pinned: true,               // the message list follows new content (the reader is at the bottom)
    pinnedTop: 0,               // its scrollTop when last put at the bottom
  };
  const byChannel = () => {
    const map = new Map();
    for (const m of state.messages.values()) {
      if (!map.has(m.channel_id)) map.set(m.channel_id, []);
      map.get(m.channel_id).push(m);
    }
    for (const list of map.values()) list.sort(cmpId);
    return map;
  };

  // ------------------------------------------------------------------ helpers
  function cmpId(a, b) {
    const x = BigInt(a.id ?? a), y = BigInt(b.id ?? b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  function esc(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  }
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "html") node.innerHTML = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  function safeUrl(url) {
    try {
      const parsed = new URL(url, location.href);
      return ["http:", "https:"].includes(parsed.protocol) ? parsed.href : null;
    } catch { return null; }
  }
  function hue(text) {
    let h = 0;
    for (const ch of String(text)) h = (h * 31 + ch.codePointAt(0)) % 360;
    return h;
  }
  function size(bytes) {
    if (bytes == null) return "";
    const units = ["B", "KB", "MB", "GB"];
    let n = Number(bytes), i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
  }
  const zh = () => state.locale.startsWith("zh");
  function clock(ms) {
    const d = new Date(ms);
    const today = new Date().toDateString() === d.toDateString();
    const hm = d.toLocaleTimeString(state.locale, {hour: "numeric", minute: "2-digit"});
    if (today) return zh() ? `今天 ${hm}` : `Today at ${hm}`;
    return `${d.toLocaleDateString(state.locale)} ${hm}`;
  }
  // Discord's <t:SECONDS:STYLE> markup: each Discord client shows it in its own language and time zone,
  // so the page does too, in the language picked under "Language".
  const TIME_STYLES = {
    t: {timeStyle: "short"}, T: {timeStyle: "medium"}, d: {dateStyle: "short"}, D: {dateStyle: "long"},
    f: {dateStyle: "long", timeStyle: "short"}, F: {dateStyle: "full", timeStyle: "short"},
  };
  function timeTag(seconds, style) {
    const d = new Date(seconds * 1000);
    if (Number.isNaN(d.getTime())) return null;
    const full = new Intl.DateTimeFormat(state.locale, TIME_STYLES.F).format(d);
    return `<time class="timestamp" datetime="${esc(d.toISOString())}" title="${esc(full)}">${esc(discordTime(seconds, style))}</time>`;
  }
  function discordTime(seconds, style) {
    const d = new Date(seconds * 1000);
    if (Number.isNaN(d.getTime())) return String(seconds);
    if (style === "R") {
      const diff = (d.getTime() - Date.now()) / 1000;
      const units = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
      const [unit, size] = units.find(([, s]) => Math.abs(diff) >= s) || units.at(-1);
      return new Intl.RelativeTimeFormat(state.locale, {numeric: "auto"}).format(Math.round(diff / size), unit);
    }
    return new Intl.DateTimeFormat(state.locale, TIME_STYLES[style] || TIME_STYLES.f).format(d);
  }
  function toast(text) {
    const node = el("div", {class: "toast", role: "alert"}, text);
    $("#toasts").append(node);
    setTimeout(() => node.remove(), 6000);
  }
  async function api(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: body instanceof FormData ? {} : {"Content-Type": "application/json"},
      body: body instanceof FormData ? body : JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || `${response.status} ${response.statusText}`);
    return data;
  }
  const user = (id) => state.world?.users.find((u) => u.id === id) || (state.world?.bot.id === id ? state.world.bot : null);
  const channel = (id) => state.world?.channels.find((c) => c.id === id) || null;
  const thread = (id) => state.world?.threads.find((t) => t.id === id) || null;
  const place = (id) => channel(id) || thread(id);
  const localized = (obj, key) => (obj[`${key}_localizations`] || {})[state.locale] || obj[key] || "";

  // ------------------------------------------------------------------ markdown (Discord's basics)
  function md(text) {
    const slots = [];
    const keep = (html) => `\u0000${slots.push(html) - 1}\u0000`;
    const link = (url, label) => {
      const safe = safeUrl(url);
      return safe ? `<a href="${esc(safe)}" target="_blank" rel="noopener noreferrer">${label ?? esc(url)}</a>` : esc(label ?? url);
    };
    let s = String(text ?? "");
    s = s.replace(/```(?:([\w+-]+)\n)?([\s\S]*?)```/g, (_, lang, code) => keep(`<pre><code>${esc(code.replace(/^\n/, ""))}</code></pre>`));
    s = s.replace(/`([^`\n]+)`/g, (_, code) => keep(`<code>${esc(code)}</code>`));
    s = s.replace(/\\([\\*_~`|<>#\-[\]().!:@])/g, (_, ch) => keep(esc(ch)));
    s = s.replace(/\[([^\]\n]+)\]\(<?(https?:\/\/[^\s)>]+)>?\)/g, (_, label, url) => keep(link(url, esc(label))));
    s = s.replace(/<(https?:\/\/[^\s>]+)>/g, (_, url) => keep(link(url)));
    s = s.replace(/https?:\/\/[^\s<]+[^\s<.,:;"')\]!?*_~|]/g, (url) => keep(link(url)));
    s = s.replace(/<@!?(\d+)>/g, (_, id) => keep(`<span class="mention">@${esc(user(id)?.name ?? "unknown-user")}</span>`));
    s = s.replace(/<@&(\d+)>/g, () => keep(`<span class="mention">@role</span>`));
    s = s.replace(/<#(\d+)>/g, (_, id) => keep(`<span class="mention" data-goto="${id}">#${esc(place(id)?.name ?? "unknown")}</span>`));
    s = s.replace(/<t:(-?\d+)(?::([tTdDfFR]))?>/g, (raw, t, style) => keep(timeTag(Number(t), style) ?? esc(raw)));
    s = s.replace(/<a?:(\w+):\d+>/g, ":$1:");
    s = esc(s);
    const inline = (line) => line
      .replace(/\*\*(.+?)\*\*/g, "<strong>$1</strong>")
      .replace(/__(.+?)__/g, "<u>$1</u>")
      .replace(/(^|[^*\w])\*(?!\s)(.+?)\*(?!\*)/g, "$1<em>$2</em>")
      .replace(/(^|[^\w])_(?!\s)(.+?)_(?!\w)/g, "$1<em>$2</em>")
      .replace(/~~(.+?)~~/g, "<s>$1</s>")
      .replace(/\|\|(.+?)\|\|/g, '<span class="spoiler">$1</span>');
    const out = [];
    let list = null, quote = null;
    const flush = () => {
      if (list) { out.push(`<${list.tag}>${list.items.map((i) => `<li>${i}</li>`).join("")}</${list.tag}>`); list = null; }
      if (quote) { out.push(`<blockquote>${quote.join("<br>")}</blockquote>`); quote = null; }
    };
    for (const raw of s.split("\n")) {
      let m;
      if ((m = raw.match(/^&gt; ?(.*)$/))) {
        if (list) flush();
        (quote ??= []).push(inline(m[1]));
      } else if ((m = raw.match(/^\s*[-*] (.+)$/)) || (m = raw.match(/^\s*\d+\. (.+)$/))) {
        const tag = /^\s*\d/.test(raw) ? "ol" : "ul";
        if (quote || (list && list.tag !== tag)) flush();
        (list ??= {tag, items: []}).items.push(inline(m[1]));
      } else {
        flush();
        if ((m = raw.match(/^(#{1,3}) (.+)$/))) out.push(`<h${m[1].length}>${inline(m[2])}</h${m[1].length}>`);
        else if ((m = raw.match(/^-# (.+)$/))) out.push(`<span class="subtext">${inline(m[1])}</span>`);
        else out.push(`${inline(raw)}<br>`);
      }
    }
    flush();
    let html = out.join("").replace(/(<br>)+$/, "");
    while (/\u0000\d+\u0000/.test(html)) html = html.replace(/\u0000(\d+)\u0000/g, (_, i) => slots[Number(i)]);
    return html;
  }

  // ------------------------------------------------------------------ rendering: messages
  function avatar(author) {
    const initial = (author.name || "?").slice(0, 1).toUpperCase();
    const bg = author.bot ? "#5865f2" : `hsl(${hue(author.name)} 55% 45%)`;
    return el("div", {class: "avatar", style: `background:${bg}`, "aria-hidden": "true"}, initial);
  }

  function videoLike(url, type) {
    return /^video\//.test(type || "") || /\.(mp4|webm|mov|m4v)(\?|$)/i.test(url || "");
  }

  function renderAttachment(att) {
    const url = safeUrl(att.url);
    const type = att.content_type || "";
    if (url && videoLike(att.filename, type)) {
      return el("video", {src: url, controls: true, preload: "metadata", title: att.filename});
    }
    if (url && /^image\//.test(type)) return el("img", {src: url, alt: att.filename, loading: "lazy"});
    if (url && /^audio\//.test(type)) return el("audio", {src: url, controls: true, title: att.filename});
    return el("div", {class: "file-card"}, el("span", {class: "file-icon"}, "📄"),
      el("div", {}, url ? el("a", {href: url, target: "_blank", rel: "noopener"}, att.filename) : att.filename,
        el("div", {class: "file-size"}, size(att.size))));
  }

  function renderEmbed(embed) {
    const color = embed.color != null ? `#${Number(embed.color).toString(16).padStart(6, "0")}` : "#1e1f22";
    const node = el("div", {class: "embed", style: `border-left-color:${color}`});
    if (embed.thumbnail?.url && safeUrl(embed.thumbnail.url)) node.append(el("img", {class: "embed-thumb", src: safeUrl(embed.thumbnail.url), alt: ""}));
    if (embed.author?.name) node.append(el("div", {class: "embed-author"}, embed.author.name));
    if (embed.title) {
      const url = safeUrl(embed.url);
      node.append(el("div", {class: "embed-title"},
        url ? el("a", {href: url, target: "_blank", rel: "noopener"}, embed.title) : embed.title));
    }
    if (embed.description) node.append(el("div", {class: "content", html: md(embed.description)}));
    if (embed.fields?.length) {
      node.append(el("div", {class: "embed-fields"}, embed.fields.map((f) =>
        el("div", {class: `embed-field${f.inline ? " inline" : ""}`},
          el("div", {class: "name", html: md(f.name)}), el("div", {class: "content", html: md(f.value)})))));
    }
    if (embed.image?.url && safeUrl(embed.image.url)) node.append(el("img", {class: "embed-image", src: safeUrl(embed.image.url), alt: ""}));
    const footer = [embed.footer?.text, embed.timestamp ? new Date(embed.timestamp).toLocaleString() : null].filter(Boolean);
    if (footer.length) node.append(el("div", {class: "embed-footer"}, footer.join(" • ")));
    return node;
  }

  const BUTTON_STYLES = {1: "primary", 2: "secondary", 3: "success", 4: "danger", 5: "link", 6: "primary"};

  function renderComponent(comp, msg) {
    const attachmentUrl = (url) => {
      if (typeof url === "string" && url.startsWith("attachment://")) {
        const name = url.slice("attachment://".length);
        return msg.attachments.find((a) => a.filename === name)?.url;
      }
      return url;
    };
    switch (comp.type) {
      case 1: return el("div", {class: "action-row"}, (comp.components || []).map((c) => renderComponent(c, msg)));
      case 2: {
        const label = [comp.emoji?.name, comp.label].filter(Boolean).join(" ");
        if (comp.style === 5) {
          const url = safeUrl(comp.url);
          return el("a", {class: "button link", href: url || "#", target: "_blank", rel: "noopener noreferrer"}, label);
        }
        return el("button", {class: `button ${BUTTON_STYLES[comp.style] || "secondary"}`, type: "button",
          disabled: !!comp.disabled, "data-custom-id": comp.custom_id,
          onclick: () => useComponent(msg, comp.custom_id)}, label);
      }
      case 3: case 5: case 8: {
        let options;
        if (comp.type === 3) options = (comp.options || []).map((o) => ({value: o.value, label: o.label}));
        else if (comp.type === 5) options = state.world.users.map((u) => ({value: u.id, label: `@${u.name}`}));
        else options = state.world.channels.map((c) => ({value: c.id, label: `#${c.name}`}));
        const multiple = (comp.max_values || 1) > 1;
        const select = el("select", {disabled: !!comp.disabled, multiple, "data-custom-id": comp.custom_id},
          multiple ? null : el("option", {value: ""}, comp.placeholder || "Make a selection"),
          options.map((o) => el("option", {value: o.value}, o.label)));
        const send = () => {
          const values = [...select.selectedOptions].map((o) => o.value).filter(Boolean);
          if (values.length) useComponent(msg, comp.custom_id, values);
        };
        if (!multiple) { select.addEventListener("change", send); return select; }
        return el("div", {class: "row"}, select, el("button", {type: "button", class: "button secondary", onclick: send}, "Choose"));
      }
      case 9: return el("div", {class: "section"},
        el("div", {class: "grow"}, (comp.components || []).map((c) => renderComponent(c, msg))),
        comp.accessory ? renderComponent(comp.accessory, msg) : null);
      case 10: return el("div", {class: "content", html: md(comp.content)});
      case 11: {
        const url = safeUrl(attachmentUrl(comp.media?.url));
        return url ? el("img", {src: url, alt: comp.description || "", style: "max-width:80px;border-radius:4px"}) : null;
      }
      case 12: return el("div", {class: "gallery"}, (comp.items || []).map((item) => {
        const url = safeUrl(attachmentUrl(item.media?.url));
        if (!url) return null;
        return videoLike(url) ? el("video", {src: url, controls: true, preload: "metadata"}) : el("img", {src: url, alt: item.description || ""});
      }));
      case 13: {
        const url = attachmentUrl(comp.file?.url);
        const att = msg.attachments.find((a) => a.url === url) || {url, filename: comp.name || "file", size: comp.size};
        return renderAttachment(att);
      }
      case 14: return el("hr", {class: "separator"});
      case 17: {
        const color = comp.accent_color != null ? `#${Number(comp.accent_color).toString(16).padStart(6, "0")}` : "#4e5058";
        return el("div", {class: "container", style: `border-left-color:${color}`}, (comp.components || []).map((c) => renderComponent(c, msg)));
      }
      default: return el("div", {class: "muted"}, `(component type ${comp.type})`);
    }
  }

  function linkPreviews(msg) {
    if (!msg.author.bot || msg.suppress_embeds) return [];
    const urls = new Set();
    // As Discord: a link in <…> or in code is not embedded.
    const text = (msg.content || "").replace(/```[\s\S]*?```|`[^`\n]*`|<https?:\/\/[^\s>]+>/g, " ");
    for (const match of text.matchAll(/https?:\/\/[^\s<>)]+/g)) urls.add(match[0]);
    const walk = (list) => {
      for (const c of list || []) {
        if (c.type === 2 && c.style === 5 && c.url) urls.add(c.url);
        walk(c.components);
      }
    };
    walk(msg.components);
    return [...urls].filter((u) => /\.(mp4|webm|mov)(\?|$)/i.test(u) && safeUrl(u))
      .map((u) => el("video", {src: safeUrl(u), controls: true, preload: "metadata", class: "link-preview"}));
  }

  function renderPreviews(msg) {
    const previews = linkPreviews(msg);
    if (!previews.length) return null;
    // One link: a full player, as Discord shows it. Several: small ones side by side, not a tower.
    const box = el("div", {class: `previews${previews.length > 1 ? " compact" : ""}`}, previews);
    if (state.world?.backend === "fake") {
      box.append(el("div", {class: "sample-note"},
        "Sample clip: the scripted fake backend does not render your edit."));
    }
    return box;
  }

  function renderMessage(msg) {
    const node = el("article", {class: "message", "data-id": msg.id, "data-author": msg.author.name});
    if (msg.author.bot) node.classList.add("bot");
    if (msg.ephemeral_for) node.classList.add("ephemeral");
    if (msg.interaction) {
      const who = msg.interaction.user || "someone";
      const what = msg.interaction.command ? `/${msg.interaction.command}` : "a button";
      node.append(el("div", {class: "interaction-line"}, "↳ ", el("span", {class: "who"}, who), " used ",
        el("span", {class: "cmd"}, what)));
    }
    node.append(avatar(msg.author));
    const body = el("div", {class: "body"});
    body.append(el("div", {class: "meta"}, el("span", {class: "author"}, msg.author.name),
      msg.author.bot ? el("span", {class: "tag"}, "APP") : null,
      el("time", {datetime: new Date(msg.created_at).toISOString()}, clock(msg.created_at))));
    if (msg.loading) {
      body.append(el("div", {class: "thinking"}, `${msg.author.name} is thinking`));
    } else if (msg.content) {
      const content = el("div", {class: "content", html: md(msg.content)});
      if (msg.edited_at) content.append(el("span", {class: "edited", title: `edited ${msg.edits}×`}, "(edited)"));
      body.append(content);
    } else if (msg.edited_at) {
      body.append(el("span", {class: "edited"}, "(edited)"));
    }
    if (msg.attachments.length) body.append(el("div", {class: "attachments"}, msg.attachments.map(renderAttachment)));
    for (const embed of msg.embeds || []) body.append(renderEmbed(embed));
    if (msg.components?.length) body.append(el("div", {class: "components"}, msg.components.map((c) => renderComponent(c, msg))));
    const previews = renderPreviews(msg);
    if (previews) body.append(previews);
    if (msg.thread) {
      body.append(el("button", {class: "thread-chip", type: "button", onclick: () => go(msg.thread.id)},
        "🧵 ", el("span", {class: "name"}, msg.thread.name), el("span", {class: "muted"}, "Open thread →")));
    }
    if (msg.reactions?.length) {
      body.append(el("div", {class: "reactions"}, msg.reactions.map((r) =>
        el("button", {type: "button", class: `reaction${r.users.includes(state.me) ? " mine" : ""}`,
          title: r.bot ? "the bot reacted" : "", onclick: () => react(msg, r.emoji)}, `${r.emoji} ${r.count}`))));
    }
    if (msg.ephemeral_for) body.append(el("div", {class: "ephemeral-note"}, "👁 Only you can see this"));
    node.append(body);
    return node;
  }

  // ------------------------------------------------------------------ rendering: sidebar and views
  function renderSidebar() {
    const list = $("#channel-list");
    list.replaceChildren();
    if (!state.world) return;
    const entry = (id, icon, name, extra = "") => {
      const unread = state.unread.get(id) || 0;
      const node = el("button", {type: "button", class: `channel${extra}${id === state.current ? " active" : ""}${unread ? " unread" : ""}`,
        "data-id": id, onclick: () => go(id)}, el("span", {class: "icon"}, icon), el("span", {class: "name"}, name),
        unread ? el("span", {class: "badge"}, unread > 99 ? "99+" : unread) : null);
      list.append(node);
    };
    const threadsOf = (id) => state.world.threads.filter((t) => t.parent_id === id && !t.archived);
    for (const [kind, title] of [["text", "Text channels"], ["forum", "Forums"]]) {
      const channels = state.world.channels.filter((c) => c.type === kind);
      if (!channels.length) continue;
      list.append(el("div", {class: "category"}, title));
      for (const c of channels) {
        entry(c.id, kind === "forum" ? "💬" : "#", c.name);
        for (const t of threadsOf(c.id)) entry(t.id, "🧵", t.name, " thread");
      }
    }
    const archived = state.world.threads.filter((t) => t.archived);
    if (archived.length) {
      list.append(el("div", {class: "category"}, "Archived threads"));
      for (const t of archived) entry(t.id, "🗄", t.name, " thread");
    }
  }

  function visible(msg) {
    return !msg.ephemeral_for || msg.ephemeral_for === state.me;
  }

  function welcomeCard() {
    const bot = state.world.bot.name;
    return el("div", {class: "welcome"},
      el("h2", {}, `Welcome to the ${bot} playground`),
      el("div", {}, `This is a fake Discord server on your machine. ${bot} is the real bot, connected to it; its editor is the `,
        el("strong", {}, state.world.backend_info?.label || state.world.backend),
        state.world.backend_info?.detail ? ` (${state.world.backend_info.detail})` : "", "."),
      el("ol", {html: [
        "Type <code>/project name:Beach trip</code> here (or drop a video clip into this channel).",
        "Open the new thread on the left.",
        "Drop a clip into it, or click <strong>+</strong>.",
        "Ask: <code>add lo-fi music and the title \"Summer\"</code> — or in Chinese: <code>加点欢快的音乐</code>.",
        "Run <code>/export</code> and play the link.",
      ].map((t) => `<li>${t}</li>`).join("")}));
  }

  // ------------------------------------------------------------------ scrolling: stay at the bottom
  // Like Discord: sending jumps to the bottom, and while the reader is at the bottom new content keeps it
  // there, also when a video or image preview grows after layout (its height is known only once its
  // metadata loads). Scrolling up unpins; "Jump to present" (or scrolling back down) pins again.
  const PIN_DISTANCE = 48;
  const distanceFromBottom = (box) => box.scrollHeight - box.scrollTop - box.clientHeight;
  function toBottom() {
    const box = $("#messages");
    box.scrollTop = box.scrollHeight;
    state.pinned = true;
    state.pinnedTop = box.scrollTop;
    $("#jump").hidden = true;
  }
  // Scroll events come a frame late: a reader who just scrolled up is already unpinned when content
  // arrives in that frame. Growth below never moves scrollTop up, so this cannot unpin by mistake.
  function pinned() {
    const box = $("#messages");
    if (state.pinned && box.scrollTop < state.pinnedTop - 1 && distanceFromBottom(box) >= PIN_DISTANCE) {
      state.pinned = false;
    }
    return state.pinned;
  }
  const sizes = new ResizeObserver(() => { if (pinned() && !$("#messages").hidden) toBottom(); });
  // A preview's height is known when its media loads. ResizeObserver reports that at the next frame,
  // which a backgrounded tab may not draw for a while; the load events themselves come at once (they do
  // not bubble, so they are caught on the way down).
  for (const type of ["loadedmetadata", "load"]) {
    $("#messages").addEventListener(type, () => { if (pinned() && !$("#messages").hidden) toBottom(); }, true);
  }
  function watchSize(node) { sizes.observe(node); return node; }
  $("#messages").addEventListener("scroll", (e) => {
    state.pinned = distanceFromBottom(e.currentTarget) < PIN_DISTANCE;
    if (state.pinned) {
      state.pinnedTop = e.currentTarget.scrollTop;
      $("#jump").hidden = true;
    }
  });
  $("#jump").addEventListener("click", toBottom);
  function newBelow() {
    $("#jump").hidden = false;
  }

  function renderMessages(opts = {}) {
    const box = $("#messages");
    const follow = opts.scroll || pinned();  // before the list is emptied (that resets scrollTop)
    sizes.disconnect();
    sizes.observe(box);
    box.replaceChildren();
    const here = place(state.current);
    if (!here) return;
    if (state.current === state.world.default_channel_id) box.append(welcomeCard());
    const items = (byChannel().get(state.current) || []).filter(visible);
    const notices = state.notices.filter((n) => n.channel_id === state.current);
    const merged = [...items.map((m) => ({at: m.created_at, node: () => renderMessage(m)})),
      ...notices.map((n) => ({at: n.at, node: () => el("div", {class: `system ${n.kind || ""}`}, n.text)}))];
    merged.sort((a, b) => a.at - b.at);
    for (const item of merged) box.append(watchSize(item.node()));
    if (!items.length && state.current !== state.world.default_channel_id) {
      box.append(el("div", {class: "system"}, "No messages yet."));
    }
    if (follow) toBottom();
  }

  function upsertMessageNode(msg, isNew) {
    const box = $("#messages");
    const old = box.querySelector(`.message[data-id="${msg.id}"]`);
    if (!visible(msg)) { old?.remove(); return; }
    const follow = pinned();
    const node = watchSize(renderMessage(msg));
    if (old) {
      sizes.unobserve(old);
      old.replaceWith(node);
      node.classList.add("flash");
    } else {
      const later = [...box.querySelectorAll(".message[data-id]")].find((n) => cmpId(n.dataset.id, msg.id) > 0);
      if (later) later.before(node); else box.append(node);
      if (isNew && msg.author.bot) node.classList.add("flash");
    }
    if (isNew && msg.author.id === state.me) toBottom();  // your own message: always shown, as in Discord
    else if (follow) toBottom();
    else if (isNew) newBelow();
  }

  function renderForum() {
    const posts = $("#forum-posts");
    posts.replaceChildren();
    const all = byChannel();
    const threads = state.world.threads.filter((t) => t.parent_id === state.current).sort(cmpId).reverse();
    if (!threads.length) posts.append(el("div", {class: "muted"}, "No posts yet: a new post here becomes a project."));
    for (const t of threads) {
      const msgs = all.get(t.id) || [];
      const last = msgs.filter(visible).at(-1);
      posts.append(el("button", {type: "button", class: "forum-post", "data-id": t.id, onclick: () => go(t.id)},
        el("div", {class: "title"}, t.name),
        el("div", {}, t.tags.map((tag) => el("span", {class: "forum-tag"}, tag))),
        el("div", {class: "preview"}, last ? `${last.author.name}: ${last.content || "(attachment)"}` : ""),
        el("div", {class: "muted"}, `${msgs.length} message${msgs.length === 1 ? "" : "s"}`)));
    }
  }

  function renderHeader() {
    const here = place(state.current);
    const isForum = here?.type === "forum";
    const isThread = !!thread(state.current);
    $("#channel-icon").textContent = isForum ? "💬" : isThread ? "🧵" : "#";
    $("#channel-title").textContent = here ? here.name : "…";
    let subtitle = "";
    if (isThread) {
      const parent = channel(here.parent_id);
      subtitle = `in ${parent?.type === "forum" ? "💬" : "#"}${parent?.name ?? "?"}${here.archived ? " · archived" : ""}`;
    } else if (isForum) subtitle = "Each new post becomes a Cutaway project";
    else if (here) subtitle = "Project channel: /project here, or drop a clip to start one";
    $("#channel-subtitle").textContent = subtitle;
    renderBackend();
    $("#messages").hidden = isForum;
    $("#forum-view").hidden = !isForum;
    $("#composer").hidden = isForum;
    const me = user(state.me);
    $("#input").placeholder = here && !isForum ? `Message ${isThread ? "" : "#"}${here.name} as ${me?.name ?? "?"} — / for commands` : "";
    document.title = here ? `${isThread ? "" : "#"}${here.name} · Cutaway playground` : "Cutaway playground";
  }

  // Which editor the bot talks to, always in view: a person must know whether an export is real.
  function renderBackend() {
    const info = state.world?.backend_info;
    const badge = $("#backend-badge");
    badge.hidden = !info;
    if (!info) return;
    badge.className = `backend-badge ${info.kind}`;
    badge.dataset.kind = info.kind;
    badge.textContent = `Backend: ${info.label}${info.note ? ` · ${info.note}` : ""}`;
    badge.title = info.detail || "";
  }

  function renderTyping() {
    const box = $("#typing");
    box.replaceChildren();
    if (state.typing.has(state.current)) {
      box.append(el("strong", {}, state.world.bot.name), " is typing", el("span", {class: "dots"}));
    }
  }

  function renderAll(opts = {}) {
    if (!state.world) return;
    renderSidebar();
    renderHeader();
    if (place(state.current)?.type === "forum") renderForum(); else renderMessages(opts);
    renderTyping();
    renderPending();
  }

  function go(id) {
    if (!place(id)) return;
    state.current = id;
    state.unread.delete(id);
    history.replaceState(null, "", `#${id}`);
    closeMenu();
    renderAll({scroll: true});
    if (place(id).type === "forum") $("#forum-title").focus(); else $("#input").focus();
  }

  // ------------------------------------------------------------------ live updates
  function applyEvent(event) {
    switch (event.type) {
      case "world": {
        state.world = event.world;
        renderUsers();
        if (!place(state.current)) { state.current = state.world.default_channel_id; return "all"; }
        return "frame";
      }
      case "message": {
        const msg = event.message;
        const isNew = !state.messages.has(msg.id);
        state.messages.set(msg.id, msg);
        if (msg.author.bot) {
          clearTimeout(state.typing.get(msg.channel_id));
          state.typing.delete(msg.channel_id);
        }
        if (msg.channel_id === state.current) {
          if (place(state.current)?.type !== "forum") upsertMessageNode(msg, isNew);
          return "typing";
        }
        if (isNew && visible(msg)) state.unread.set(msg.channel_id, (state.unread.get(msg.channel_id) || 0) + 1);
        return "sidebar";
      }
      case "delete":
        state.messages.delete(event.id);
        if (event.channel_id === state.current) $(`#messages .message[data-id="${event.id}"]`)?.remove();
        return null;
      case "typing": {
        clearTimeout(state.typing.get(event.channel_id));
        state.typing.set(event.channel_id, setTimeout(() => { state.typing.delete(event.channel_id); renderTyping(); }, 9000));
        return "typing";
      }
      case "modal":
        if (event.user_id === state.me) openModal(event);
        return null;
      case "no_response":
        if (event.user_id === state.me) {
          state.notices.push({channel_id: event.channel_id, text: "❗ The application did not respond", at: Date.now(), kind: "error"});
          return "all";
        }
        return null;
      default:
        return null;
    }
  }

  function applyBatch(events) {
    let need = new Set();
    for (const event of events) need.add(applyEvent(event));
    if (need.has("all")) { renderAll(); return; }
    if (need.has("frame")) { renderHeader(); renderPending(); }
    if (need.has("frame") || need.has("sidebar")) renderSidebar();
    if (need.has("frame") || need.has("typing")) renderTyping();
    if (place(state.current)?.type === "forum") renderForum();
  }

  let retry = 500;
  function connect() {
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/ws`);
    ws.onmessage = (e) => {
      const data = JSON.parse(e.data);
      if (data.type === "hello") {
        retry = 500;
        state.world = data.world;
        state.messages = new Map(data.messages.map((m) => [m.id, m]));
        renderUsers();
        const wanted = location.hash.slice(1);
        if (!place(state.current)) state.current = place(wanted) ? wanted : state.world.default_channel_id;
        setConnection(true);
        renderAll({scroll: true});
      } else if (data.type === "batch") {
        applyBatch(data.events);
      }
    };
    ws.onclose = () => {
      setConnection(false);
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 5000);
    };
  }
  function setConnection(ok) {
    const node = $("#connection");
    node.className = ok ? "ok" : "down";
    node.textContent = ok ? "connected" : "disconnected — retrying… (is the playground still running?)";
    document.body.dataset.connected = ok ? "yes" : "no";
  }
  function renderUsers() {
    const select = $("#user-select");
    const users = state.world.users;
    if (!state.me || !users.some((u) => u.id === state.me)) {
      const saved = localStorage.getItem("playground.user");
      state.me = (users.find((u) => u.name === saved) || users[0])?.id || null;
    }
    select.replaceChildren(...users.map((u) => el("option", {value: u.id, selected: u.id === state.me}, u.name)));
    $("#guild-name").textContent = state.world.guild.name;
  }

  // ------------------------------------------------------------------ actions
  async function useComponent(msg, customId, values) {
    try {
      await api("/api/components", {message_id: msg.id, custom_id: customId, values, user: state.me, locale: state.locale});
    } catch (err) { toast(err.message); }
  }
  async function react(msg, emoji) {
    try { await api("/api/reactions", {message_id: msg.id, emoji, user: state.me}); } catch (err) { toast(err.message); }
  }

  async function addFiles(files) {
    for (const file of files) {
      const item = {key: Math.random().toString(36).slice(2), name: file.name, size: file.size, id: null};
      state.pending.push(item);
      renderPending();
      const form = new FormData();
      form.append("file", file, file.name);
      try {
        const data = await api("/api/attachments", form);
        item.id = data.attachments[0].id;
      } catch (err) {
        state.pending = state.pending.filter((p) => p !== item);
        toast(`${file.name}: ${err.message}`);
      }
      renderPending();
    }
  }
  function renderPending() {
    for (const box of [$("#pending-files"), $("#forum-pending")]) {
      box.replaceChildren(...state.pending.map((p) => el("div", {class: `pending-file${p.id ? "" : " uploading"}`, "data-name": p.name},
        videoLike(p.name) ? "🎬" : "📄", ` ${p.name} `, el("span", {class: "muted"}, p.id ? size(p.size) : "uploading…"),
        el("button", {type: "button", title: "Remove", onclick: () => { state.pending = state.pending.filter((x) => x !== p); renderPending(); }}, "✕"))));
    }
  }
  function takePending() {
    if (state.pending.some((p) => !p.id)) throw new Error("Wait for the upload to finish");
    const ids = state.pending.map((p) => p.id);
    state.pending = [];
    renderPending();
    return ids;
  }

  async function send() {
    const input = $("#input");
    const text = input.value;
    if (text.startsWith("/") && runCommandText(text)) return;
    if (!text.trim() && !state.pending.length) return;
    try {
      const attachments = takePending();
      input.value = "";
      autosize();
      closeMenu();
      toBottom();
      await api("/api/messages", {channel_id: state.current, content: text, user: state.me, attachments});
    } catch (err) { toast(err.message); }
  }

  async function postForum(event) {
    event.preventDefault();
    const title = $("#forum-title").value.trim();
    if (!title) { toast("A forum post needs a title"); return; }
    try {
      const attachments = takePending();
      const data = await api("/api/forum-posts", {forum_id: state.current, title, content: $("#forum-content").value,
        user: state.me, attachments});
      $("#forum-title").value = "";
      $("#forum-content").value = "";
      setTimeout(() => go(data.thread_id), 0);
    } catch (err) { toast(err.message); }
  }

  // ------------------------------------------------------------------ slash commands
  function commandEntries() {
    const entries = [];
    for (const cmd of state.world?.commands || []) {
      const subs = (cmd.options || []).filter((o) => o.type === 1 || o.type === 2);
      if (!subs.length) { entries.push({path: cmd.name, def: cmd, options: cmd.options || []}); continue; }
      for (const sub of subs) {
        if (sub.type === 1) entries.push({path: `${cmd.name} ${sub.name}`, def: sub, options: sub.options || []});
        else for (const leaf of sub.options || []) entries.push({path: `${cmd.name} ${sub.name} ${leaf.name}`, def: leaf, options: leaf.options || []});
      }
    }
    return entries;
  }
  function matchEntry(text) {
    const body = text.slice(1);
    return commandEntries().filter((e) => body === e.path || body.startsWith(`${e.path} `))
      .sort((a, b) => b.path.length - a.path.length)[0] || null;
  }
  function parseOptions(entry, rest) {
    const names = entry.options.map((o) => o.name);
    const result = {};
    if (!rest.trim()) return result;
    const re = new RegExp(`(?:^|\\s)(${names.map((n) => n.replace(/[-]/g, "\\-")).join("|")}):`, "g");
    const marks = [...rest.matchAll(re)];
    if (!marks.length) {
      const first = entry.options.find((o) => [3, 4, 10].includes(o.type));
      if (first) result[first.name] = rest.trim();   // "/project Beach trip": the first text option
      return result;
    }
    marks.forEach((m, i) => {
      const start = m.index + m[0].length;
      const end = i + 1 < marks.length ? marks[i + 1].index : rest.length;
      result[m[1]] = rest.slice(start, end).trim();
    });
    return result;
  }
  function typed(option, raw) {
    const value = String(raw).trim();
    switch (option.type) {
      case 4: { const n = Number(value); if (!Number.isInteger(n)) throw new Error(`${option.name} must be a whole number`); return n; }
      case 10: { const n = Number(value); if (Number.isNaN(n)) throw new Error(`${option.name} must be a number`); return n; }
      case 5: return /^(true|yes|1|on)$/i.test(value);
      case 6: case 9: {
        const u = state.world.users.find((x) => x.id === value || x.name === value.replace(/^@/, "") || `<@${x.id}>` === value);
        if (!u) throw new Error(`${option.name}: no user called ${value}`);
        return u.id;
      }
      case 7: {
        const name = value.replace(/^#/, "");
        const c = [...state.world.channels, ...state.world.threads].find((x) => x.id === value || x.name === name);
        if (!c) throw new Error(`${option.name}: no channel called ${value}`);
        return c.id;
      }
      default: {
        const choice = (option.choices || []).find((c) => c.name === value || String(c.value) === value);
        return choice ? choice.value : value;
      }
    }
  }
  function runCommandText(text) {
    const entry = matchEntry(text.trim());
    if (!entry) {
      const menu = filteredMenu(text);
      if (menu.length) { pickCommand(menu[Math.min(state.menuIndex, menu.length - 1)]); return true; }
      toast(`Unknown command ${text.split(/\s/)[0]}`);
      return true;
    }
    const raw = parseOptions(entry, text.trim().slice(entry.path.length + 1));
    const options = {};
    try {
      for (const [name, value] of Object.entries(raw)) {
        const option = entry.options.find((o) => o.name === name);
        if (option && value !== "") options[name] = typed(option, value);
      }
      const fileOption = entry.options.find((o) => o.type === 11);
      if (fileOption && !(fileOption.name in options) && state.pending.length) {
        options[fileOption.name] = {id: takePending()[0]};
      }
      const missing = entry.options.filter((o) => o.required && !(o.name in options)).map((o) => o.name);
      if (missing.length) { toast(`/${entry.path} needs ${missing.map((m) => `${m}:`).join(" ")}`); return true; }
    } catch (err) { toast(err.message); return true; }
    $("#input").value = "";
    autosize();
    closeMenu();
    toBottom();
    api("/api/slash", {channel_id: state.current, command: entry.path, options, user: state.me, locale: state.locale})
      .catch((err) => toast(err.message));
    return true;
  }
  function filteredMenu(text) {
    const query = text.slice(1).toLowerCase();
    return commandEntries().filter((e) => e.path.startsWith(query.split(" ")[0]) && (query === "" || !query.includes(" ") || e.path.startsWith(query.trimEnd())))
      .sort((a, b) => a.path.localeCompare(b.path));
  }
  function optionLabel(o) {
    const kinds = {3: "text", 4: "integer", 5: "true/false", 6: "user", 7: "channel", 8: "role", 9: "mentionable", 10: "number", 11: "file"};
    return `${o.name}: ${kinds[o.type] || "value"}`;
  }
  function updateMenu() {
    const text = $("#input").value;
    const menu = $("#command-menu");
    const hint = $("#command-hint");
    if (!text.startsWith("/") || !state.world) { closeMenu(); return; }
    const entry = matchEntry(text);
    if (entry && text.length > entry.path.length + 1) {
      menu.hidden = true;
      hint.hidden = false;
      hint.replaceChildren(el("strong", {}, `/${entry.path}`), el("span", {}, localized(entry.def, "description")),
        ...entry.options.map((o) => el("button", {type: "button", class: `opt-chip${o.required ? " required" : ""}`,
          title: localized(o, "description") + ((o.choices || []).length ? ` (${o.choices.map((c) => c.name).join(", ")})` : ""),
          onclick: () => { const i = $("#input"); i.value = `${i.value.trimEnd()} ${o.name}:`; i.focus(); updateMenu(); }},
        optionLabel(o))),
        el("span", {class: "muted"}, "— Enter to run"));
      return;
    }
    const entries = filteredMenu(text);
    hint.hidden = true;
    if (!entries.length) { menu.hidden = true; return; }
    state.menuIndex = Math.min(state.menuIndex, entries.length - 1);
    menu.hidden = false;
    menu.replaceChildren(...entries.map((e, i) => el("div", {class: `command-item${i === state.menuIndex ? " selected" : ""}`,
      role: "option", "data-command": e.path, onmousedown: (ev) => { ev.preventDefault(); pickCommand(e); }},
      el("span", {class: "cmd-name"}, `/${e.path}`),
      el("span", {class: "cmd-opts"}, e.options.map((o) => (o.required ? o.name : `[${o.name}]`)).join(" ")),
      el("span", {class: "cmd-desc"}, localized(e.def, "description")))));
  }
  function pickCommand(entry) {
    const input = $("#input");
    const first = entry.options[0];
    input.value = `/${entry.path} ${first && first.required ? `${first.name}:` : ""}`;
    state.menuIndex = 0;
    updateMenu();
    input.focus();
  }
  function closeMenu() {
    $("#command-menu").hidden = true;
    $("#command-hint").hidden = true;
    state.menuIndex = 0;
  }

  // ------------------------------------------------------------------ modals
  function openModal(event) {
    const modal = event.modal;
    const fields = $("#modal-fields");
    $("#modal-title").textContent = modal.title || "";
    const inputs = [];
    const field = (comp, label) => {
      const attrs = {"data-custom-id": comp.custom_id, placeholder: comp.placeholder || "", required: !!comp.required,
        maxlength: comp.max_length || null};
      const input = comp.style === 2 ? el("textarea", {...attrs, rows: 4}, comp.value || "") : el("input", {...attrs, value: comp.value || ""});
      inputs.push(input);
      return el("label", {}, label || comp.label || comp.custom_id, input);
    };
    const nodes = [];
    for (const row of modal.components || []) {
      if (row.type === 1) for (const comp of row.components || []) { if (comp.type === 4) nodes.push(field(comp)); }
      else if (row.type === 18 && row.component?.type === 4) nodes.push(field(row.component, row.label));
      else if (row.type === 10) nodes.push(el("div", {class: "content", html: md(row.content)}));
    }
    fields.replaceChildren(...nodes);
    $("#modal-backdrop").hidden = false;
    inputs[0]?.focus();
    $("#modal").onsubmit = async (e) => {
      e.preventDefault();
      const values = Object.fromEntries(inputs.map((i) => [i.dataset.customId, i.value]));
      $("#modal-backdrop").hidden = true;
      try { await api("/api/modals", {interaction_id: event.interaction_id, values, user: state.me, locale: state.locale}); }
      catch (err) { toast(err.message); }
    };
  }

  // ------------------------------------------------------------------ wiring
  function autosize() {
    const input = $("#input");
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
  }

  $("#composer").addEventListener("submit", (e) => { e.preventDefault(); send(); });
  $("#input").addEventListener("input", () => { state.menuIndex = 0; autosize(); updateMenu(); });
  $("#input").addEventListener("keydown", (e) => {
    const menuOpen = !$("#command-menu").hidden;
    if (menuOpen && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
      e.preventDefault();
      const count = $("#command-menu").children.length;
      state.menuIndex = (state.menuIndex + (e.key === "ArrowDown" ? 1 : count - 1)) % count;
      updateMenu();
    } else if (menuOpen && e.key === "Tab") {
      e.preventDefault();
      const entries = filteredMenu($("#input").value);
      if (entries.length) pickCommand(entries[state.menuIndex]);
    } else if (e.key === "Escape") {
      closeMenu();
    } else if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      send();
    }
  });
  $("#commands-button").addEventListener("click", () => {
    const input = $("#input");
    if (!input.value.startsWith("/")) input.value = "/";
    input.focus();
    updateMenu();
  });
  for (const button of document.querySelectorAll(".attach")) button.addEventListener("click", () => $("#file-input").click());
  $("#file-input").addEventListener("change", (e) => { addFiles([...e.target.files]); e.target.value = ""; });
  $("#forum-form").addEventListener("submit", postForum);
  $("#modal-cancel").addEventListener("click", () => { $("#modal-backdrop").hidden = true; });
  $("#user-select").addEventListener("change", (e) => {
    state.me = e.target.value;
    localStorage.setItem("playground.user", user(state.me)?.name || "");
    renderAll();
  });
  $("#locale-select").value = state.locale;
  $("#locale-select").addEventListener("change", (e) => {
    state.locale = e.target.value;
    localStorage.setItem("playground.locale", state.locale);
    updateMenu();
    renderAll();
  });
  document.addEventListener("click", (e) => {
    const target = e.target.closest("[data-goto]");
    if (target) go(target.dataset.goto);
    const spoiler = e.target.closest(".spoiler");
    if (spoiler) spoiler.classList.toggle("shown");
  });
  let drag = 0;
  window.addEventListener("dragenter", (e) => { if (e.dataTransfer?.types.includes("Files")) { drag++; $("#drop-overlay").hidden = false; } });
  window.addEventListener("dragleave", () => { drag = Math.max(0, drag - 1); if (!drag) $("#drop-overlay").hidden = true; });
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => {
    e.preventDefault();
    drag = 0;
    $("#drop-overlay").hidden = true;
    if (e.dataTransfer?.files.length) addFiles([...e.dataTransfer.files]);
  });

  connect();
})();
