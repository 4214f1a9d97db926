// The console's page shell, shared by every console page: who is signed in, the navigation,
// logout, and `Console.api()` (JSON with the session's CSRF token; a 401 goes to the login page).
// A page includes this script first and waits for `Console.ready` before calling the API.
"use strict";

window.Console = (function () {
  const base = new URL("/console/", location.href);
  let me = null;

  function toLogin() {
    location.assign(new URL("login?expired=1", base));
  }

  async function api(path, options = {}) {
    const init = { credentials: "same-origin", method: options.method || "GET", headers: {} };
    if (options.body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    if (init.method !== "GET" && me) init.headers["X-CSRF-Token"] = me.csrf;
    const reply = await fetch(new URL(`api/${path}`, base), init);
    if (reply.status === 401) {
      toLogin();
      throw new Error("登录已过期");
    }
    const data = await reply.json().catch(() => ({ ok: false, error: `服务器返回 ${reply.status}` }));
    data.status = reply.status;
    return data;
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function drawShell() {
    const header = document.getElementById("shell");
    const nav = el("nav", { "aria-label": "工作台导航" },
      el("ul", {}, me.nav.map((entry) =>
        el("li", {}, el("a", { href: entry.href, "data-key": entry.key, text: entry.title })))));
    const logout = el("button", { type: "button", id: "logout", text: "退出登录", onclick: async () => {
      await api("logout", { method: "POST" }).catch(() => null);
      location.assign(new URL("login", base));
    } });
    header.replaceChildren(
      el("div", { class: "brand", text: "通办助手 · 热线工作台" }),
      nav,
      el("div", { class: "who" },
        el("span", { id: "who", text: `${me.name}（${me.role === "admin" ? "管理员" : "坐席"}）` }),
        logout),
    );
  }

  const ready = (async () => {
    const data = await api("me");
    if (!data.ok) throw new Error(data.error || "无法读取登录信息");
    me = data;
    drawShell();
    return me;
  })();

  return { api, el, ready, get me() { return me; } };
})();
