/*
 * 通办助手 floating chat widget. Any page embeds it with one tag:
 *
 *   <script src="https://<通办助手服务器>/webhooks/webchat/static/widget.js" defer></script>
 *
 * Optional attributes on that tag: data-label="在线咨询" (the button's text), data-position="left".
 * The widget adds a button in the corner; the chat itself is the same page as the full-page chat
 * (/webhooks/webchat/?embed=1) in an iframe, so it runs on the chat server's origin: the host page's
 * styles and scripts cannot reach into it. The button and panel live in a shadow root, so the host
 * page's CSS cannot restyle them either. Classic script, no modules, no dependencies.
 */
(function () {
  "use strict";
  if (window.__tongbanWebchatWidget) return;
  window.__tongbanWebchatWidget = true;

  var script = document.currentScript;
  if (!script || !script.src) return;
  var chatUrl = new URL("../?embed=1", script.src);
  var chatOrigin = chatUrl.origin;
  var label = script.getAttribute("data-label") || "在线咨询";
  var left = script.getAttribute("data-position") === "left";
  var OPEN_KEY = "tongban-webchat-open";

  var CSS = [
    ":host { all: initial; }",
    ".launcher { position: fixed; bottom: 20px; " + (left ? "left" : "right") + ": 20px;",
    "  z-index: 2147483000; display: flex; align-items: center; gap: 8px; min-height: 52px;",
    "  padding: 0 20px; border: 2px solid #fff; border-radius: 26px; background: #0a4f96;",
    "  color: #fff; font: 700 17px/1.2 system-ui, 'PingFang SC', 'Microsoft YaHei', sans-serif;",
    "  box-shadow: 0 4px 14px rgba(0,0,0,.3); cursor: pointer; }",
    ".launcher:hover { background: #073b70; }",
    ".launcher:focus-visible { outline: 3px solid #c25e00; outline-offset: 3px; }",
    ".launcher svg { width: 22px; height: 22px; fill: currentColor; }",
    ".panel { position: fixed; bottom: 86px; " + (left ? "left" : "right") + ": 20px;",
    "  z-index: 2147483001; width: 400px; height: 640px; max-height: calc(100vh - 110px);",
    "  border-radius: 12px; overflow: hidden; background: #fff;",
    "  box-shadow: 0 8px 30px rgba(0,0,0,.35); }",
    ".panel[hidden] { display: none; }",
    ".panel iframe { display: block; width: 100%; height: 100%; border: 0; }",
    "@media (max-width: 480px), (max-height: 560px) {",
    "  .panel { inset: 0; width: 100%; height: 100%; max-height: none; border-radius: 0; }",
    "  .panel:not([hidden]) ~ .launcher { display: none; }",
    "}",
  ].join("\n");

  function start() {
    var host = document.createElement("div");
    host.id = "tongban-webchat";
    document.body.appendChild(host);
    var root = host.attachShadow({ mode: "open" });
    // A constructed style sheet needs no inline <style>, so a strict host CSP does not block it.
    if ("adoptedStyleSheets" in root && typeof CSSStyleSheet === "function") {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } else {
      var style = document.createElement("style");
      style.textContent = CSS;
      root.appendChild(style);
    }

    var panel = document.createElement("div");
    panel.className = "panel";
    panel.id = "tongban-webchat-panel";
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", "通办助手在线咨询");
    panel.hidden = true;

    var launcher = document.createElement("button");
    launcher.type = "button";
    launcher.className = "launcher";
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-controls", panel.id);
    var icon = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    icon.setAttribute("viewBox", "0 0 24 24");
    icon.setAttribute("aria-hidden", "true");
    var path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute(
      "d",
      "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6v2h2V9H7zm4 0v2h2V9h-2zm4 0v2h2V9h-2z"
    );
    icon.appendChild(path);
    var text = document.createElement("span");
    text.textContent = label;
    launcher.appendChild(icon);
    launcher.appendChild(text);
    launcher.setAttribute("aria-label", "通办助手" + label);

    root.appendChild(panel);
    root.appendChild(launcher);

    var frame = null;
    var loaded = false;

    function remember(open) {
      try {
        sessionStorage.setItem(OPEN_KEY, open ? "1" : "0");
      } catch (e) {
        /* not remembered */
      }
    }

    function focusChat() {
      // Into the iframe, then (once its page has loaded) onto its input box.
      frame.focus();
      if (loaded) frame.contentWindow.postMessage({ type: "tongban-webchat:focus" }, chatOrigin);
    }

    function open(moveFocus) {
      if (!frame) {
        // Loaded on first open only: a page that nobody chats on opens no connection.
        frame = document.createElement("iframe");
        frame.title = "通办助手在线咨询";
        frame.src = chatUrl.href;
        frame.addEventListener("load", function () {
          loaded = true;
          if (moveFocus && !panel.hidden) focusChat();
        });
        panel.appendChild(frame);
      }
      panel.hidden = false;
      launcher.setAttribute("aria-expanded", "true");
      remember(true);
      if (moveFocus) focusChat();
    }

    function close() {
      panel.hidden = true;
      launcher.setAttribute("aria-expanded", "false");
      remember(false);
      launcher.focus();
    }

    launcher.addEventListener("click", function () {
      if (panel.hidden) open(true);
      else close();
    });

    window.addEventListener("message", function (event) {
      if (!frame || event.source !== frame.contentWindow || event.origin !== chatOrigin) return;
      if (event.data && event.data.type === "tongban-webchat:close") close();
    });

    var wasOpen = false;
    try {
      wasOpen = sessionStorage.getItem(OPEN_KEY) === "1";
    } catch (e) {
      /* ignore */
    }
    if (wasOpen) open(false);
  }

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
