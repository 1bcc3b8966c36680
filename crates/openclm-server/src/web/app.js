// OpenCLM dashboard: the overview's live figures, and confirmation of irreversible forms.
"use strict";

function refreshLive(box) {
  fetch(box.dataset.live, { credentials: "same-origin", headers: { accept: "application/json" } })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (data) {
      if (!data) { return; }
      Object.keys(data.kpis).forEach(function (key) {
        document.querySelectorAll('[data-kpi="' + key + '"]').forEach(function (el) {
          if (el.textContent !== data.kpis[key]) {
            el.textContent = data.kpis[key];
            el.classList.add("changed");
          }
        });
      });
      var stamp = box.querySelector("[data-live-at]");
      if (stamp) { stamp.textContent = data.at; }
    })
    .catch(function () { /* the next poll tries again */ });
}

// Polling stops while the tab is hidden and after 25 minutes without the person touching the
// page, so an unattended screen lets the session's idle timeout end it.
var lastActive = Date.now();
var IDLE_MS = 25 * 60 * 1000;
["keydown", "pointerdown", "pointermove", "scroll", "touchstart"].forEach(function (name) {
  window.addEventListener(name, function () { lastActive = Date.now(); }, { passive: true });
});

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-live]").forEach(function (box) {
    var every = Number(box.dataset.every || "2000");
    window.setInterval(function () {
      if (document.hidden || Date.now() - lastActive > IDLE_MS) { return; }
      refreshLive(box);
    }, every);
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (!window.confirm(form.dataset.confirm)) { e.preventDefault(); }
    });
  });
});
