// Small fixes to Quasar's markup that no prop reaches; loaded on every page by components/frame.apply_theme.
// - On a phone (below 600 px) a table wider than its card is stacked: each row a block of "label value" lines
//   (the labels are the column titles, copied into data-label). Wider, a table that still does not fit
//   scrolls inside its card: the scroll area gets a name, keyboard focus and a visible hint (its text is the
//   page's translated data-portal-scroll-hint, set by frame.apply_theme).
// - Dialogs are named by their title; the focus goes back to the button that opened a dialog when it closes.
// - The uploader's "choose a file" button gets the uploader's label as its name, and the file input nested
//   in it is taken out of the accessibility tree (the button opens it).
(function () {
  "use strict";

  function hintText() {
    const holder = document.querySelector("[data-portal-scroll-hint]");
    return holder ? holder.getAttribute("data-portal-scroll-hint") : "";
  }

  const NARROW = 600; // Quasar's xs breakpoint: below it, a table too wide for its card is stacked

  function ownText(th) {
    // a header cell's own text: its text nodes, not the sort icon's ligature ("arrow_upward")
    return [...th.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent).join("").trim();
  }

  function labelCells(table) {
    const labels = [...table.querySelectorAll(":scope > thead > tr:first-child > th")].map(ownText);
    table.querySelectorAll(":scope > tbody > tr").forEach((row) => {
      [...row.children].forEach((cell, index) => {
        const label = labels[index] || "";
        if (cell.getAttribute("data-label") !== label) cell.setAttribute("data-label", label);
      });
    });
  }

  function setScrolls(container, middle, scrolls) {
    const text = hintText();
    if (scrolls && !container.classList.contains("portal-scrolls-x")) {
      container.classList.add("portal-scrolls-x");
      middle.setAttribute("tabindex", "0");
      middle.setAttribute("role", "region");
      middle.setAttribute("aria-label", text);
      container.setAttribute("data-scroll-hint", text);
    } else if (!scrolls && container.classList.contains("portal-scrolls-x")) {
      container.classList.remove("portal-scrolls-x", "portal-scrolled-end");
      middle.removeAttribute("tabindex");
      middle.removeAttribute("role");
      middle.removeAttribute("aria-label");
    }
    if (scrolls) {
      const end = middle.scrollLeft + middle.clientWidth >= middle.scrollWidth - 1;
      container.classList.toggle("portal-scrolled-end", end);
    }
  }

  function layoutTables() {
    const narrow = window.innerWidth < NARROW;
    document.querySelectorAll(".q-table__container").forEach((container) => {
      const middle = container.querySelector(".q-table__middle");
      const table = middle && middle.querySelector("table.q-table");
      if (!table) return;
      if (!narrow) container.classList.remove("portal-stacked");
      else if (!container.classList.contains("portal-stacked") && middle.scrollWidth > middle.clientWidth + 1) {
        container.classList.add("portal-stacked"); // each row becomes a block of "label value" lines
      }
      if (container.classList.contains("portal-stacked")) labelCells(table);
      setScrolls(container, middle, middle.scrollWidth > middle.clientWidth + 1);
    });
  }

  function labelUploaders() {
    document.querySelectorAll(".q-uploader").forEach((uploader) => {
      const title = uploader.querySelector(".q-uploader__title");
      const name = (title && title.textContent.trim()) || uploader.getAttribute("aria-label") || "";
      uploader.querySelectorAll(".q-uploader__header .q-btn").forEach((button) => {
        if (button.querySelector(".q-uploader__input") && name && !button.getAttribute("aria-label")) {
          button.setAttribute("aria-label", name);
        }
      });
      uploader.querySelectorAll(".q-uploader__input").forEach((input) => {
        if (name && !input.getAttribute("aria-label")) input.setAttribute("aria-label", name);
      });
    });
  }

  function nameDialogs() {
    // a dialog is named by its title: the first heading-like line in it
    document.querySelectorAll(".q-dialog[role=dialog]").forEach((dialog) => {
      if (dialog.getAttribute("aria-label") || dialog.getAttribute("aria-labelledby")) return;
      const title = dialog.querySelector("[role=heading], .text-h6, .text-xl, .text-lg, .font-semibold");
      if (!title || !title.textContent.trim()) return;
      if (!title.id) title.id = "portal-dialog-title-" + Math.random().toString(36).slice(2);
      dialog.setAttribute("aria-labelledby", title.id);
    });
    document.querySelectorAll(".q-loading-bar:not([aria-hidden])").forEach((bar) => {
      bar.setAttribute("aria-hidden", "true"); // a visual cue only: the page says what happened in words
    });
  }

  // Focus after a dialog: Quasar gives it back to the element that had it, but a live section may have been
  // redrawn meanwhile (the button that opened the dialog is then a new element). Find the button again by
  // its name, else fall back to the page's heading, never to <body>.
  let opener = null;
  let dialogOpen = false;
  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target.closest("button, a, [role=button]") : null;
    if (target && !target.closest(".q-dialog, .q-menu")) {
      opener = { element: target, label: target.getAttribute("aria-label"), text: target.textContent.trim() };
    }
  }, true);

  function findOpener() {
    if (!opener) return null;
    if (document.contains(opener.element)) return opener.element;
    const candidates = [...document.querySelectorAll("button, a, [role=button]")].filter(
      (e) => !e.closest(".q-dialog") && e.offsetParent !== null,
    );
    return (
      (opener.label && candidates.find((e) => e.getAttribute("aria-label") === opener.label)) ||
      candidates.find((e) => !opener.label && e.textContent.trim() === opener.text) ||
      null
    );
  }

  function restoreFocus() {
    window.setTimeout(() => {
      const active = document.activeElement;
      if (active && active !== document.body && document.contains(active)) return;
      const target = findOpener() || document.querySelector("[role=heading][aria-level='1']");
      if (!target) return;
      if (!target.matches("button, a, input, select, textarea, [tabindex]")) target.setAttribute("tabindex", "-1");
      target.focus();
    }, 60);
  }

  function watchDialogs() {
    const open = document.querySelector(".q-dialog") !== null;
    if (dialogOpen && !open) restoreFocus();
    dialogOpen = open;
  }

  let queued = false;
  function update() {
    if (queued) return;
    queued = true;
    window.requestAnimationFrame(() => {
      queued = false;
      layoutTables();
      labelUploaders();
      nameDialogs();
      watchDialogs();
    });
  }

  function start() {
    new MutationObserver(update).observe(document.body, { childList: true, subtree: true });
    window.addEventListener("resize", update);
    document.addEventListener("scroll", (event) => {
      if (event.target instanceof Element && event.target.classList.contains("q-table__middle")) update();
    }, true);
    update();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
