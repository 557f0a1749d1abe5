// Small progressive enhancements; every page works without this file.
"use strict";

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent.trim()).then(() => {
    button.textContent = button.dataset.copied || button.textContent;
  });
});

document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-autosubmit]");
  if (select && select.form) select.form.requestSubmit();
});

document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});

// A failed partial update must not pass in silence: say so where screen readers hear it.
document.addEventListener("htmx:responseError", () => {
  const region = document.getElementById("live-errors");
  if (region) region.textContent = region.dataset.message || "";
});
document.addEventListener("htmx:sendError", () => {
  const region = document.getElementById("live-errors");
  if (region) region.textContent = region.dataset.message || "";
});
