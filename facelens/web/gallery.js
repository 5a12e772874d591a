// The Gallery tab: enrol, search, rename and remove people.
import { $, api, form, guarded, restart, status } from "./api.js";
import { answerAndPhoto, clearPhoto, drawFaces, drawPhoto, showQuality } from "./draw.js";

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

const photos = (count) => `${count} photo${count === 1 ? "" : "s"}`;

function button(text, work) {
  const el = Object.assign(document.createElement("button"), { type: "button", textContent: text });
  el.addEventListener("click", () => guarded(work));
  return el;
}

async function removePerson(person) {
  const who = shownName(person.name);
  if (!window.confirm(`Remove ${who} and their ${photos(person.templates)} from the gallery?`)) return;
  const result = await api(`/v1/gallery/people?name=${encodeURIComponent(person.name)}`, { method: "DELETE" });
  status(`Removed ${who} and their ${photos(result.removed)}.`);
  await listPeople();
}

async function renamePerson(person) {
  const name = window.prompt(`New name for ${shownName(person.name)}`, person.name);
  if (name === null) return;
  const result = await api("/v1/gallery/people/rename", { json: { name: person.name, new_name: name } });
  status(`Renamed to ${shownName(result.new_name)}.`);
  await listPeople();
}

export async function listPeople() {
  const people = await api("/v1/gallery/people", { method: "GET" });
  $("people").tBodies[0].replaceChildren(...people.map((person) => {
    const row = document.createElement("tr");
    const cells = [shownName(person.name), String(person.templates)];
    row.append(...cells.map((text) => Object.assign(document.createElement("td"), { textContent: text })));
    const actions = document.createElement("td");
    actions.append(button("Rename", () => renamePerson(person)), " ", button("Remove", () => removePerson(person)));
    row.append(actions);
    return row;
  }));
}

async function enrol() {
  const body = form({ name: $("enrol-name").value, image: $("enrol-file").files[0] });
  const result = await api("/v1/gallery/people", { body });
  const who = shownName(result.person);
  status(result.images[0].status === "duplicate" ? `This photo of ${who} is already enrolled.` : `Enrolled ${who}.`);
  await listPeople();
}

// The searched photo with its face's box and quality, then the people most like it.
async function search() {
  const signal = restart("search");
  const file = $("search-file").files[0], canvas = $("search-canvas");
  clearPhoto(canvas);
  $("search-quality").textContent = "";
  $("search-results").replaceChildren();
  $("search-results").dataset.identity = "";
  status("");
  const answer = api("/v1/gallery/search", { body: form({ image: file }), signal });
  const [result, img] = await answerAndPhoto(file, answer, signal);
  drawPhoto(canvas, img);
  if (result.face) {
    drawFaces(canvas, [{ ...result.face, index: 0 }]);
    showQuality($("search-quality"), result.face);
  }
  $("search-results").replaceChildren(...result.matches.map((m) => Object.assign(document.createElement("li"), {
    textContent: `${shownName(m.person)} · similarity ${m.similarity.toFixed(3)}${m.person === result.identity ? " · match" : ""}`,
  })));
  $("search-results").dataset.identity = result.identity || "";
  if (result.status === "retake") status(`Please retake the photo: ${result.reasons.join("; ")}`, "retake");
  else if (!result.identity) status("Nobody in the gallery matches.");
  else status(`This is ${shownName(result.identity)}${result.status === "low" ? " (for reference only: low quality)" : ""}.`);
}

export function setupGallery() {
  for (const [id, work] of [["enrol-form", enrol], ["search-form", search]]) {
    $(id).addEventListener("submit", (event) => {
      event.preventDefault();
      guarded(work);
    });
  }
}
