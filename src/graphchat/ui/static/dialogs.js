// Modal dialogs (native <dialog>: focus is trapped and Escape closes them) as promises.

function button(type, value, kind, label) {
  const element = document.createElement("button");
  Object.assign(element, { type, value, className: `button ${kind}`, textContent: label });
  return element;
}

// Every dialog ends in Cancel and one submit button, described by its row's data attributes.
// Cancel is not a submit button, so Enter in a field submits the form, never cancels.
for (const row of document.querySelectorAll("dialog .dialog-buttons")) {
  const cancel = button("button", "cancel", "ghost", "Cancel");
  cancel.addEventListener("click", () => row.closest("dialog").close("cancel"));
  const { value, kind, label } = row.dataset;
  row.append(cancel, button("submit", value, kind, label));
}

/** Opens a dialog; resolves to the value of the button that closed it ("" for Escape). */
export function ask(dialog, focus) {
  return new Promise((resolve) => {
    dialog.returnValue = "";
    dialog.addEventListener("close", () => resolve(dialog.returnValue), { once: true });
    dialog.showModal();
    focus?.focus();
  });
}

/** Asks for a new title; resolves to it, or null when cancelled. */
export async function askTitle(current) {
  const dialog = document.getElementById("rename-dialog");
  const input = document.getElementById("rename-input");
  input.value = current || "";
  const answer = await ask(dialog, input);
  const title = input.value.trim();
  return answer === "save" && title ? title : null;
}

/** Asks to confirm deleting a thread. */
export async function confirmDelete(title) {
  document.getElementById("confirm-text").textContent =
    `“${title || "Untitled"}” and all its messages will be deleted. This cannot be undone.`;
  const dialog = document.getElementById("confirm-dialog");
  return (await ask(dialog, dialog.querySelector("button[value=cancel]"))) === "confirm";
}

/** Asks for an API key; `problem` says why the last one failed. */
export async function askKey(problem, current = "") {
  const input = document.getElementById("key-input");
  input.value = current;
  document.getElementById("key-text").textContent = problem
    ? `The server refused the key: ${problem}`
    : "This server requires an API key.";
  const answer = await ask(document.getElementById("key-dialog"), input);
  return answer === "save" ? input.value.trim() : null;
}

const NUMBER_FIELDS = { temperature: parseFloat, top_p: parseFloat, max_tokens: (v) => parseInt(v, 10) };

/** Edits a thread's sampling settings; resolves to the new settings, or null when cancelled. */
export async function askSettings(settings) {
  const form = document.getElementById("settings-form");
  for (const name of [...Object.keys(NUMBER_FIELDS), "system"]) {
    form.elements[name].value = settings[name] ?? "";
  }
  const answer = await ask(document.getElementById("settings-dialog"), form.elements.temperature);
  if (answer !== "save") return null;
  const result = {};
  for (const [name, parse] of Object.entries(NUMBER_FIELDS)) {
    const value = parse(form.elements[name].value);
    if (Number.isFinite(value)) result[name] = value;
  }
  const system = form.elements.system.value.trim();
  if (system) result.system = system;
  return result;
}
