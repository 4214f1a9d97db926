// 通办助手 web chat: the page talks to Tongban's socket.io channel (same origin; see
// tongban/channels/socketio.py for the protocol) and posts 好差评 ratings to the webchat channel.
// The transcript lives in sessionStorage, so a reload in the same browser tab shows it again and goes
// on with the same conversation. No build step: plain ES module.
//
// - The server makes the session id (session_confirm); the page only sends back the one it was given.
// - Every user message has a client message id (its item id). Bot messages name it (reply_to) and
//   carry a server-signed message_id; the end of a turn is the ack of user_uttered or turn_done.
// - A message whose turn has not ended is sent again after a reconnect or reload, with the same id:
//   the server answers each id once and re-sends the same messages, which are shown once.
// - A Tongban answer is one bot message with the typed Reply ({"tongban": {"reply", "expanded"}},
//   tongban/reply.schema.json): the page renders the Reply and ignores the message's text. Other
//   messages (greeting, prompts, refusals, failures) are plain text with suggested questions.

import { HOTLINE, hotlineLink, partsSpeech, renderBotParts, renderUserText } from "./render.js";

const STORE_KEY = "tongban.webchat.v2";
const ELDER_KEY = "tongban.webchat.elder";
const MAX_ITEMS = 200;
const MAX_REASON = 500;
const SLOW_MS = 15000; // "still working" notice with the 12345 hotline
const ANSWER_TIMEOUT_MS = 60000; // a clear failure with a retry button
const FEEDBACK_URL = new URL("../feedback", import.meta.url);
const EMBEDDED = new URLSearchParams(location.search).has("embed");

const TEXT = {
  connecting: "正在连接通办助手……",
  reconnected: "已重新连接。",
  offline: "网络已断开。您输入的消息会保留，网络恢复后自动发送。",
  serverDown:
    "暂时连接不上通办助手服务器，正在自动重试。您输入的消息会保留，连接恢复后自动发送。" +
    "如急需办理，请拨打 12345 政务服务便民热线。",
  dropped: "与服务器的连接中断了，正在重新连接……您输入的消息会保留。",
  noSocketLib: "聊天组件没有加载完整，请刷新页面重试，或拨打 12345 政务服务便民热线。",
  pending: "等待发送",
  slowBefore: "这个问题需要的时间比平常长，通办助手还在处理，请稍候。如急需办理，请拨打 ",
  slowAfter: " 政务服务便民热线。",
  failedBefore: "暂时没有收到回复。您可以点“重新发送”再试一次，或拨打 ",
  failedAfter: " 政务服务便民热线。",
  failedAnnounce: "暂时没有收到回复，可以重新发送，或拨打 12345 政务服务便民热线。",
  retry: "重新发送",
  refused: "这条消息没有发送成功（内容无法识别），请修改后重新输入。",
  thanks: "感谢您的评价！",
  thanksReason: "已收到您的意见，谢谢！",
  rateFailed: "评价没有提交成功，请稍后再试。",
  botSays: "通办助手说：",
  agentName: "人工客服",
  handoffOffer: "问题没解决？转人工客服",
  handoffQueued: (ahead) =>
    `正在为您转接人工客服：${ahead > 0 ? `前面还有 ${ahead} 位` : "您是下一位"}。工作人员接入后会在这里回复您。`,
  handoffActive: "人工客服正在为您服务，请直接输入您的问题。",
};

// ---------------------------------------------------------------- state (sessionStorage) --------
// items: user messages {type: "user", id, text, payload, status, greeting?} where status is
// "pending" (to send), "sent" (its turn has not ended), "done", "failed" (no answer in time) or
// "refused"; and answers {type: "bot", id, replyTo, sessionId, messageIds, parts, quickReplies,
// rateId, rating, reasonSent, welcome}. A part is {text} (a plain message) or {reply, expanded}
// (a Tongban answer, re-rendered from here after a reload). rateId is the message id of an answer
// about an item, the only kind that can be rated. The greeting is a user item that is never shown
// ("/greet").

function loadState() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORE_KEY));
    if (saved && Array.isArray(saved.items)) return saved;
  } catch {
    // storage blocked or corrupt: start afresh
  }
  return { sessionId: null, greeted: false, items: [] };
}
// state.handoff: {state: "queued" | "active", position} while a person is asked for or serving;
// agents' messages are bot items with `agent` (a person's name) or `handoffStatus` (joined, ended).

const state = loadState();

function saveState() {
  if (state.items.length > MAX_ITEMS) state.items = state.items.slice(-MAX_ITEMS);
  try {
    sessionStorage.setItem(STORE_KEY, JSON.stringify(state));
  } catch {
    // private mode or full: the chat still works, only without history
  }
}

function newId() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Message ids of every answer shown: a bot message that comes again is not shown again. */
const seenMessageIds = new Set(
  state.items.filter((item) => item.type === "bot").flatMap((item) => item.messageIds || []),
);

function userItem(id) {
  return state.items.find((item) => item.type === "user" && item.id === id) || null;
}

function answerTo(id) {
  return state.items.find((item) => item.type === "bot" && item.replyTo === id) || null;
}

// ---------------------------------------------------------------- elements -----------------------

const $ = (id) => document.getElementById(id);
const log = $("log");
const form = $("composer");
const input = $("input");
const typing = $("typing");
const slowNotice = $("slow");
const announcer = $("announcer");
const statusLine = $("status");
const elderToggle = $("elder-toggle");
const closeButton = $("close");

// ---------------------------------------------------------------- 长辈模式 -------------------------

function setElder(on, remember) {
  document.documentElement.classList.toggle("elder", on);
  elderToggle.setAttribute("aria-pressed", String(on));
  if (remember) {
    try {
      localStorage.setItem(ELDER_KEY, on ? "1" : "0");
    } catch {
      // not remembered, still applied
    }
  }
}

function storedElder() {
  try {
    return localStorage.getItem(ELDER_KEY) === "1";
  } catch {
    return false;
  }
}

elderToggle.addEventListener("click", () => {
  setElder(elderToggle.getAttribute("aria-pressed") !== "true", true);
  scrollToEnd();
});
setElder(storedElder(), false);

// ---------------------------------------------------------------- status line --------------------

let statusTimer = null;

function setStatus(text, kind = "info", clearAfterMs = 0) {
  clearTimeout(statusTimer);
  statusLine.textContent = text || "";
  statusLine.hidden = !text;
  statusLine.dataset.kind = kind;
  if (text && clearAfterMs) statusTimer = setTimeout(() => setStatus(null), clearAfterMs);
}

// ---------------------------------------------------------------- announcements ------------------
// The log itself is not a live region (aria-live="off"): an answer arrives in several parts and is
// re-rendered as they come. Each answer is read out once, whole, when its turn ends.

function announce(text) {
  if (!text) return;
  const line = document.createElement("p");
  line.textContent = text;
  announcer.append(line);
  setTimeout(() => line.remove(), 20000);
}

function announceAnswer(item) {
  if (!item || item.announced) return;
  item.announced = true;
  // A Reply is read as its lead and short list; its details stay in the log, to read on demand.
  const speaker = item.agent !== undefined && item.agent !== null ? agentSpeaker(item) : TEXT.botSays;
  announce(speaker + partsSpeech(item.parts));
}

// ---------------------------------------------------------------- transcript ---------------------

function scrollToEnd() {
  log.scrollTop = log.scrollHeight;
}

function speakerLabel(text) {
  const label = document.createElement("span");
  label.className = "sr-only";
  label.textContent = text;
  return label;
}

function renderUser(item) {
  const row = document.createElement("div");
  row.className = "msg user";
  row.dataset.id = item.id;
  const bubble = document.createElement("div");
  bubble.className = "bubble";
  renderUserText(bubble, item.text);
  row.append(speakerLabel("您说："), bubble);
  if (item.status === "pending") {
    const note = document.createElement("span");
    note.className = "pending-note";
    note.textContent = TEXT.pending;
    row.append(note);
    row.classList.add("pending");
  } else if (item.status === "failed") {
    row.append(renderFailure(item));
  } else if (item.status === "refused") {
    const note = document.createElement("p");
    note.className = "turn-note refused-note";
    note.textContent = TEXT.refused;
    row.append(note);
  }
  return row;
}

function renderFailure(item) {
  const box = document.createElement("div");
  box.className = "turn-note failed-note";
  const text = document.createElement("p");
  text.append(TEXT.failedBefore, hotlineLink(), TEXT.failedAfter);
  const retry = document.createElement("button");
  retry.type = "button";
  retry.className = "retry";
  retry.textContent = TEXT.retry;
  retry.addEventListener("click", () => {
    item.status = "pending";
    saveState();
    replaceRow(item);
    flushQueue();
    input.focus();
  });
  box.append(text, retry);
  return box;
}

function agentSpeaker(item) {
  return `${TEXT.agentName}${item.agent || ""}说：`;
}

function renderBot(item, isLast) {
  const row = document.createElement("div");
  row.className = "msg bot";
  row.dataset.id = item.id;
  const bubble = document.createElement("div");
  bubble.className = "bubble";
  renderBotParts(bubble, item.parts);
  if (item.agent !== undefined && item.agent !== null) {
    // A person wrote this, not the assistant: say so visibly and to screen readers.
    row.classList.add("agent");
    const name = document.createElement("span");
    name.className = "agent-name";
    name.setAttribute("aria-hidden", "true");
    name.textContent = TEXT.agentName + (item.agent || "");
    row.append(name, speakerLabel(agentSpeaker(item)), bubble);
    return row;
  }
  if (item.handoffStatus) row.classList.add("handoff-status");
  row.append(speakerLabel(TEXT.botSays), bubble);
  if (isLast && item.quickReplies.length) row.append(renderQuickReplies(item.quickReplies));
  // Only an answer about an item can be rated, with the message id the server signed for it:
  // never the greeting, a prompt, a refusal, a clarifying menu or a failure.
  if (!item.welcome && item.rateId) row.append(renderRating(item));
  return row;
}

function renderQuickReplies(replies) {
  const group = document.createElement("div");
  group.className = "quick-replies";
  group.setAttribute("role", "group");
  const choices = replies.some((r) => r.choice && !r.payload.startsWith("tel:"));
  group.setAttribute("aria-label", choices ? "请选择" : "您可能想问");
  for (const reply of replies) {
    if (reply.payload.startsWith("tel:")) {
      // A phone call, never a message: a tel: link that looks like the other buttons.
      const number = reply.payload.slice(4);
      const link = document.createElement("a");
      link.className = "quick-reply call";
      link.href = `tel:${/^[0-9]{3,12}$/.test(number) ? number : HOTLINE}`;
      link.textContent = reply.title;
      group.append(link);
      continue;
    }
    const button = document.createElement("button");
    button.type = "button";
    button.className = "quick-reply";
    button.textContent = reply.title;
    button.addEventListener("click", () => {
      sendMessage(reply.title, reply.payload);
      input.focus();
    });
    group.append(button);
  }
  return group;
}

function renderRating(item) {
  const box = document.createElement("div");
  box.className = "rating";
  box.setAttribute("role", "group");
  box.setAttribute("aria-label", "评价这条回答");

  const question = document.createElement("span");
  question.className = "rating-question";
  question.textContent = "这条回答有帮助吗？";
  box.append(question);

  for (const [rating, emoji, kind, label] of [
    ["up", "👍", "好评：", "有帮助"],
    ["down", "👎", "差评：", "没帮助"],
  ]) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = `rate rate-${rating}`;
    button.setAttribute("aria-label", kind + label);
    const icon = document.createElement("span");
    icon.className = "rate-icon";
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = emoji;
    const text = document.createElement("span");
    text.textContent = label;
    button.append(icon, text);
    button.setAttribute("aria-pressed", String(item.rating === rating));
    button.addEventListener("click", () => rate(item, rating, null, box));
    box.append(button);
  }

  const reasonForm = document.createElement("form");
  reasonForm.className = "reason";
  reasonForm.hidden = !item.rating || item.reasonSent;
  const fieldId = `reason-${item.id}`;
  const label = document.createElement("label");
  label.htmlFor = fieldId;
  label.textContent = `补充原因（可选，最多 ${MAX_REASON} 字）`;
  const field = document.createElement("textarea");
  field.id = fieldId;
  field.rows = 2;
  field.maxLength = MAX_REASON;
  field.className = "reason-input";
  const submit = document.createElement("button");
  submit.type = "submit";
  submit.className = "reason-submit";
  submit.textContent = "提交原因";
  reasonForm.append(label, field, submit);
  reasonForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const reason = field.value.trim();
    if (!reason) {
      field.focus();
      return;
    }
    rate(item, item.rating, reason, box);
  });
  box.append(reasonForm);

  const note = document.createElement("p");
  note.className = "rating-status";
  note.setAttribute("role", "status");
  box.append(note);

  // 👎 (and "没解决") offers a person: the same request as typing "转人工".
  const offer = document.createElement("button");
  offer.type = "button";
  offer.className = "handoff-offer"; // not a quick reply: it stays with its rating
  offer.textContent = TEXT.handoffOffer;
  offer.hidden = item.rating !== "down";
  offer.addEventListener("click", () => {
    offer.hidden = true;
    sendMessage("转人工", "/human_handoff");
    input.focus();
  });
  box.append(offer);
  return box;
}

async function rate(item, rating, reason, box) {
  const note = box.querySelector(".rating-status");
  const reasonForm = box.querySelector(".reason");
  try {
    const reply = await fetch(FEEDBACK_URL, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        session_id: item.sessionId || state.sessionId,
        message_id: item.rateId,
        rating,
        reason,
      }),
    });
    if (!reply.ok) throw new Error(`HTTP ${reply.status}`);
  } catch {
    note.textContent = TEXT.rateFailed;
    return;
  }
  item.rating = rating;
  item.reasonSent = Boolean(reason);
  saveState();
  for (const button of box.querySelectorAll(".rate")) {
    button.setAttribute("aria-pressed", String(button.classList.contains(`rate-${rating}`)));
  }
  note.textContent = reason ? TEXT.thanksReason : TEXT.thanks;
  const offer = box.querySelector(".handoff-offer");
  if (offer) offer.hidden = !(rating === "down" || /没解决|没有解决|未解决/.test(reason || ""));
  if (reason) {
    reasonForm.hidden = true;
    box.querySelector(`.rate-${rating}`).focus();
  } else {
    reasonForm.hidden = false;
  }
}

function visible(item) {
  return !(item.type === "user" && item.greeting);
}

function lastBot() {
  for (let i = state.items.length - 1; i >= 0; i -= 1) {
    if (visible(state.items[i])) return state.items[i].type === "bot" ? state.items[i] : null;
  }
  return null;
}

function renderItem(item) {
  return item.type === "user" ? renderUser(item) : renderBot(item, item === lastBot());
}

function renderAll() {
  log.setAttribute("aria-busy", "true");
  // On a phone the disclaimer under the input box would take too much room: it opens the log.
  const note = document.createElement("p");
  note.className = "log-note";
  note.textContent = document.querySelector(".footnote").textContent;
  log.replaceChildren(note, ...state.items.filter(visible).map(renderItem));
  log.removeAttribute("aria-busy");
  scrollToEnd();
}

/**
 * Show an answer: the end of the log if the answer fits with its question; otherwise its question
 * at the top (or the answer's own start, after a long question): the answer is read from its lead.
 */
function reveal(row, item) {
  const asked = item.replyTo ? rowOf(userItem(item.replyTo)) : null;
  const logTop = log.getBoundingClientRect().top;
  const offset = (element) => element.getBoundingClientRect().top - logTop + log.scrollTop;
  let start = offset(row);
  if (asked) {
    const askedTop = offset(asked);
    if (start - askedTop <= log.clientHeight / 3) start = askedTop;
  }
  if (log.scrollHeight - start > log.clientHeight) log.scrollTop = start - 8;
  else scrollToEnd();
}

function rowOf(item) {
  if (!item) return null;
  return [...log.children].find((row) => row.dataset.id === item.id) || null;
}

/** Render `item` in place, or where it belongs among the rows already shown. */
function replaceRow(item) {
  if (!visible(item)) return;
  const old = rowOf(item);
  const row = renderItem(item);
  if (old) {
    old.replaceWith(row);
  } else {
    const index = state.items.indexOf(item);
    const next = state.items.slice(index + 1).map(rowOf).find(Boolean);
    if (next) next.before(row);
    else log.append(row);
  }
  if (item.type === "bot") reveal(row, item);
  else scrollToEnd();
}

function dropQuickReplies() {
  for (const group of log.querySelectorAll(".quick-replies")) group.remove();
}

// ---------------------------------------------------------------- turns --------------------------
// A turn is one user message sent on the current connection, waiting for the end of its answer.

// client message id -> the attempt in flight: {connection, started, slowTimer, failTimer}
const inflight = new Map();
let connection = 0; // counts session_confirm events: which connection an attempt went out on

function updateBusy() {
  const now = Date.now();
  const turns = [...inflight.values()];
  typing.hidden = turns.length === 0;
  const slow = turns.some((turn) => now - turn.started >= SLOW_MS);
  if (slow && slowNotice.hidden) {
    slowNotice.replaceChildren(TEXT.slowBefore, hotlineLink(), TEXT.slowAfter);
    slowNotice.hidden = false;
  } else if (!slow && !slowNotice.hidden) {
    slowNotice.hidden = true;
    slowNotice.replaceChildren();
  }
  if (turns.length) scrollToEnd();
}

function stopTimers(id) {
  const turn = inflight.get(id);
  if (!turn) return;
  clearTimeout(turn.slowTimer);
  clearTimeout(turn.failTimer);
  inflight.delete(id);
}

function emitTurn(item) {
  stopTimers(item.id);
  const turn = { connection, started: Date.now() };
  turn.slowTimer = setTimeout(updateBusy, SLOW_MS);
  turn.failTimer = setTimeout(() => failTurn(item.id), ANSWER_TIMEOUT_MS);
  inflight.set(item.id, turn);
  item.status = "sent";
  updateBusy();
  socket.emit(
    "user_uttered",
    { message: item.payload || item.text, session_id: state.sessionId, client_message_id: item.id },
    (ack) => onAck(item.id, turn, ack),
  );
}

function onAck(id, turn, ack) {
  const status = ack && typeof ack === "object" ? ack.status : null;
  if (status === "done" || status === "failed") {
    endTurn(id); // the server answered this message, whichever attempt says so
    return;
  }
  // "busy" (the first run of this message is still going) leaves the timers running. A refusal
  // concerns its own attempt only, not a newer one of the same message.
  if (status !== "refused" || inflight.get(id) !== turn) return;
  const item = userItem(id);
  stopTimers(id);
  if (item && item.status === "sent") {
    if (ack.error === "no_session") {
      item.status = "pending"; // sent again once the connection's session is confirmed
    } else {
      item.status = "refused";
    }
    saveState();
    replaceRow(item);
  }
  // Sent on an earlier connection than the current, confirmed one: send it again now.
  if (ack.error === "no_session" && turn.connection < connection) flushQueue();
  updateBusy();
}

function endTurn(id) {
  stopTimers(id);
  const item = userItem(id);
  if (item && item.status !== "done") {
    const wasShownFailed = item.status === "failed";
    item.status = "done";
    if (wasShownFailed || rowOf(item)?.classList.contains("pending")) replaceRow(item);
  }
  announceAnswer(answerTo(id));
  saveState();
  updateBusy();
}

function failTurn(id) {
  stopTimers(id);
  const item = userItem(id);
  if (item && item.status === "sent") {
    if (item.greeting) {
      item.status = "pending"; // the greeting is simply tried again on the next connection
    } else {
      item.status = "failed";
      replaceRow(item);
      announce(TEXT.failedAnnounce);
    }
    saveState();
  }
  updateBusy();
}

// ---------------------------------------------------------------- socket.io ----------------------

let socket = null;
let confirmed = false;
let everConnected = false;

function flushQueue() {
  if (!socket || !socket.connected || !confirmed) return;
  if (!state.greeted) {
    // A new conversation starts with the assistant's own greeting and suggested questions.
    state.greeted = true;
    const greeting = { type: "user", id: newId(), text: "/greet", status: "pending", greeting: true };
    // Before anything typed while the page was still connecting: the greeting comes first.
    const first = state.items.findIndex((item) => item.type === "user" && item.status === "pending");
    state.items.splice(first < 0 ? state.items.length : first, 0, greeting);
  }
  for (const item of state.items) {
    if (item.type !== "user" || inflight.has(item.id)) continue;
    if (item.status === "pending" || item.status === "sent") {
      const wasPending = item.status === "pending";
      emitTurn(item);
      if (wasPending) replaceRow(item);
    }
  }
  saveState();
}

function sendMessage(text, payload) {
  const clean = text.trim();
  if (!clean) return;
  dropQuickReplies();
  const item = { type: "user", id: newId(), text: clean, payload: payload || null, status: "pending" };
  state.items.push(item);
  saveState();
  log.append(renderUser(item));
  scrollToEnd();
  flushQueue();
}

function newAnswer(replyTo, messageId) {
  const asked = replyTo ? userItem(replyTo) : null;
  const item = {
    type: "bot",
    id: messageId || newId(),
    replyTo: asked ? replyTo : null,
    sessionId: state.sessionId,
    messageIds: [],
    parts: [],
    quickReplies: [],
    rateId: null,
    rating: null,
    reasonSent: false,
    welcome: Boolean(asked && asked.greeting),
    announced: false,
  };
  // Right after the message it answers (a re-sent message's answer may come after newer ones).
  const index = asked ? state.items.indexOf(asked) : -1;
  if (index >= 0) state.items.splice(index + 1, 0, item);
  else state.items.push(item);
  return item;
}

/** Suggested questions and choices as {title, payload, choice}; tel: ones become phone links. */
function cleanOptions(list, choice = false) {
  if (!Array.isArray(list)) return [];
  return list
    .filter((r) => r && typeof r.title === "string" && r.title.trim())
    .map((r) => ({
      title: r.title,
      payload: typeof r.payload === "string" && r.payload ? r.payload : r.title,
      choice,
    }));
}

/** The typed Reply a message carries ({"tongban": {"reply", "expanded"}}), or null. */
function tongbanReply(message) {
  const tongban = message.tongban;
  if (!tongban || typeof tongban !== "object") return null;
  const reply = tongban.reply;
  if (!reply || typeof reply !== "object" || typeof reply.lead !== "string") return null;
  return { reply, expanded: tongban.expanded === true };
}

function onBotMessage(message) {
  if (!message || typeof message !== "object") return;
  const messageId = typeof message.message_id === "string" ? message.message_id : null;
  if (messageId && seenMessageIds.has(messageId)) return; // sent again after a reconnect
  const replyTo = typeof message.reply_to === "string" ? message.reply_to : null;
  const handoff = message.handoff && typeof message.handoff === "object" ? message.handoff : null;
  if (handoff) noteHandoff(handoff);
  const typed = tongbanReply(message);
  // A Reply is rendered from its fields; its text is only the fallback for other clients.
  const text = !typed && typeof message.text === "string" ? message.text : "";
  const replies = typed
    ? [...cleanOptions(typed.reply.options, true), ...cleanOptions(typed.reply.follow_ups)]
    : cleanOptions(message.quick_replies);
  if (messageId) seenMessageIds.add(messageId);
  // Other payloads (custom JSON without a Reply) are not shown.
  if (!typed && !text && !replies.length) return;

  const asked = replyTo ? userItem(replyTo) : null;
  // An agent's message, or a handoff status, is its own item: never merged into an answer.
  const person = handoff && (handoff.event === "agent" || handoff.event === "status");
  const item = (!person && asked && answerTo(replyTo)) || newAnswer(person ? null : replyTo, messageId);
  if (person && handoff.event === "agent") item.agent = typeof handoff.agent === "string" ? handoff.agent : "";
  if (person && handoff.event === "status") item.handoffStatus = String(handoff.state || "");
  if (messageId) item.messageIds.push(messageId);
  if (typed) item.parts.push(typed);
  else if (text) item.parts.push({ text });
  // Only an answer about an item can be rated: not a clarifying menu or an apology (meta.item null).
  const meta = typed && typed.reply.meta && typeof typed.reply.meta === "object" ? typed.reply.meta : {};
  if (messageId && typeof meta.item === "string" && meta.item && !item.rateId) {
    item.rateId = messageId;
  }
  if (replies.length) {
    dropQuickReplies();
    item.quickReplies = replies;
  }
  saveState();
  replaceRow(item);
  // A message that answers nothing sent from here (e.g. the server's own) is read out at once.
  if (!asked) announceAnswer(item);
}

// ---------------------------------------------------------------- human handoff ----------------
// The assistant's handoff action says {"handoff": {"event": "queued", "position"}}; agents'
// messages and status changes come from the console (tongban/handoff) as bot_uttered with
// {"handoff": {"event": "agent" | "status", "agent"?, "state"?}}, again after a reconnect: they
// are shown once, by message id.

let handoffBanner = null;

function drawHandoff() {
  if (!handoffBanner) {
    handoffBanner = document.createElement("p");
    handoffBanner.id = "handoff-banner";
    handoffBanner.className = "notice handoff-banner";
    handoffBanner.setAttribute("role", "status");
    log.before(handoffBanner);
  }
  const current = state.handoff;
  handoffBanner.hidden = !current;
  if (!current) return;
  handoffBanner.dataset.state = current.state;
  handoffBanner.textContent =
    current.state === "active" ? TEXT.handoffActive : TEXT.handoffQueued(current.position || 0);
}

function noteHandoff(handoff) {
  if (handoff.event === "queued") {
    state.handoff = { state: "queued", position: Number(handoff.position) || 0 };
  } else if (handoff.event === "active" || (handoff.event === "status" && handoff.state === "active")) {
    state.handoff = { state: "active", position: 0 };
  } else if (handoff.event === "status") {
    state.handoff = null; // handed back or closed: the assistant answers again
  }
  saveState();
  drawHandoff();
}

function connect() {
  if (typeof window.io !== "function") {
    setStatus(TEXT.noSocketLib, "error");
    return;
  }
  socket = window.io({
    reconnectionDelay: 1000,
    reconnectionDelayMax: 5000,
    timeout: 10000,
  });
  setStatus(TEXT.connecting);

  socket.on("connect", () => {
    socket.emit("session_request", { session_id: state.sessionId });
  });

  socket.on("session_confirm", (sessionId) => {
    const id = typeof sessionId === "string" ? sessionId : sessionId && sessionId.session_id;
    if (typeof id !== "string" || !id) return;
    state.sessionId = id;
    confirmed = true;
    connection += 1;
    setStatus(everConnected ? TEXT.reconnected : null, "ok", 3000);
    everConnected = true;
    saveState();
    flushQueue();
  });

  socket.on("bot_uttered", onBotMessage);
  socket.on("turn_done", (done) => {
    if (done && typeof done.reply_to === "string") endTurn(done.reply_to);
  });

  socket.on("disconnect", (reason) => {
    confirmed = false;
    // socket.io would send what it buffered before this page can ask for its session again; the
    // page sends every unfinished message itself once the session is confirmed.
    socket.sendBuffer = [];
    // Turns not yet ended are sent again, with the same ids, once the connection is back.
    for (const id of [...inflight.keys()]) {
      stopTimers(id);
      const item = userItem(id);
      if (item && item.status === "sent") {
        item.status = "pending";
        replaceRow(item);
      }
    }
    saveState();
    updateBusy();
    if (reason === "io client disconnect") return;
    setStatus(navigator.onLine ? TEXT.dropped : TEXT.offline, "warn");
  });

  socket.on("connect_error", () => {
    confirmed = false;
    setStatus(navigator.onLine ? TEXT.serverDown : TEXT.offline, navigator.onLine ? "error" : "warn");
  });
}

window.addEventListener("offline", () => {
  setStatus(TEXT.offline, "warn");
  // Notice the drop at once instead of waiting for a missed heartbeat; socket.io then reconnects.
  if (socket && socket.connected && socket.io.engine) socket.io.engine.close();
});

window.addEventListener("online", () => {
  if (socket && !socket.connected) {
    setStatus(TEXT.connecting);
    socket.connect();
  }
});

// ---------------------------------------------------------------- composer -----------------------

function autosize() {
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
}

function submitInput() {
  const text = input.value;
  if (text.trim()) {
    input.value = "";
    autosize();
    sendMessage(text);
  }
  input.focus();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  submitInput();
});

input.addEventListener("keydown", (event) => {
  // Enter sends, Shift+Enter starts a new line; never while an input method is composing (拼音).
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
    event.preventDefault();
    submitInput();
  }
});
input.addEventListener("input", autosize);

// ---------------------------------------------------------------- embedded in widget.js ----------

if (EMBEDDED) {
  document.documentElement.classList.add("embedded");
  closeButton.hidden = false;
  const close = () => window.parent.postMessage({ type: "tongban-webchat:close" }, "*");
  closeButton.addEventListener("click", close);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
  });
  window.addEventListener("message", (event) => {
    if (event.source !== window.parent || !event.data) return;
    if (event.data.type === "tongban-webchat:focus") {
      input.focus();
      scrollToEnd();
    }
  });
}

// ---------------------------------------------------------------- start --------------------------

renderAll();
drawHandoff();
connect();
if (!EMBEDDED) input.focus();
