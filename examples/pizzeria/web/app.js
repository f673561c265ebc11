// Mario's Pizzeria: the page of the redkit demo. Plain JavaScript, no
// build step: it calls the JSON API under /api, listens to /api/events
// (server-sent events fed by Redis pub/sub) and polls /api/redis for the
// panel once a second.
"use strict";

const $ = (sel) => document.querySelector(sel);
const state = { user: "", cart: {}, menu: [], stock: {}, orders: new Map(), instance: "" };

const euros = (cents) => "€" + (cents / 100).toFixed(2);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
    credentials: "same-origin",
  });
  let data = {};
  try { data = await res.json(); } catch (_) { /* empty body */ }
  if (!res.ok) {
    const err = new Error(data.error || res.statusText);
    err.status = res.status;
    err.retryAfter = res.headers.get("Retry-After");
    throw err;
  }
  return data;
}

let toastTimer;
function toast(msg, error) {
  const t = $("#toast");
  t.textContent = msg;
  t.className = "toast" + (error ? " error" : "");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => t.classList.add("hidden"), 3500);
}

function fail(err) {
  if (err.status === 429) {
    toast(`Slow down: rate limited, retry in ${err.retryAfter || 1}s`, true);
  } else {
    toast(err.message, true);
  }
}

function logEvent(html) {
  const li = document.createElement("li");
  li.innerHTML = `<span>${new Date().toLocaleTimeString()}</span> ${html}`;
  const ul = $("#events");
  ul.prepend(li);
  while (ul.children.length > 30) ul.lastChild.remove();
}

// ---- customer ----

function renderUser() {
  const logged = !!state.user;
  $("#login-form").classList.toggle("hidden", logged);
  $("#logged-in").classList.toggle("hidden", !logged);
  $("#user-name").textContent = state.user;
  renderCart();
  renderMenu();
}

async function loadMe() {
  const me = await api("GET", "/api/me");
  state.user = me.user || "";
  state.cart = me.cart || {};
  state.instance = me.instance;
  $("#instance").textContent = me.instance;
  $("#user-sessions").textContent = me.sessions ? `(${me.sessions} session${me.sessions > 1 ? "s" : ""})` : "";
  renderUser();
}

$("#login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await api("POST", "/api/login", { name: $("#login-name").value });
    await loadMe();
    await loadOrders();
    reconnectEvents(); // the stream now carries this user's statuses
    toast(`Welcome, ${state.user}!`);
  } catch (err) { fail(err); }
});

$("#logout-btn").addEventListener("click", async () => {
  try { await api("POST", "/api/logout"); await loadMe(); clearMine(); reconnectEvents(); } catch (err) { fail(err); }
});

$("#logout-all-btn").addEventListener("click", async () => {
  try {
    const r = await api("POST", "/api/logout-all");
    toast(`Ended ${r.ended} session(s) everywhere`);
    await loadMe(); clearMine(); reconnectEvents();
  } catch (err) { fail(err); }
});

// ---- menu and cart ----

async function loadMenu() {
  const [m, inv] = await Promise.all([api("GET", "/api/menu"), api("GET", "/api/inventory")]);
  state.menu = m.items;
  state.stock = inv.stock;
  renderMenu();
  renderCart();
}

function renderMenu() {
  $("#menu").innerHTML = state.menu.map((p) => `
    <div class="pizza" data-id="${esc(p.id)}">
      <div class="name">${esc(p.name)}</div>
      <div class="about">${esc(p.about || "")}</div>
      <div class="meta"><span class="price">${euros(p.price)}</span>
        <span>${p.veg ? '<span class="veg">VEG</span> ' : ""}<span class="stock">${state.stock[p.id] ?? 0} left</span></span></div>
      <div class="actions">
        <button class="small add-btn" data-pizza="${esc(p.id)}" ${state.user ? "" : "disabled"}>Add</button>
        <button class="small edit" data-edit="${esc(p.id)}" title="Change the price: invalidates the cache on every instance">Edit price</button>
      </div>
    </div>`).join("");
}

$("#menu").addEventListener("click", async (e) => {
  const add = e.target.closest("[data-pizza]");
  const edit = e.target.closest("[data-edit]");
  try {
    if (add) {
      const id = add.dataset.pizza;
      const r = await api("PUT", "/api/cart", { pizza: id, qty: (state.cart[id] || 0) + 1 });
      state.cart = r.cart;
      renderCart();
    } else if (edit) {
      const p = state.menu.find((x) => x.id === edit.dataset.edit);
      const v = prompt(`New price for ${p.name} (euros)`, (p.price / 100).toFixed(2));
      if (v === null) return;
      const cents = Math.round(parseFloat(v) * 100);
      await api("PUT", `/api/menu/${encodeURIComponent(p.id)}`, { ...p, price: cents });
      await loadMenu();
      flashPizza(p.id);
      logEvent(`<b>menu</b> ${esc(p.name)} now ${euros(cents)} (invalidated by tag)`);
    }
  } catch (err) { fail(err); }
});

function flashPizza(id) {
  const el = document.querySelector(`.pizza[data-id="${CSS.escape(id)}"]`);
  if (!el) return;
  el.classList.add("flash");
  setTimeout(() => el.classList.remove("flash"), 1500);
}

function renderCart() {
  const ul = $("#cart");
  const ids = Object.keys(state.cart || {});
  if (!state.user) {
    ul.innerHTML = '<li class="muted">Log in to order.</li>';
  } else if (ids.length === 0) {
    ul.innerHTML = '<li class="muted">Empty: add a pizza from the menu.</li>';
  } else {
    ul.innerHTML = ids.map((id) => {
      const p = state.menu.find((x) => x.id === id) || { name: id, price: 0 };
      return `<li><span>${esc(p.name)}</span>
        <span class="qty"><button class="small" data-dec="${esc(id)}">−</button><b>${state.cart[id]}</b><button class="small" data-inc="${esc(id)}">+</button></span>
        <span>${euros(p.price * state.cart[id])}</span></li>`;
    }).join("");
  }
  let total = 0;
  for (const id of ids) {
    const p = state.menu.find((x) => x.id === id);
    if (p) total += p.price * state.cart[id];
  }
  $("#cart-total").textContent = euros(total);
  $("#place-order").disabled = !state.user || ids.length === 0;
}

$("#cart").addEventListener("click", async (e) => {
  const inc = e.target.closest("[data-inc]");
  const dec = e.target.closest("[data-dec]");
  if (!inc && !dec) return;
  const id = (inc || dec).dataset.inc || (inc || dec).dataset.dec;
  try {
    const r = await api("PUT", "/api/cart", { pizza: id, qty: Math.max(0, (state.cart[id] || 0) + (inc ? 1 : -1)) });
    state.cart = r.cart;
    renderCart();
  } catch (err) { fail(err); }
});

$("#place-order").addEventListener("click", async () => {
  try {
    const o = await api("POST", "/api/orders");
    state.cart = {};
    renderCart();
    upsertOrder(o);
    loadMenu();
    toast(`Order #${o.id} placed (lock fence ${o.fence})`);
  } catch (err) { fail(err); }
});

// ---- orders and the kitchen board ----

function clearMine() { renderOrders(); }

async function loadOrders() {
  const b = await api("GET", "/api/board");
  state.orders = new Map(b.orders.map((o) => [o.id, o]));
  renderOrders();
  const k = await api("GET", "/api/kitchen");
  renderDead(k.dead);
}

function upsertOrder(o) {
  const prev = state.orders.get(o.id);
  if (prev && new Date(prev.updated) > new Date(o.updated)) return; // an older event
  state.orders.set(o.id, o);
  renderOrders();
}

const progress = { waiting: 10, baking: 55, burnt: 40, ready: 100, dead: 100 };

function itemsText(items) {
  return Object.entries(items || {}).map(([id, n]) => `${n}× ${esc((state.menu.find((p) => p.id === id) || { name: id }).name)}`).join(", ");
}

function renderOrders() {
  const all = [...state.orders.values()].sort((a, b) => b.id - a.id);
  const mine = all.filter((o) => o.user === state.user);
  $("#my-orders").innerHTML = mine.length === 0 ? '<li class="muted">No orders yet.</li>' : mine.slice(0, 8).map((o) => `
    <li data-order="${o.id}" data-status="${o.status}"><span><b>#${o.id}</b> ${itemsText(o.items)}
      <div class="progress"><span style="width:${progress[o.status] || 0}%"></span></div></span>
      <span class="pill ${o.status}">${o.status}${o.attempts > 1 ? " · try " + o.attempts : ""}</span></li>`).join("");
  const cols = { waiting: [], baking: [], ready: [], dead: [] };
  for (const o of all) {
    const col = o.status === "burnt" ? "waiting" : o.status;
    if (cols[col]) cols[col].push(o);
  }
  for (const [col, list] of Object.entries(cols)) {
    $(`#n-${col}`).textContent = list.length;
    if (col === "dead") continue; // rendered from the dead letters
    $(`#board-${col}`).innerHTML = list.slice(0, 8).map((o) => `
      <li data-order="${o.id}"><b>#${o.id}</b> ${esc(o.user)} · ${itemsText(o.items)}
      ${o.status === "burnt" ? '<br><span class="muted">burnt, retrying…</span>' : ""}
      ${o.cook && col !== "waiting" ? `<br><span class="muted">${esc(o.cook)}</span>` : ""}</li>`).join("");
  }
}

function renderDead(dead) {
  $("#n-dead").textContent = dead.length;
  $("#board-dead").innerHTML = dead.map((j) => `
    <li><b>#${j.order_id}</b> ${esc(j.error)} after ${j.attempts} tries
      <br><button class="small requeue" data-job="${esc(j.id)}">Requeue</button></li>`).join("");
}

$("#board-dead").addEventListener("click", async (e) => {
  const b = e.target.closest("[data-job]");
  if (!b) return;
  try {
    const r = await api("POST", `/api/kitchen/dead/${encodeURIComponent(b.dataset.job)}/requeue`);
    toast(`Order #${r.order_id} back in the kitchen`);
    loadOrders();
  } catch (err) { fail(err); }
});

// ---- analytics and broadcast ----

async function loadAnalytics() {
  const a = await api("GET", "/api/analytics");
  $("#popular").innerHTML = a.popular.map((p) => `<li>${esc((state.menu.find((m) => m.id === p.pizza) || { name: p.pizza }).name)} <span class="muted">${p.sold} sold</span></li>`).join("") || '<li class="muted">nothing sold yet</li>';
  const chips = (xs) => xs.map((x) => `<span class="chip">${esc(x)}</span>`).join("") || '<span class="muted">nobody yet</span>';
  $("#customers").innerHTML = chips(a.customers_today);
  $("#veggie").innerHTML = chips(a.veggie_fans_today);
}

$("#broadcast-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = $("#broadcast-text").value.trim();
  if (!text) return;
  try {
    const r = await api("POST", "/api/broadcast", { text });
    $("#broadcast-text").value = "";
    toast(`Sent to ${r.receivers} subscriber(s)`);
  } catch (err) { fail(err); }
});

// ---- live events ----

let source;
function reconnectEvents() {
  if (source) source.close();
  source = new EventSource("/api/events");
  source.addEventListener("hello", () => { $("#live-dot").classList.add("on"); });
  source.onerror = () => { $("#live-dot").classList.remove("on"); };
  source.addEventListener("board", (e) => {
    const ev = JSON.parse(e.data);
    upsertOrder(ev.order);
    if (ev.order.status === "dead" || ev.order.status === "waiting") api("GET", "/api/kitchen").then((k) => renderDead(k.dead)).catch(() => {});
    logEvent(`<b>#${ev.order.id}</b> ${esc(ev.order.status)} <span class="muted">via ${esc(ev.instance)}</span>`);
  });
  source.addEventListener("status", (e) => {
    const ev = JSON.parse(e.data);
    if (ev.order.status === "ready") toast(`Your order #${ev.order.id} is ready!`);
  });
  source.addEventListener("change", (e) => {
    const c = JSON.parse(e.data);
    if (c.source !== state.instance) {
      logEvent(`<b>menu</b> ${esc(c.id)} changed on ${esc(c.source)}: re-read`);
      loadMenu().then(() => flashPizza(c.id)).catch(() => {});
    }
  });
  source.addEventListener("broadcast", (e) => {
    const a = JSON.parse(e.data);
    const bar = $("#broadcast-bar");
    bar.textContent = `Broadcast from ${a.from}: ${a.text}`;
    bar.classList.remove("hidden");
    logEvent(`<b>broadcast</b> ${esc(a.from)}: ${esc(a.text)}`);
  });
  source.addEventListener("resync", () => {
    logEvent("<b>pub/sub gap</b>: messages may have been missed, re-reading");
    refreshAll();
  });
}

// ---- the Redis panel ----

const samples = []; // {t, ops}
function drawChart() {
  const c = $("#chart");
  const ctx = c.getContext("2d");
  const w = c.width, h = c.height;
  ctx.clearRect(0, 0, w, h);
  const rates = [];
  for (let i = 1; i < samples.length; i++) {
    const dt = (samples[i].t - samples[i - 1].t) / 1000;
    rates.push(dt > 0 ? Math.max(0, (samples[i].ops - samples[i - 1].ops) / dt) : 0);
  }
  const max = Math.max(10, ...rates) * 1.15;
  ctx.strokeStyle = "#3b322c";
  ctx.lineWidth = 1;
  for (let g = 1; g < 4; g++) { ctx.beginPath(); ctx.moveTo(0, (h * g) / 4); ctx.lineTo(w, (h * g) / 4); ctx.stroke(); }
  if (rates.length < 2) return;
  const x = (i) => (i / 59) * w;
  const y = (v) => h - (v / max) * h;
  const grad = ctx.createLinearGradient(0, 0, 0, h);
  grad.addColorStop(0, "rgba(255,122,89,.55)");
  grad.addColorStop(1, "rgba(255,122,89,0)");
  const off = 60 - rates.length;
  ctx.beginPath();
  ctx.moveTo(x(off), h);
  rates.forEach((r, i) => ctx.lineTo(x(off + i), y(r)));
  ctx.lineTo(x(off + rates.length - 1), h);
  ctx.fillStyle = grad;
  ctx.fill();
  ctx.beginPath();
  rates.forEach((r, i) => (i ? ctx.lineTo(x(off + i), y(r)) : ctx.moveTo(x(off + i), y(r))));
  ctx.strokeStyle = "#ff7a59";
  ctx.lineWidth = 2;
  ctx.stroke();
  ctx.fillStyle = "#b3a597";
  ctx.font = "11px sans-serif";
  ctx.fillText(Math.round(max / 1.15) + "/s", 4, 12);
  ctx.fillText("last minute", w - 64, h - 4);
  $("#ops-rate").textContent = Math.round(rates[rates.length - 1]);
}

async function pollPanel() {
  try {
    const p = await api("GET", "/api/redis");
    samples.push({ t: Date.now(), ops: p.kit.ops });
    while (samples.length > 61) samples.shift();
    drawChart();
    $("#panel-mode").textContent = p.kit.mode ? `· ${p.kit.mode}` : "";
    const br = $("#breaker");
    br.textContent = p.kit.breaker;
    br.className = "big " + (p.kit.breaker === "closed" ? "ok" : p.kit.breaker === "open" ? "bad" : "warn");
    $("#latency").textContent = `${p.kit.healthy ? "healthy" : "unhealthy"} · ping ${(p.kit.latency_us / 1000).toFixed(2)} ms · ${p.kit.errors} errors`;
    const c = p.cache;
    const lookups = c.near_hits + c.remote_hits + c.misses;
    $("#near-hits").textContent = c.near_hits;
    $("#cache-detail").textContent = `${c.remote_hits} remote hits · ${c.misses} misses · ${c.loads} loads`;
    $("#hit-bar").style.width = lookups ? `${(100 * (c.near_hits + c.remote_hits)) / lookups}%` : "0";
    const l = p.lock;
    const ls = $("#lock-state");
    ls.textContent = l.held ? "held" : "free";
    ls.className = "big " + (l.held ? "warn" : "ok");
    $("#lock-detail").textContent = `fence ${l.last_fence || "–"}${l.held ? ` · lease ${l.ttl_ms} ms` : ""}`;
    if (p.queue) {
      $("#q-waiting").textContent = p.queue.Waiting;
      $("#q-detail").textContent = `${p.queue.InFlight} baking · ${p.queue.Delayed} retrying · ${p.queue.Dead} dead · ${p.queue.Processed} done · ${p.queue.Failed} failed`;
    }
    if (p.stream) {
      $("#s-length").textContent = p.stream.Length;
      $("#s-detail").textContent = `lag ${p.stream.Lag} · pending ${p.stream.Pending} · ${p.stream.Consumers} consumers`;
    }
    $("#refused").textContent = p.limits.refused;
    if (p.schedule) {
      $("#sched-every").textContent = `every ${p.schedule.every}`;
      const last = p.schedule.last;
      const ticks = Object.entries(p.schedule.ticks || {}).map(([k, v]) => `${k}: ${v}`).join(" · ");
      $("#sched-detail").innerHTML = last && last.by
        ? `last by <b>${esc(last.by)}</b> at ${new Date(last.at).toLocaleTimeString()}: ${last.orders} orders, ${last.ready} ready, ${last.dead} dead<br>ticks fired: ${esc(ticks)}`
        : "not yet";
    }
  } catch (_) { /* shown by the breaker tile on the next success */ }
}

async function refreshAll() {
  try {
    await loadMenu();
    await loadMe();
    await loadOrders();
    await loadAnalytics();
  } catch (err) { fail(err); }
}

function otherInstance() {
  const port = parseInt(location.port || "80", 10);
  const other = port % 2 === 0 ? port + 1 : port - 1;
  $("#other-link").href = `${location.protocol}//${location.hostname}:${other}/`;
}

otherInstance();
refreshAll().then(reconnectEvents);
setInterval(pollPanel, 1000);
setInterval(() => { loadAnalytics().catch(() => {}); }, 3000);
pollPanel();
