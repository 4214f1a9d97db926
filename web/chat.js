// 通办助手 web chat: the page talks to Rasa's socket.io channel (same origin; events user_uttered /
// bot_uttered; session_persistence, so a session_request names the conversation) and posts 好差评
// ratings to the webchat channel. The transcript lives in sessionStorage, so a reload in the same
// browser tab shows it again and goes on with the same conversation. No build step: plain ES module.

import { renderBotParts, renderUserText } from "./render.js";

const STORE_KEY = "tongban.webchat.v1";
const ELDER_KEY = "tongban.webchat.elder";
const MAX_ITEMS = 200;
const MAX_REASON = 500;
const ANSWER_TIMEOUT_MS = 60000;
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
  noReply: "暂时没有收到回复，请稍后再试，或拨打 12345 政务服务便民热线。",
  noSocketLib: "聊天组件没有加载完整，请刷新页面重试，或拨打 12345 政务服务便民热线。",
  pending: "等待发送",
  thanks: "感谢您的评价！",
  thanksReason: "已收到您的意见，谢谢！",
  rateFailed: "评价没有提交成功，请稍后再试。",
};

// ---------------------------------------------------------------- state (sessionStorage) --------

function loadState() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORE_KEY));
    if (saved && Array.isArray(saved.items)) return saved;
  } catch {
    // storage blocked or corrupt: start afresh
  }
  return { sessionId: null, greeted: false, items: [] };
}

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

// ---------------------------------------------------------------- elements -----------------------

const $ = (id) => document.getElementById(id);
const log = $("log");
const form = $("composer");
const input = $("input");
const typing = $("typing");
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
  }
  return row;
}

function renderBot(item, isLast) {
  const row = document.createElement("div");
  row.className = "msg bot";
  row.dataset.id = item.id;
  const bubble = document.createElement("div");
  bubble.className = "bubble";
  renderBotParts(bubble, item.parts);
  row.append(speakerLabel("通办助手说："), bubble);
  if (isLast && item.quickReplies.length) row.append(renderQuickReplies(item.quickReplies));
  if (!item.welcome) row.append(renderRating(item));
  return row;
}

function renderQuickReplies(replies) {
  const group = document.createElement("div");
  group.className = "quick-replies";
  group.setAttribute("role", "group");
  group.setAttribute("aria-label", "您可能想问");
  for (const reply of replies) {
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

  const buttons = {};
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
    buttons[rating] = button;
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
        session_id: state.sessionId,
        message_id: item.id,
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
  if (reason) {
    reasonForm.hidden = true;
    box.querySelector(`.rate-${rating}`).focus();
  } else {
    reasonForm.hidden = false;
  }
}

function renderAll() {
  log.setAttribute("aria-busy", "true");
  const last = state.items.length ? state.items[state.items.length - 1] : null;
  // On a phone the disclaimer under the input box would take too much room: it opens the log.
  const note = document.createElement("p");
  note.className = "log-note";
  note.textContent = document.querySelector(".footnote").textContent;
  log.replaceChildren(
    note,
    ...state.items.map((item) =>
      item.type === "user" ? renderUser(item) : renderBot(item, item === last),
    ),
  );
  log.removeAttribute("aria-busy");
  scrollToEnd();
}

/** Show a new row: the end of the log, or the start of an answer taller than the log. */
function reveal(row) {
  if (row.offsetHeight > log.clientHeight - 16) {
    const top = row.getBoundingClientRect().top - log.getBoundingClientRect().top;
    log.scrollTop += top - 8;
  } else {
    scrollToEnd();
  }
}

function replaceRow(item) {
  const old = log.querySelector(`[data-id="${item.id}"]`);
  const isLast = state.items[state.items.length - 1] === item;
  const row = item.type === "user" ? renderUser(item) : renderBot(item, isLast);
  if (old) old.replaceWith(row);
  else log.append(row);
  if (item.type === "bot") reveal(row);
  else scrollToEnd();
}

function dropQuickReplies() {
  for (const group of log.querySelectorAll(".quick-replies")) group.remove();
}

// ---------------------------------------------------------------- turns and typing indicator ----
// A turn is one message sent to the assistant. Rasa answers the messages of a conversation one at a
// time and acknowledges each (socket.io ack) after its last bot_uttered, so bot messages belong to
// the oldest unacknowledged turn: an answer split into several bot_uttered events stays one answer.

let turns = [];

function setTyping(on) {
  typing.hidden = !on;
  if (on) scrollToEnd();
}

function endTurn(turn) {
  turns = turns.filter((t) => t !== turn);
  setTyping(turns.length > 0);
}

// ---------------------------------------------------------------- socket.io ----------------------

let socket = null;
let confirmed = false;
let everConnected = false;

function emitTurn(text, userItem) {
  const turn = { userItem, welcome: !userItem, answer: null };
  turns.push(turn);
  setTyping(true);
  socket
    .timeout(ANSWER_TIMEOUT_MS)
    .emit(
      "user_uttered",
      { message: text, session_id: state.sessionId, metadata: { client: "webchat" } },
      (error) => {
        endTurn(turn);
        if (!error) return;
        if (socket.connected) {
          setStatus(TEXT.noReply, "warn", 8000);
        } else if (!turn.answer) {
          // The connection dropped before any answer came: send it again after reconnecting.
          if (userItem) {
            userItem.status = "pending";
            replaceRow(userItem);
          } else {
            state.greeted = false;
          }
          saveState();
        }
      },
    );
}

function flushQueue() {
  if (!socket || !socket.connected || !confirmed) return;
  if (!state.greeted) {
    // A new conversation starts with the assistant's own greeting and suggested questions.
    state.greeted = true;
    emitTurn("/greet", null);
  }
  for (const item of state.items) {
    if (item.type === "user" && item.status === "pending") {
      item.status = "sent";
      emitTurn(item.payload || item.text, item);
      replaceRow(item);
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

function newBotItem(welcome) {
  const item = {
    type: "bot",
    id: newId(),
    parts: [],
    quickReplies: [],
    rating: null,
    reasonSent: false,
    welcome,
  };
  state.items.push(item);
  return item;
}

function onBotMessage(message) {
  if (!message || typeof message !== "object") return;
  const text = typeof message.text === "string" ? message.text : "";
  const replies = Array.isArray(message.quick_replies)
    ? message.quick_replies
        .filter((r) => r && typeof r.title === "string")
        .map((r) => ({ title: r.title, payload: typeof r.payload === "string" ? r.payload : r.title }))
    : [];
  if (!text && !replies.length) return;
  const turn = turns[0];
  let item;
  if (turn) {
    item = turn.answer || (turn.answer = newBotItem(turn.welcome));
  } else {
    // A message that answers nothing sent from this page (e.g. after a reload mid-answer).
    const last = state.items[state.items.length - 1];
    item = last && last.type === "bot" ? last : newBotItem(false);
  }
  if (text) item.parts.push(text);
  if (replies.length) item.quickReplies = replies;
  saveState();
  replaceRow(item);
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
    if (id) state.sessionId = id;
    confirmed = true;
    setStatus(everConnected ? TEXT.reconnected : null, "ok", 3000);
    everConnected = true;
    saveState();
    flushQueue();
  });

  socket.on("bot_uttered", onBotMessage);

  socket.on("disconnect", (reason) => {
    confirmed = false;
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
connect();
if (!EMBEDDED) input.focus();
