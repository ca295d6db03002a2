// Weft dashboard: a few helpers the pages share. No framework, no network but this server.
"use strict";
const Weft = (() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";
  const palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
                   "#F0E442", "#000000"];
  const colour = (i) => (i < 0 ? "#9aa3ab" : palette[i % palette.length]);

  async function getJSON(url) {
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) throw new Error(await problem(response));
    return response.json();
  }

  async function send(url, body, method = "POST") {
    const response = await fetch(url, {
      method, body, credentials: "same-origin", headers: { "X-CSRF-Token": csrf() },
    });
    if (!response.ok) throw new Error(await problem(response));
    return response.json();
  }

  // A JSON body, typed so the server reads it as JSON.
  function sendJSON(url, data, method = "POST") {
    return send(url, new Blob([JSON.stringify(data)], { type: "application/json" }), method);
  }

  async function problem(response) {
    try { const body = await response.json(); return body.detail || body.title; }
    catch { return `the server answered ${response.status}`; }
  }

  // A chart and its table: the toggle shows one and hides the other, for screen readers too.
  function wireTableToggles(root = document) {
    root.querySelectorAll("[data-toggle-table]").forEach((button) => {
      const table = document.getElementById(button.dataset.toggleTable);
      const chart = document.getElementById(button.dataset.chart);
      button.setAttribute("aria-pressed", "false");
      button.addEventListener("click", () => {
        const showTable = table.hidden;
        table.hidden = !showTable;
        if (chart) chart.hidden = showTable;
        button.setAttribute("aria-pressed", String(showTable));
        button.textContent = showTable ? "Show chart" : "Show table";
      });
    });
  }

  function escape(text) {
    const span = document.createElement("span");
    span.textContent = text == null ? "" : String(text);
    return span.innerHTML;
  }

  document.addEventListener("DOMContentLoaded", () => wireTableToggles());
  return { csrf, palette, colour, getJSON, send, sendJSON, wireTableToggles, escape };
})();
