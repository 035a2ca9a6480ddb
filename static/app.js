// The little htmx cannot do: keyboard shortcuts for the step buttons.
// A presenter's clicker sends PageDown / ArrowRight: both take the next sub-step.
"use strict";

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const origin = event.target;
  if (origin instanceof Element && origin.closest("input, textarea, select, [contenteditable]")) return;
  let key = event.key.toLowerCase();
  if (key === "arrowright" || key === "pagedown") key = "n";
  const button = document.querySelector(`#controls button[data-key="${CSS.escape(key)}"]`);
  if (button instanceof HTMLButtonElement && !button.disabled && button.getAttribute("aria-disabled") !== "true") {
    event.preventDefault();
    button.click();
  }
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
