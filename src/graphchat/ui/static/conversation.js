// The conversation view: a thread's messages, newest at the bottom, older pages on scroll up.

import { request } from "./api.js";
import { branchControls } from "./branches.js";
import { renderMarkdown } from "./render.js";
import { onSentinelVisible } from "./scroll.js";

const PAGE = 30;
const STUCK_TO_BOTTOM_PX = 80;
const DONE_STATUSES = new Set(["complete", "success"]);
const STATUS_NOTES = {
  partial: "Reply cut short.",
  cancelled: "Stopped.",
  error: "The model failed before finishing this reply.",
};

export class Conversation {
  constructor({ scroller, list, sentinel, status, empty, onError }) {
    this.scroller = scroller;
    this.list = list;
    this.status = status;
    this.empty = empty;
    this.onError = onError;
    this.threadId = null;
    this.olderCursor = null;
    this.loadingOlder = false;
    onSentinelVisible(scroller, sentinel, () => this.loadOlder());
  }

  /** Empties the view for a new chat. */
  clear() {
    this.threadId = null;
    this.olderCursor = null;
    this.list.replaceChildren();
    this.status.textContent = "";
    this.updateEmpty();
  }

  /** Shows a thread, opened at its latest messages. */
  async open(threadId) {
    this.clear();
    this.threadId = threadId;
    const page = await this.fetchPage(null);
    if (this.threadId !== threadId) return;
    for (const message of page.messages.slice().reverse()) this.list.append(messageElement(message));
    this.olderCursor = page.has_more ? page.next_cursor : null;
    this.updateEmpty();
    this.scrollToBottom();
    this.fillViewport();
  }

  /** Loads older pages until the message is shown, then scrolls to it and marks it a while. */
  async reveal(messageId) {
    const threadId = this.threadId;
    const selector = `[data-message-id="${CSS.escape(messageId)}"]`;
    for (let pages = 0; pages < 100 && this.threadId === threadId; pages += 1) {
      const element = this.list.querySelector(selector);
      if (element) {
        element.classList.add("search-hit");
        element.scrollIntoView({ block: "center" });
        return true;
      }
      if (this.olderCursor === null && !this.loadingOlder) return false;
      if (this.loadingOlder) await new Promise((resolve) => setTimeout(resolve, 20));
      else await this.loadOlder();
    }
    return false;
  }

  /** A first page shorter than the view leaves nothing to scroll: fetch older ones at once. */
  fillViewport() {
    if (this.olderCursor !== null && this.scroller.scrollTop === 0) this.loadOlder();
  }

  async fetchPage(before) {
    const query = new URLSearchParams({ order: "desc", limit: String(PAGE) });
    if (before !== null) query.set("before", String(before));
    return request(`/threads/${encodeURIComponent(this.threadId)}/messages?${query}`);
  }

  /** Prepends the page before the oldest shown message, keeping what is on screen in place. */
  async loadOlder() {
    if (this.olderCursor === null || this.loadingOlder) return;
    const threadId = this.threadId;
    this.loadingOlder = true;
    this.status.textContent = "Loading older messages…";
    try {
      const page = await this.fetchPage(this.olderCursor);
      if (this.threadId !== threadId) return;
      const before = this.scroller.scrollHeight - this.scroller.scrollTop;
      const fragment = document.createDocumentFragment();
      for (const message of page.messages.slice().reverse()) fragment.append(messageElement(message));
      this.list.prepend(fragment);
      this.scroller.scrollTop = this.scroller.scrollHeight - before;
      this.olderCursor = page.has_more ? page.next_cursor : null;
      this.status.textContent = "";
      queueMicrotask(() => this.fillViewport());
    } catch (error) {
      this.status.textContent = "";
      this.onError(error, () => this.loadOlder());
    } finally {
      this.loadingOlder = false;
    }
  }

  /** Removes `element` and every message after it (a branch being replaced). */
  truncateFrom(element) {
    while (element.nextElementSibling) element.nextElementSibling.remove();
    element.remove();
  }

  /** Adds a message the user just sent. */
  addUserMessage(text) {
    const element = messageElement({ role: "user", content: text, status: "complete" });
    this.list.append(element);
    this.updateEmpty();
    this.scrollToBottom();
    return element;
  }

  /** Adds an empty assistant reply that grows as tokens arrive. */
  startReply() {
    const reply = new StreamingReply(this);
    this.list.append(reply.element);
    this.scrollToBottom();
    return reply;
  }

  /** Adds a stored message that arrived during a run (tool calls and results). */
  addStored(message) {
    this.list.append(messageElement(message));
    this.keepAtBottom(true);
  }

  isNearBottom() {
    const { scrollHeight, scrollTop, clientHeight } = this.scroller;
    return scrollHeight - scrollTop - clientHeight < STUCK_TO_BOTTOM_PX;
  }

  keepAtBottom(wasNearBottom) {
    if (wasNearBottom) this.scrollToBottom();
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  updateEmpty() {
    this.empty.hidden = this.list.childElementCount > 0;
  }
}

/** One assistant reply being streamed; rendering is batched to one pass per frame. */
class StreamingReply {
  constructor(conversation) {
    this.conversation = conversation;
    this.text = "";
    this.frame = 0;
    this.element = messageShell("assistant");
    this.element.classList.add("streaming");
    this.element.setAttribute("aria-busy", "true");
    this.body = this.element.querySelector(".message-body");
  }

  append(delta) {
    this.text += delta;
    if (!this.frame) this.frame = requestAnimationFrame(() => this.paint(false));
  }

  paint(final) {
    this.frame = 0;
    const wasNearBottom = this.conversation.isNearBottom();
    renderMarkdown(this.body, this.text, final);
    this.conversation.keepAtBottom(wasNearBottom);
  }

  /** Ends the reply with the stored message (its content wins over the streamed text). */
  finish(message) {
    if (message && typeof message.content === "string" && message.content) this.text = message.content;
    cancelAnimationFrame(this.frame);
    this.paint(true);
    this.settle(message ? message.status : "complete");
  }

  /** Ends the reply early: stopped by the user or failed; the text so far stays. */
  interrupt(status) {
    cancelAnimationFrame(this.frame);
    this.paint(true);
    this.settle(status);
  }

  settle(status) {
    this.element.classList.remove("streaming");
    this.element.removeAttribute("aria-busy");
    if (!this.text) this.element.classList.add("no-text");
    setStatusNote(this.element, status);
  }
}

function messageShell(role) {
  const element = document.createElement("article");
  element.className = `message ${role}`;
  element.setAttribute("aria-label", { user: "You", assistant: "Assistant", tool: "Tool" }[role] || role);
  const body = document.createElement("div");
  body.className = "message-body";
  element.append(body);
  return element;
}

function setStatusNote(element, status) {
  element.querySelector(".status-note")?.remove();
  if (DONE_STATUSES.has(status) || !STATUS_NOTES[status]) return;
  const note = document.createElement("p");
  note.className = `status-note ${status}`;
  note.textContent = STATUS_NOTES[status];
  element.append(note);
}

function toolCallsElement(calls) {
  const details = document.createElement("details");
  details.className = "tool-calls";
  const summary = document.createElement("summary");
  summary.textContent = `Called ${calls.map((call) => call.name || call.function?.name || "a tool").join(", ")}`;
  const pre = document.createElement("pre");
  pre.textContent = JSON.stringify(calls, null, 2);
  details.append(summary, pre);
  return details;
}

/** The element of one stored message: user text verbatim, assistant Markdown, tools folded. */
export function messageElement(message) {
  const element = messageShell(message.role);
  const body = element.querySelector(".message-body");
  if (message.id) element.dataset.messageId = message.id;
  if (message.role === "assistant") {
    renderMarkdown(body, message.content || "", true);
    if (message.tool_calls?.length) element.append(toolCallsElement(message.tool_calls));
  } else if (message.role === "tool") {
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = `Result of ${message.name || "a tool"}`;
    const pre = document.createElement("pre");
    pre.textContent = message.content;
    details.append(summary, pre);
    body.append(details);
  } else {
    body.textContent = message.content;
  }
  setStatusNote(element, message.status);
  const controls = branchControls(message);
  if (controls) element.append(controls);
  return element;
}
