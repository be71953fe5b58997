// Search over all threads (GET /search) and export/import of archives from the sidebar.

import { download, request } from "./api.js";

const DEBOUNCE_MS = 250;

/** A search box whose results, under it, open the thread at the hit (`#/t/<id>/m/<message>`). */
export function setupSearch({ input, results, status, onError }) {
  let timer = null;
  let latest = 0;
  async function run(text) {
    const asked = ++latest;
    if (!text.trim()) {
      results.replaceChildren();
      results.hidden = true;
      status.textContent = "";
      return;
    }
    try {
      const found = await request(`/search?${new URLSearchParams({ q: text, limit: "20" })}`);
      if (asked !== latest) return; // a newer query is on its way
      const items = [
        ...found.titles.map((hit) => resultItem(`#/t/${encodeURIComponent(hit.thread_id)}`, hit.snippet, "title")),
        ...found.messages.map((hit) => resultItem(
          `#/t/${encodeURIComponent(hit.thread_id)}/m/${encodeURIComponent(hit.message_id)}`,
          hit.snippet,
          hit.thread_title || "Untitled",
        )),
      ];
      results.replaceChildren(...items);
      results.hidden = false;
      status.textContent = items.length ? `${items.length} results` : "No results.";
    } catch (error) {
      onError(error, () => run(text));
    }
  }
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => run(input.value), DEBOUNCE_MS);
  });
  input.form?.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    run(input.value);
  });
}

function resultItem(href, snippet, label) {
  const item = document.createElement("li");
  item.className = "search-result";
  const link = document.createElement("a");
  link.href = href;
  link.className = "search-link";
  const where = document.createElement("span");
  where.className = "muted small";
  where.textContent = label;
  const text = document.createElement("span");
  text.className = "search-snippet";
  text.innerHTML = snippet; // the server escapes the text; only <mark> is markup
  link.append(where, text);
  item.append(link);
  return item;
}

/** Downloads all of the caller's threads as graphchat JSON. */
export async function exportAll() {
  const blob = await download("/export?format=json");
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `graphchat-export-${new Date().toISOString().slice(0, 10)}.json`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

/** Imports a chosen archive file; resolves to the server's report. */
export async function importFile(file) {
  const body = JSON.parse(await file.text());
  return request("/import", { method: "POST", body });
}
