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
  if (button instanceof HTMLButtonElement && !button.disabled) {
    event.preventDefault();
    button.click();
  }
});
