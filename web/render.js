// Safe rendering of chat text. Every piece of user or bot text becomes a text node (textContent or
// createTextNode); the only elements made are fixed ones (p, br, ul, ol, li, a, div, section,
// details, summary), and a link is made only for an http(s) URL or the 12345 hotline (tel:). No
// text is ever parsed as HTML, so it can never become markup.
//
// Two kinds of bot message:
// - a Tongban answer: a typed Reply (tongban/reply.schema.json), rendered by renderReply from its
//   fields; its plain-text fallback is not used and no prose is parsed;
// - any other message (greeting, prompts, refusals, failures): plain text, by appendBlocks.

// A URL runs until whitespace, a quote or angle bracket, or Chinese punctuation (。，、（）《》 …).
const URL_PATTERN =
  /https?:\/\/[^\s<>"'\u3000-\u303f\uff00-\uffef\u2018\u2019\u201c\u201d]+/g;
const TRAILING_PUNCTUATION = /[.,;:!?)\]}'"]+$/;
// The hotline, not as part of a longer number or code (e.g. an application number).
export const HOTLINE = "12345";
const HOTLINE_PATTERN = /(?<![0-9A-Za-z])12345(?![0-9])/g;

const BULLET = /^\s*[・•·●▪\-*]\s*(.*)$/;
const NUMBERED = /^\s*(?:(\d{1,3})[.．、](?!\d)|[（(](\d{1,3})[)）]|\[(\d{1,3})\]|(\d{1,3})[)）])\s*(.*)$/;

/** The http(s) URL a piece of text names, or null. */
export function safeUrl(text) {
  if (typeof text !== "string" || !text) return null;
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

/** A tel: link to the 12345 hotline, showing the number. */
export function hotlineLink(text = HOTLINE) {
  const link = document.createElement("a");
  link.href = `tel:${HOTLINE}`;
  link.className = "hotline";
  link.textContent = text;
  return link;
}

/** Append text to `parent`, with every "12345" as a tel: link (text nodes split, no markup). */
export function appendText(parent, text) {
  let last = 0;
  for (const match of text.matchAll(HOTLINE_PATTERN)) {
    if (match.index > last) parent.append(document.createTextNode(text.slice(last, match.index)));
    parent.append(hotlineLink());
    last = match.index + match[0].length;
  }
  if (last < text.length) parent.append(document.createTextNode(text.slice(last)));
}

/** Append text to `parent`: http(s) URLs as links that open in a new tab, 12345 as tel: links. */
export function appendLinkified(parent, text) {
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    let raw = match[0];
    const trailing = raw.match(TRAILING_PUNCTUATION);
    if (trailing) raw = raw.slice(0, raw.length - trailing[0].length);
    const href = safeUrl(raw);
    if (!href) continue;
    if (match.index > last) appendText(parent, text.slice(last, match.index));
    parent.append(externalLink(href, raw));
    last = match.index + raw.length;
  }
  if (last < text.length) appendText(parent, text.slice(last));
}

function externalLink(href, text) {
  const link = document.createElement("a");
  link.href = href;
  link.textContent = text;
  link.target = "_blank";
  link.rel = "noopener noreferrer";
  return link;
}

/**
 * Plain text as blocks: paragraphs (lines joined by line breaks, blank lines between paragraphs),
 * "・" bullet lines as a list, and "1." / "1、" / "（1）" / "[1]" lines as a numbered list.
 */
export function appendBlocks(parent, text) {
  let paragraph = null;
  let list = null;
  for (const line of text.replace(/\r\n?/g, "\n").split("\n")) {
    if (!line.trim()) {
      paragraph = null;
      list = null;
      continue;
    }
    const bullet = line.match(BULLET);
    const numbered = bullet ? null : line.match(NUMBERED);
    if (bullet || numbered) {
      paragraph = null;
      const kind = bullet ? "UL" : "OL";
      if (!list || list.tagName !== kind) {
        list = document.createElement(kind.toLowerCase());
        parent.append(list);
      }
      const item = document.createElement("li");
      if (numbered) {
        const number = Number(numbered[1] || numbered[2] || numbered[3] || numbered[4]);
        if (Number.isFinite(number)) item.value = number;
      }
      appendLinkified(item, bullet ? bullet[1] : numbered[5]);
      list.append(item);
      continue;
    }
    list = null;
    if (paragraph) {
      paragraph.append(document.createElement("br"));
    } else {
      paragraph = document.createElement("p");
      parent.append(paragraph);
    }
    appendLinkified(paragraph, line);
  }
}

// ---------------------------------------------------------------- the typed Reply ---------------

const strings = (value) => (Array.isArray(value) ? value.filter((s) => typeof s === "string") : []);

/** A section of a Reply ({kind, title, items}) if it is usable, else null. */
function cleanSection(section) {
  if (!section || typeof section !== "object") return null;
  const items = strings(section.items).filter((s) => s.trim());
  if (!items.length) return null;
  return {
    kind: typeof section.kind === "string" ? section.kind : "",
    title: typeof section.title === "string" ? section.title : "",
    items,
  };
}

/** 2025-04-06 -> 2025年4月6日; 2020-12 -> 2020年12月; 2020 -> 2020年 (as tongban/reply.py). */
export function formatSourceDate(value) {
  if (typeof value !== "string") return "";
  const parts = value
    .split("-")
    .filter((p) => /^\d+$/.test(p))
    .map(Number);
  if (parts.length === 3) {
    const [year, month, day] = parts;
    const date = new Date(Date.UTC(year, month - 1, day));
    date.setUTCFullYear(year); // years below 100 too
    const valid =
      date.getUTCFullYear() === year &&
      date.getUTCMonth() === month - 1 &&
      date.getUTCDate() === day;
    return valid && year >= 1 ? `${year}年${month}月${day}日` : value;
  }
  if (parts.length === 2) return `${parts[0]}年${parts[1]}月`;
  return parts.length ? `${parts[0]}年` : value;
}

/** A source's citation: 《title》（ref，issuer，date）, "转载来源：" first for a repost. */
export function citation(source) {
  const text = (key) => (typeof source[key] === "string" ? source[key] : "");
  const [title, issuer, ref] = [text("title"), text("issuer"), text("ref")];
  const refPart = ref && ref !== title && ref !== issuer ? `${ref}，` : "";
  const cited = `《${title}》（${refPart}${issuer}，${formatSourceDate(text("date"))}）`;
  return source.repost ? `转载来源：${cited}` : cited;
}

/** The link a source may have: its own http(s) url, never for a repost. */
export function sourceHref(source) {
  return source && !source.repost ? safeUrl(source.url) : null;
}

function sectionBlock(section, className) {
  const block = document.createElement("div");
  block.className = className;
  if (section.title) {
    const title = document.createElement("p");
    title.className = "section-title";
    appendText(title, section.title);
    block.append(title);
  }
  const list = document.createElement(section.kind === "steps" ? "ol" : "ul");
  for (const text of section.items) {
    const item = document.createElement("li");
    appendText(item, text);
    list.append(item);
  }
  block.append(list);
  return block;
}

function sourcesBlock(sources) {
  const section = document.createElement("section");
  section.className = "sources";
  section.setAttribute("aria-label", "信息来源");
  const title = document.createElement("p");
  title.className = "section-title sources-title";
  title.textContent = "来源";
  const list = document.createElement("ul");
  list.className = "source-list";
  for (const source of sources) {
    const item = document.createElement("li");
    item.className = source.repost ? "source repost" : "source";
    const text = citation(source);
    const href = sourceHref(source);
    if (href) item.append(externalLink(href, text));
    else item.textContent = text;
    list.append(item);
  }
  section.append(title, list);
  return section;
}

/** The usable parts of a Reply: what renderReply shows and the announcer reads. */
export function replyParts(reply) {
  const data = reply && typeof reply === "object" ? reply : {};
  return {
    lead: typeof data.lead === "string" ? data.lead : "",
    body: cleanSection(data.body),
    sections: (Array.isArray(data.sections) ? data.sections : []).map(cleanSection).filter(Boolean),
    sources: (Array.isArray(data.sources) ? data.sources : []).filter(
      (s) => s && typeof s === "object" && typeof s.title === "string",
    ),
  };
}

/**
 * Render a Reply into `bubble`: the lead, the body as a short list under its title, then the
 * sections and sources in a <details> element, open when `expanded`.
 */
export function renderReply(bubble, reply, expanded) {
  const { lead, body, sections, sources } = replyParts(reply);
  const root = document.createElement("div");
  root.className = "reply";
  if (lead) {
    const paragraph = document.createElement("p");
    paragraph.className = "lead";
    appendText(paragraph, lead);
    root.append(paragraph);
  }
  if (body) root.append(sectionBlock(body, "body"));
  if (sections.length || sources.length) {
    const details = document.createElement("details");
    details.className = "details";
    details.open = Boolean(expanded);
    const summary = document.createElement("summary");
    summary.textContent = !sources.length ? "详情" : sections.length ? "详情和来源" : "来源";
    details.append(summary);
    for (const section of sections) details.append(sectionBlock(section, "section"));
    if (sources.length) details.append(sourcesBlock(sources));
    root.append(details);
  }
  bubble.append(root);
  return root;
}

/** What the live region reads for a Reply: the lead and the body, not the details. */
export function replySpeech(reply) {
  const { lead, body } = replyParts(reply);
  const lines = [lead];
  if (body) lines.push(`${body.title ? `${body.title}：` : ""}${body.items.join("；")}`);
  return lines.filter(Boolean).join("\n");
}

/**
 * Render the parts of one bot answer into `bubble`: each part either plain text ({text}, or a
 * string as stored by older pages) or a Reply ({reply, expanded}).
 */
export function renderBotParts(bubble, parts) {
  bubble.replaceChildren();
  for (const part of parts) {
    const block = document.createElement("div");
    block.className = "part";
    if (part && typeof part === "object" && part.reply && typeof part.reply === "object") {
      renderReply(block, part.reply, part.expanded);
    } else {
      const text = partText(part);
      if (!text) continue;
      appendBlocks(block, text);
    }
    bubble.append(block);
  }
}

/** The text of a plain part: {text}, or a string as stored by older pages. */
function partText(part) {
  if (typeof part === "string") return part;
  return part && typeof part.text === "string" ? part.text : "";
}

/** What the live region reads for the parts of one answer. */
export function partsSpeech(parts) {
  return parts
    .map((part) => (part && part.reply ? replySpeech(part.reply) : partText(part)))
    .filter(Boolean)
    .join("\n");
}

/** A user's message: plain text, line breaks kept by CSS (white-space: pre-wrap). */
export function renderUserText(bubble, text) {
  bubble.textContent = text;
}
