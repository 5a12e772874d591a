// Photos, face boxes, tags and heat maps on canvases, drawn at the screen's pixel density.
import { coded } from "./api.js";

const BAND = { green: "#2e9d4d", yellow: "#d9a900", orange: "#ef7d00", red: "#d62828" };
const MAIN = "#1f7ae0", MUTED = "rgba(105,105,105,0.9)";
const FONT = "bold 13px system-ui, sans-serif";

// The colour follows the verdict: a refused face is red whatever its score's band.
export function verdictColour(quality) {
  if (quality.verdict === "retake") return BAND.red;
  if (quality.verdict === "low" && ["green", "yellow"].includes(quality.band)) return BAND.orange;
  return BAND[quality.band];
}

export const isRefused = (face) => face.quality?.verdict === "retake";

// The same form as Face.label in Python: `Female, (25-32), 92% · happy` ("" without attributes).
function attributesText(face) {
  const parts = [];
  if (face.gender) parts.push(face.gender.label[0].toUpperCase() + face.gender.label.slice(1));
  if (face.age) parts.push(face.age.bucket);
  if (face.gender) parts.push(`${Math.round(face.gender.probability * 100)}%`);
  const text = parts.join(", ");
  return face.expression ? `${text} · ${face.expression.label}`.replace(/^ · /, "") : text;
}

// A refused face's attributes are not trustworthy, so it says why it was refused instead.
export function faceText(face) {
  if (isRefused(face)) return `retake: ${face.quality.reasons.join("; ") || "quality too low"}`;
  return attributesText(face) || "face";
}

export function qualityText(quality) {
  return quality ? `quality ${Math.round(quality.score * 100)}` : "";
}

export function loadPhoto(file) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(coded("preview", "try a JPEG or PNG copy"));
    img.src = URL.createObjectURL(file);
  });
}

// The server's answer first (its error says why a file is refused), then the photo.
export async function answerAndPhoto(file, answer, signal) {
  const result = await answer;
  const img = await loadPhoto(file);
  signal.throwIfAborted();
  return [result, img];
}

export function clearPhoto(canvas) {
  Object.assign(canvas, { width: 0, height: 0, photo: null });
  canvas.style.width = "";
  Object.assign(canvas.dataset, { faces: "0", overlay: "0" });
}

// Scale the photo to the stage in CSS pixels, back the canvas with devicePixelRatio times
// as many (crisp on a 2x screen), and draw everything else in CSS pixels.
export function drawPhoto(canvas, img) {
  const scale = Math.min(1, (canvas.parentElement.clientWidth || 720) / img.naturalWidth, 640 / img.naturalHeight);
  const width = Math.round(img.naturalWidth * scale), height = Math.round(img.naturalHeight * scale);
  const density = window.devicePixelRatio || 1;
  Object.assign(canvas, { width: Math.round(width * density), height: Math.round(height * density) });
  canvas.style.width = `${width}px`;
  canvas.photo = { img, scale, width, height, density };
  redraw(canvas);
}

export function redraw(canvas) {
  const { img, width, height, density } = canvas.photo;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(density, 0, 0, density, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.drawImage(img, 0, 0, width, height);
  canvas.dataset.overlay = "0";
}

export function drawBox(ctx, box, scale, colour, width) {
  ctx.strokeStyle = colour;
  ctx.lineWidth = width;
  ctx.strokeRect(box.x1 * scale, box.y1 * scale, (box.x2 - box.x1) * scale, (box.y2 - box.y1) * scale);
}

function tagWidth(ctx, text) {
  ctx.font = FONT;
  return ctx.measureText(text).width + 8;
}

function drawTag(ctx, x, y, text, colour) {
  const w = tagWidth(ctx, text);
  ctx.fillStyle = colour;
  ctx.fillRect(x, Math.max(0, y - 18), w, 18);
  ctx.fillStyle = "#fff";
  ctx.fillText(text, x + 4, Math.max(13, y - 5));
  return w;
}

// Tags of one face, left to right: its number (and, when it is alone, what it is), then its
// quality. Several faces get number-only tags, which cannot hide each other; the list under
// the photo carries the details under the same numbers.
function faceTags(face, alone) {
  const main = face.index === 0;
  const number = String(face.index + 1);
  const colour = face.quality ? verdictColour(face.quality) : main ? MAIN : MUTED;
  if (!alone) return [[number, colour]];
  // A refused face's reasons are long: the banner and the list carry them.
  if (isRefused(face)) return [[`${number} · retake`, colour]];
  const attributes = attributesText(face);
  const tags = [[attributes ? `${number} · ${attributes}` : number, main ? MAIN : MUTED]];
  if (face.quality) tags.push([qualityText(face.quality), colour]);
  return tags;
}

// Boxes: the main (largest) face highlighted, the others muted, drawn last-first so the
// main face's tag is on top.
export function drawFaces(canvas, faces) {
  const ctx = canvas.getContext("2d");
  const { scale, width: canvasWidth } = canvas.photo;
  [...faces].reverse().forEach((face) => {
    const main = face.index === 0;
    drawBox(ctx, face.box, scale, main ? MAIN : MUTED, main ? 3 : 1.5);
    const tags = faceTags(face, faces.length === 1);
    const width = tags.reduce((sum, [text]) => sum + tagWidth(ctx, text) + 2, 0);
    // Keep the tags inside the canvas when a face is near its right edge.
    let x = Math.max(0, Math.min(face.box.x1 * scale, canvasWidth - width));
    for (const [text, colour] of tags) x += drawTag(ctx, x, face.box.y1 * scale, text, colour) + 2;
  });
  canvas.dataset.faces = String(faces.length);
}

// Heat maps arrive as base64 RGBA PNGs covering `box` (or the whole photo when box is null);
// decode them all before drawing, so an aborted run leaves the canvas untouched.
export async function decodeOverlays(overlays, signal) {
  const images = await Promise.all(overlays.map(async (overlay) => {
    const img = new Image();
    img.src = `data:image/png;base64,${overlay.png}`;
    await img.decode();
    return { img, box: overlay.box };
  }));
  signal.throwIfAborted();
  return images;
}

export function drawOverlays(canvas, images) {
  const ctx = canvas.getContext("2d");
  const { scale, img: photo } = canvas.photo;
  for (const { img, box } of images) {
    const b = box || { x1: 0, y1: 0, x2: photo.naturalWidth, y2: photo.naturalHeight };
    ctx.globalAlpha = 0.65;
    ctx.drawImage(img, b.x1 * scale, b.y1 * scale, (b.x2 - b.x1) * scale, (b.y2 - b.y1) * scale);
    ctx.globalAlpha = 1;
  }
  canvas.dataset.overlay = String(images.length);
}

// A face in the list under a photo: the number of its box, what it is, its quality.
export function faceItem(face) {
  const li = document.createElement("li");
  li.textContent = `${face.index + 1}. ${faceText(face)} ${face.quality ? `· ${qualityText(face.quality)}` : ""}`.trim();
  if (face.quality) li.style.borderColor = verdictColour(face.quality);
  li.dataset.verdict = face.quality?.verdict || "";
  return li;
}

export function showQuality(el, face) {
  const q = face.quality;
  const verdict = q && isRefused(face) ? faceText(face) : q?.verdict;
  el.textContent = q ? `Quality ${Math.round(q.score * 100)} (${verdict})` : "Quality: not assessed";
  el.style.color = q ? verdictColour(q) : "";
}
