// Safe rendering of chat text. Every piece of user or bot text becomes a text node (textContent or
// createTextNode); the only elements made are fixed ones (p, br, ul, ol, li, a, section), and a link
// is made only for an http(s) URL. No text is ever parsed as HTML, so it can never become markup.

// A URL runs until whitespace, a quote or angle bracket, or Chinese punctuation (。，、（）《》 …).
const URL_PATTERN =
  /https?:\/\/[^\s<>"'\u3000-\u303f\uff00-\uffef\u2018\u2019\u201c\u201d]+/g;
const TRAILING_PUNCTUATION = /[.,;:!?)\]}'"]+$/;

const BULLET = /^\s*[・•·●▪\-*]\s*(.*)$/;
const NUMBERED = /^\s*(?:(\d{1,3})[.．、](?!\d)|[（(](\d{1,3})[)）]|\[(\d{1,3})\]|(\d{1,3})[)）])\s*(.*)$/;
const SOURCES_START = /^\s*来源[：:]/;

/** The http(s) URL a piece of text names, or null. */
export function safeUrl(text) {
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

/** Append text to `parent`, with http(s) URLs as links that open in a new tab. */
export function appendLinkified(parent, text) {
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    let raw = match[0];
    const trailing = raw.match(TRAILING_PUNCTUATION);
    if (trailing) raw = raw.slice(0, raw.length - trailing[0].length);
    const href = safeUrl(raw);
    if (!href) continue;
    if (match.index > last) parent.append(document.createTextNode(text.slice(last, match.index)));
    const link = document.createElement("a");
    link.href = href;
    link.textContent = raw;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    parent.append(link);
    last = match.index + raw.length;
  }
  if (last < text.length) parent.append(document.createTextNode(text.slice(last)));
}

/**
 * Text as blocks: paragraphs (lines joined by line breaks, blank lines between paragraphs),
 * "・" bullet lines as a list, and "1." / "1、" / "（1）" / "[1]" lines as a numbered list.
 */
export function appendBlocks(parent, text) {
  let paragraph = null;
  let list = null;
  const endParagraph = () => {
    paragraph = null;
  };
  for (const line of text.replace(/\r\n?/g, "\n").split("\n")) {
    if (!line.trim()) {
      endParagraph();
      list = null;
      continue;
    }
    const bullet = line.match(BULLET);
    const numbered = bullet ? null : line.match(NUMBERED);
    if (bullet || numbered) {
      endParagraph();
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

/** Split a bot message into its answer and its sources (from a line starting "来源：" on). */
export function splitSources(text) {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const start = lines.findIndex((line) => SOURCES_START.test(line));
  if (start < 0) return { main: text, sources: null };
  const sourceLines = lines.slice(start);
  sourceLines[0] = sourceLines[0].replace(SOURCES_START, "");
  return { main: lines.slice(0, start).join("\n").trim(), sources: sourceLines.join("\n").trim() };
}

/**
 * Render the parts of one bot answer into `bubble`: the answer text first, then one visually
 * separated "来源" section with every source the parts named.
 */
export function renderBotParts(bubble, parts) {
  bubble.replaceChildren();
  const sources = [];
  for (const part of parts) {
    const { main, sources: partSources } = splitSources(part);
    if (main) {
      const block = document.createElement("div");
      block.className = "part";
      appendBlocks(block, main);
      bubble.append(block);
    }
    if (partSources !== null) sources.push(partSources);
  }
  if (sources.length) {
    const section = document.createElement("section");
    section.className = "sources";
    section.setAttribute("aria-label", "信息来源");
    const title = document.createElement("p");
    title.className = "sources-title";
    title.textContent = "来源";
    section.append(title);
    for (const text of sources) if (text) appendBlocks(section, text);
    bubble.append(section);
  }
}

/** A user's message: plain text, line breaks kept by CSS (white-space: pre-wrap). */
export function renderUserText(bubble, text) {
  bubble.textContent = text;
}
