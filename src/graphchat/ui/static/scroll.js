// Paging on scroll: a sentinel element at the end of a list asks for the next page.

/** Calls `load` each time `sentinel` comes into view inside `scroller`. */
export function onSentinelVisible(scroller, sentinel, load) {
  new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting)) load();
  }, { root: scroller }).observe(sentinel);
}
