// The signifier explorer: selection A against B (or everyone else), drawn per signifier.
"use strict";
const SignifierExplorer = (() => {
  const config = JSON.parse(document.getElementById("explorer-config").textContent);
  const api = `/ui/api/p/${config.project}/signifiers`;
  const A = Weft.colour(0), B = Weft.colour(1), REST = "#9aa3ab", NEITHER = "#d5dade";
  const DENSITY = "#56B4E9";
  const state = { regions: { a: null, b: null }, offset: 0, last: null, busy: 0 };
  const cards = [...document.querySelectorAll(".plot-card")];
  const plotConfig = { displaylogo: false, responsive: true,
    modeBarButtonsToRemove: ["toImage", "sendDataToCloud"] };
  const pct = (v) => (v == null ? "\u2013" : `${Math.round(100 * v)}%`);
  const num = (v) => Number(v).toLocaleString("en-GB");
  const useB = () => document.getElementById("use-b").checked;
  const target = () => document.querySelector('input[name="target"]:checked').value;

  function spec(group) {
    const box = document.getElementById(`group-${group}`);
    const value = (field) => box.querySelector(`[data-field="${field}"]`)?.value || "";
    const out = { answers: [], attributes: [] };
    if (value("answer")) out.answers.push(JSON.parse(value("answer")));
    if (value("attribute")) out.attributes.push(value("attribute"));
    if (value("theme")) out.theme = value("theme");
    if (value("session")) out.session_id = Number(value("session"));
    if (state.regions[group]) out.region = state.regions[group];
    return out;
  }

  function request(extra = {}) {
    return { a: spec("a"), b: useB() ? spec("b") : null, ...extra };
  }

  const json = (body) => new Blob([JSON.stringify(body)], { type: "application/json" });

  async function refresh() {
    const counts = document.getElementById("counts");
    counts.textContent = "Updating…";
    state.busy += 1;
    try {
      const data = await Weft.send(`${api}/selection`, json(request({ offset: state.offset })));
      state.last = data;
      draw(data);
    } catch (error) {
      counts.textContent = `Could not update: ${error.message}`;
    } finally {
      state.busy -= 1;
      document.body.dataset.explorerBusy = String(state.busy);
    }
  }

  function draw(data) {
    const other = data.b_is_rest ? "everyone else" : "B";
    document.getElementById("counts").textContent =
      `A: ${num(data.a)} of ${num(data.total)} stories · ${other}: ${num(data.b)}` + (data.both ? ` · ${num(data.both)} in both (counted as A)` : "");
    const legendOther = document.getElementById("legend-other");
    legendOther.innerHTML = `<span class="swatch" style="background: ${data.b_is_rest ? REST : B}"></span>` +
      (data.b_is_rest ? "Everyone else" : "B");
    document.getElementById("legend-neither").hidden = data.b_is_rest;
    const note = document.getElementById("selection-note");
    note.hidden = !data.notes.length;
    note.textContent = data.notes.join(" ");
    for (const card of cards) {
      const chart = data.charts[card.dataset.signifier];
      if (!chart) continue;
      const ctx = { card, chart, data, other,
        div: card.querySelector(".chart"), table: card.querySelector("table") };
      ({ triad: triad, dyad: dyad, stones: stones, mcq: mcq })[chart.kind](ctx);
    }
    drawStories(data.stories);
    for (const g of ["a", "b"]) {
      const chip = document.querySelector(`#group-${g} [data-region]`);
      const region = state.regions[g];
      chip.hidden = !region;
      if (region) {
        const label = cards.find((c) => region.signifier.startsWith(c.dataset.signifier))
          ?.querySelector("h3").textContent || region.signifier;
        chip.querySelector("span").textContent =
          `Region on “${label}”: ${num(region.ids.length)} points drawn inside it.`;
      }
    }
  }

  // --- tables -------------------------------------------------------------------------------
  function fillTable(table, caption, head, rows) {
    table.querySelector("caption").textContent = caption;
    table.querySelector("thead").innerHTML =
      `<tr>${head.map((h, i) => `<th${i ? ' class="num"' : ""}>${Weft.escape(h)}</th>`).join("")}</tr>`;
    table.querySelector("tbody").innerHTML = rows.map((r) =>
      `<tr>${r.map((c, i) => `<td${i ? ' class="num"' : ""}>${Weft.escape(c)}</td>`).join("")}</tr>`
    ).join("");
  }

  const groupsHead = (ctx) => ["", `A (${num(ctx.chart.groups.a.n)})`,
    `${ctx.data.b_is_rest ? "Everyone else" : "B"} (${num(ctx.chart.groups.b.n)})`];

  // --- triads -------------------------------------------------------------------------------
  function wrap(text, width = 22) {
    const words = String(text).split(/\s+/);
    const lines = [""];
    for (const w of words) {
      if ((lines[lines.length - 1] + " " + w).trim().length > width) lines.push(w);
      else lines[lines.length - 1] = (lines[lines.length - 1] + " " + w).trim();
    }
    return lines.map(Weft.escape).join("<br>");
  }

  function densityTraces(cells) {
    const max = Math.max(1, ...cells.map((c) => c.count));
    return [1, 2, 3].map((level) => {
      const t = { type: "scatterternary", mode: "lines", fill: "toself", a: [], b: [], c: [],
        line: { width: 0 }, fillcolor: DENSITY, opacity: 0.1 * level, hoverinfo: "skip",
        showlegend: level === 2, name: "Where all stories sit", legendgroup: "density" };
      for (const cell of cells) {
        if (Math.ceil((3 * cell.count) / max) !== level) continue;
        for (const [a, b, c] of [...cell.corners, cell.corners[0]]) {
          t.a.push(a); t.b.push(b); t.c.push(c);
        }
        t.a.push(null); t.b.push(null); t.c.push(null);
      }
      return t;
    });
  }

  function pointTrace(chart, group, name, colour, size, opacity) {
    const t = { type: "scatterternary", mode: "markers", name, a: [], b: [], c: [],
      customdata: [], marker: { color: colour, size, opacity },
      hovertemplate: `${Weft.escape(name)}<br>%{a:.0%} / %{b:.0%} / %{c:.0%}<extra></extra>` };
    chart.group.forEach((g, i) => {
      if (g !== group) return;
      t.a.push(chart.parts[3 * i]); t.b.push(chart.parts[3 * i + 1]); t.c.push(chart.parts[3 * i + 2]);
      t.customdata.push(chart.ids[i]);
    });
    return t;
  }

  function centreTrace(centre, name, colour) {
    return { type: "scatterternary", mode: "markers", name, a: [centre[0]], b: [centre[1]],
      c: [centre[2]], marker: { symbol: "diamond", size: 15, color: colour,
        line: { color: "#000", width: 1.5 } }, hovertemplate:
        `${Weft.escape(name)}<br>%{a:.0%} / %{b:.0%} / %{c:.0%}<extra></extra>` };
  }

  function triad(ctx) {
    const { chart, data } = ctx;
    const otherName = data.b_is_rest ? "Everyone else" : "B";
    const traces = [...densityTraces(chart.density)];
    if (data.b_is_rest) traces.push(pointTrace(chart, 1, otherName, REST, 5, 0.45));
    else {
      traces.push(pointTrace(chart, -1, "Neither", NEITHER, 4, 0.4));
      traces.push(pointTrace(chart, 1, "B", B, 6, 0.7));
    }
    traces.push(pointTrace(chart, 0, "A", A, 6, 0.85));
    const ga = chart.groups.a, gb = chart.groups.b;
    if (gb.centre && gb.n >= data.min_selection) traces.push(centreTrace(gb.centre, `Centre of ${otherName.toLowerCase()}`, data.b_is_rest ? "#5b636b" : B));
    if (ga.centre && ga.n >= data.min_selection) traces.push(centreTrace(ga.centre, "Centre of A", A));
    const axis = (title) => ({ title: { text: wrap(title), font: { size: 12 } },
      showticklabels: false, dtick: 0.2, linecolor: "#5b636b", gridcolor: "#e6e9ec" });
    const layout = { margin: { l: 70, r: 70, t: 50, b: 45 }, dragmode: "lasso", showlegend: false,
      ternary: { sum: 1, aaxis: axis(chart.anchors[0]), baxis: axis(chart.anchors[1]),
        caxis: axis(chart.anchors[2]), bgcolor: "#fff" } };
    Plotly.react(ctx.div, traces, layout, plotConfig).then(() => bindRegion(ctx.div, chart.key));
    const sample = chart.shown < chart.answered ? `; a fixed sample of ${num(chart.shown)} is drawn` : "";
    fillTable(ctx.table,
      `${num(chart.answered)} stories placed a point${sample}. Centre: the geometric mean of each group.`,
      groupsHead(ctx), [
        ...chart.anchors.map((anchor, j) => [`Centre: ${anchor}`,
          pct(ga.centre?.[j]), pct(gb.centre?.[j])]),
        ...Object.keys(ga.zones).map((z) => [`Zone ${z.replace("_", " ")}`,
          pct(ga.zones[z]), pct(gb.zones[z])]),
        ["Not applicable", num(ga.not_applicable), num(gb.not_applicable)],
      ]);
  }

  function bindRegion(div, key) {
    if (div.dataset.bound === key) return;
    div.dataset.bound = key;
    div.on("plotly_selected", (event) => {
      if (!event || !event.points) return;
      const ids = event.points.map((p) => p.customdata).filter((id) => typeof id === "number");
      selectRegion(key, ids);
    });
    div.on("plotly_deselect", () => clearRegion(target()));
  }

  function selectRegion(key, ids) {
    state.regions[target()] = ids.length ? { signifier: key, ids } : null;
    state.offset = 0;
    return refresh();
  }

  function clearRegion(group) {
    if (!state.regions[group]) return Promise.resolve();
    state.regions[group] = null;
    state.offset = 0;
    return refresh();
  }

  // --- dyads --------------------------------------------------------------------------------
  function dyad(ctx) {
    const { chart, data } = ctx;
    const centres = chart.bins.slice(0, -1).map((lo, i) => (lo + chart.bins[i + 1]) / 2);
    const ga = chart.groups.a, gb = chart.groups.b;
    const otherName = data.b_is_rest ? "Everyone else" : "B";
    const bar = (g, name, colour) => ({ type: "bar", x: centres, y: g.histogram, name,
      marker: { color: colour }, width: 0.02, hovertemplate: `${name}: %{y:.0%}<extra></extra>` });
    const shapes = [0.2, 0.4, 0.6, 0.8].map((x) => ({ type: "line", x0: x, x1: x, yref: "paper",
      y0: 0, y1: 1, line: { color: "#5b636b", width: 1, dash: "dot" } }));
    const layout = { barmode: "group", bargap: 0.05, margin: { l: 50, r: 10, t: 30, b: 60 },
      xaxis: { range: [0, 1], tickvals: [0, 0.2, 0.4, 0.6, 0.8, 1], ticktext: ["0", "20%", "40%", "60%", "80%", "100%"] },
      yaxis: { tickformat: ".0%", title: { text: "share of group" } }, shapes,
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" },
      annotations: [
        { x: 0, y: -0.28, xref: "x", yref: "paper", text: `← ${Weft.escape(chart.poles[0])}`, showarrow: false, xanchor: "left", font: { size: 11 } },
        { x: 1, y: -0.28, xref: "x", yref: "paper", text: `${Weft.escape(chart.poles[1])} →`, showarrow: false, xanchor: "right", font: { size: 11 } }] };
    Plotly.react(ctx.div, [bar(gb, otherName, data.b_is_rest ? REST : B), bar(ga, "A", A)], layout, plotConfig);
    fillTable(ctx.table, `From “${chart.poles[0]}” (0) to “${chart.poles[1]}” (100%), in fifths.`,
      groupsHead(ctx), [
        ...chart.band_labels.map((label, i) => [label, pct(ga.bands[i]), pct(gb.bands[i])]),
        ["Mean position", pct(ga.mean), pct(gb.mean)],
        ["Not applicable", num(ga.not_applicable), num(gb.not_applicable)],
      ]);
  }

  // --- stones -------------------------------------------------------------------------------
  function stones(ctx) {
    const { chart, data } = ctx;
    const n = chart.stones.length;
    const traces = [], layout = { margin: { l: 45, r: 10, t: 30, b: 40 }, dragmode: "lasso",
      showlegend: false, annotations: [] };
    const gap = 0.06, width = (1 - gap * (n - 1)) / Math.max(1, n);
    chart.stones.forEach((stone, s) => {
      const suffix = s ? String(s + 1) : "";
      const left = s * (width + gap);
      layout[`xaxis${suffix}`] = { domain: [left, left + width], range: [0, 1], tickformat: ".0%",
        zeroline: false, title: { text: chart.axes?.x?.filter(Boolean).join(" → ") || "" } };
      layout[`yaxis${suffix}`] = { range: [0, 1], tickformat: ".0%", zeroline: false,
        anchor: `x${suffix}`, title: { text: s ? "" : (chart.axes?.y?.filter(Boolean).join(" → ") || "") } };
      layout.annotations.push({ text: `<b>${Weft.escape(stone.label)}</b>`, xref: "paper", yref: "paper",
        x: left + width / 2, y: 1.07, showarrow: false });
      const groups = data.b_is_rest ? [[1, "Everyone else", REST], [0, "A", A]]
        : [[-1, "Neither", NEITHER], [1, "B", B], [0, "A", A]];
      for (const [code, name, colour] of groups) {
        const t = { type: "scatter", mode: "markers", name, x: [], y: [], customdata: [],
          xaxis: `x${suffix}`, yaxis: `y${suffix}`, legendgroup: name, showlegend: s === 0,
          marker: { color: colour, size: 6, opacity: code === 0 ? 0.85 : 0.45 },
          hovertemplate: `${name}<br>%{x:.0%}, %{y:.0%}<extra></extra>` };
        stone.group.forEach((g, i) => {
          if (g !== code) return;
          t.x.push(stone.xy[2 * i]); t.y.push(stone.xy[2 * i + 1]); t.customdata.push(stone.ids[i]);
        });
        traces.push(t);
      }
    });
    Plotly.react(ctx.div, traces, layout, plotConfig).then(() => {
      if (ctx.div.dataset.bound) return;
      ctx.div.dataset.bound = chart.key;
      ctx.div.on("plotly_selected", (event) => {
        if (!event || !event.points || !event.points.length) return;
        const axis = event.points[0].data.xaxis;
        const stone = chart.stones[axis === "x" ? 0 : Number(axis.slice(1)) - 1];
        const ids = event.points.filter((p) => p.data.xaxis === axis).map((p) => p.customdata);
        selectRegion(stone.key, ids);
      });
      ctx.div.on("plotly_deselect", () => clearRegion(target()));
    });
    const names = { low_x_low_y: "low x, low y", high_x_low_y: "high x, low y",
      low_x_high_y: "low x, high y", high_x_high_y: "high x, high y" };
    const rows = [];
    for (const stone of chart.stones) {
      chart.quadrants.forEach((q, i) => rows.push([`${stone.label}: ${names[q] || q}`,
        pct(stone.groups.a.quadrants[i]), pct(stone.groups.b.quadrants[i])]));
    }
    const head = ["Stone and quarter of the canvas", "A", data.b_is_rest ? "Everyone else" : "B"];
    fillTable(ctx.table, "Share of each group's placed stones in each quarter of the canvas.", head, rows);
  }

  // --- multiple choice ----------------------------------------------------------------------
  function mcq(ctx) {
    const { chart, data } = ctx;
    const labels = chart.options.map((o) => (o.label.length > 40 ? o.label.slice(0, 39) + "…" : o.label));
    const ga = chart.groups.a, gb = chart.groups.b;
    const otherName = data.b_is_rest ? "Everyone else" : "B";
    const bar = (g, name, colour) => ({ type: "bar", orientation: "h", y: labels, x: g.shares,
      name, marker: { color: colour }, hovertemplate: `${name}: %{x:.0%}<extra></extra>` });
    ctx.div.style.height = `${Math.max(12, 3 + labels.length * 1.6)}rem`;
    Plotly.react(ctx.div, [bar(gb, otherName, data.b_is_rest ? REST : B), bar(ga, "A", A)], {
      barmode: "group", margin: { l: 230, r: 10, t: 30, b: 45 },
      legend: { orientation: "h", x: 0, y: 1.0, yanchor: "bottom", traceorder: "reversed" },
      xaxis: { tickformat: ".0%", title: { text: chart.multiple ? "share choosing it (several allowed)" : "share of answers" } },
      yaxis: { autorange: "reversed", automargin: true } }, plotConfig);
    fillTable(ctx.table, chart.multiple ? "Several options could be chosen: shares may add up to more than 100%." : "Share of each group's answers.",
      groupsHead(ctx), chart.options.map((o, i) => [o.label,
        `${pct(ga.shares[i])} (${num(ga.counts[i])})`, `${pct(gb.shares[i])} (${num(gb.counts[i])})`]));
  }

  // --- stories ------------------------------------------------------------------------------
  function drawStories(page) {
    const list = document.getElementById("story-list");
    const base = `/ui/p/${config.project}/narratives/`;
    list.innerHTML = page.items.map((s) => `<li><a href="${base}${s.id}">${Weft.escape(s.title || "Story " + s.id)}</a>
      <div>${Weft.escape(s.snippet)}</div></li>`).join("") ||
      "<li>No story fits this selection. Remove a filter or clear the region.</li>";
    const end = Math.min(page.total, page.offset + page.items.length);
    document.getElementById("stories-count").textContent = page.total
      ? `${num(page.offset + 1)}–${num(end)} of ${num(page.total)}` : "";
    document.getElementById("prev-page").disabled = page.offset === 0;
    document.getElementById("next-page").disabled = end >= page.total;
  }

  // --- comparing ----------------------------------------------------------------------------
  function describe(f, labelOf) {
    const d = f.detail;
    if (f.kind === "triad") return [`centre ${d.a.map(pct).join(" / ")}`, `${d.b.map(pct).join(" / ")}`];
    if (f.kind === "dyad") return [`mean ${pct(d.a)}`, pct(d.b)];
    if (d.option != null) return [`“${labelOf(f, d.option)}” ${pct(d.a)}`, pct(d.b)];
    const top = d.drivers?.[0]?.option;
    if (top && d.a && d.b) return [`“${labelOf(f, top).replace(/_/g, " ")}” ${pct(d.a[top])}`, pct(d.b[top])];
    return ["", ""];
  }

  const STRENGTH = { cramers_v: "Cramér's V", aitchison_distance: "Aitchison distance",
    ks_distance: "KS distance" };

  async function compare() {
    const section = document.getElementById("compare-results");
    const body = document.getElementById("compare-body");
    section.hidden = false;
    body.textContent = "Running the tests…";
    try {
      const r = await Weft.send(`${api}/compare`, json(request()));
      const other = r.b_is_rest ? "everyone else" : "B";
      document.getElementById("compare-h").textContent = `A compared with ${other}`;
      if (!r.enough) {
        body.innerHTML = `<p class="alert">A holds ${num(r.a)} and ${Weft.escape(other)} ${num(r.b)} stories
          (outside both: counted once). A comparison needs at least ${r.min_compare} in each. Widen the filters.</p>`;
        return;
      }
      const labelOf = (f, key) => state.last?.charts[f.signifier]?.options?.find((o) => o.key === key)?.label || key;
      const row = (f) => {
        const [a, b] = describe(f, labelOf);
        const stone = f.subject && f.subject.includes("/") ? " · " + f.subject.split("/")[1].replace(/_/g, " ") : "";
        const p = f.p_adjusted == null ? "\u2013" : f.p_adjusted < 0.001 ? "< 0.001" : f.p_adjusted.toFixed(3);
        return `<tr><td>${Weft.escape(f.label + stone)}</td><td>${Weft.escape(a)}</td><td>${Weft.escape(b)}</td>
          <td class="num nowrap">${f.strength.toFixed(2)} <span class="muted">${Weft.escape(STRENGTH[f.strength_name] || f.strength_name)}</span></td>
          <td class="num">${p}</td><td>${f.flagged ? '<span class="verdict-yes">Clear difference</span>' : "No clear difference"}</td></tr>`;
      };
      const head = `<thead><tr><th>Signifier</th><th>A</th><th>${r.b_is_rest ? "Everyone else" : "B"}</th>
        <th class="num">Difference</th><th class="num">p (corrected)</th><th>Reading</th></tr></thead>`;
      const clear = r.findings.filter((f) => f.flagged), rest = r.findings.filter((f) => !f.flagged);
      const fewer = r.n_permutations < 999
        ? ` (fewer than an analysis's 999, to answer within a second at this size; the smallest p-value they can give is ${(1 / (r.n_permutations + 1)).toFixed(3)})` : "";
      const left = r.both ? ` ${num(r.both)} stories in both selections were left out.` : "";
      body.innerHTML = `<p>${num(r.a)} stories in A against ${num(r.b)} in ${Weft.escape(other)}: ${r.n_tests} tests,
        computed just now in ${r.seconds.toFixed(1)} s. Permutation tests used
        <strong>${num(r.n_permutations)} permutations</strong>${fewer}. p-values are corrected together
        (Holm) over the ${r.n_tests} tests.${left} A question you filtered on differs by construction.</p>
        <table id="compare-table">${head}<tbody>${clear.map(row).join("") ||
          '<tr><td colspan="6">No clear difference between A and ' + Weft.escape(other) + " on any signifier.</td></tr>"}</tbody></table>
        ${rest.length ? `<details><summary>The other ${rest.length} tests: no clear difference</summary>
          <table>${head}<tbody>${rest.map(row).join("")}</tbody></table></details>` : ""}`;
    } catch (error) {
      body.textContent = `The comparison failed: ${error.message}`;
    }
  }

  // --- wiring -------------------------------------------------------------------------------
  document.querySelectorAll(".groups select").forEach((s) => s.addEventListener("change", () => {
    state.offset = 0; refresh();
  }));
  document.getElementById("use-b").addEventListener("change", (e) => {
    document.getElementById("group-b").disabled = !e.target.checked;
    const radioB = document.querySelector('input[name="target"][value="b"]');
    radioB.disabled = !e.target.checked;
    if (!e.target.checked) { document.querySelector('input[name="target"][value="a"]').checked = true; state.regions.b = null; }
    document.getElementById("compare").textContent = e.target.checked ? "Compare A with B" : "Compare A with everyone else";
    state.offset = 0; refresh();
  });
  document.querySelectorAll("[data-clear-region]").forEach((button) => button.addEventListener("click",
    () => clearRegion(button.closest("fieldset").dataset.group)));
  document.getElementById("compare").addEventListener("click", compare);
  document.getElementById("compare").textContent = "Compare A with everyone else";
  document.getElementById("prev-page").addEventListener("click", () => { state.offset = Math.max(0, state.offset - 20); refresh(); });
  document.getElementById("next-page").addEventListener("click", () => { state.offset += 20; refresh(); });
  refresh();
  return { refresh, selectRegion, clearRegion, compare, state };
})();
