// The week calendar as a data grid: one Tab stop, the arrow keys move between times and
// days, Home and End go to the row's first and last day (with Ctrl, the grid's corners).
// Without this file the grid is a plain table whose links Tab reaches one by one.
"use strict";

for (const table of document.querySelectorAll("table[data-week-grid]")) {
  const cells = [...table.tBodies[0].rows].map((row) => [...row.querySelectorAll("td")]);
  if (!cells.length || !cells[0].length) continue;
  const focusables = [...table.tBodies[0].querySelectorAll("td, a")];
  const target = (cell) => cell.querySelector("a") || cell;
  let current = null;

  const activate = (cell, focus) => {
    for (const element of focusables) element.tabIndex = -1;
    const links = cell.querySelectorAll("a");
    for (const link of links) link.tabIndex = 0;
    if (!links.length) cell.tabIndex = 0;
    current = cell;
    if (focus) target(cell).focus();
  };

  table.setAttribute("role", "grid");
  activate(table.querySelector("td[data-start]") || cells[0][0], false);

  table.addEventListener("focusin", (event) => {
    const cell = event.target.closest("td");
    if (cell && cell !== current) activate(cell, false);
  });

  table.addEventListener("keydown", (event) => {
    const cell = event.target.closest("td");
    if (!cell || event.altKey || event.metaKey) return;
    let row = cells.findIndex((r) => r.includes(cell));
    let column = cells[row].indexOf(cell);
    const forward = getComputedStyle(table).direction === "rtl" ? -1 : 1;
    switch (event.key) {
      case "ArrowUp": row -= 1; break;
      case "ArrowDown": row += 1; break;
      case "ArrowLeft": column -= forward; break;
      case "ArrowRight": column += forward; break;
      case "PageUp": row -= 4; break;
      case "PageDown": row += 4; break;
      case "Home": column = 0; if (event.ctrlKey) row = 0; break;
      case "End": column = cells[row].length - 1; if (event.ctrlKey) row = cells.length - 1; break;
      default: return;
    }
    event.preventDefault();
    row = Math.max(0, Math.min(cells.length - 1, row));
    column = Math.max(0, Math.min(cells[row].length - 1, column));
    activate(cells[row][column], true);
  });
}
