// Theme page: a theme's share by group and over time, drawn as inline SVG with 95% whiskers,
// each with its table (what a screen reader and a printer get).
"use strict";
(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const pct = (v, digits = 0) => (v === null || v === undefined ? "\u2013" : `${(100 * v).toFixed(digits)}%`);

  function el(name, attrs = {}, text = null) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== null) node.textContent = text;
    return node;
  }

  function scaleTop(data) {
    const highs = data.rows.map((r) => (r.high ?? r.share ?? 0));
    const top = Math.max(0.05, data.overall ?? 0, ...highs);
    return Math.min(1, Math.ceil(top * 10) / 10);
  }

  // Groups: one horizontal bar per group, whiskers for the interval, a dashed line for all stories.
  function groupChart(data) {
    const left = 170, width = 720, barArea = width - left - 56, rowH = 30, top = 24;
    const height = top + rowH * data.rows.length + 26;
    const max = scaleTop(data);
    const x = (v) => left + (barArea * v) / max;
    const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, "aria-hidden": "true" });
    for (let t = 0; t <= max + 1e-9; t += max > 0.5 ? 0.2 : 0.1) {
      svg.append(el("line", { x1: x(t), x2: x(t), y1: top - 6, y2: height - 22, stroke: "#e3e7eb" }));
      svg.append(el("text", { x: x(t), y: height - 6, "text-anchor": "middle" }, pct(t)));
    }
    data.rows.forEach((r, i) => {
      const y = top + i * rowH;
      const name = r.label.length > 22 ? `${r.label.slice(0, 21)}\u2026` : r.label;
      const label = el("text", { x: left - 8, y: y + 18, "text-anchor": "end" }, name);
      label.append(el("title", {}, r.label));
      svg.append(label);
      if (r.share === null) {
        svg.append(el("text", { x: left + 4, y: y + 18, fill: "#5b636b" }, "no stories"));
        return;
      }
      svg.append(el("rect", { x: left, y: y + 6, width: Math.max(1, x(r.share) - left), height: rowH - 12, fill: Weft.colour(0) }));
      if (r.low !== undefined) {
        const cy = y + rowH / 2;
        svg.append(el("line", { x1: x(r.low), x2: x(r.high), y1: cy, y2: cy, stroke: "#1b1f23", "stroke-width": 1.5 }));
        for (const end of [r.low, r.high]) svg.append(el("line", { x1: x(end), x2: x(end), y1: cy - 6, y2: cy + 6, stroke: "#1b1f23", "stroke-width": 1.5 }));
      }
      svg.append(el("text", { x: width - 4, y: y + 18, "text-anchor": "end", "font-weight": 600 }, pct(r.share)));
    });
    if (data.overall !== null) {
      svg.append(el("line", { x1: x(data.overall), x2: x(data.overall), y1: top - 8, y2: height - 22, stroke: Weft.colour(5), "stroke-dasharray": "5 4", "stroke-width": 2 }));
      svg.append(el("text", { x: x(data.overall), y: top - 10, "text-anchor": "middle", fill: Weft.colour(5) }, `all stories ${pct(data.overall)}`));
    }
    return svg;
  }

  // Over time: one column per session or period, whiskers for the interval.
  function timeChart(data) {
    const width = 720, height = 260, left = 46, right = 10, top = 14, bottom = 56;
    const n = data.rows.length, band = (width - left - right) / Math.max(n, 1);
    const max = scaleTop(data);
    const y = (v) => top + (height - top - bottom) * (1 - v / max);
    const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, "aria-hidden": "true" });
    for (let t = 0; t <= max + 1e-9; t += max > 0.5 ? 0.2 : 0.1) {
      svg.append(el("line", { x1: left, x2: width - right, y1: y(t), y2: y(t), stroke: "#e3e7eb" }));
      svg.append(el("text", { x: left - 6, y: y(t) + 4, "text-anchor": "end" }, pct(t)));
    }
    const every = Math.ceil(n / 12);
    data.rows.forEach((r, i) => {
      const cx = left + band * (i + 0.5);
      if (r.share !== null) {
        const w = Math.max(2, Math.min(40, band * 0.6));
        svg.append(el("rect", { x: cx - w / 2, y: y(r.share), width: w, height: Math.max(0.5, y(0) - y(r.share)), fill: Weft.colour(0) }));
        if (r.low !== undefined) {
          svg.append(el("line", { x1: cx, x2: cx, y1: y(r.low), y2: y(r.high), stroke: "#1b1f23", "stroke-width": 1.5 }));
          for (const end of [r.low, r.high]) svg.append(el("line", { x1: cx - 5, x2: cx + 5, y1: y(end), y2: y(end), stroke: "#1b1f23", "stroke-width": 1.5 }));
        }
      }
      if (i % every === 0) {
        // up to two lines that fit the column ("Week 8," / "Wednesday"); the full name on hover
        const fit = Math.max(4, Math.floor((band * every) / 7.5));
        const cut = (part) => (part.length > fit ? `${part.slice(0, fit - 1)}\u2026` : part);
        const words = r.label.replace(/ \(.*\)$/, "").split(/(?<=,) /);
        const lines = words.length > 1 ? [words[0], words.slice(1).join(" ")] : [r.label];
        const text = el("text", { x: cx, y: height - bottom + 18, "text-anchor": "middle" });
        lines.slice(0, 2).forEach((line, k) => {
          text.append(el("tspan", { x: cx, dy: k === 0 ? 0 : 15 }, cut(line)));
        });
        text.append(el("title", {}, r.label));
        svg.append(text);
      }
    });
    return svg;
  }

  function fillTable(table, data, what) {
    const head = `<caption>${Weft.escape(what)}</caption><thead><tr><th scope="col">${data.by.startsWith("attribute:") ? Weft.escape(data.by.slice(10)) : "When"}</th>` +
      '<th scope="col" class="num">Stories in this theme</th><th scope="col" class="num">All stories</th>' +
      '<th scope="col" class="num">Share</th><th scope="col" class="num">Probably between (95%)</th></tr></thead>';
    const body = data.rows.map((r) => `<tr><th scope="row">${Weft.escape(r.label)}</th><td class="num">${r.count}</td>` +
      `<td class="num">${r.total}</td><td class="num">${pct(r.share)}</td>` +
      `<td class="num">${r.low === undefined ? "\u2013" : `${pct(r.low)} to ${pct(r.high)}`}</td></tr>`).join("");
    table.innerHTML = `${head}<tbody>${body}</tbody>`;
  }

  function wire(selectId, chartId, tableId, statusId, draw, caption) {
    const select = document.getElementById(selectId);
    if (!select) return;
    const chart = document.getElementById(chartId);
    const table = document.getElementById(tableId);
    const status = document.getElementById(statusId);
    async function load() {
      status.textContent = "Loading\u2026";
      try {
        const data = await Weft.getJSON(`${select.dataset.url}?by=${encodeURIComponent(select.value)}`);
        const parts = [];
        if (data.reading) parts.push(`${data.reading[0].toUpperCase()}${data.reading.slice(1)}.`);
        if (data.left_out) parts.push(`${data.left_out} stories have no value here and are left out.`);
        if (!data.rows.length) parts.push("There is nothing to show yet.");
        status.textContent = parts.join(" ");
        chart.replaceChildren(draw(data));
        chart.dataset.by = data.by;
        fillTable(table, data, caption(data));
        table.dataset.by = data.by;
      } catch (error) {
        status.textContent = `This could not be shown: ${error.message}`;
      }
    }
    select.addEventListener("change", load);
    load();
  }

  const theme = document.querySelector("h1").dataset.label || "";
  wire("share-by", "share-chart", "share-table", "share-status", groupChart,
    (d) => `Share of each ${d.by.slice(10)} group's stories that are in \u201c${theme}\u201d`);
  wire("time-by", "time-chart", "time-table", "time-status", timeChart,
    (d) => `Share of the stories in \u201c${theme}\u201d, ${d.by === "session" ? "session by session" : "over time"}`);
})();
