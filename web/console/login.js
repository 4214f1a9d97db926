// The console's login page: a pre-login CSRF token, then the name and password as JSON.
"use strict";

(function () {
  const form = document.getElementById("login-form");
  const problem = document.getElementById("login-error");
  let token = null;

  async function freshToken() {
    const reply = await fetch("api/login-token", { credentials: "same-origin" });
    token = (await reply.json()).token;
  }

  function show(message) {
    problem.textContent = message;
    problem.hidden = !message;
  }

  if (new URLSearchParams(location.search).get("expired")) show("登录已过期，请重新登录。");
  freshToken().catch(() => show("无法连接服务器，请稍后刷新页面。"));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = form.elements.name.value.trim();
    const password = form.elements.password.value;
    if (!name || !password) return show("请输入账号和密码。");
    show("");
    const button = document.getElementById("login-button");
    button.disabled = true;
    try {
      if (!token) await freshToken();
      const reply = await fetch("api/login", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
        body: JSON.stringify({ name, password }),
      });
      const data = await reply.json().catch(() => ({}));
      if (reply.ok) {
        location.assign("./");
        return;
      }
      show(data.error || "登录失败，请稍后再试。");
      if (reply.status === 403) await freshToken();
      form.elements.password.value = "";
      form.elements.password.focus();
    } catch (error) {
      show("无法连接服务器，请稍后再试。");
    } finally {
      button.disabled = false;
    }
  });
})();
