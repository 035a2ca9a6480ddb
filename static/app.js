// The little htmx cannot do: keyboard shortcuts for the step buttons and presentation mode, and
// telling the server which drawing this screen shows.
// A presenter's clicker sends PageDown / ArrowRight: both take the next sub-step.
"use strict";

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  // The element that had the focus was just swapped out (see below): this key was meant for it.
  if (refocus !== null && document.activeElement === document.body) return;
  const origin = event.target;
  if (origin instanceof Element && origin.closest("input, textarea, select, [contenteditable]")) return;
  let key = event.key.toLowerCase();
  if (key === "p") {
    // Presentation mode on or off: the toggle is a plain link (it works without JavaScript too).
    const toggle = document.getElementById("present-toggle");
    if (toggle instanceof HTMLAnchorElement) {
      event.preventDefault();
      toggle.click();
    }
    return;
  }
  if (key === "arrowright" || key === "pagedown") key = "n";
  const button = document.querySelector(`#controls button[data-key="${CSS.escape(key)}"]`);
  if (button instanceof HTMLButtonElement && !button.disabled && button.getAttribute("aria-disabled") !== "true") {
    event.preventDefault();
    button.click();
  }
});

// The page carries the diagram upright for phones and wide for everything else; an htmx answer
// carries only the one this screen shows (the server builds nothing it does not send).
const upright = window.matchMedia("(max-width: 600px)");
document.addEventListener("htmx:configRequest", (event) => {
  event.detail.headers["BPV-Orientation"] = upright.matches ? "portrait" : "landscape";
});
// Turned or resized past the breakpoint: fetch the drawing this screen now needs.
upright.addEventListener("change", () => {
  const controls = document.getElementById("controls");
  if (!(controls instanceof HTMLFormElement) || !window.htmx) return;
  const query = new URLSearchParams(new FormData(controls)).toString();
  window.htmx.ajax("GET", `/page/panel?${query}`, { target: "#panel", swap: "outerHTML" });
});

// A step redraws the whole panel; keep its scroll position (the decision map, the chart) if the
// same tab is still open, so the part being watched does not jump away.
let panelScroll = null;
document.addEventListener("htmx:beforeSwap", () => {
  const body = document.querySelector("#panel .tab-body");
  panelScroll = body ? { tab: body.dataset.tab, top: body.scrollTop } : null;
});
document.addEventListener("htmx:afterSettle", () => {
  const body = document.querySelector("#panel .tab-body");
  if (panelScroll && body && body.dataset.tab === panelScroll.tab && body.scrollTop === 0) {
    body.scrollTop = panelScroll.top;
  }
});

// A step that must wait is aria-disabled (focusable, so the focus stays on a button just pressed):
// a click on it does nothing here. Without JavaScript it posts, and the answer says why it waits.
document.addEventListener(
  "click",
  (event) => {
    const target = event.target;
    if (target instanceof Element && target.closest('button[aria-disabled="true"]')) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  },
  true,
);

// A swap can replace the element that has the focus — a progress poll or a page's watch landing out
// of band between two presses of an arrow key on the timeline slider — and htmx puts the focus back
// only for a request's own target. Remember it and put it back once the swap has settled; a key
// pressed in between is not taken as a shortcut (the second → would otherwise take a sub-step).
let refocus = null;
document.addEventListener("htmx:beforeSwap", (event) => {
  const active = document.activeElement;
  if (event.detail.shouldSwap && active instanceof HTMLElement && active.id && active !== document.body) {
    refocus = active.id;
  }
});
document.addEventListener("htmx:afterSettle", () => {
  const active = document.activeElement;
  if (refocus !== null && (!active || active === document.body)) {
    const element = document.getElementById(refocus);
    if (element) element.focus({ preventScroll: true });
  }
  refocus = null;
});
document.addEventListener("htmx:swapError", () => {
  refocus = null;
});
