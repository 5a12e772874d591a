// Talking to this server's /v1 API, and the page's status line.
export const $ = (id) => document.getElementById(id);

// What each error code means, in words; the server's own message follows them.
const CODE_WORDS = {
  empty_input: "The file is empty",
  not_an_image: "This file is not an image",
  truncated_image: "This image is cut short",
  too_large: "This file is too large",
  bad_dimensions: "This image's size cannot be used",
  bad_array: "This image cannot be used",
  no_face: "No face was found",
  face_index: "There is no such face",
  retake: "Please retake the photo",
  bad_argument: "A setting was refused",
  bad_name: "This name cannot be used",
  not_found: "Not found",
  name_taken: "This name belongs to someone else",
  embedder_mismatch: "This gallery holds another embedder's templates",
  bad_gallery: "The server's gallery cannot be read",
  busy: "The server is busy: try again shortly",
  photo_taken: "This photo is already enrolled for another person",
  gallery_disabled: "This server has no gallery",
  unauthorized: "An API key is needed",
  bad_request: "The request was refused",
  internal: "The server failed",
  network: "The server cannot be reached",
  preview: "The browser cannot show this file",
};

export function coded(code, message) {
  return Object.assign(new Error(message), { code });
}

export async function api(path, { body, method = "POST", json, signal } = {}) {
  const headers = {};
  const key = sessionStorage.getItem("facelens-key");
  if (key) headers["X-API-Key"] = key;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(path, { method, body, headers, signal });
  } catch (error) {
    throw error.name === "AbortError" ? error : coded("network", error.message);
  }
  const data = await response.json().catch(() => ({}));
  signal?.throwIfAborted();
  if (response.status === 401) $("key-box").hidden = false;
  if (!response.ok) throw coded(data.error?.code || String(response.status), data.error?.message || response.statusText);
  return data;
}

export function form(fields) {
  const data = new FormData();
  for (const [name, value] of Object.entries(fields)) data.append(name, value);
  return data;
}

export function status(text, code = "") {
  Object.assign($("status"), { textContent: text, className: code ? "error" : "" });
  $("status").dataset.code = code;
}

export function describe(error) {
  const words = CODE_WORDS[error.code] || String(error.code).replaceAll("_", " ");
  return error.message && error.message.toLowerCase() !== words.toLowerCase() ? `${words}: ${error.message}` : words;
}

// Work belongs to the tab it was started on: that tab's button is marked busy until all of
// its work ends (whichever ends first), and "Working…" shows only while that tab is open. A
// run aborted by a newer one says nothing.
const pending = {};
const openTab = () => document.querySelector("[role=tab][aria-selected=true]")?.dataset.tab ?? "";

export function showBusy() {
  $("busy").hidden = !pending[openTab()];
  for (const button of document.querySelectorAll("[role=tab]")) {
    button.dataset.busy = String(Boolean(pending[button.dataset.tab]));
  }
}

export async function guarded(work) {
  const tab = openTab();
  pending[tab] = (pending[tab] || 0) + 1;
  showBusy();
  try {
    await work();
  } catch (error) {
    if (error.name !== "AbortError") status(describe(error), error.code);
  } finally {
    pending[tab] -= 1;
    showBusy();
  }
}

// Each kind of work runs under its own AbortController: starting it again aborts the older
// run (and the kinds named after it), so a late answer never paints over a newer state.
const runs = {};

export function restart(kind, ...alsoAbort) {
  for (const other of [kind, ...alsoAbort]) runs[other]?.abort();
  runs[kind] = new AbortController();
  return runs[kind].signal;
}
