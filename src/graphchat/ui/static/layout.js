// The page's frame: the sidebar (a drawer on phones), the skip link and the theme button.

const $ = (id) => document.getElementById(id);
const PHONE = window.matchMedia("(max-width: 760px)");

export function closeSidebar() {
  document.body.classList.remove("sidebar-open");
  $("sidebar-toggle").setAttribute("aria-expanded", "false");
  $("scrim").hidden = true;
}

function toggleSidebar() {
  const open = !document.body.classList.contains("sidebar-open");
  document.body.classList.toggle("sidebar-open", open);
  $("sidebar-toggle").setAttribute("aria-expanded", String(open));
  $("scrim").hidden = !open;
  if (open) $("new-chat").focus();
}

function currentTheme() {
  return document.documentElement.dataset.theme === "dark" ? "dark" : "light";
}

function paintThemeButton() {
  const dark = currentTheme() === "dark";
  $("theme-toggle").setAttribute("aria-pressed", String(dark));
  $("theme-toggle").textContent = dark ? "Light theme" : "Dark theme";
}

function toggleTheme() {
  const theme = currentTheme() === "dark" ? "light" : "dark";
  document.documentElement.dataset.theme = theme;
  localStorage.setItem("graphchat.theme", theme);
  paintThemeButton();
}

/** Wires the sidebar, the skip link and the theme button (theme.js set the theme first). */
export function installLayout() {
  $("sidebar-toggle").addEventListener("click", toggleSidebar);
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
  $("theme-toggle").addEventListener("click", toggleTheme);
  paintThemeButton();
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", paintThemeButton);
}
