// The little htmx cannot do: keyboard shortcuts for the step buttons and presentation mode, and
// telling the server which drawing this screen shows.
// A presenter's clicker sends PageDown / ArrowRight: both take the next sub-step.
"use strict";

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
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
  if (button instanceof HTMLButtonElement && !button.disabled) {
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
