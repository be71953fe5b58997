// The graphchat HTTP API as the page uses it: JSON calls, the SSE stream, API-key handling.

const KEY_STORAGE = "graphchat.apiKey";

/** An API failure in the server's error shape (`{"error": {code, message, request_id}}`). */
export class ApiError extends Error {
  constructor(status, code, message, requestId = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

let askForKey = async () => null;
let pendingPrompt = null;

// Calls failing together (the page loads three things at once) share one prompt.
function promptForKey(problem) {
  pendingPrompt ??= askForKey(problem).finally(() => { pendingPrompt = null; });
  return pendingPrompt;
}

/** Registers the prompt shown when the server answers 401; it resolves to a key or null. */
export function onKeyRequired(prompt) {
  askForKey = prompt;
}

export function storedKey() {
  return localStorage.getItem(KEY_STORAGE) || "";
}

export function storeKey(key) {
  if (key) localStorage.setItem(KEY_STORAGE, key);
  else localStorage.removeItem(KEY_STORAGE);
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON (a proxy's HTML page, say): fall back on the status line
  }
  const error = body && body.error;
  if (error && typeof error.message === "string") {
    return new ApiError(response.status, error.code || "error", error.message, error.request_id);
  }
  const text = response.statusText || "request failed";
  return new ApiError(response.status, `http_${response.status}`, `The server answered ${response.status} ${text}.`);
}

async function fetchOnce(path, init) {
  const headers = { ...(init.headers || {}) };
  const key = storedKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  try {
    return await fetch(path, { ...init, headers });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "network_error", "Cannot reach the graphchat server. Check that it is running.");
  }
}

/** fetch with our key; on 401 asks for a key and tries again until it works or the user gives up. */
async function authorizedFetch(path, init) {
  for (let attempt = 0; ; attempt += 1) {
    const response = await fetchOnce(path, init);
    if (response.status !== 401) return response;
    const error = await errorFrom(response);
    const key = await promptForKey(attempt === 0 && !storedKey() ? null : error.message);
    if (!key) throw error;
    storeKey(key);
  }
}

/** A JSON call; resolves to the parsed body (null for 204) or throws an ApiError. */
export async function request(path, { method = "GET", body, signal } = {}) {
  const init = { method, signal, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await authorizedFetch(path, init);
  if (!response.ok) throw await errorFrom(response);
  return response.status === 204 ? null : response.json();
}

/** A download (an export): resolves to its bytes as a Blob, or throws an ApiError. */
export async function download(path) {
  const response = await authorizedFetch(path, { method: "GET", headers: {} });
  if (!response.ok) throw await errorFrom(response);
  return response.blob();
}

/** POSTs `body` to `url` for an event stream; resolves once the server accepted the run. */
async function postForEvents(url, body, signal) {
  const response = await authorizedFetch(url, {
    method: "POST",
    signal,
    headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw await errorFrom(response);
  return { location: response.headers.get("Content-Location"), events: parseEvents(response.body) };
}

/** Starts `POST /stream`; resolves once the server accepted the run, with its events to iterate. */
export function openStream(body, signal) {
  return postForEvents("/stream", body, signal);
}

/** POSTs `body` to a route answering with `?stream=true` and streams the run it starts. */
export function openRunStream(path, body, signal) {
  return postForEvents(`${path}?stream=true&stream_mode=messages&stream_mode=updates`, body, signal);
}

/**
 * Rejoins a run (`location` is `/threads/{id}/runs/{run_id}`): its token chunks from the first,
 * then live to its end, in the vocabulary `POST /stream` sends (its `error` and `end` say why).
 * Its stored messages are the thread's to read once it has ended.
 */
export async function joinStream(location, signal) {
  const query = "vocabulary=graphchat&stream_mode=messages";
  const response = await authorizedFetch(`${location}/stream?${query}`, {
    method: "GET",
    signal,
    headers: { Accept: "text/event-stream", "Last-Event-ID": "-1" },
  });
  if (!response.ok) throw await errorFrom(response);
  return { location, events: parseEvents(response.body) };
}

/** Resumes a paused run (`location` is `/threads/{id}/runs/{run_id}`) and streams the rest. */
export async function resumeStream(location, decisions, signal) {
  const { events } = await openRunStream(`${location}/resume`, { decisions }, signal);
  return { location, events };
}

function parseBlock(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue; // comments are heartbeats
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  return data.length ? { event, data: JSON.parse(data.join("\n")) } : null;
}

/** Server-sent events read from a fetch body: yields `{event, data}` with `data` parsed. */
export async function* parseEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let carry = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    let text = carry + value;
    // A CR at the end of a chunk may be half of a CRLF: keep it for the next one.
    carry = text.endsWith("\r") ? "\r" : "";
    if (carry) text = text.slice(0, -1);
    buffer += text.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = parseBlock(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (event) yield event;
    }
  }
}

/** Asks the server to cancel a run; false when this server cannot cancel runs (404/405). */
export async function cancelRun(location) {
  try {
    await request(`${location}/cancel`, { method: "POST" });
    return true;
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405)) return false;
    throw error;
  }
}
