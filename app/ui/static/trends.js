// Trends screen: draws the answer of /ui/api/p/{id}/trends (the same as GET /v1/.../trends)
// as a heatmap or a line per theme, its table, and the distinctive and rising themes in words.
"use strict";
(() => {
  const form = document.getElementById("trend-controls");
  if (!form) return;
  const $ = (id) => document.getElementById(id);
  const chart = $("trend-chart");
  const table = $("trend-table");
  const status = $("trend-status");
  const problem = $("trend-problem");
  const results = $("trend-results");
  let current = JSON.parse($("trend-data").textContent);
  let request = 0;

  const pct = (x) => (x == null ? "–" : x > 0 && x < 0.005 ? "<1%" : `${Math.round(100 * x)}%`);
  const qText = (q) => (q == null ? "" : q < 0.001 ? "q < 0.001"
    : q < 0.1 ? `q = ${q.toFixed(3)}` : `q = ${q.toFixed(2)}`);
  const quoted = (text) => `“${text}”`;
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const isTime = (dim) => dim.kind === "session" || dim.kind === "period";

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  function chosen() {
    const by = [$("by").value, $("cross").value].filter(Boolean);
    const view = form.querySelector('input[name="view"]:checked')?.value || "heatmap";
    return { by, level: $("level").value, view };
  }

  function query({ by, level, view }, withView) {
    const params = new URLSearchParams();
    by.forEach((b) => params.append("by", b));
    params.set("level", level);
    if (withView) params.set("view", view);
    // narrowing filters given in the page's address are kept (attribute, session, dates)
    const here = new URLSearchParams(window.location.search);
    for (const name of ["attribute", "session_id", "source_id", "since", "until"]) {
      here.getAll(name).forEach((value) => params.append(name, value));
    }
    return params;
  }

  // The crossing may be neither the first choice nor a second timeline.
  function constrainCross() {
    const first = $("by").selectedOptions[0];
    const firstIsTime = first?.dataset.timeline === "yes";
    for (const option of $("cross").options) {
      if (!option.value) continue;
      option.disabled = option.value === first.value
        || (firstIsTime && option.dataset.timeline === "yes");
    }
    if ($("cross").selectedOptions[0]?.disabled) $("cross").value = "";
  }

  async function refresh() {
    constrainCross();
    const choice = chosen();
    const mine = ++request;
    history.replaceState(null, "", `${form.action}?${query(choice, true)}`);
    status.textContent = "Updating…";
    try {
      const data = await Weft.getJSON(`${form.dataset.api}?${query(choice, false)}`);
      if (mine !== request) return;
      current = data;
      problem.hidden = true;
      draw(current);
      const names = [$("by"), $("cross")].filter((s) => s.value)
        .map((s) => s.selectedOptions[0].textContent.trim());
      status.textContent = `Showing the themes by ${names.join(" and ")}.`;
    } catch (error) {
      if (mine !== request) return;
      problem.textContent = `Weft could not draw that comparison: ${error.message}. `
        + "Choose another one above.";
      problem.hidden = false;
      results.hidden = true;
      status.textContent = "";
    }
  }

  // --- reading the answer --------------------------------------------------------------

  function layout(data) {
    const t = data.dimensions.findIndex(isTime);
    const groupDims = data.dimensions.filter((d) => !isTime(d));
    return { t, time: t >= 0 ? data.dimensions[t] : null, groupDims };
  }

  function dimName(dim) {
    if (dim.kind === "attribute") return dim.name.replace(/_/g, " ");
    return dim.kind === "session" ? "meeting" : dim.name;
  }

  // "people with role “nurse”", from a group's key and the dimensions it is made of
  function groupPhrase(key, groupDims) {
    if (!groupDims.length) return "all narratives";
    return "people with " + groupDims.map((d, i) => `${dimName(d)} ${quoted(key[i])}`)
      .join(" and ");
  }

  // Distinctive themes compare the cells without their period: a meeting is a group there.
  // "people in the meeting “Week 8, Wednesday (2020-03-11)”", or as groupPhrase.
  function comparedPhrase(group, dimensions) {
    const dims = dimensions.filter((d) => d.kind !== "period");
    const labels = String(group.label).split(" · ");
    if (dims.length === 1 && dims[0].kind === "session") {
      return `people in the meeting ${quoted(group.label)}`;
    }
    return "people with " + dims.map((d, i) => (d.kind === "session"
      ? `the meeting ${quoted(labels[i] ?? group.key[i])}`
      : `${dimName(d)} ${quoted(group.key[i])}`)).join(" and ");
  }

  function themeLabels(themes) {
    const seen = new Map();
    return themes.map((theme) => {
      const n = (seen.get(theme.label) || 0) + 1;
      seen.set(theme.label, n);
      return n > 1 ? `${theme.label} (${n})` : theme.label;
    });
  }

  // --- drawing ---------------------------------------------------------------------------

  function draw(data) {
    results.hidden = false;
    const shape = layout(data);
    $("view-choice").hidden = !shape.time;
    const lines = shape.time && chosen().view === "lines";
    drawNotes(data, shape);
    const empty = !data.cells.length || !data.themes.length;
    $("trend-figure").hidden = empty;
    Plotly.purge(chart);
    chart.replaceChildren();
    if (!empty) {
      if (lines) drawLines(data, shape); else drawHeatmap(data);
    }
    $("chart-title").textContent = lines
      ? "Share of narratives in each theme over time"
      : "Share of narratives in each theme";
    $("chart-help").textContent = lines
      ? "Each line is the theme's share of the narratives of each period; the shaded band is "
        + "its 95% range (Wilson interval). The table gives the numbers."
      : "Each square is the share of that column's narratives that belong to the theme; the "
        + "table gives the 95% range (Wilson interval) of each share and the counts.";
    drawTable(data);
    drawDistinctive(data, shape);
    drawReadings(data, shape);
  }

  function drawNotes(data, shape) {
    const notes = [];
    const names = data.dimensions.map(dimName).join(" and ");
    if (!data.themes.length) {
      notes.push("The latest analysis has no themes at this level.");
    } else if (!data.cells.length) {
      notes.push(`No narrative has a value for ${names}, so there is nothing to compare. `
        + "Choose something else to compare by.");
    } else if (data.excluded) {
      const what = data.dimensions.map((d) => (d.kind === "attribute" ? `a ${dimName(d)}`
        : d.kind === "session" ? "a meeting" : "a date")).join(" or ");
      notes.push(`${plural(data.excluded, "narrative")} of ${data.total_narratives} have no `
        + `${what} and are left out.`);
    }
    if (data.unclustered) {
      notes.push(`${plural(data.unclustered, "narrative")} belong to no theme; they count in `
        + "each column's total, so the shares add up to less than 100%.");
    }
    if (shape.time && shape.time.kind === "period" && data.cells.length === 1) {
      notes.push("All the narratives fall in one period: choose a shorter period to see change.");
    }
    $("trend-notes").replaceChildren(...notes.map((n) => el("p", { class: "note", text: n })));
  }

  function drawHeatmap(data) {
    const labels = themeLabels(data.themes).map(Weft.escape);
    const columns = data.cells.map((c) => Weft.escape(`${c.label} (${c.total})`));
    const z = data.themes.map((t) => t.cells.map((c) => c.share));
    const custom = data.themes.map((t) => t.cells.map((c) => [
      c.count, data.cells[c.cell].total, pct(c.low), pct(c.high),
    ]));
    const height = Math.max(220, 70 + 36 * labels.length);
    const top = Math.max(0.01, ...z.flat().filter((v) => v != null));
    // each share written in its square, dark on the light end of the scale, light on the dark
    const annotations = labels.length * columns.length > 400 ? [] : z.flatMap((row, i) => row.map((v, j) => ({
      x: columns[j], y: labels[i], text: v == null ? "" : pct(v), showarrow: false,
      font: { size: 12, color: v != null && v / top > 0.55 ? "#1b1f23" : "#ffffff" },
    })));
    Plotly.newPlot(chart, [{
      type: "heatmap", x: columns, y: labels, z, customdata: custom,
      colorscale: "Cividis", zmin: 0, zmax: top, xgap: 2, ygap: 2,
      colorbar: { title: { text: "share" }, tickformat: ".0%" },
      hovertemplate: "%{y}<br>%{x}: %{z:.0%} (95% range %{customdata[2]} to "
        + "%{customdata[3]})<br>%{customdata[0]} of %{customdata[1]} narratives<extra></extra>",
    }], {
      height, margin: { l: 20, r: 20, t: 10, b: 20 }, annotations,
      yaxis: { autorange: "reversed", automargin: true },
      xaxis: { automargin: true, tickangle: columns.length > 6 ? -35 : 0 },
      font: { family: "system-ui, sans-serif", size: 13 },
    }, { displaylogo: false, responsive: true, modeBarButtons: [["toImage"]] });
  }

  function rgba(hex, alpha) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }

  // One small line chart per theme; one line (and band) per group when a crossing is given.
  function drawLines(data, shape) {
    const grid = el("div", { class: "multiples" });
    chart.append(grid);
    const groupKey = (cell) => cell.key.filter((_, i) => i !== shape.t);
    const groups = [...new Map(data.cells.map((c) => [JSON.stringify(groupKey(c)), groupKey(c)]))
      .values()];
    const highest = Math.max(0.05, ...data.themes.flatMap((t) => t.cells.map((c) => c.high || 0)));
    const top = Math.min(1, highest * 1.08);
    data.themes.forEach((theme, k) => {
      const plot = el("div", { class: "multiple-plot" });
      const reading = theme.trends.length === 1 ? theme.trends[0].reading : "";
      grid.append(el("figure", { class: "multiple" },
        el("figcaption", {}, el("strong", { text: themeLabels(data.themes)[k] }),
          reading ? el("span", { class: "muted", text: ` — ${reading}` }) : ""),
        plot));
      const traces = [];
      groups.forEach((group, g) => {
        const id = JSON.stringify(group);
        const points = theme.cells.filter((c) => JSON.stringify(groupKey(data.cells[c.cell])) === id
          && c.share != null);
        const x = points.map((c) => data.cells[c.cell].key[shape.t]);
        const names = points.map((c) => data.cells[c.cell].key[shape.t]);
        const colour = Weft.colour(g);
        const name = group.length ? group.join(" · ") : "all narratives";
        traces.push({
          x: [...x, ...x.slice().reverse()],
          y: [...points.map((c) => c.high), ...points.map((c) => c.low).reverse()],
          fill: "toself", fillcolor: rgba(colour, 0.18), line: { width: 0 },
          hoverinfo: "skip", showlegend: false, type: "scatter", mode: "lines",
        });
        traces.push({
          x: names, y: points.map((c) => c.share), name, type: "scatter", mode: "lines+markers",
          line: { color: colour, width: 2 }, marker: { size: 5 },
          customdata: points.map((c) => [c.count, data.cells[c.cell].total, pct(c.low), pct(c.high)]),
          hovertemplate: `${Weft.escape(name)}: %{y:.0%} (95% range %{customdata[2]} to `
            + "%{customdata[3]})<br>%{customdata[0]} of %{customdata[1]} narratives<extra></extra>",
        });
      });
      const periods = data.dimensions[shape.t];
      const labelOf = new Map(data.cells.map((c) => [c.key[shape.t], c.label.split(" · ")[shape.t]]));
      const every = Math.ceil(periods.values.length / 8);
      const ticks = periods.values.filter((_, i) => i % every === 0);
      Plotly.newPlot(plot, traces, {
        height: 210, margin: { l: 45, r: 10, t: 8, b: 50 },
        showlegend: groups.length > 1 && k === 0, legend: { orientation: "h", y: -0.35 },
        yaxis: { range: [0, top], tickformat: ".0%" },
        xaxis: { type: "category", categoryorder: "array", categoryarray: periods.values,
                 tickvals: ticks, ticktext: ticks.map((v) => Weft.escape(labelOf.get(v) || v)),
                 tickangle: -30 },
        font: { family: "system-ui, sans-serif", size: 11 },
      }, { displaylogo: false, responsive: true, staticPlot: false, modeBarButtons: [["toImage"]] });
    });
  }

  function drawTable(data) {
    const head = el("tr", {}, el("th", { scope: "col", text: "Theme" }),
      ...data.cells.map((c) => el("th", { scope: "col", class: "num", text: c.label })));
    const totals = el("tr", { class: "totals" }, el("th", { scope: "row", text: "Narratives" }),
      ...data.cells.map((c) => el("td", { class: "num", text: String(c.total) })));
    const labels = themeLabels(data.themes);
    const rows = data.themes.map((theme, k) => el("tr", {},
      el("th", { scope: "row", text: labels[k] }),
      ...theme.cells.map((c) => el("td", { class: "num" },
        el("strong", { text: pct(c.share) }),
        el("br"),
        el("span", { class: "muted small",
          text: c.share == null ? "no narratives" : `${pct(c.low)}–${pct(c.high)}, ${c.count} of ${data.cells[c.cell].total}` })))));
    table.tHead.replaceChildren(head);
    table.tBodies[0].replaceChildren(totals, ...rows);
  }

  function drawDistinctive(data, shape) {
    const section = $("distinctive-section");
    const box = $("distinctive");
    section.hidden = !data.groups.length;
    if (!data.groups.length) return box.replaceChildren();
    const labels = themeLabels(data.themes);
    const parts = data.groups.map((group, j) => {
      const who = comparedPhrase(group, data.dimensions);
      const Who = who[0].toUpperCase() + who.slice(1);
      const found = data.themes.map((theme, k) => ({ d: theme.distinctive[j], label: labels[k] }))
        .filter(({ d }) => d && (d.status === "over" || d.status === "under"))
        .sort((a, b) => (a.d.status === b.d.status ? Math.abs(b.d.z) - Math.abs(a.d.z)
          : a.d.status === "over" ? -1 : 1));
      const items = found.map(({ d, label }) => el("li", {},
        el("span", { class: `badge ${d.status}`, text: d.status === "over" ? "more" : "less" }), " ",
        `${Who} talk about ${quoted(label)} ${d.status === "over" ? "more" : "less"} than others: `
        + `${pct(d.share)} of their narratives, against ${pct(d.rest_share)} elsewhere `
        + `(z = ${d.z.toFixed(1)}, ${qText(d.q_value)}).`));
      const reasons = [...new Set(data.themes.map((t) => t.distinctive[j])
        .filter((d) => d && d.status === "insufficient" && d.reason).map((d) => d.reason))];
      let summary = null;
      if (!found.length && reasons.length && data.themes.every((t) => t.distinctive[j]?.status === "insufficient")) {
        summary = `Not enough data to compare ${who} with the others: ${reasons.join("; ")}.`;
      } else if (!found.length) {
        summary = `Nothing stands out for ${who}: each theme comes up about as often as elsewhere.`;
      } else if (reasons.length) {
        summary = `Some themes could not be compared (not enough data: ${reasons.join("; ")}).`;
      }
      return el("div", { class: "group-block" },
        el("h3", { text: `${group.label} (${plural(group.total, "narrative")})` }),
        items.length ? el("ul", { class: "readings" }, ...items) : "",
        summary ? el("p", { class: "muted", text: summary }) : "");
    });
    box.replaceChildren(el("p", { class: "muted", text: "A theme stands out when a group "
      + `mentions it more or less than everyone else, beyond what chance would give (q is the `
      + `chance of a false alarm after checking every pair; shown when q ≤ ${data.alpha}).` }),
      ...parts);
  }

  const ARROWS = { rising: "▲ rising", falling: "▼ falling", new: "★ new", stable: "– steady",
    insufficient: "? not enough data" };

  function drawReadings(data, shape) {
    const section = $("readings-section");
    const box = $("readings");
    section.hidden = !data.timelines.length;
    if (!data.timelines.length) return box.replaceChildren();
    const labels = themeLabels(data.themes);
    const order = { rising: 0, new: 1, falling: 2, stable: 3, insufficient: 4 };
    const parts = data.timelines.map((line, i) => {
      const title = line.group ? groupPhrase(line.group, shape.groupDims) : "All narratives";
      const heading = data.timelines.length > 1
        ? el("h3", { text: title[0].toUpperCase() + title.slice(1) }) : "";
      if (line.reason) {
        return el("div", {}, heading, el("p", { class: "note",
          text: `Not enough data to tell what is rising or falling: ${line.reason}.` }));
      }
      const readings = data.themes.map((t, k) => ({ t: t.trends[i], label: labels[k] }))
        .sort((a, b) => order[a.t.status] - order[b.t.status]);
      const moving = readings.filter(({ t }) => t.status !== "stable" && t.status !== "insufficient");
      const rest = readings.filter(({ t }) => t.status === "stable" || t.status === "insufficient");
      const item = ({ t, label }) => el("li", {},
        el("span", { class: `badge ${t.status}`, text: ARROWS[t.status] || t.status }), " ",
        `${quoted(label)}: ${t.reading}${t.q_value != null && t.status !== "stable" ? ` (${qText(t.q_value)})` : ""}.`);
      const what = line.kind === "session" ? "meeting" : line.kind;
      return el("div", { class: "group-block" }, heading,
        el("p", { class: "muted", text: `Judged on the latest ${what} (${labelOf(line, line.latest)}) `
          + `against the ${plural(line.baseline.length, what)} before it, and the trend over the last `
          + `${plural(line.window.length, what)}.` }),
        moving.length ? el("ul", { class: "readings" }, ...moving.map(item))
          : el("p", { text: "No theme is clearly rising, falling or new." }),
        rest.length ? el("details", {}, el("summary", { text: `${plural(rest.length, "other theme")}: steady, or not enough data` }),
          el("ul", { class: "readings" }, ...rest.map(item))) : "");
    });
    box.replaceChildren(...parts);
  }

  function labelOf(line, key) {
    return line.periods.find((p) => p.key === key)?.label || key || "–";
  }

  // a chart drawn while its table was showing is sized again when it comes back
  document.querySelector('[data-toggle-table="trend-table"]')?.addEventListener("click", () => {
    if (chart.hidden) return;
    chart.querySelectorAll(".js-plotly-plot").forEach((plot) => Plotly.Plots.resize(plot));
    if (chart.classList.contains("js-plotly-plot")) Plotly.Plots.resize(chart);
  });
  form.addEventListener("change", refresh);
  form.addEventListener("submit", (event) => { event.preventDefault(); refresh(); });
  constrainCross();
  if (current) draw(current);
})();
