// graphchat's web UI: wires the sidebar, the conversation, the composer and the dialogs.

import {
  ApiError, cancelRun, joinStream, onKeyRequired, openStream, request, resumeStream, storeKey, storedKey,
} from "./api.js";
import { askApproval } from "./approval.js";
import { installBranches } from "./branches.js";
import { Conversation } from "./conversation.js";
import { askKey, askSettings, askTitle, confirmDelete } from "./dialogs.js";
import { closeSidebar, installLayout } from "./layout.js";
import { exportAll, importFile, setupSearch } from "./search.js";
import { ThreadList } from "./threads.js";

const $ = (id) => document.getElementById(id);
const MODEL_STORAGE = "graphchat.model";
const WORKING = new Set(["pending", "running"]); // a run's `graphchat_status` while it has not ended

const state = {
  thread: null, // the open thread (API shape), null for a new chat
  pendingSettings: {}, // settings chosen before a new chat's thread exists
  defaultModel: "",
  run: null, // {controller, location, reply} while a reply streams into the open thread
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
  leaveRun();
  try {
    // The latest run is read before the messages: one that ends in between is then rejoined
    // (and replays at once) rather than missed.
    const [thread, latest] = await Promise.all([request(threadPath(threadId)), latestRun(threadId)]);
    showThread(thread);
    await conversation.open(threadId);
    if (messageId) await conversation.reveal(messageId);
    takeUpRun(threadId, latest);
  } catch (error) {
    showError(error, () => openThread(threadId));
  }
}

function newChat() {
  leaveRun();
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

function threadPath(threadId) {
  return `/threads/${encodeURIComponent(threadId)}`;
}

/** A run's location, the one form every caller builds and compares (ids may hold a `:`). */
function runPath(threadId, runId) {
  return `${threadPath(threadId)}/runs/${encodeURIComponent(runId)}`;
}

async function renameThread(thread) {
  const title = await askTitle(thread.title);
  if (!title) return;
  try {
    const updated = await request(threadPath(thread.thread_id), {
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
    await request(threadPath(thread.thread_id), { method: "DELETE" });
    threads.remove(thread.thread_id);
    if (state.thread?.thread_id === thread.thread_id) newChat();
  } catch (error) {
    showError(error, () => deleteThread(thread));
  }
}

async function patchThread(changes) {
  state.thread = await request(threadPath(state.thread.thread_id), { method: "PATCH", body: changes });
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
  showThread(await request(threadPath(threadId)));
  conversation.threadId = threadId;
  if (Object.keys(state.pendingSettings).length) {
    await patchThread({ metadata: { settings: state.pendingSettings } });
    state.pendingSettings = {};
  }
}

function handleEvent({ event, data }, run) {
  if (event === "metadata") {
    if (!data.thread_id) return null; // LangGraph's metadata names no thread: the open one
    run.location = runPath(data.thread_id, data.run_id);
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
  const run = {
    controller: new AbortController(), location, reply: conversation.startReply(), left: false,
  };
  state.run = run;
  setBusy(true);
  try {
    const stream = await start(run.controller.signal);
    run.location = stream.location || run.location;
    for await (const event of stream.events) await handleEvent(event, run);
    run.reply.finish(run.final);
  } catch (error) {
    if (run.left) {
      // left for another view: its reply is no longer shown, and the run goes on
    } else if (error.name === "AbortError") {
      run.reply.interrupt("cancelled");
    } else {
      run.reply.interrupt("error");
      showError(error, retry);
    }
  } finally {
    if (state.run === run) {
      state.run = null;
      setBusy(false);
    }
    threads.reload();
  }
  if (run.left) return run;
  if (run.ended?.status === "requires_action" && run.ended.pending) {
    await approve(runPath(run.ended.thread_id, run.ended.run_id), run.ended.pending);
  }
  return run;
}

/** Shows the approval card of a paused run, then resumes it with the user's decisions. */
async function approve(location, pending) {
  const decisions = await askApproval($("message-list"), pending);
  if (state.run || !state.thread || !location.startsWith(`${threadPath(state.thread.thread_id)}/`)) return;
  await follow((signal) => resumeStream(location, decisions, signal), location, null);
}

/** The thread's newest run, or null. */
async function latestRun(threadId) {
  const runs = await request(`${threadPath(threadId)}/runs?limit=1`); // an array, as LangGraph's
  return runs[0] || null;
}

/**
 * A thread opened while its newest run works streams that run's reply on (a reload mid-reply,
 * another tab); one waiting for approval shows its card again.
 */
function takeUpRun(threadId, run) {
  if (!run || state.run || conversation.threadId !== threadId) return;
  const location = runPath(threadId, run.run_id);
  if (WORKING.has(run.graphchat_status)) rejoin(threadId, location);
  else if (run.graphchat_status === "requires_action" && run.pending) approve(location, run.pending);
}

async function rejoin(threadId, location) {
  const run = await follow((signal) => joinStream(location, signal), location, () => openThread(threadId));
  if (!run.ended || conversation.threadId !== threadId) return;
  try {
    await reopen(); // the stored messages: tool calls and results, the reply's controls
    takeUpRun(threadId, await latestRun(threadId)); // paused, or the next run queued behind it
  } catch (error) {
    showError(error, () => openThread(threadId));
  }
}

/** Stops following the open thread's run (leaving it): the run itself goes on, to rejoin. */
function leaveRun() {
  const run = state.run;
  if (!run) return;
  run.left = true;
  run.controller.abort();
  state.run = null;
  setBusy(false);
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

// --- key, search, archive, start -------------------------------------------------------

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

installLayout();
threads.reload();
loadModels();
route();
