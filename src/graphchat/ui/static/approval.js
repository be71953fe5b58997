// The approval card: the tool calls a paused run waits on, each with Approve / Edit / Reject.

/**
 * Shows a card for `pending` ({message_id, calls: [{id, name, args}]}) at the end of `list`.
 * Resolves with one decision per call, in order, once the user has decided on every call.
 */
export function askApproval(list, pending) {
  return new Promise((resolve) => {
    const card = document.createElement("section");
    card.className = "approval";
    card.setAttribute("aria-label", "Approval needed");
    const heading = document.createElement("h2");
    heading.textContent = pending.calls.length > 1
      ? `The assistant wants to run ${pending.calls.length} tools`
      : "The assistant wants to run a tool";
    card.append(heading);
    const decisions = new Array(pending.calls.length).fill(null);
    const decide = (index, decision) => {
      decisions[index] = decision;
      if (decisions.every(Boolean)) {
        card.remove();
        resolve(decisions);
      }
    };
    pending.calls.forEach((call, index) => card.append(callSection(call, (d) => decide(index, d))));
    list.append(card);
    card.scrollIntoView({ block: "nearest" });
    card.querySelector("button")?.focus();
  });
}

function callSection(call, decide) {
  const section = document.createElement("div");
  section.className = "approval-call";
  const name = document.createElement("p");
  name.className = "approval-tool";
  name.textContent = call.name;
  const label = document.createElement("label");
  label.textContent = "Arguments (JSON)";
  const args = document.createElement("textarea");
  args.className = "approval-args";
  args.spellcheck = false;
  args.rows = Math.min(12, JSON.stringify(call.args, null, 2).split("\n").length + 1);
  args.value = JSON.stringify(call.args, null, 2);
  label.append(args);
  const reason = document.createElement("input");
  reason.className = "approval-reason";
  reason.placeholder = "Reason for rejecting (optional)";
  reason.setAttribute("aria-label", "Reason for rejecting");
  const problem = document.createElement("p");
  problem.className = "approval-problem";
  problem.setAttribute("role", "alert");
  const buttons = document.createElement("div");
  buttons.className = "approval-buttons";
  const done = (decision, text) => {
    section.replaceChildren(name, Object.assign(document.createElement("p"), { textContent: text }));
    decide(decision);
  };
  buttons.append(
    button("Approve", "primary", () => done({ type: "approve" }, "Approved.")),
    button("Edit and run", "", () => {
      let edited;
      try {
        edited = JSON.parse(args.value);
      } catch (error) {
        problem.textContent = `Not valid JSON: ${error.message}`;
        return;
      }
      if (edited === null || typeof edited !== "object" || Array.isArray(edited)) {
        problem.textContent = "The arguments must be a JSON object.";
        return;
      }
      done({ type: "edit", args: edited }, "Run with edited arguments.");
    }),
    button("Reject", "danger", () => done({ type: "reject", message: reason.value.trim() }, "Rejected.")),
  );
  section.append(name, label, reason, problem, buttons);
  return section;
}

function button(text, kind, onClick) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = text;
  element.className = `button ${kind}`.trim();
  element.addEventListener("click", onClick);
  return element;
}
