// Sets data-theme before the page paints (a module script would run too late): the theme the
// user chose, else the OS preference, followed live until the user chooses.
(function () {
  var query = window.matchMedia("(prefers-color-scheme: dark)");
  function chosen() {
    try { return localStorage.getItem("graphchat.theme"); } catch (e) { return null; }
  }
  function apply() {
    var theme = chosen();
    if (theme !== "light" && theme !== "dark") theme = query.matches ? "dark" : "light";
    document.documentElement.dataset.theme = theme;
  }
  apply();
  query.addEventListener("change", apply);
})();
