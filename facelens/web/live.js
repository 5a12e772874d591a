// The Live tab: the browser camera, a liveness session on the server (one JPEG frame per
// request, the next sent when the answer is in), the prompts, the verdict and its plot.
import { $, api, form, guarded, status } from "./api.js";
import { drawBox } from "./draw.js";

const PROMPTS = { blink: "Blink", left: "Turn your head to your left", right: "Turn your head to your right" };
const WORDS = { live: "Live person", spoof: "Not a live person", undecided: "Undecided" };
const SEND_WIDTH = 480;  // frames are shrunk to this width before sending
const live = { stream: null, session: null, running: false };

function grab(video) {
  const scale = Math.min(1, SEND_WIDTH / video.videoWidth);
  const canvas = Object.assign(document.createElement("canvas"), {
    width: Math.round(video.videoWidth * scale), height: Math.round(video.videoHeight * scale),
  });
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => canvas.toBlob((blob) => resolve({ blob, scale: canvas.width / video.videoWidth }), "image/jpeg", 0.85));
}

// The preview: the frame that was sent, its faces' boxes and track ids (the subject's in blue).
function drawPreview(video, state, sentScale) {
  const canvas = $("live-canvas");
  Object.assign(canvas, { width: video.videoWidth, height: video.videoHeight });
  const ctx = canvas.getContext("2d");
  ctx.drawImage(video, 0, 0);
  const subject = state.liveness.track_id;
  for (const face of state.faces) {
    const colour = face.track_id === subject ? "#1f7ae0" : "rgba(105,105,105,0.9)";
    drawBox(ctx, face.box, 1 / sentScale, colour, 3);
    ctx.fillStyle = colour;
    ctx.font = "bold 16px system-ui, sans-serif";
    ctx.fillText(`#${face.track_id}`, face.box.x1 / sentScale + 4, Math.max(16, face.box.y1 / sentScale - 6));
  }
  canvas.dataset.faces = String(state.faces.length);
  canvas.dataset.tracks = state.faces.map((f) => f.track_id).join(",");
}

// Eye openness (0-0.6, green) and yaw (-45°..45°, orange) over time; blinks shaded.
export function drawPlot(canvas, evidence) {
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  ctx.clearRect(0, 0, width, height);
  ctx.strokeStyle = "#d1d5db";
  ctx.beginPath(); ctx.moveTo(0, height / 2); ctx.lineTo(width, height / 2); ctx.stroke();
  const times = evidence.times;
  if (times.length < 2) return;
  const span = Math.max(times[times.length - 1], 5);
  const x = (t) => (t / span) * width;
  ctx.fillStyle = "rgba(31,122,224,0.15)";
  for (const [start, end] of evidence.blinks) ctx.fillRect(x(start), 0, Math.max(2, x(end) - x(start)), height);
  const line = (values, toY, colour) => {
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2;
    ctx.beginPath();
    values.forEach((v, i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, x(times[i]), toY(v)));
    ctx.stroke();
  };
  line(evidence.eye_openness, (v) => height - (Math.min(v, 0.6) / 0.6) * height, "#2e9d4d");
  line(evidence.yaw, (v) => height / 2 - (Math.max(-45, Math.min(45, v)) / 45) * (height / 2), "#ef7d00");
  canvas.dataset.points = String(times.length);
}

function showState(state) {
  const steps = state.liveness.challenge;
  $("live-steps").replaceChildren(...steps.map((step) => Object.assign(document.createElement("li"), {
    textContent: `${PROMPTS[step.action]}: ${step.status}${step.reason ? ` (${step.reason})` : ""}`,
    className: step.status,
  })));
  $("live-prompt").textContent = state.prompt ? PROMPTS[state.prompt] : "";
  $("live-prompt").dataset.prompt = state.prompt || "";
  drawPlot($("live-plot"), state.liveness.evidence);
  if (!state.done) return;
  const box = $("live-verdict");
  box.hidden = false;
  box.className = `result ${state.liveness.verdict}`;
  box.dataset.verdict = state.liveness.verdict;
  box.textContent = `${WORDS[state.liveness.verdict]}: ${state.liveness.reasons.join("; ")}`;
}

async function run(video) {
  while (live.running) {
    const { blob, scale } = await grab(video);
    const url = `/v1/liveness/sessions/${live.session}/frames`;
    const state = await api(url, { body: form({ image: blob }) });
    if (!live.running) return;
    drawPreview(video, state, scale);
    showState(state);
    if (state.done) return stop();
  }
}

async function start() {
  await stop();
  $("live-verdict").hidden = true;
  status("");
  const video = $("live-video");
  live.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  video.srcObject = live.stream;
  await video.play();
  const session = await api("/v1/liveness/sessions");
  live.session = session.session_id;
  live.running = true;
  showState(session);
  $("live-start").disabled = true;
  $("live-stop").disabled = false;
  await run(video);
}

async function stop() {
  live.running = false;
  live.stream?.getTracks().forEach((track) => track.stop());
  live.stream = null;
  if (live.session) api(`/v1/liveness/sessions/${live.session}`, { method: "DELETE" }).catch(() => {});
  live.session = null;
  $("live-start").disabled = false;
  $("live-stop").disabled = true;
}

export function setupLive() {
  $("live-start").addEventListener("click", () => guarded(async () => {
    try {
      await start();
    } catch (error) {
      await stop();
      throw error;
    }
  }));
  $("live-stop").addEventListener("click", () => guarded(stop));
  // Leaving the tab ends the check and lets the camera go.
  for (const tab of document.querySelectorAll("[role=tab]:not([data-tab=live])")) tab.addEventListener("click", () => live.running && stop());
}
