// The smpsim designer page. Everything it shows is rendered by the server (the smpsim library); this script
// keeps the design (points, painted masks, settings), sends it, and shows what comes back.
"use strict";

const $ = (id) => document.getElementById(id);

/** The open photo: what the server said when it was uploaded (id, name, sizes). */
let photo = null;
/** Hairline control points and region outline, as fractions of the photo's width and height. */
const points = { hairline: [], region: [] };
/** Painted masks at the preview's size: density (white = full) and exclusions (white = none). */
const masks = { density: null, exclude: null };
/** What the masks look like over the photo: density below full in blue, exclusions in red. */
const tints = { density: null, exclude: null };
/** Which masks have been painted since they were last cleared. */
const painted = { density: false, exclude: false };
let afterUrl = null;
let renderTimer = null;
let inFlight = null;

// ---- messages and status ---------------------------------------------------------------------------

function showError(text) {
  const box = $("message");
  box.textContent = text;
  box.hidden = false;
}

function clearError() {
  $("message").hidden = true;
}

function setStatus(text) {
  $("status").textContent = text;
}

/** `fetch`, with a network failure (the server stopped) turned into a message that says what to do. */
async function call(url, options) {
  try {
    return await fetch(url, options);
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new Error("Cannot reach smpsim: is `smpsim serve` still running? Start it again and reload this page.");
  }
}

/** Sends the design to `/api/photos/ID/PATH` (a preview or an export); a refusal becomes an error. */
async function postDesign(path, state, signal) {
  const response = await call(`/api/photos/${photo.id}/${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(state),
    signal,
  });
  if (!response.ok) throw new Error(await failure(response));
  return response;
}

/** The message of a failed response: the server's JSON `error`, or its text. */
async function failure(response) {
  const text = await response.text();
  try {
    return JSON.parse(text).error || text;
  } catch (_) {
    return text || `${response.status} ${response.statusText}`;
  }
}

// ---- the design as the server takes it -------------------------------------------------------------

function numberOf(id, label) {
  const value = $(id).value.trim();
  const n = Number(value);
  if (value === "" || !Number.isFinite(n)) throw new Error(`${label}: "${value}" is not a number`);
  return n;
}

function shade() {
  const choice = $("shade").value;
  return choice === "custom" ? $("shade-colour").value : choice;
}

function round(v) {
  return Math.round(v * 1e5) / 1e5;
}

/** The JSON the server renders (see smpsim::serve::DesignState). Throws on a field that is not a number. */
function designState() {
  const transition = $("transition").value.trim();
  return {
    hairline: points.hairline.map(([x, y]) => [round(x), round(y)]),
    region: points.region.map(([x, y]) => [round(x), round(y)]),
    style: $("style").value,
    transition_mm: transition === "" ? null : numberOf("transition", "Transition"),
    density: numberOf("density", "Density"),
    dot_size: numberOf("dot-size", "Dot size"),
    shade: shade(),
    sessions: numberOf("sessions", "Sessions"),
    session: numberOf("session", "Session"),
    years: numberOf("years", "Years"),
    fresh: $("fresh").checked,
    seed: numberOf("seed", "Seed"),
  };
}

/** `text` as one shell word. */
function shellQuote(text) {
  return /^[A-Za-z0-9._\/-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}

/** The design (designState), or null after showing the field that is not a number. */
function designStateOrShowError() {
  try {
    return designState();
  } catch (e) {
    showError(e.message);
    return null;
  }
}

function updateCommand() {
  if (!photo) return;
  const n = photo.name;
  let cmd = `smpsim render ${shellQuote(photo.fileName)} --hairline ${n}.hairline.toml --config ${n}.toml`;
  if (painted.density) cmd += ` --density-map ${n}.density.png`;
  if (painted.exclude) cmd += ` --exclude ${n}.exclude.png`;
  cmd += ` -o ${n}.after.${photo.after_ext}`;
  $("command").textContent = cmd;
  document.querySelector('.export[data-what="density"]').disabled = !painted.density;
  document.querySelector('.export[data-what="exclude"]').disabled = !painted.exclude;
}

// ---- preview rendering -----------------------------------------------------------------------------

/** Re-renders soon: changes within 120 ms make one request, and a newer request cancels an older one. */
function schedule() {
  updateCommand();
  clearTimeout(renderTimer);
  renderTimer = setTimeout(renderPreview, 120);
}

async function renderPreview() {
  if (!photo) return;
  const state = designStateOrShowError();
  if (!state) return;
  if (inFlight) inFlight.abort();
  const controller = new AbortController();
  inFlight = controller;
  document.body.dataset.state = "rendering";
  setStatus("Rendering…");
  const started = performance.now();
  try {
    const response = await postDesign("preview", state, controller.signal);
    const stats = JSON.parse(response.headers.get("X-Smpsim-Stats") || "{}");
    const blob = await response.blob();
    if (afterUrl) URL.revokeObjectURL(afterUrl);
    afterUrl = URL.createObjectURL(blob);
    const img = $("after-img");
    await new Promise((resolve) => {
      img.onload = resolve;
      img.onerror = resolve;
      img.src = afterUrl;
    });
    img.dataset.version = String(Number(img.dataset.version) + 1);
    clearError();
    showStats(stats, performance.now() - started);
  } catch (e) {
    if (e.name === "AbortError") return;
    showError(e.message);
    setStatus("");
  } finally {
    if (inFlight === controller) {
      inFlight = null;
      document.body.dataset.state = "idle";
    }
  }
}

function showStats(stats, ms) {
  if (stats.note) {
    $("stats").textContent = stats.note;
  } else {
    $("stats").textContent =
      `${stats.impressions.toLocaleString()} impressions over ${stats.area_cm2.toFixed(1)} cm² ` +
      `(scale ${(stats.px_per_mm * photo.width / photo.preview_width).toFixed(2)} px/mm at full size), ` +
      `shade ${stats.shade}`;
  }
  setStatus(`Preview in ${Math.round(ms)} ms`);
}

// ---- opening a photo -------------------------------------------------------------------------------

function closePhoto() {
  if (photo) navigator.sendBeacon(`/api/photos/${photo.id}/close`);
  photo = null;
}

/** The server's limits (GET /api/limits), fetched once. */
const limits = fetch("/api/limits").then((r) => (r.ok ? r.json() : {})).catch(() => ({}));

async function openPhoto(file) {
  clearError();
  const max = (await limits).max_upload_bytes;
  if (max && file.size > max) {
    showError(`${file.name} is ${(file.size / 1048576).toFixed(0)} MB, larger than the ${Math.floor(max / 1048576)} MB this server accepts`);
    return;
  }
  setStatus(`Opening ${file.name}…`);
  document.body.dataset.state = "opening";
  try {
    const response = await call("/api/photos", {
      method: "POST",
      headers: { "X-File-Name": encodeURIComponent(file.name) },
      body: file,
    });
    if (!response.ok) throw new Error(`${file.name}: ${await failure(response)}`);
    closePhoto();
    photo = await response.json();
    photo.fileName = file.name;
  } catch (e) {
    showError(e.message);
    setStatus("");
    document.body.dataset.state = photo ? "idle" : "empty";
    return;
  }
  points.hairline = [];
  points.region = [];
  for (const which of ["density", "exclude"]) {
    const canvas = document.createElement("canvas");
    canvas.width = photo.preview_width;
    canvas.height = photo.preview_height;
    masks[which] = canvas;
    tints[which] = document.createElement("canvas");
    tints[which].width = canvas.width;
    tints[which].height = canvas.height;
    clearMask(which);
    painted[which] = false;
  }
  $("photo-name").textContent = `${photo.name} · ${photo.width}×${photo.height}`;
  const before = $("before-img");
  await new Promise((resolve) => {
    before.onload = resolve;
    before.onerror = resolve;
    before.src = `/api/photos/${photo.id}/before`;
  });
  $("after-img").src = before.src;
  $("frame").hidden = false;
  $("drop-hint").hidden = true;
  sizeOverlay();
  applyView();
  draw();
  schedule();
}

window.addEventListener("pagehide", closePhoto);

$("file").addEventListener("change", (e) => {
  if (e.target.files.length) openPhoto(e.target.files[0]);
  e.target.value = "";
});

const stage = $("stage");
for (const type of ["dragenter", "dragover"]) {
  document.addEventListener(type, (e) => {
    e.preventDefault();
    stage.classList.add("dragging");
  });
}
document.addEventListener("dragleave", (e) => {
  if (!e.relatedTarget) stage.classList.remove("dragging");
});
document.addEventListener("drop", (e) => {
  e.preventDefault();
  stage.classList.remove("dragging");
  const file = e.dataTransfer && e.dataTransfer.files[0];
  if (file) openPhoto(file);
});

// ---- drawing: points and brushes -------------------------------------------------------------------

const overlay = $("overlay");
const ctx = overlay.getContext("2d");

function tool() {
  return document.querySelector('input[name="tool"]:checked').value;
}

function sizeOverlay() {
  const rect = overlay.getBoundingClientRect();
  const ratio = window.devicePixelRatio || 1;
  overlay.width = Math.max(1, Math.round(rect.width * ratio));
  overlay.height = Math.max(1, Math.round(rect.height * ratio));
}

window.addEventListener("resize", () => {
  if (photo) {
    sizeOverlay();
    draw();
  }
});

/** Pointer position as fractions of the photo. */
function fractionAt(event) {
  const rect = overlay.getBoundingClientRect();
  return [
    Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width)),
    Math.min(1, Math.max(0, (event.clientY - rect.top) / rect.height)),
  ];
}

/** The index of the point of `list` within 10 screen pixels of the pointer, or -1. */
function pointNear(list, event) {
  const rect = overlay.getBoundingClientRect();
  let best = -1;
  let bestDistance = 10;
  list.forEach(([x, y], i) => {
    const d = Math.hypot(x * rect.width + rect.left - event.clientX, y * rect.height + rect.top - event.clientY);
    if (d <= bestDistance) {
      best = i;
      bestDistance = d;
    }
  });
  return best;
}

function clearMask(which) {
  const c = masks[which].getContext("2d");
  c.fillStyle = which === "density" ? "#fff" : "#000";
  c.fillRect(0, 0, masks[which].width, masks[which].height);
  tints[which].getContext("2d").clearRect(0, 0, tints[which].width, tints[which].height);
}

/** The tint's colour for the current brush, and whether it erases. */
function tintColour(which) {
  if ($("erase").checked) return null;
  if (which === "exclude") return "rgba(230,40,40,0.55)";
  const level = Number($("brush-level").value) / 100;
  return `rgba(40,100,255,${(0.6 * (1 - level)).toFixed(3)})`;
}

function brushColour(which) {
  const erase = $("erase").checked;
  if (which === "exclude") return erase ? "#000" : "#fff";
  const level = erase ? 255 : Math.round((Number($("brush-level").value) / 100) * 255);
  return `rgb(${level},${level},${level})`;
}

let drag = null;

overlay.addEventListener("pointerdown", (e) => {
  if (!photo || e.button !== 0) return;
  overlay.setPointerCapture(e.pointerId);
  const t = tool();
  if (t === "hairline" || t === "region") {
    const list = points[t];
    let index = pointNear(list, e);
    if (index < 0) {
      list.push(fractionAt(e));
      index = list.length - 1;
    }
    drag = { kind: "point", list, index, moved: false };
  } else {
    drag = { kind: "brush", which: t, last: fractionAt(e) };
    paintTo(drag, fractionAt(e));
  }
  draw();
});

overlay.addEventListener("pointermove", (e) => {
  if (!drag) return;
  if (drag.kind === "point") {
    drag.list[drag.index] = fractionAt(e);
    drag.moved = true;
  } else {
    paintTo(drag, fractionAt(e));
  }
  draw();
});

function endDrag() {
  if (!drag) return;
  const finished = drag;
  drag = null;
  if (finished.kind === "brush") {
    painted[finished.which] = true;
    uploadMask(finished.which);
  } else {
    schedule();
  }
}

overlay.addEventListener("pointerup", endDrag);
overlay.addEventListener("pointercancel", endDrag);

overlay.addEventListener("dblclick", (e) => {
  const t = tool();
  if (t !== "hairline" && t !== "region") return;
  const index = pointNear(points[t], e);
  if (index >= 0) {
    points[t].splice(index, 1);
    draw();
    schedule();
  }
});

/** Paints a round-capped stroke from the last position to `to` into the mask. */
function paintTo(stroke, to) {
  const canvas = masks[stroke.which];
  const c = canvas.getContext("2d");
  const rect = overlay.getBoundingClientRect();
  const width = (Number($("brush-size").value) * canvas.width) / rect.width;
  c.strokeStyle = brushColour(stroke.which);
  const path = (g) => {
    g.lineWidth = width;
    g.lineCap = "round";
    g.beginPath();
    g.moveTo(stroke.last[0] * canvas.width, stroke.last[1] * canvas.height);
    g.lineTo(to[0] * canvas.width + 0.01, to[1] * canvas.height);
    g.stroke();
  };
  path(c);
  // The tint: painted over (replacing what was there) or cut out when erasing.
  const tint = tints[stroke.which].getContext("2d");
  const colour = tintColour(stroke.which);
  tint.save();
  tint.globalCompositeOperation = "destination-out";
  tint.strokeStyle = "#000";
  path(tint);
  tint.restore();
  if (colour) {
    tint.strokeStyle = colour;
    path(tint);
  }
  stroke.last = to;
}

async function uploadMask(which) {
  const blob = await new Promise((resolve) => masks[which].toBlob(resolve, "image/png"));
  try {
    const response = await call(`/api/photos/${photo.id}/brush/${which}`, { method: "POST", body: blob });
    if (!response.ok) throw new Error(await failure(response));
    schedule();
  } catch (e) {
    showError(e.message);
  }
}

/** Draws the points, lines and painted masks over the photo. */
function draw() {
  if (!photo) return;
  const w = overlay.width;
  const h = overlay.height;
  ctx.clearRect(0, 0, w, h);
  const t = tool();
  if (t === "density" || t === "exclude") ctx.drawImage(tints[t], 0, 0, w, h);
  const ratio = window.devicePixelRatio || 1;
  const line = (list, colour, closed) => {
    if (!list.length) return;
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2 * ratio;
    ctx.setLineDash(closed ? [6 * ratio, 4 * ratio] : []);
    ctx.beginPath();
    list.forEach(([x, y], i) => (i ? ctx.lineTo(x * w, y * h) : ctx.moveTo(x * w, y * h)));
    if (closed && list.length > 2) ctx.closePath();
    ctx.stroke();
    ctx.setLineDash([]);
    for (const [x, y] of list) {
      ctx.beginPath();
      ctx.arc(x * w, y * h, 5 * ratio, 0, 2 * Math.PI);
      ctx.fillStyle = colour;
      ctx.fill();
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = 1.5 * ratio;
      ctx.stroke();
    }
  };
  line(points.region, "rgba(255,200,0,0.9)", true);
  line(points.hairline, "rgba(0,200,255,0.95)", false);
}

// ---- controls ----------------------------------------------------------------------------------------

const hints = {
  hairline: "Click along the front hairline, left to right; then outline the area to treat (Region outline) so nothing lands on the backdrop. Drag a point to move it; double-click to remove it (Ctrl+Z: the last one).",
  region: "Optional: click around the area to treat (the hairline forms its front). Drag to move, double-click to remove.",
  density: "Paint where density should be lower (the level below); tick Erase to paint full density back.",
  exclude: "Paint where no pigment may go (ears, moles, long hair); tick Erase to allow it again.",
};

for (const input of document.querySelectorAll('input[name="tool"]')) {
  input.addEventListener("change", () => {
    $("tool-hint").textContent = hints[tool()];
    draw();
  });
}

$("brush-level").addEventListener("input", () => {
  $("brush-level-out").textContent = `${$("brush-level").value}%`;
});

$("undo").addEventListener("click", () => {
  const t = tool() === "region" ? "region" : "hairline";
  points[t].pop();
  draw();
  schedule();
});

// Ctrl+Z (or Cmd+Z) takes back the last point of the line being drawn.
document.addEventListener("keydown", (e) => {
  const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement;
  if ((e.ctrlKey || e.metaKey) && e.key === "z" && !typing) {
    e.preventDefault();
    $("undo").click();
  }
});

$("clear-points").addEventListener("click", () => {
  const t = tool() === "region" ? "region" : "hairline";
  points[t] = [];
  draw();
  schedule();
});

$("clear-brush").addEventListener("click", async () => {
  if (!photo) return;
  const which = tool() === "exclude" ? "exclude" : "density";
  clearMask(which);
  painted[which] = false;
  draw();
  try {
    const response = await call(`/api/photos/${photo.id}/brush/${which}`, { method: "DELETE" });
    if (!response.ok) throw new Error(await failure(response));
    schedule();
  } catch (e) {
    showError(e.message);
  }
});

$("shade").addEventListener("change", () => {
  $("shade-colour-label").hidden = $("shade").value !== "custom";
});

for (const id of ["style", "transition", "density", "dot-size", "shade", "shade-colour", "sessions", "session", "years", "fresh", "seed"]) {
  $(id).addEventListener("change", () => {
    if (photo) schedule();
  });
}

// Keep "shown after session" within the plan.
$("sessions").addEventListener("change", () => {
  const n = Number($("sessions").value);
  if (Number.isFinite(n) && n >= 1) {
    $("session").max = String(n);
    if (Number($("session").value) > n) $("session").value = String(n);
  }
});

function applyView() {
  const view = document.querySelector('input[name="view"]:checked').value;
  const after = $("after-img");
  after.hidden = view === "before";
  $("split-label").hidden = view !== "slider";
  after.style.clipPath = view === "slider" ? `inset(0 0 0 ${$("split").value}%)` : "none";
}

for (const input of document.querySelectorAll('input[name="view"]')) input.addEventListener("change", applyView);
$("split").addEventListener("input", applyView);

// ---- exports -----------------------------------------------------------------------------------------

async function exportFile(what, button) {
  if (!photo) {
    showError("Open a photo first.");
    return;
  }
  const state = designStateOrShowError();
  if (!state) return;
  button.disabled = true;
  setStatus(`Exporting ${what} at full resolution…`);
  try {
    const response = await postDesign(`export?what=${what}`, state);
    const disposition = response.headers.get("Content-Disposition") || "";
    const match = /filename="([^"]+)"/.exec(disposition);
    const blob = await response.blob();
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = match ? match[1] : `${photo.name}.${what}`;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    clearError();
    setStatus(`Exported ${link.download}`);
  } catch (e) {
    showError(e.message);
    setStatus("");
  } finally {
    button.disabled = false;
    updateCommand();
  }
}

for (const button of document.querySelectorAll(".export")) {
  button.addEventListener("click", () => exportFile(button.dataset.what, button));
}
