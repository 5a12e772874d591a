// facelens web page: plain JS modules, no build step. Talks only to this server's /v1 API.
// Every upload or redraw restarts its kind of work (api.js `restart`): answers of an older
// run are aborted, never painted.
import { $, api, form, guarded, restart, showBusy, status } from "./api.js";
import {
  answerAndPhoto, clearPhoto, decodeOverlays, drawBox, drawFaces, drawOverlays, drawPhoto, faceItem, faceText, isRefused,
  loadPhoto, redraw, showQuality,
} from "./draw.js";
import { listPeople, setupGallery } from "./gallery.js";
import { setupLive } from "./live.js";
import { setReconstructionFiles, setupReconstruct } from "./reconstruct.js";

let features = {};

// ---------- Analyse ----------
const analyse = { file: null, faces: [], explained: null };

function clearAnalyse() {
  clearPhoto($("analyse-canvas"));
  $("analyse-faces").replaceChildren();
  $("analyse-banner").hidden = true;
  $("analyse-explain-note").textContent = "";
  status("");
}

async function analyseFile(file) {
  const signal = restart("analyse", "analyse-explain");
  Object.assign(analyse, { file, faces: [], explained: null });
  clearAnalyse();
  await guarded(async () => {
    const answer = api("/v1/analyze", { body: form({ image: file }), signal });
    const [result, img] = await answerAndPhoto(file, answer, signal);
    drawPhoto($("analyse-canvas"), img);
    analyse.faces = result.faces;
    const main = result.faces[0];
    $("analyse-banner").hidden = !(main && isRefused(main));
    $("analyse-banner").textContent = main && isRefused(main) ? `Please ${faceText(main)}` : "";
    $("analyse-faces").replaceChildren(...result.faces.map(faceItem));
    if (!result.faces.length) status("No face was found in this photo.");
    await paintAnalyse();
  });
}

const wantsExplanation = () => $("analyse-explain").checked && !$("analyse-explain").disabled && analyse.faces.length > 0;

// The explanation of the menu's current target and method (asked once per choice).
async function explainAnalyse(signal) {
  const query = `?target=${$("analyse-target").value}&method=${$("analyse-method").value}`;
  if (analyse.explained?.query !== query) {
    const result = await api(`/v1/explain${query}`, { body: form({ image: analyse.file }), signal });
    analyse.explained = { query, overlay: result.overlay, explanation: result.explanation };
  }
  return analyse.explained;
}

// Names the method and target of the answer drawn (always the menu's: older answers are
// aborted), and what its colours mean.
function explainNote({ explanation, overlay }) {
  const option = [...$("analyse-method").options].find((o) => o.value === explanation.method);
  const colours = overlay.signed
    ? "green marks regions that support the answer, red regions that count against it"
    : "warm colours mark the regions that drove the answer";
  return `${option?.textContent || explanation.method} for ${explanation.target} (face 1, the main face): ${colours}.`;
}

async function paintAnalyse() {
  const signal = restart("analyse-explain");
  const canvas = $("analyse-canvas");
  if (!canvas.photo) return;
  const explained = wantsExplanation() ? await explainAnalyse(signal) : null;
  const overlays = explained ? await decodeOverlays([explained.overlay], signal) : [];
  redraw(canvas);
  drawOverlays(canvas, overlays);
  drawFaces(canvas, analyse.faces);
  const note = $("analyse-explain-note");
  note.textContent = explained ? explainNote(explained) : "";
  Object.assign(note.dataset, { target: explained?.explanation.target || "", method: explained?.explanation.method || "" });
}

// ---------- Compare ----------
const compare = { a: null, b: null, overlays: null };

async function compareFile(side, file) {
  const signal = restart(`compare-${side}`);
  restart("compare", "compare-explain");
  Object.assign(compare, { [side]: file, overlays: null });
  setReconstructionFiles("compare", null);
  clearPhoto($(`compare-canvas-${side}`));
  for (const other of ["a", "b"]) forgetCompareFace(other);
  $(`compare-quality-${side}`).textContent = "";
  $("compare-result").hidden = true;
  status("");
  await guarded(async () => {
    const img = await loadPhoto(file).catch(async (error) => {
      // The server says why it refuses a file the browser cannot show, if it does.
      await api("/v1/detect", { body: form({ image: file }), signal });
      throw error;
    });
    signal.throwIfAborted();
    drawPhoto($(`compare-canvas-${side}`), img);
    if (compare.a && compare.b) await runCompare();
  });
}

function forgetCompareFace(side) {
  const canvas = $(`compare-canvas-${side}`);
  canvas.face = null;
  if (canvas.photo) redraw(canvas);
}

async function runCompare() {
  const signal = restart("compare", "compare-explain");
  const v = await api("/v1/verify", { body: form({ image_a: compare.a, image_b: compare.b }), signal });
  for (const [side, face] of [["a", v.face_a], ["b", v.face_b]]) {
    showQuality($(`compare-quality-${side}`), face);
    $(`compare-canvas-${side}`).face = { ...face, index: 0 };
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
  await Promise.all([paintCompare(), setReconstructionFiles("compare", [compare.a, compare.b])]);
}

async function paintCompare() {
  const signal = restart("compare-explain");
  const show = $("compare-explain").checked && compare.a && compare.b;
  $("compare-legend").hidden = !show;
  const method = $("compare-method").value;
  if (show && compare.overlays?.method !== method) {
    const result = await api(`/v1/explain/pair?method=${method}&faithfulness=false`, { body: form({ image_a: compare.a, image_b: compare.b }), signal });
    compare.overlays = { method, a: result.overlay_a, b: result.overlay_b };
  }
  const images = show ? await decodeOverlays([compare.overlays.a, compare.overlays.b], signal) : [];
  ["a", "b"].forEach((side, i) => {
    const canvas = $(`compare-canvas-${side}`);
    if (!canvas.photo) return;
    redraw(canvas);
    drawOverlays(canvas, images.slice(i, i + 1));
    if (canvas.face) drawFaces(canvas, [canvas.face]);
  });
}

// ---------- Extract ----------
async function extractFile(file) {
  const signal = restart("extract");
  const canvas = $("extract-canvas");
  clearPhoto(canvas);
  $("extract-quality").textContent = "";
  $("extract-json").value = "";
  $("extract-copy").disabled = true;
  setReconstructionFiles("extract", null);
  status("");
  await guarded(async () => {
    const route = features.quality ? "/v1/quality?heatmap=true&embedding=true" : "/v1/embed";
    const answer = api(route, { body: form({ image: file }), signal });
    const [result, img] = await answerAndPhoto(file, answer, signal);
    const overlays = await decodeOverlays(result.heatmaps?.slice(0, 1) || [], signal);
    drawPhoto(canvas, img);
    drawOverlays(canvas, overlays);
    const face = result.faces[0];
    drawFaces(canvas, [face]);
    if (face.quality?.roi) drawBox(canvas.getContext("2d"), face.quality.roi, canvas.photo.scale, "#fff", 2);
    showQuality($("extract-quality"), face);
    $("extract-json").value = face.embedding ? JSON.stringify(face.embedding) : "";
    $("extract-copy").disabled = !face.embedding;
    await setReconstructionFiles("extract", file);
  });
}

// ---------- page ----------
function dropZone(zone, onFile) {
  const input = Object.assign(document.createElement("input"), { type: "file", accept: "image/*", hidden: true });
  zone.append(input);
  zone.addEventListener("click", (event) => { if (event.target !== input) input.click(); });
  input.addEventListener("change", () => {
    const file = input.files[0];
    input.value = "";  // picking the same file again is a new upload
    if (file) onFile(file);
  });
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if (event.dataTransfer.files[0]) onFile(event.dataTransfer.files[0]);
  });
}

function setupTabs() {
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.addEventListener("click", () => {
      for (const other of document.querySelectorAll("[role=tab]")) other.setAttribute("aria-selected", String(other === tab));
      for (const section of document.querySelectorAll(".tab")) section.hidden = section.id !== tab.dataset.tab;
      showBusy();
      if (tab.dataset.tab === "gallery" && features.gallery) guarded(listPeople);
    });
  }
}

async function loadFeatures() {
  await guarded(async () => {
    features = (await api("/v1/info", { method: "GET" })).features;
  });
  for (const id of ["analyse-explain", "analyse-target", "analyse-method", "compare-explain", "compare-method"]) {
    $(id).disabled = !features.explain;
    $(id).parentElement.title = features.explain ? "" : "explanations are not available on this server";
  }
  setupReconstruct(Boolean(features.explain));
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
for (const id of ["compare-explain", "compare-method"]) {
  $(id).addEventListener("change", () => guarded(paintCompare));
}
$("extract-copy").addEventListener("click", () => navigator.clipboard.writeText($("extract-json").value));
$("api-key").addEventListener("change", (event) => {
  sessionStorage.setItem("facelens-key", event.target.value);
  loadFeatures();
});
setupGallery();
setupLive();
loadFeatures();
