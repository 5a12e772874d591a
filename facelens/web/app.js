// facelens web page: plain JS, no build step. Talks only to this server's /v1 API.
const $ = (id) => document.getElementById(id);
const BAND = { green: "#2e9d4d", yellow: "#d9a900", orange: "#ef7d00", red: "#d62828" };
const MAIN = "#1f7ae0", MUTED = "rgba(105,105,105,0.9)";
let features = {};

// ---------- API ----------
async function api(path, { body, method = "POST", json } = {}) {
  const headers = {};
  const key = sessionStorage.getItem("facelens-key");
  if (key) headers["X-API-Key"] = key;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  const response = await fetch(path, { method, body, headers });
  const data = await response.json().catch(() => ({}));
  if (response.status === 401) $("key-box").hidden = false;
  if (!response.ok) {
    const error = new Error(data.error?.message || response.statusText);
    error.code = data.error?.code || String(response.status);
    throw error;
  }
  return data;
}

function form(fields) {
  const data = new FormData();
  for (const [name, value] of Object.entries(fields)) data.append(name, value);
  return data;
}

function status(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function guarded(work) {
  status("Working…");
  try {
    await work();
    if ($("status").textContent === "Working…") status("");
  } catch (error) {
    status(`${error.message} (${error.code})`, true);
  }
}

// ---------- drawing ----------
function loadPhoto(file) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(Object.assign(new Error("the browser cannot show this file"), { code: "preview" }));
    img.src = URL.createObjectURL(file);
  });
}

// Draw the photo scaled to the stage; remember the scale for boxes and overlays.
function drawPhoto(canvas, img) {
  const scale = Math.min(1, (canvas.parentElement.clientWidth || 720) / img.naturalWidth, 640 / img.naturalHeight);
  canvas.width = Math.round(img.naturalWidth * scale);
  canvas.height = Math.round(img.naturalHeight * scale);
  canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
  canvas.photo = { img, scale };
}

function redraw(canvas) {
  const { img } = canvas.photo;
  canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
}

function faceLabel(face) {
  // The same form as Face.label in Python: `Female, (25-32), 92%`.
  const parts = [];
  if (face.gender) parts.push(face.gender.label[0].toUpperCase() + face.gender.label.slice(1));
  if (face.age) parts.push(face.age.bucket);
  if (face.gender) parts.push(`${Math.round(face.gender.probability * 100)}%`);
  let text = parts.join(", ") || `face ${face.index + 1}`;
  if (face.expression) text += ` · ${face.expression.label}`;
  return text;
}

function qualityText(quality) {
  return quality ? `quality ${Math.round(quality.score * 100)}` : "";
}

function drawBox(ctx, box, scale, colour, width) {
  ctx.strokeStyle = colour;
  ctx.lineWidth = width;
  ctx.strokeRect(box.x1 * scale, box.y1 * scale, (box.x2 - box.x1) * scale, (box.y2 - box.y1) * scale);
}

function drawTag(ctx, x, y, text, colour) {
  ctx.font = "bold 13px system-ui, sans-serif";
  const w = ctx.measureText(text).width + 8;
  ctx.fillStyle = colour;
  ctx.fillRect(x, Math.max(0, y - 18), w, 18);
  ctx.fillStyle = "#fff";
  ctx.fillText(text, x + 4, Math.max(13, y - 5));
  return w;
}

// Boxes: the main (largest) face highlighted, the others muted; label, then quality in its band.
function drawFaces(canvas, faces) {
  const ctx = canvas.getContext("2d");
  const { scale } = canvas.photo;
  [...faces].reverse().forEach((face) => {
    const main = face.index === 0;
    drawBox(ctx, face.box, scale, main ? MAIN : MUTED, main ? 3 : 1.5);
    const label = faceLabel(face), quality = qualityText(face.quality);
    ctx.font = "bold 13px system-ui, sans-serif";
    const width = ctx.measureText(label).width + (quality ? ctx.measureText(quality).width + 18 : 8);
    // Keep the tags inside the canvas when a face is near its right edge.
    const x = Math.max(0, Math.min(face.box.x1 * scale, canvas.width - width)), y = face.box.y1 * scale;
    const w = drawTag(ctx, x, y, label, main ? MAIN : MUTED);
    if (face.quality) drawTag(ctx, x + w + 2, y, quality, BAND[face.quality.band]);
  });
  canvas.dataset.faces = String(faces.length);
}

// Heat maps arrive as base64 RGBA PNGs covering `box` (or the whole photo when box is null).
async function drawOverlays(canvas, overlays) {
  const ctx = canvas.getContext("2d");
  const { scale } = canvas.photo;
  for (const overlay of overlays) {
    const img = new Image();
    img.src = `data:image/png;base64,${overlay.png}`;
    await img.decode();
    const b = overlay.box || { x1: 0, y1: 0, x2: canvas.width / scale, y2: canvas.height / scale };
    ctx.globalAlpha = 0.65;
    ctx.drawImage(img, b.x1 * scale, b.y1 * scale, (b.x2 - b.x1) * scale, (b.y2 - b.y1) * scale);
    ctx.globalAlpha = 1;
  }
  canvas.dataset.overlay = String(overlays.length);
}

function dropZone(zone, onFile) {
  const input = Object.assign(document.createElement("input"), { type: "file", accept: "image/*", hidden: true });
  zone.append(input);
  zone.addEventListener("click", (event) => { if (event.target !== input) input.click(); });
  input.addEventListener("change", () => input.files[0] && onFile(input.files[0]));
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if (event.dataTransfer.files[0]) onFile(event.dataTransfer.files[0]);
  });
}

function retakeReasons(faces) {
  return faces.filter((f) => f.quality?.verdict === "retake").flatMap((f) => f.quality.reasons);
}

// ---------- Analyse ----------
const analyse = { file: null, faces: [], overlay: null };

async function analyseFile(file) {
  analyse.file = file;
  analyse.query = null;
  const canvas = $("analyse-canvas");
  await guarded(async () => {
    const [img, result] = await Promise.all([loadPhoto(file), api("/v1/analyze", { body: form({ image: file }) })]);
    drawPhoto(canvas, img);
    analyse.faces = result.faces;
    await paintAnalyse();
    const reasons = retakeReasons(result.faces.slice(0, 1));
    $("analyse-banner").hidden = reasons.length === 0;
    $("analyse-banner").textContent = `Please retake: ${reasons.join("; ")}`;
    $("analyse-faces").replaceChildren(...result.faces.map((face) => {
      const li = document.createElement("li");
      li.textContent = `${faceLabel(face)} ${qualityText(face.quality)}`.trim();
      if (face.quality) li.style.borderColor = BAND[face.quality.band];
      return li;
    }));
    if (!result.faces.length) status("No face was found in this photo.");
  });
}

async function paintAnalyse() {
  const canvas = $("analyse-canvas");
  if (!canvas.photo) return;
  redraw(canvas);
  canvas.dataset.overlay = "0";
  if ($("analyse-explain").checked && analyse.faces.length) {
    const query = `?target=${$("analyse-target").value}&method=${$("analyse-method").value}`;
    if (analyse.query !== query) {
      const result = await api(`/v1/explain${query}`, { body: form({ image: analyse.file }) });
      Object.assign(analyse, { query, overlay: result.overlay, explanation: result.explanation });
    }
    await drawOverlays(canvas, [analyse.overlay]);
    const e = analyse.explanation;
    $("analyse-explain-note").textContent = `${e.method} for ${e.target} (main face): warm colours mark the regions that drove the answer.`;
  } else {
    $("analyse-explain-note").textContent = "";
  }
  drawFaces(canvas, analyse.faces);
}

// ---------- Compare ----------
const compare = { a: null, b: null, overlays: null };

async function compareFile(side, file) {
  compare[side] = file;
  compare.overlays = null;
  await guarded(async () => {
    drawPhoto($(`compare-canvas-${side}`), await loadPhoto(file));
    $(`compare-quality-${side}`).textContent = "";
    $("compare-result").hidden = true;
    if (compare.a && compare.b) await runCompare();
  });
}

function showQuality(el, face) {
  const q = face.quality;
  el.textContent = q ? `Quality ${Math.round(q.score * 100)} (${q.verdict})` : "Quality: not assessed";
  el.style.color = q ? BAND[q.band] : "";
}

async function runCompare() {
  const v = await api("/v1/verify", { body: form({ image_a: compare.a, image_b: compare.b }) });
  for (const [side, face] of [["a", v.face_a], ["b", v.face_b]]) {
    showQuality($(`compare-quality-${side}`), face);
    const canvas = $(`compare-canvas-${side}`);
    redraw(canvas);
    canvas.face = { ...face, index: 0 };
    drawFaces(canvas, [canvas.face]);
  }
  const box = $("compare-result");
  box.hidden = false;
  box.className = `result ${v.status}`;
  if (v.status === "retake") {
    box.textContent = `Refused: please retake (${v.reasons.join("; ")})`;
  } else {
    const decision = v.same_person ? "Same person" : "Different people";
    const note = v.status === "low" ? ` — for reference only (${v.reasons.join("; ")})` : "";
    box.textContent = `${decision} · similarity ${v.similarity.toFixed(3)} (threshold ${v.threshold.toFixed(3)})${note}`;
  }
  box.dataset.decision = v.status === "retake" ? "refused" : String(v.same_person);
  await paintCompareOverlays();
}

async function paintCompareOverlays() {
  const show = $("compare-explain").checked && compare.a && compare.b;
  $("compare-legend").hidden = !show;
  if (show && !compare.overlays) {
    const result = await api("/v1/explain/pair", { body: form({ image_a: compare.a, image_b: compare.b }) });
    compare.overlays = { a: result.overlay_a, b: result.overlay_b };
  }
  for (const side of ["a", "b"]) {
    const canvas = $(`compare-canvas-${side}`);
    if (!canvas.photo) continue;
    redraw(canvas);
    canvas.dataset.overlay = "0";
    if (show) await drawOverlays(canvas, [compare.overlays[side]]);
    if (canvas.face) drawFaces(canvas, [canvas.face]);
  }
}

// ---------- Extract ----------
async function extractFile(file) {
  const canvas = $("extract-canvas");
  await guarded(async () => {
    const route = features.quality ? "/v1/quality?heatmap=true&embedding=true" : "/v1/embed";
    const [img, result] = await Promise.all([loadPhoto(file), api(route, { body: form({ image: file }) })]);
    drawPhoto(canvas, img);
    const face = result.faces[0];
    if (result.heatmaps?.length) await drawOverlays(canvas, [result.heatmaps[0]]);
    drawFaces(canvas, [face]);
    if (face.quality?.roi) drawBox(canvas.getContext("2d"), face.quality.roi, canvas.photo.scale, "#fff", 2);
    showQuality($("extract-quality"), face);
    $("extract-json").value = face.embedding ? JSON.stringify(face.embedding) : "";
    $("extract-copy").disabled = !face.embedding;
  });
}

// ---------- Gallery ----------
// Names stored before names were checked may hold characters a page cannot show (controls,
// invisible or text-reordering ones): show those escaped, as the CLI does. Requests carry
// the exact name, never in the URL path (`/`, `.` and `..` would be rewritten there).
const HIDDEN = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/u;

function shownName(name) {
  if (!HIDDEN.test(name)) return name;
  return [...name].map((ch) => {
    if (ch === "\\") return "\\\\";
    if (!HIDDEN.test(ch)) return ch;
    const code = ch.codePointAt(0);
    if (code < 0x100) return `\\x${code.toString(16).padStart(2, "0")}`;
    return code < 0x10000 ? `\\u${code.toString(16).padStart(4, "0")}` : `\\U${code.toString(16).padStart(8, "0")}`;
  }).join("");
}

function button(text, work) {
  const el = Object.assign(document.createElement("button"), { type: "button", textContent: text });
  el.addEventListener("click", () => guarded(work));
  return el;
}

async function listPeople() {
  const people = await api("/v1/gallery/people", { method: "GET" });
  $("people").tBodies[0].replaceChildren(...people.map((person) => {
    const row = document.createElement("tr");
    const remove = button("Remove", async () => {
      await api(`/v1/gallery/people?name=${encodeURIComponent(person.name)}`, { method: "DELETE" });
      status(`Removed ${shownName(person.name)}.`);
      await listPeople();
    });
    const rename = button("Rename", async () => {
      const name = window.prompt(`New name for ${shownName(person.name)}`, person.name);
      if (name === null) return;
      const result = await api("/v1/gallery/people/rename", { json: { name: person.name, new_name: name } });
      status(`Renamed to ${result.new_name}.`);
      await listPeople();
    });
    row.append(...[shownName(person.name), String(person.templates)].map((t) => Object.assign(document.createElement("td"), { textContent: t })));
    const cell = document.createElement("td");
    cell.append(rename, " ", remove);
    row.append(cell);
    return row;
  }));
}

function setupGallery() {
  $("enrol-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      const body = form({ name: $("enrol-name").value, image: $("enrol-file").files[0] });
      const result = await api("/v1/gallery/people", { body });
      const item = result.images[0];
      const who = shownName(result.person);
      status(item.status === "duplicate" ? `This photo of ${who} is already enrolled.` : `Enrolled ${who}.`);
      await listPeople();
    });
  });
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      const result = await api("/v1/gallery/search", { body: form({ image: $("search-file").files[0] }) });
      $("search-results").replaceChildren(...result.matches.map((m) => Object.assign(document.createElement("li"), {
        textContent: `${shownName(m.person)} · similarity ${m.similarity.toFixed(3)}${m.person === result.identity ? " · match" : ""}`,
      })));
      $("search-results").dataset.identity = result.identity || "";
      if (result.status === "retake") status(`Please retake: ${result.reasons.join("; ")}`, true);
      else if (!result.identity) status("Nobody in the gallery matches.");
      else status(`This is ${shownName(result.identity)}${result.status === "low" ? " (for reference only: low quality)" : ""}.`);
    });
  });
}

// ---------- page ----------
function setupTabs() {
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.addEventListener("click", () => {
      for (const other of document.querySelectorAll("[role=tab]")) other.setAttribute("aria-selected", String(other === tab));
      for (const section of document.querySelectorAll(".tab")) section.hidden = section.id !== tab.dataset.tab;
      if (tab.dataset.tab === "gallery" && features.gallery) guarded(listPeople);
    });
  }
}

async function loadFeatures() {
  try {
    features = (await api("/v1/info", { method: "GET" })).features;
  } catch (error) {
    status(`${error.message} (${error.code})`, true);
  }
  for (const id of ["analyse-explain", "analyse-target", "analyse-method", "compare-explain"]) {
    $(id).disabled = !features.explain;
    $(id).parentElement.title = features.explain ? "" : "explanations are not available on this server";
  }
  $("gallery-off").hidden = Boolean(features.gallery);
  for (const el of document.querySelectorAll("#gallery form *")) el.disabled = !features.gallery;
  document.body.dataset.ready = "true";
}

setupTabs();
dropZone($("analyse-drop"), analyseFile);
dropZone($("compare-drop-a"), (file) => compareFile("a", file));
dropZone($("compare-drop-b"), (file) => compareFile("b", file));
dropZone($("extract-drop"), extractFile);
for (const id of ["analyse-explain", "analyse-target", "analyse-method"]) {
  $(id).addEventListener("change", () => guarded(paintAnalyse));
}
$("compare-explain").addEventListener("change", () => guarded(paintCompareOverlays));
$("extract-copy").addEventListener("click", () => navigator.clipboard.writeText($("extract-json").value));
$("api-key").addEventListener("change", (event) => {
  sessionStorage.setItem("facelens-key", event.target.value);
  loadFeatures();
});
setupGallery();
loadFeatures();
