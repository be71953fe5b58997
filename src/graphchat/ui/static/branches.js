// Branches in the conversation: regenerate and edit buttons, the "‹ 2 / 3 ›" version switcher.

import { openRunStream, request } from "./api.js";

function actionButton(label, title, action) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = `message-action ${action}`;
  button.textContent = label;
  button.title = title;
  button.setAttribute("aria-label", title);
  button.dataset.action = action;
  return button;
}

function switcher(message) {
  const index = message.sibling_index;
  const count = message.sibling_count;
  const previous = actionButton("‹", "Previous version", "switch");
  previous.dataset.target = message.siblings[index - 1] || "";
  previous.disabled = index === 0;
  const next = actionButton("›", "Next version", "switch");
  next.dataset.target = message.siblings[index + 1] || "";
  next.disabled = index === count - 1;
  const position = document.createElement("span");
  position.className = "branch-position";
  position.textContent = `${index + 1} / ${count}`;
  const group = document.createElement("span");
  group.className = "branch-switcher";
  group.setAttribute("role", "group");
  group.setAttribute("aria-label", `Version ${index + 1} of ${count}`);
  group.append(previous, position, next);
  return group;
}

/** The controls under a stored user or assistant message; null for others. */
export function branchControls(message) {
  if (!message.id || !["user", "assistant"].includes(message.role)) return null;
  const bar = document.createElement("div");
  bar.className = "message-actions";
  if ((message.sibling_count || 1) > 1) bar.append(switcher(message));
  bar.append(message.role === "assistant"
    ? actionButton("Regenerate", "Regenerate this reply", "regenerate")
    : actionButton("Edit", "Edit this message", "edit"));
  return bar;
}

function startEditing(element, onSave) {
  if (element.querySelector(".edit-form")) return;
  const body = element.querySelector(".message-body");
  const form = document.createElement("form");
  form.className = "edit-form";
  const text = document.createElement("textarea");
  text.value = body.textContent;
  text.setAttribute("aria-label", "Edited message");
  const save = document.createElement("button");
  save.type = "submit";
  save.textContent = "Save and send";
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.textContent = "Cancel";
  form.append(text, save, cancel);
  body.hidden = true;
  element.append(form);
  text.focus();
  cancel.addEventListener("click", () => {
    form.remove();
    body.hidden = false;
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (text.value.trim()) onSave(text.value.trim());
  });
}

/** Wires the messages' controls: `app` gives the conversation, the run follower and errors. */
export function installBranches(list, app) {
  const path = (id) => `/threads/${encodeURIComponent(app.threadId())}/messages/${encodeURIComponent(id)}`;
  // Regenerate or edit: the view drops the replaced branch, streams the new one, then reloads.
  async function branchTurn(element, route, body, text) {
    app.hideError();
    app.conversation.truncateFrom(element);
    if (text) app.conversation.addUserMessage(text);
    await app.follow((signal) => openRunStream(route, { ...body, model: app.model() }, signal));
    await app.reopen();
  }
  async function switchTo(id) {
    app.hideError();
    try {
      await request(`/threads/${encodeURIComponent(app.threadId())}/leaf`, { method: "PUT", body: { message_id: id } });
      await app.reopen();
    } catch (error) {
      app.showError(error);
    }
  }
  list.addEventListener("click", (event) => {
    const button = event.target.closest(".message-actions button");
    if (!button || app.busy()) return;
    const element = button.closest(".message");
    const id = element.dataset.messageId;
    const action = button.dataset.action;
    if (action === "regenerate") branchTurn(element, `${path(id)}/regenerate`, {});
    else if (action === "edit") startEditing(element, (text) => branchTurn(element, `${path(id)}/edit`, { content: text }, text));
    else if (action === "switch" && button.dataset.target) switchTo(button.dataset.target);
  });
}
