// Reconstructions on the Extract and Compare tabs: the face decoded from its embedding (what
// the recogniser keeps of it), drawn by the server as one panel with its legend and note.
import { $, api, form, guarded, restart } from "./api.js";

const LEGEND = {
  extract: "Left to right: the aligned face, its reconstruction from the embedding, and the regions the embedding encodes (warm: the reconstruction changes most there when the embedding moves).",
  compare: "Both reconstructions side by side; the middle shows where they differ (warm: large difference). Below: the regions each embedding encodes.",
};
const files = { extract: null, compare: null };
const shown = { extract: null, compare: null };

function request(tab) {
  if (tab === "extract") return ["/v1/explain/reconstruct", { image: files.extract }];
  const [a, b] = files.compare;
  return ["/v1/explain/reconstruct/pair", { image_a: a, image_b: b }];
}

// Shows (or hides) a tab's panel for its current photos; one request per set of photos.
export async function paintReconstruction(tab) {
  const signal = restart(`${tab}-reconstruct`);
  const wanted = $(`${tab}-reconstruct`).checked && !$(`${tab}-reconstruct`).disabled && files[tab];
  $(`${tab}-recon`).hidden = !wanted;
  if (!wanted) return;
  if (shown[tab]?.files !== files[tab]) {
    $(`${tab}-recon-img`).removeAttribute("src");
    const [route, fields] = request(tab);
    const result = await api(route, { body: form(fields), signal });
    shown[tab] = { files: files[tab], result };
  }
  const { result } = shown[tab];
  $(`${tab}-recon-img`).src = `data:image/png;base64,${result.panel}`;
  $(`${tab}-recon-note`).textContent = `${LEGEND[tab]} ${result.note}`;
}

// The tab's photos changed (null: none to show): forget the old panel, draw the new one.
export function setReconstructionFiles(tab, value) {
  files[tab] = value;
  shown[tab] = null;
  return paintReconstruction(tab);
}

export function setupReconstruct(enabled) {
  for (const tab of ["extract", "compare"]) {
    const box = $(`${tab}-reconstruct`);
    box.disabled = !enabled;
    box.parentElement.title = enabled ? "" : "reconstructions are not available on this server";
    if (!box.dataset.wired) {
      box.addEventListener("change", () => guarded(() => paintReconstruction(tab)));
      box.dataset.wired = "true";
    }
  }
}
