// graphchat's web UI: wires the sidebar, the conversation, the composer and the dialogs.

import { ApiError, cancelRun, onKeyRequired, openStream, request, resumeStream, storeKey, storedKey } from "./api.js";
import { askApproval } from "./approval.js";
import { installBranches } from "./branches.js";
import { Conversation } from "./conversation.js";
import { askKey, askSettings, askTitle, confirmDelete } from "./dialogs.js";
import { exportAll, importFile, setupSearch } from "./search.js";
import { ThreadList } from "./threads.js";

const $ = (id) => document.getElementById(id);
const MODEL_STORAGE = "graphchat.model";
const PHONE = window.matchMedia("(max-width: 760px)");

const state = {
  thread: null, // the open thread (API shape), null for a new chat
  pendingSettings: {}, // settings chosen before a new chat's thread exists
  defaultModel: "",
  run: null, // {controller, location, reply} while a reply streams
  // The thread being opened: settings and messages wait for it, or they would go to a new chat
  // instead (a reloaded page shows no thread until its request returns).
  opening: Promise.resolve(),
};

// --- errors -------------------------------------------------------------------------------

let retryAction = null;

function showError(error, retry) {
  const message = error instanceof ApiError ? error.message : `Something went wrong: ${error.message}`;
  $("error-message").textContent = message;
  const detail = error instanceof ApiError && error.status ? [`${error.code}`] : [];
  if (error.requestId) detail.push(`request ${error.requestId}`);
  $("error-detail").textContent = detail.join(" · ");
  retryAction = retry || null;
  $("error-retry").hidden = !retry;
  $("error-banner").hidden = false;
}

function hideError() {
  $("error-banner").hidden = true;
  retryAction = null;
}

$("error-dismiss").addEventListener("click", hideError);
$("error-retry").addEventListener("click", () => {
  const retry = retryAction;
  hideError();
  retry?.();
});

// --- views --------------------------------------------------------------------------------

const conversation = new Conversation({
  scroller: $("messages"),
  list: $("message-list"),
  sentinel: $("older-sentinel"),
  status: $("older-status"),
  empty: $("empty-state"),
  onError: showError,
});

const threads = new ThreadList({
  scroller: $("thread-scroller"),
  list: $("thread-list"),
  sentinel: $("thread-sentinel"),
  status: $("thread-status"),
  onOpen: () => closeSidebar(),
  onRename: renameThread,
  onDelete: deleteThread,
  onError: showError,
});

function threadSettings() {
  return state.thread ? state.thread.metadata?.settings || {} : state.pendingSettings;
}

function showThread(thread) {
  state.thread = thread;
  $("thread-title").textContent = thread ? thread.title || "Untitled" : "New chat";
  document.title = thread?.title ? `${thread.title} · graphchat` : "graphchat";
  threads.markActive(thread ? thread.thread_id : null);
  selectModel(thread?.model || localStorage.getItem(MODEL_STORAGE) || state.defaultModel);
}

function openThread(threadId, messageId = null) {
  state.opening = loadThread(threadId, messageId); // never rejects: it shows its errors
  return state.opening;
}

async function loadThread(threadId, messageId) {
  hideError();
  try {
    showThread(await request(`/threads/${encodeURIComponent(threadId)}`));
    await conversation.open(threadId);
    if (messageId) await conversation.reveal(messageId);
    await offerPausedRun(threadId);
  } catch (error) {
    showError(error, () => openThread(threadId));
  }
}

function newChat() {
  if (location.hash) history.pushState(null, "", location.pathname);
  state.pendingSettings = {};
  showThread(null);
  conversation.clear();
  closeSidebar();
  $("composer-input").focus();
}

function route() {
  const match = location.hash.match(/^#\/t\/([^/]+)(?:\/m\/([^/]+))?$/);
  if (match) openThread(decodeURIComponent(match[1]), match[2] ? decodeURIComponent(match[2]) : null);
  else if (!location.hash || location.hash === "#/") newChat();
}

// --- threads ------------------------------------------------------------------------------

async function renameThread(thread) {
  const title = await askTitle(thread.title);
  if (!title) return;
  try {
    const updated = await request(`/threads/${encodeURIComponent(thread.thread_id)}`, {
      method: "PATCH", body: { title },
    });
    threads.update(updated);
    if (state.thread?.thread_id === updated.thread_id) showThread(updated);
  } catch (error) {
    showError(error, () => renameThread(thread));
  }
}

async function deleteThread(thread) {
  if (!(await confirmDelete(thread.title))) return;
  try {
    await request(`/threads/${encodeURIComponent(thread.thread_id)}`, { method: "DELETE" });
    threads.remove(thread.thread_id);
    if (state.thread?.thread_id === thread.thread_id) newChat();
  } catch (error) {
    showError(error, () => deleteThread(thread));
  }
}

async function patchThread(changes) {
  const id = encodeURIComponent(state.thread.thread_id);
  state.thread = await request(`/threads/${id}`, { method: "PATCH", body: changes });
}

// --- models and settings ------------------------------------------------------------------

function selectModel(name) {
  const select = $("model-select");
  if (name && ![...select.options].some((option) => option.value === name)) {
    select.append(new Option(`${name} (not listed)`, name));
  }
  if (name) select.value = name;
}

async function loadModels() {
  try {
    const { models, default_model: defaultModel } = await request("/models");
    state.defaultModel = defaultModel || "";
    const select = $("model-select");
    select.replaceChildren(...models.map((model) => {
      const option = new Option(model.available ? model.name : `${model.name} (unavailable)`, model.name);
      option.disabled = !model.available;
      return option;
    }));
    selectModel(state.thread?.model || localStorage.getItem(MODEL_STORAGE) || state.defaultModel);
  } catch (error) {
    showError(error, loadModels);
  }
}

$("model-select").addEventListener("change", async (event) => {
  const model = event.target.value;
  localStorage.setItem(MODEL_STORAGE, model);
  if (!state.thread) return;
  try {
    await patchThread({ model });
  } catch (error) {
    showError(error);
  }
});

$("settings-button").addEventListener("click", async () => {
  await state.opening;
  const settings = await askSettings(threadSettings());
  if (settings === null) return;
  if (!state.thread) {
    state.pendingSettings = settings;
    return;
  }
  try {
    await patchThread({ metadata: { settings } });
  } catch (error) {
    showError(error);
  }
});

// --- sending and streaming ----------------------------------------------------------------

function streamBody(text) {
  const configurable = { model: $("model-select").value || undefined, ...threadSettings() };
  return {
    input: { messages: [{ role: "user", content: text }], thread_id: state.thread?.thread_id },
    config: { configurable },
    stream_mode: ["messages", "updates"],
  };
}

function setBusy(busy) {
  $("send-button").hidden = busy;
  $("stop-button").hidden = !busy;
  $("messages").setAttribute("aria-busy", String(busy));
}

async function adoptThread(threadId) {
  if (state.thread?.thread_id === threadId) return;
  history.replaceState(null, "", `#/t/${encodeURIComponent(threadId)}`);
  showThread(await request(`/threads/${encodeURIComponent(threadId)}`));
  conversation.threadId = threadId;
  if (Object.keys(state.pendingSettings).length) {
    await patchThread({ metadata: { settings: state.pendingSettings } });
    state.pendingSettings = {};
  }
}

function handleEvent({ event, data }, run) {
  if (event === "metadata") {
    run.location = `/threads/${data.thread_id}/runs/${data.run_id}`;
    return adoptThread(data.thread_id);
  }
  if (event === "messages") {
    const [chunk] = data;
    if (chunk.type === "AIMessageChunk" && typeof chunk.content === "string") run.reply.append(chunk.content);
  } else if (event === "updates") {
    for (const message of Object.values(data).flatMap((node) => node.messages || [])) {
      if (message.role === "assistant" && !message.tool_calls?.length) run.final = message;
      else conversation.addStored(message);
    }
  } else if (event === "error") {
    const error = data.error || {};
    throw new ApiError(500, error.code || "run_failed", error.message || "The reply failed.");
  } else if (event === "end") {
    run.ended = data;
  }
  return null;
}

async function send(text) {
  await state.opening;
  hideError();
  // Typing instead of deciding moves on: the server closes the pause, so drop its card.
  for (const card of document.querySelectorAll(".approval")) card.remove();
  conversation.addUserMessage(text);
  const run = await follow((signal) => openStream(streamBody(text), signal), null, () => send(text));
  if (run.ended?.status === "success") await reopen(); // stored ids: the new messages' buttons
}

async function reopen() {
  if (state.thread) await conversation.open(state.thread.thread_id);
}

installBranches($("message-list"), {
  conversation,
  busy: () => Boolean(state.run) || !state.thread,
  threadId: () => state.thread.thread_id,
  model: () => $("model-select").value || undefined,
  follow: (start) => follow(start, null, null),
  reopen,
  showError,
  hideError,
});

/** Streams a run started by `start(signal)` into a new reply; offers approval if it pauses. */
async function follow(start, location, retry) {
  const run = { controller: new AbortController(), location, reply: conversation.startReply() };
  state.run = run;
  setBusy(true);
  try {
    const stream = await start(run.controller.signal);
    run.location = stream.location || run.location;
    for await (const event of stream.events) await handleEvent(event, run);
    run.reply.finish(run.final);
  } catch (error) {
    if (error.name === "AbortError") {
      run.reply.interrupt("cancelled");
    } else {
      run.reply.interrupt("error");
      showError(error, retry);
    }
  } finally {
    state.run = null;
    setBusy(false);
    threads.reload();
  }
  if (run.ended?.status === "requires_action" && run.ended.pending) {
    await approve(`/threads/${run.ended.thread_id}/runs/${run.ended.run_id}`, run.ended.pending);
  }
  return run;
}

/** Shows the approval card of a paused run, then resumes it with the user's decisions. */
async function approve(location, pending) {
  const decisions = await askApproval($("message-list"), pending);
  if (state.run || !location.startsWith(`/threads/${state.thread?.thread_id}/`)) return;
  await follow((signal) => resumeStream(location, decisions, signal), location, null);
}

/** A thread opened with a run waiting for approval shows its card again. */
async function offerPausedRun(threadId) {
  const query = "status=requires_action&limit=1";
  // A JSON array, as the LangGraph SDKs expect.
  const runs = await request(`/threads/${encodeURIComponent(threadId)}/runs?${query}`);
  if (runs.length && runs[0].pending && conversation.threadId === threadId) {
    approve(`/threads/${threadId}/runs/${runs[0].run_id}`, runs[0].pending);
  }
}

async function stop() {
  const run = state.run;
  if (!run) return;
  run.controller.abort();
  if (!run.location) return;
  try {
    await cancelRun(run.location);
  } catch (error) {
    showError(error);
  }
}

const input = $("composer-input");

function submit() {
  const text = input.value.trim();
  if (!text || state.run) return;
  input.value = "";
  autosize();
  send(text);
}

function autosize() {
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight, 240)}px`;
}

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  submit();
});
input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    submit();
  }
});
input.addEventListener("input", autosize);
$("stop-button").addEventListener("click", stop);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && state.run && !document.querySelector("dialog[open]")) stop();
});

// --- layout, theme, key -------------------------------------------------------------------

function closeSidebar() {
  document.body.classList.remove("sidebar-open");
  $("sidebar-toggle").setAttribute("aria-expanded", "false");
  $("scrim").hidden = true;
}

$("sidebar-toggle").addEventListener("click", () => {
  const open = !document.body.classList.contains("sidebar-open");
  document.body.classList.toggle("sidebar-open", open);
  $("sidebar-toggle").setAttribute("aria-expanded", String(open));
  $("scrim").hidden = !open;
  if (open) $("new-chat").focus();
});
$("scrim").addEventListener("click", closeSidebar);
$("sidebar").addEventListener("keydown", (event) => {
  if (event.key === "Escape" && document.body.classList.contains("sidebar-open")) {
    closeSidebar();
    $("sidebar-toggle").focus();
  }
});
document.querySelector(".skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  $("composer-input").focus();
});
PHONE.addEventListener("change", closeSidebar);

function currentTheme() {
  return document.documentElement.dataset.theme === "dark" ? "dark" : "light";
}

function paintThemeButton() {
  const dark = currentTheme() === "dark";
  $("theme-toggle").setAttribute("aria-pressed", String(dark));
  $("theme-toggle").textContent = dark ? "Light theme" : "Dark theme";
}

$("theme-toggle").addEventListener("click", () => {
  const theme = currentTheme() === "dark" ? "light" : "dark";
  document.documentElement.dataset.theme = theme;
  localStorage.setItem("graphchat.theme", theme);
  paintThemeButton();
});

$("key-button").addEventListener("click", async () => {
  const key = await askKey(null, storedKey());
  if (key !== null) storeKey(key);
});

$("new-chat").addEventListener("click", newChat);
setupSearch({ input: $("search-input"), results: $("search-results"), status: $("search-status"), onError: showError });
$("export-button").addEventListener("click", () => exportAll().catch((error) => showError(error)));
$("import-button").addEventListener("click", () => $("import-file").click());
$("import-file").addEventListener("change", async (event) => {
  const [file] = event.target.files;
  event.target.value = "";
  if (!file) return;
  try {
    const report = await importFile(file);
    $("search-status").textContent = `Imported ${report.imported.length}, failed ${report.failed.length}.`;
    threads.reload();
  } catch (error) {
    showError(error);
  }
});
window.addEventListener("hashchange", route);
onKeyRequired((problem) => askKey(problem));

paintThemeButton();
window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", paintThemeButton);
threads.reload();
loadModels();
route();
