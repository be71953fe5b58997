// The thread sidebar: newest activity first, more pages on scroll, rename and delete.

import { request } from "./api.js";
import { onSentinelVisible } from "./scroll.js";

const PAGE = 30;

export class ThreadList {
  constructor({ scroller, list, sentinel, status, onOpen, onRename, onDelete, onError }) {
    this.list = list;
    this.status = status;
    this.handlers = { onOpen, onRename, onDelete, onError };
    this.cursor = null;
    this.hasMore = false;
    this.loading = false;
    this.activeId = null;
    onSentinelVisible(scroller, sentinel, () => this.loadMore());
  }

  /** Reloads the first page (after a send, a rename or a delete changed the order). */
  async reload() {
    this.loading = true;
    try {
      const page = await request(`/threads?limit=${PAGE}`);
      this.list.replaceChildren(...page.threads.map((thread) => this.item(thread)));
      this.setPage(page);
    } catch (error) {
      this.handlers.onError(error, () => this.reload());
    } finally {
      this.loading = false;
    }
  }

  async loadMore() {
    if (!this.hasMore || this.loading) return;
    this.loading = true;
    this.status.textContent = "Loading more…";
    try {
      const query = new URLSearchParams({ limit: String(PAGE), cursor: this.cursor });
      const page = await request(`/threads?${query}`);
      const known = new Set([...this.list.children].map((item) => item.dataset.threadId));
      const fresh = page.threads.filter((thread) => !known.has(thread.thread_id));
      this.list.append(...fresh.map((thread) => this.item(thread)));
      this.setPage(page);
    } catch (error) {
      this.handlers.onError(error, () => this.loadMore());
    } finally {
      this.loading = false;
    }
  }

  setPage(page) {
    this.hasMore = page.has_more;
    this.cursor = page.next_cursor;
    const empty = this.list.childElementCount === 0;
    this.status.textContent = empty ? "No conversations yet." : "";
    this.markActive(this.activeId);
  }

  /** Highlights the open thread (aria-current) or none. */
  markActive(threadId) {
    this.activeId = threadId;
    for (const item of this.list.children) {
      const link = item.querySelector("a");
      if (item.dataset.threadId === threadId) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  /** Replaces one thread's entry after it changed (renamed, say). */
  update(thread) {
    const item = this.find(thread.thread_id);
    if (item) item.replaceWith(this.item(thread));
    this.markActive(this.activeId);
  }

  remove(threadId) {
    this.find(threadId)?.remove();
    if (this.list.childElementCount === 0) this.status.textContent = "No conversations yet.";
  }

  find(threadId) {
    return [...this.list.children].find((item) => item.dataset.threadId === threadId);
  }

  item(thread) {
    const title = thread.title || "Untitled";
    const item = document.createElement("li");
    item.className = "thread-item";
    item.dataset.threadId = thread.thread_id;
    const link = document.createElement("a");
    link.href = `#/t/${encodeURIComponent(thread.thread_id)}`;
    link.className = "thread-link";
    link.textContent = title;
    link.title = title;
    link.addEventListener("click", () => this.handlers.onOpen(thread.thread_id));
    const rename = actionButton("✎", `Rename “${title}”`, "rename");
    rename.addEventListener("click", () => this.handlers.onRename(thread));
    const remove = actionButton("✕", `Delete “${title}”`, "delete");
    remove.addEventListener("click", () => this.handlers.onDelete(thread));
    item.append(link, rename, remove);
    return item;
  }
}

function actionButton(symbol, label, kind) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = `button ghost icon thread-action ${kind}`;
  button.textContent = symbol;
  button.setAttribute("aria-label", label);
  button.title = label;
  return button;
}
