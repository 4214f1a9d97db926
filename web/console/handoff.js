// The console's conversations page (会话): the handoff queue, one conversation's transcript
// (case numbers and verification digits already masked by the server), take / reply / hand back /
// close, and callback requests. Polls the API (tongban/console/handoff.py); no build step.
"use strict";

(function () {
  const { api, el, ready } = window.Console;
  const $ = (id) => document.getElementById(id);
  const QUEUE_MS = 3000;
  const CONVERSATION_MS = 2000;
  const WHO = { citizen: "市民", bot: "通办助手", agent: "坐席", system: "系统" };
  const STATE = { queued: "排队中", active: "接待中", returned: "已交还通办助手", closed: "已结束" };
  let me = null;
  let selected = null; // ticket id
  let current = null; // the selected ticket's view
  let pendingReply = null; // {text, client_id}: re-sent with the same id until the server has it

  function time(seconds) {
    return new Date(seconds * 1000).toLocaleTimeString("zh-CN", { hour12: false });
  }

  function newId() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function showError(id, text) {
    const node = $(id);
    node.textContent = text || "";
    node.hidden = !text;
  }

  // -- the queue -----------------------------------------------------------------------------

  function ticketRow(ticket, label) {
    const row = el("li", { class: ticket.id === selected ? "selected" : null, "data-ticket": ticket.id },
      el("button", { type: "button", class: "open", onclick: () => select(ticket.id) },
        `会话 #${ticket.id} · ${ticket.channel}`,
        el("span", { class: "meta", text: label })));
    return row;
  }

  function callbackRow(callback) {
    const phone = el("span", { class: "phone", text: callback.phone });
    const reveal = el("button", { type: "button", class: "secondary", text: "显示号码", onclick: async () => {
      const data = await api(`handoff/callbacks/${callback.id}/reveal`, { method: "POST", body: {} });
      if (data.ok) phone.textContent = data.phone;
      else showError("queue-error", data.error);
    } });
    const done = el("button", { type: "button", class: "secondary", text: "已回电", onclick: async () => {
      const data = await api(`handoff/callbacks/${callback.id}/done`, { method: "POST", body: {} });
      if (!data.ok) showError("queue-error", data.error);
      refreshQueue();
    } });
    return el("li", { "data-callback": callback.id },
      phone, el("span", { class: "meta", text: `${callback.channel} · ${time(callback.created)} 留言` }),
      reveal, " ", done);
  }

  async function refreshQueue() {
    let data;
    try {
      data = await api("handoff/queue");
    } catch {
      return;
    }
    if (!data.ok) {
      showError("queue-error", data.error);
      return;
    }
    showError("queue-error", null);
    $("hours").textContent = `人工服务时间：${data.hours}（现在${data.open ? "在" : "不在"}服务时间内）`;
    $("queued").replaceChildren(...(data.queued.length ? data.queued.map((t) =>
      ticketRow(t, `第 ${t.position + 1} 位 · ${time(t.created)} 开始排队`)) : [el("li", { class: "muted", text: "没有排队的会话" })]));
    $("active").replaceChildren(...(data.active.length ? data.active.map((t) =>
      ticketRow(t, `坐席 ${t.agent} · ${time(t.taken)} 接入`)) : [el("li", { class: "muted", text: "无" })]));
    $("callbacks").replaceChildren(...(data.callbacks.length ? data.callbacks.map(callbackRow)
      : [el("li", { class: "muted", text: "无" })]));
  }

  // -- one conversation ----------------------------------------------------------------------

  function select(id) {
    selected = id;
    current = null;
    $("transcript").replaceChildren();
    showError("conv-error", null);
    refreshConversation();
    refreshQueue();
  }

  function mine() {
    return current && current.state === "active" && current.agent === me.name;
  }

  function drawControls() {
    const t = current;
    $("conv-title").textContent = t ? `会话 #${t.id} · ${t.channel}` : "请选择一个会话";
    $("conv-state").textContent = t
      ? `${STATE[t.state] || t.state}${t.agent ? ` · 坐席 ${t.agent}` : ""}${t.note ? ` · 备注：${t.note}` : ""}`
      : "";
    $("take").hidden = !(t && t.state === "queued");
    $("handback").hidden = !mine();
    $("close").hidden = !(mine() || (t && t.state === "queued"));
    $("reply").hidden = !mine();
    if (!mine()) $("close-form").hidden = true;
  }

  function drawTranscript(lines) {
    const list = $("transcript");
    const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.replaceChildren(...lines.map((line) =>
      el("li", { class: line.who },
        el("span", { class: "who", text: `${WHO[line.who] || line.who}${line.agent ? ` ${line.agent}` : ""} · ${time(line.at)}` }),
        line.text)));
    if (atEnd) list.scrollTop = list.scrollHeight;
  }

  async function refreshConversation() {
    if (selected === null) return;
    const id = selected;
    let data;
    try {
      data = await api(`handoff/conversations/${id}`);
    } catch {
      return;
    }
    if (id !== selected) return;
    if (!data.ok) {
      showError("conv-error", data.error);
      return;
    }
    current = data.ticket;
    drawControls();
    drawTranscript(data.lines);
  }

  async function act(path, body) {
    const data = await api(`handoff/conversations/${selected}/${path}`, { method: "POST", body: body || {} });
    showError("conv-error", data.ok ? null : data.error);
    await refreshConversation();
    await refreshQueue();
    return data;
  }

  async function sendReply() {
    if (!pendingReply) return;
    let data;
    try {
      data = await api(`handoff/conversations/${selected}/reply`, { method: "POST", body: pendingReply });
    } catch {
      showError("conv-error", "网络中断，消息未确认送达，稍后自动重发");
      setTimeout(sendReply, 3000);
      return;
    }
    if (data.ok) {
      pendingReply = null;
      $("reply-text").value = "";
      showError("conv-error", data.delivered ? null : "消息已记录，但暂时没有送达市民（对方可能已离开）");
    } else {
      pendingReply = null;
      showError("conv-error", data.error);
    }
    refreshConversation();
  }

  $("take").addEventListener("click", () => act("take"));
  $("handback").addEventListener("click", () => act("handback"));
  $("close").addEventListener("click", () => {
    if (current && current.state === "queued") {
      act("close", { note: "" });
      return;
    }
    $("close-form").hidden = false;
    $("close-note").focus();
  });
  $("close-cancel").addEventListener("click", () => { $("close-form").hidden = true; });
  $("close-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = await act("close", { note: $("close-note").value.trim() });
    if (data.ok) {
      $("close-note").value = "";
      $("close-form").hidden = true;
    }
  });
  $("reply").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("reply-text").value.trim();
    if (!text || pendingReply) return;
    pendingReply = { text, client_id: newId() };
    sendReply();
  });
  $("reply-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      $("reply").requestSubmit();
    }
  });

  ready.then((who) => {
    me = who;
    const link = document.querySelector('.shell nav a[data-key="conversations"]');
    if (link) link.setAttribute("aria-current", "page");
    refreshQueue();
    setInterval(refreshQueue, QUEUE_MS);
    setInterval(refreshConversation, CONVERSATION_MS);
  }).catch((error) => showError("queue-error", String(error.message || error)));
})();
