// Markdown to safe DOM: marked parses, DOMPurify sanitises, highlight.js colours code blocks.

import { marked } from "./vendor/marked/marked.esm.js";
import DOMPurify from "./vendor/dompurify/purify.es.mjs";
import hljs from "./vendor/highlight/highlight.min.js";

hljs.configure({ ignoreUnescapedHTML: true });

// Links from a model open elsewhere and cannot reach back into this page.
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.hasAttribute("href")) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer nofollow");
  }
});

const SANITIZE = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "iframe"],
  FORBID_ATTR: ["style"],
};

/** Sanitised HTML of a Markdown text (model output is untrusted). */
export function markdownToHtml(text) {
  return DOMPurify.sanitize(marked.parse(text, { gfm: true, breaks: true, async: false }), SANITIZE);
}

/** Renders Markdown into `target`; `final` also highlights code (skipped while a reply streams). */
export function renderMarkdown(target, text, final) {
  target.innerHTML = markdownToHtml(text);
  for (const code of target.querySelectorAll("pre > code")) {
    if (final) hljs.highlightElement(code);
    addCopyButton(code);
  }
}

function addCopyButton(code) {
  const pre = code.parentElement;
  const language = [...code.classList].find((name) => name.startsWith("language-"));
  const bar = document.createElement("div");
  bar.className = "code-bar";
  const label = document.createElement("span");
  label.textContent = language ? language.slice("language-".length) : "code";
  const button = document.createElement("button");
  button.type = "button";
  button.className = "copy-button";
  button.textContent = "Copy";
  button.setAttribute("aria-label", "Copy code to the clipboard");
  button.addEventListener("click", () => copyText(code.textContent, button));
  bar.append(label, button);
  pre.before(bar);
}

// The async clipboard exists only in secure contexts (https, localhost): fall back elsewhere.
function legacyCopy(text) {
  const area = document.createElement("textarea");
  area.value = text;
  area.className = "offscreen";
  document.body.append(area);
  area.select();
  const copied = document.execCommand("copy");
  area.remove();
  if (!copied) throw new Error("copy refused");
}

async function copyText(text, button) {
  try {
    if (navigator.clipboard) await navigator.clipboard.writeText(text);
    else legacyCopy(text);
    button.textContent = "Copied";
  } catch {
    button.textContent = "Copy failed";
  }
  setTimeout(() => { button.textContent = "Copy"; }, 1500);
}
