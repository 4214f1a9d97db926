// The console page: search, the item card, case lookups, 好差评 and the audit log.
// It renders what the server sends (the assistant's Reply objects and knowledge records) and
// decides nothing itself. Everything is built with textContent: no server text becomes HTML.
"use strict";

(function () {
  const { api, el } = window.Console;
  const $ = (id) => document.getElementById(id);
  const KINDS = { can: "能否办理", documents: "所需材料", process: "办理流程和地点", regions: "适用地区",
                  time_fees: "时限和费用", department: "主管部门", overview: "事项概况" };
  const ELIGIBILITY = { yes: "可以办理", no: "不能办理", not_confirmed: "未确认" };
  const CARD_PARTS = [
    ["can", "能否办理"],
    ["documents", "材料清单"],
    ["process", "怎么办、去哪办"],
    ["time_fees", "时限和费用"],
    ["department", "主管部门"],
    ["regions", "适用地区"],
  ];
  let current = null; // the item id on the card
  let active = -1; // the highlighted search result

  // -- views ------------------------------------------------------------------------------

  function showView() {
    const key = (location.hash || "#search").slice(1);
    const known = [...document.querySelectorAll("main > .view")].map((v) => v.id);
    const view = known.includes(key) ? key : "search";
    for (const section of document.querySelectorAll("main > .view")) section.hidden = section.id !== view;
    for (const link of document.querySelectorAll("#shell nav a")) {
      if (link.dataset.key === view) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    if (view === "ratings") loadRatings();
    if (view === "audit") loadAudit();
  }

  // -- search -----------------------------------------------------------------------------

  const q = $("q");
  const results = $("results");
  let timer = null;
  let asked = 0;

  function options() {
    return [...results.querySelectorAll('[role="option"]')];
  }

  function highlight(index) {
    const all = options();
    active = all.length ? (index + all.length) % all.length : -1;
    all.forEach((option, i) => option.setAttribute("aria-selected", i === active ? "true" : "false"));
    if (active >= 0) {
      q.setAttribute("aria-activedescendant", all[active].id);
      all[active].scrollIntoView({ block: "nearest" });
    } else q.removeAttribute("aria-activedescendant");
  }

  function closeResults() {
    results.hidden = true;
    q.setAttribute("aria-expanded", "false");
    q.removeAttribute("aria-activedescendant");
  }

  async function runSearch() {
    const text = q.value.trim();
    const mine = ++asked;
    if (!text) {
      results.replaceChildren();
      closeResults();
      $("search-ms").textContent = "";
      return;
    }
    const data = await api(`search?q=${encodeURIComponent(text)}`);
    if (mine !== asked) return; // a newer query is on its way
    if (!data.ok) {
      $("search-ms").textContent = data.error || "搜索失败";
      return;
    }
    $("search-ms").textContent = `${data.results.length} 项 · ${data.ms} ms`;
    results.replaceChildren(
      ...(data.results.length
        ? data.results.map((hit, i) =>
            el("li", { role: "option", id: `hit-${i}`, "data-item": hit.item_id, "aria-selected": "false",
                       onclick: () => openItem(hit.item_id) },
              el("span", { class: "hit-name", text: hit.name }),
              el("span", { class: "hit-meta", text: `${hit.category} · 匹配“${hit.matched}”` })))
        : [el("li", { class: "muted", text: "没有找到相关事项，请换个说法。" })]),
    );
    results.hidden = false;
    q.setAttribute("aria-expanded", "true");
    highlight(data.results.length ? 0 : -1);
  }

  q.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(runSearch, 120);
  });
  q.addEventListener("keydown", async (event) => {
    if (event.key === "ArrowDown") { event.preventDefault(); highlight(active + 1); }
    else if (event.key === "ArrowUp") { event.preventDefault(); highlight(active - 1); }
    else if (event.key === "Escape") closeResults();
    else if (event.key === "Enter") {
      event.preventDefault();
      clearTimeout(timer);
      if (results.hidden || !options().length) await runSearch();
      const all = options();
      if (all.length) openItem(all[Math.max(active, 0)].dataset.item);
    }
  });

  // -- the item card ----------------------------------------------------------------------

  function today() {
    const now = new Date();
    const local = new Date(now.getTime() - now.getTimezoneOffset() * 60000);
    return local.toISOString().slice(0, 10);
  }

  function openItem(itemId) {
    current = itemId;
    closeResults();
    $("context").hidden = false;
    loadCard();
  }

  function section(title, items, { ordered = false, cls = "" } = {}) {
    if (!items || !items.length) return null;
    return el("div", { class: `part-section ${cls}` },
      el("h4", { text: title }),
      el(ordered ? "ol" : "ul", {}, items.map((text) => el("li", { text }))));
  }

  // Every reply carries the item's details; the card shows each section once, in the block it
  // belongs to (documents under 材料清单, steps and channels under 怎么办), else where it first comes.
  const HOME_OF = { documents: "documents", steps: "process", channels: "process", regions: "regions" };
  const sectionKey = (part) => JSON.stringify([part.kind, part.title, part.items]);

  function placeSections(replies) {
    const where = new Map();
    for (const [kind] of CARD_PARTS) {
      for (const part of (replies[kind] && replies[kind].sections) || []) {
        const key = sectionKey(part);
        const home = HOME_OF[part.kind];
        // The home block says it in its own words (its body or a section of the same kind).
        const homeReply = home && replies[home];
        const homeHasIt = homeReply && (homeReply.body?.kind === part.kind ||
          (homeReply.sections || []).some((p) => p.kind === part.kind));
        if (homeHasIt && kind === home) where.set(key, home);
        else if (!where.has(key)) where.set(key, homeHasIt ? null : kind);
      }
    }
    return where;
  }

  function replyBlock(kind, title, reply, where) {
    const block = el("section", { class: `part part-${kind}`, "aria-label": title },
      el("h3", { text: title }),
      el("p", { class: "lead", text: reply.lead }));
    // The documents list is the checklist of its own block.
    if (reply.body && !(kind !== "documents" && reply.body.kind === "documents")) {
      const checklist = kind === "documents";
      block.append(section(reply.body.title, reply.body.items, {
        ordered: reply.body.kind === "steps" || checklist, cls: checklist ? "checklist" : "",
      }));
    }
    for (const part of reply.sections || []) {
      if (where.get(sectionKey(part)) !== kind) continue;
      const open = ["documents", "steps", "channels"].includes(part.kind);
      block.append(el("details", { open },
        el("summary", { text: part.title }),
        el(part.kind === "steps" ? "ol" : "ul", {}, part.items.map((text) => el("li", { text })))));
    }
    return block;
  }

  function drawCard(data) {
    const can = data.replies.can;
    const eligibility = can.meta.eligibility;
    const card = $("card");
    const where = placeSections(data.replies);
    const places = [data.home && `户籍地 ${data.home}`, data.at && `所在地 ${data.at}`].filter(Boolean).join("，");
    card.replaceChildren(
      el("header", { class: "card-head" },
        el("h2", { id: "card-title", text: data.item.name }),
        el("p", { class: "muted" },
          `${data.item.category} · ${data.item.department} · 按 ${data.as_of} 的政策`,
          places ? ` · ${places}` : "",
          ` · 最近核实 ${data.item.last_verified}`),
        eligibility ? el("p", { class: `badge badge-${eligibility}`, id: "eligibility", text: ELIGIBILITY[eligibility] || eligibility }) : null),
      ...CARD_PARTS.map(([kind, title]) => data.replies[kind] ? replyBlock(kind, title, data.replies[kind], where) : null).filter(Boolean),
      el("section", { class: "part part-stages", "aria-label": "各阶段" },
        el("h3", { text: "政策阶段" }),
        el("ol", { class: "timeline" }, data.stages.map((stage) =>
          el("li", { class: stage.current ? "current" : "" },
            el("span", { class: "when", text: `${stage.start} — ${stage.end || "至今"}` }),
            el("strong", { text: stage.name + (stage.current ? "（当前）" : "") }),
            el("span", { class: "muted", text: ` ${stage.regions}` }),
            el("p", { text: stage.summary }))))),
      el("section", { class: "part part-sources", "aria-label": "来源" },
        el("h3", { text: "来源" }),
        el("ul", {}, data.sources.map((source) => el("li", {},
          source.url ? el("a", { href: source.url, target: "_blank", rel: "noopener noreferrer", text: `《${source.title}》` })
                     : el("span", { text: `《${source.title}》` }),
          ` ${source.issuer}${source.ref && source.ref !== source.issuer ? `（${source.ref}）` : ""}，${source.date}`,
          source.repost ? "（转载）" : ""))),
        el("p", { class: "muted", text: `最近核实：${data.item.last_verified}；适用自 ${data.item.valid_from}` })),
    );
    card.hidden = false;
  }

  async function loadCard() {
    if (!current) return;
    const params = new URLSearchParams({ item: current, date: $("date").value || today() });
    for (const key of ["home", "at"]) if ($(key).value.trim()) params.set(key, $(key).value.trim());
    const data = await api(`card?${params}`);
    const problem = $("card-error");
    problem.hidden = data.ok;
    problem.textContent = data.ok ? "" : data.error || "无法显示这个事项";
    if (data.ok) drawCard(data);
  }

  $("context").addEventListener("submit", (event) => { event.preventDefault(); loadCard(); });
  $("date").addEventListener("change", loadCard);
  $("print").addEventListener("click", () => window.print());
  // A printout shows every detail of the card, folded or not.
  let folded = [];
  window.addEventListener("beforeprint", () => {
    folded = [...document.querySelectorAll("#card details:not([open])")];
    folded.forEach((d) => { d.open = true; });
  });
  window.addEventListener("afterprint", () => folded.forEach((d) => { d.open = false; }));

  for (const key of ["home", "at"]) {
    let placeTimer = null;
    const input = $(key);
    input.addEventListener("input", () => {
      clearTimeout(placeTimer);
      placeTimer = setTimeout(async () => {
        const text = input.value.trim();
        if (!text) return;
        const data = await api(`places?q=${encodeURIComponent(text)}`);
        if (!data.ok) return;
        $(`${key}-list`).replaceChildren(...data.results.map((p) => el("option", { value: p.value })));
        if (data.results.some((p) => p.value === text)) loadCard();
      }, 150);
    });
    input.addEventListener("change", loadCard);
  }

  // -- cases ------------------------------------------------------------------------------

  $("case-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const box = $("case-result");
    const data = await api("cases/lookup", {
      method: "POST", body: { case: $("case-id").value, last4: $("case-last4").value },
    });
    const parts = [el("pre", { class: data.ok ? "case-text found" : "case-text", id: "case-text", text: data.text || data.error })];
    if (data.token) {
      parts.push(el("button", { type: "button", id: "case-history", text: "查看办理记录", onclick: async () => {
        const history = await api("cases/history", { method: "POST", body: { token: data.token } });
        box.append(el("pre", { class: "case-text", id: "case-history-text", text: history.text || history.error }));
      } }));
    }
    box.replaceChildren(...parts);
    $("case-last4").value = "";
  });

  // -- 好差评 ------------------------------------------------------------------------------

  async function loadRatings() {
    const data = await api("ratings");
    if (!data.ok) return;
    $("ratings-export").hidden = window.Console.me.role !== "admin";
    $("ratings-summary").textContent = `共 ${data.up + data.down} 条评价：好评 ${data.up}，差评 ${data.down}。差评多的事项和回答排在前面。`;
    $("ratings-list").replaceChildren(...data.items.map((group) =>
      el("details", { class: "rating-group", open: group.down > 0 },
        el("summary", {}, el("strong", { text: group.name }), ` 👍 ${group.up} · 👎 ${group.down}`),
        el("ul", {}, group.answers.map((answer) => el("li", {},
          el("p", { class: "lead", text: answer.lead }),
          el("p", { class: "muted", text: `${KINDS[answer.kind] || answer.kind || "其他"} · 👍 ${answer.up} · 👎 ${answer.down}` }),
          answer.reasons.length ? el("ul", { class: "reasons" }, answer.reasons.map((r) => el("li", { text: `${r.at.slice(0, 16)}：${r.reason}` }))) : null))))));
    if (!data.items.length) $("ratings-list").replaceChildren(el("p", { class: "muted", text: "还没有评价。" }));
  }

  // -- the audit log ----------------------------------------------------------------------

  function auditParams() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData($("audit-form"))) if (String(value).trim()) params.set(key, String(value).trim());
    return params;
  }

  async function loadAudit() {
    if (window.Console.me.role !== "admin") return;
    const params = auditParams();
    $("audit-export").href = `api/audit.csv?${params}`;
    const data = await api(`audit?${params}`);
    $("audit-rows").replaceChildren(...(data.entries || []).map((entry) => el("tr", {},
      el("td", { text: new Date(entry.at * 1000).toLocaleString("zh-CN") }),
      el("td", { text: entry.agent }), el("td", { text: entry.action }),
      el("td", { text: entry.case }), el("td", { text: entry.result }))));
  }

  $("audit-form").addEventListener("submit", (event) => { event.preventDefault(); loadAudit(); });

  // -- start ------------------------------------------------------------------------------

  window.Console.ready.then(() => {
    $("date").value = today();
    window.addEventListener("hashchange", showView);
    showView();
    q.focus();
  }).catch(() => null);
})();
