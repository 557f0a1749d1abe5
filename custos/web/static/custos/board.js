// The deal board: drag a card to another column, or use a card's "Move to" form, without
// reloading the page. Both post to the same move view the plain form posts to; the answer
// is the board, rendered again by the server. Moving to a lost stage asks for the reason
// first. Without this file, the forms work as ordinary posts.
"use strict";

(() => {
  const status = document.getElementById("board-status");
  const dialog = document.getElementById("lost-dialog");
  let pending = null; // {card, stage} waiting for a reason in the dialog

  const announce = (text) => {
    if (!status) return;
    status.textContent = "";
    // A fresh text node, so that the same message twice is still announced.
    window.setTimeout(() => { status.textContent = text; }, 50);
  };

  const failed = () => {
    const region = document.getElementById("live-errors");
    announce(region ? region.dataset.message || "" : "");
  };

  const replaceBoard = (html) => {
    const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("board");
    const current = document.getElementById("board");
    if (!fresh || !current) return false;
    current.replaceWith(document.adoptNode(fresh));
    if (fresh.dataset.message) announce(fresh.dataset.message);
    const moved = fresh.dataset.moved && document.getElementById(fresh.dataset.moved);
    const link = moved && moved.querySelector("h3 a");
    if (link) link.focus();
    return true;
  };

  const move = (card, stage, reason) => {
    const form = card.querySelector("form.move-form");
    if (!form) return;
    const data = new FormData(form);
    data.set("stage", stage);
    if (reason) data.set("lost_reason", reason);
    card.classList.add("moving");
    fetch(form.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "HX-Request": "true" },
    })
      .then((response) => response.text().then((html) => {
        if (replaceBoard(html)) return;
        card.classList.remove("moving"); // refused (a 403 or 404 page): the card stays usable
        failed();
      }))
      .catch(() => {
        card.classList.remove("moving");
        failed();
      });
  };

  const isLost = (stage) => {
    const column = document.querySelector(`.board-column[data-stage="${CSS.escape(stage)}"]`);
    return column && column.dataset.outcome === "lost";
  };

  const request = (card, stage) => {
    if (!stage || stage === card.dataset.stage) return;
    if (isLost(stage) && dialog && typeof dialog.showModal === "function") {
      pending = { card, stage };
      dialog.querySelector("form").reset();
      dialog.showModal();
      dialog.querySelector("[name=lost_reason]").focus();
      return;
    }
    move(card, stage, "");
  };

  // Drag and drop -----------------------------------------------------------------------
  document.addEventListener("dragstart", (event) => {
    const card = event.target.closest && event.target.closest(".deal-card[draggable=true]");
    if (!card) return;
    event.dataTransfer.setData("text/plain", card.id);
    event.dataTransfer.effectAllowed = "move";
    card.classList.add("dragging");
  });
  document.addEventListener("dragend", (event) => {
    const card = event.target.closest && event.target.closest(".deal-card");
    if (card) card.classList.remove("dragging");
    document.querySelectorAll(".board-column.drop-target").forEach((c) => c.classList.remove("drop-target"));
  });
  document.addEventListener("dragover", (event) => {
    const column = event.target.closest && event.target.closest("#board .board-column");
    if (!column || !document.querySelector(".deal-card.dragging")) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    column.classList.add("drop-target");
  });
  document.addEventListener("dragleave", (event) => {
    const column = event.target.closest && event.target.closest("#board .board-column");
    if (column && !column.contains(event.relatedTarget)) column.classList.remove("drop-target");
  });
  document.addEventListener("drop", (event) => {
    const column = event.target.closest && event.target.closest("#board .board-column");
    if (!column) return;
    event.preventDefault();
    column.classList.remove("drop-target");
    const card = document.getElementById(event.dataTransfer.getData("text/plain"));
    if (card && card.classList.contains("deal-card")) request(card, column.dataset.stage);
  });

  // The keyboard path: a card's "Move to" form -------------------------------------------
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("#board form.move-form");
    if (!form) return;
    event.preventDefault();
    request(form.closest(".deal-card"), form.elements.stage.value);
  });

  // The reason for a lost deal --------------------------------------------------------------
  if (dialog) {
    dialog.querySelector("form").addEventListener("submit", (event) => {
      event.preventDefault();
      const reason = dialog.querySelector("[name=lost_reason]").value.trim();
      if (!reason || !pending) return;
      const { card, stage } = pending;
      pending = null;
      dialog.close();
      move(card, stage, reason);
    });
    dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      // Cancelled: the card stays where it is, and so does its "Move to" choice.
      if (!pending) return;
      const { card } = pending;
      pending = null;
      const select = card.querySelector("form.move-form select");
      if (select) select.value = card.dataset.stage;
      const link = card.querySelector("h3 a");
      if (link) link.focus();
    });
  }
})();
