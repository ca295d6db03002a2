// The theme map: every story as a point on a <canvas>, coloured by theme (Okabe-Ito, grey for
// none). A grid of cells over the canvas finds the point under the pointer without scanning
// them all; the snippet of a point is fetched when the pointer rests on it, then kept.
"use strict";
(() => {
  const canvas = document.getElementById("map-canvas");
  if (!canvas) return;
  const wrap = document.getElementById("map-wrap");
  const tip = document.getElementById("map-tip");
  const loading = document.getElementById("map-loading");
  const CELL = 12;          // CSS pixels of one hit-test cell (larger than the hit radius)
  const PAD = 18;           // CSS pixels kept free around the points
  const LABEL_CHARS = 30;
  const snippets = new Map();

  let data = null;          // the points: ids, xs, ys, theme (typed arrays), themes, order
  let px = null, py = null; // each point's position on the canvas, in CSS pixels
  let grid = null;          // { cols, rows, start, items }: points per cell
  let base = null;          // an offscreen canvas holding the drawn map, without the hover ring
  let width = 0, height = 0, dpr = 1, radius = 3, hovered = -1, drawn = false, timer = 0;

  async function load() {
    try {
      const body = await Weft.getJSON(canvas.dataset.points);
      const n = body.ids.length, scale = body.scale || 1;
      const xs = new Float32Array(n), ys = new Float32Array(n), theme = new Int16Array(n);
      for (let i = 0; i < n; i++) {
        xs[i] = body.xs[i] / scale; ys[i] = body.ys[i] / scale; theme[i] = body.theme[i];
      }
      const themes = body.themes.map((t) => ({ ...t, x: t.x / scale, y: t.y / scale, n: 0 }));
      // draw order: the grey points first (underneath), then theme by theme, ids ascending
      const order = Array.from({ length: n }, (_, i) => i);
      order.sort((a, b) => theme[a] - theme[b] || a - b);
      for (let i = 0; i < n; i++) if (theme[i] >= 0) themes[theme[i]].n += 1;
      data = { ids: body.ids, xs, ys, theme, themes, order: Int32Array.from(order), n };
      radius = n > 10000 ? 1.8 : n > 3000 ? 2.3 : n > 500 ? 3 : 4.5;
      layout();
    } catch (error) {
      loading.textContent = `The map could not be loaded (${error.message}). Reload the page to try again.`;
    }
  }

  function layout() {
    if (!data || !canvas.clientWidth) return;   // hidden behind the table view
    dpr = window.devicePixelRatio || 1;
    width = canvas.clientWidth; height = canvas.clientHeight;
    canvas.width = Math.round(width * dpr); canvas.height = Math.round(height * dpr);
    const { xs, ys, n } = data;
    let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
    for (let i = 0; i < n; i++) {
      if (xs[i] < minX) minX = xs[i]; if (xs[i] > maxX) maxX = xs[i];
      if (ys[i] < minY) minY = ys[i]; if (ys[i] > maxY) maxY = ys[i];
    }
    const spanX = Math.max(maxX - minX, 1e-6), spanY = Math.max(maxY - minY, 1e-6);
    const pad = PAD + radius;
    const scale = Math.min((width - 2 * pad) / spanX, (height - 2 * pad) / spanY);
    const ox = (width - spanX * scale) / 2, oy = (height - spanY * scale) / 2;
    const toX = (x) => ox + (x - minX) * scale, toY = (y) => oy + (maxY - y) * scale;
    px = new Float32Array(n); py = new Float32Array(n);
    for (let i = 0; i < n; i++) { px[i] = toX(xs[i]); py[i] = toY(ys[i]); }
    for (const t of data.themes) { t.sx = toX(t.x); t.sy = toY(t.y); }
    buildGrid();
    paintBase();
    render();
  }

  function buildGrid() {
    const cols = Math.ceil(width / CELL) + 1, rows = Math.ceil(height / CELL) + 1;
    const cells = new Int32Array(data.n), start = new Int32Array(cols * rows + 1);
    for (let i = 0; i < data.n; i++) {
      const cx = Math.min(cols - 1, Math.max(0, Math.floor(px[i] / CELL)));
      const cy = Math.min(rows - 1, Math.max(0, Math.floor(py[i] / CELL)));
      cells[i] = cy * cols + cx; start[cells[i] + 1] += 1;
    }
    for (let c = 0; c < cols * rows; c++) start[c + 1] += start[c];
    const fill = start.slice(0, cols * rows), items = new Int32Array(data.n);
    // later-drawn points (on top) come first in their cell, so a tie picks the visible one
    for (let k = data.n - 1; k >= 0; k--) { const i = data.order[k]; items[fill[cells[i]]++] = i; }
    grid = { cols, rows, start, items };
  }

  function nearest(mx, my) {
    const reach = Math.max(radius + 3, 7), cx = Math.floor(mx / CELL), cy = Math.floor(my / CELL);
    let best = -1, bestD = reach * reach;
    for (let y = cy - 1; y <= cy + 1; y++) {
      if (y < 0 || y >= grid.rows) continue;
      for (let x = cx - 1; x <= cx + 1; x++) {
        if (x < 0 || x >= grid.cols) continue;
        const c = y * grid.cols + x;
        for (let k = grid.start[c]; k < grid.start[c + 1]; k++) {
          const i = grid.items[k], dx = px[i] - mx, dy = py[i] - my, d = dx * dx + dy * dy;
          if (d < bestD) { bestD = d; best = i; }
        }
      }
    }
    return best;
  }

  function paintBase() {
    base = base || document.createElement("canvas");
    base.width = canvas.width; base.height = canvas.height;
    const ctx = base.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = "#ffffff"; ctx.fillRect(0, 0, width, height);
    ctx.globalAlpha = data.n > 3000 ? 0.7 : 0.85;
    const { order, theme } = data;
    let k = 0;
    while (k < data.n) {
      const t = theme[order[k]];
      ctx.fillStyle = Weft.colour(t);
      ctx.beginPath();
      for (; k < data.n && theme[order[k]] === t; k++) {
        const i = order[k];
        ctx.moveTo(px[i] + radius, py[i]);
        ctx.arc(px[i], py[i], radius, 0, 2 * Math.PI);
      }
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    paintLabels(ctx);
  }

  function paintLabels(ctx) {
    ctx.font = "600 13px system-ui, sans-serif";
    ctx.textAlign = "center"; ctx.textBaseline = "middle";
    ctx.lineJoin = "round"; ctx.lineWidth = 4; ctx.strokeStyle = "rgba(255,255,255,.9)";
    ctx.fillStyle = "#1b1f23";
    for (const t of data.themes) {
      if (!t.n) continue;
      const text = t.label.length > LABEL_CHARS ? `${t.label.slice(0, LABEL_CHARS - 1)}…` : t.label;
      const half = ctx.measureText(text).width / 2 + 4;
      const x = Math.min(width - half, Math.max(half, t.sx)), y = Math.min(height - 10, Math.max(10, t.sy));
      ctx.strokeText(text, x, y); ctx.fillText(text, x, y);
    }
  }

  function render() {
    const ctx = canvas.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(base, 0, 0);
    if (hovered >= 0) {
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.beginPath();
      ctx.arc(px[hovered], py[hovered], radius + 3, 0, 2 * Math.PI);
      ctx.fillStyle = Weft.colour(data.theme[hovered]); ctx.fill();
      ctx.lineWidth = 2; ctx.strokeStyle = "#1b1f23"; ctx.stroke();
    }
    if (!drawn) {
      drawn = true;
      loading.hidden = true;
      canvas.dataset.drawn = "true";
      performance.mark("weft-map-drawn");
    }
  }

  function themeLabel(i) {
    const t = data.theme[i];
    return t >= 0 ? data.themes[t].label : "Fits no theme";
  }

  function showTip(i) {
    if (i < 0) { tip.hidden = true; return; }
    const id = data.ids[i];
    const title = document.createElement("strong");
    title.textContent = themeLabel(i);
    const text = document.createElement("span");
    text.className = "map-tip-text";
    text.textContent = snippets.has(id) ? snippets.get(id) : "Loading the story…";
    tip.replaceChildren(title, text);
    tip.style.borderLeftColor = Weft.colour(data.theme[i]);
    tip.dataset.id = String(id);
    tip.hidden = false;
    const room = wrap.clientWidth - tip.offsetWidth - 8;
    const left = px[i] + 14 <= room ? px[i] + 14 : Math.max(0, px[i] - tip.offsetWidth - 14);
    const below = py[i] + 14 + tip.offsetHeight <= height;
    tip.style.left = `${left}px`;
    tip.style.top = `${below ? py[i] + 14 : Math.max(0, py[i] - tip.offsetHeight - 14)}px`;
    if (!snippets.has(id)) {
      clearTimeout(timer);
      timer = setTimeout(() => fetchSnippet(id), 60);
    }
  }

  async function fetchSnippet(id) {
    let text;
    try { text = (await Weft.getJSON(canvas.dataset.snippet + id)).snippet; }
    catch (error) { text = `This story could not be loaded (${error.message}).`; }
    snippets.set(id, text);
    if (hovered >= 0 && data.ids[hovered] === id) showTip(hovered);
  }

  function pointAt(event) {
    if (!data || !grid) return -1;
    const rect = canvas.getBoundingClientRect();
    return nearest(event.clientX - rect.left, event.clientY - rect.top);
  }

  canvas.addEventListener("pointermove", (event) => {
    const found = pointAt(event);
    if (found === hovered) return;
    hovered = found;
    canvas.style.cursor = found >= 0 ? "pointer" : "default";
    render();
    showTip(found);
  });
  canvas.addEventListener("pointerleave", () => {
    hovered = -1; render(); showTip(-1);
  });
  canvas.addEventListener("click", (event) => {
    const found = pointAt(event);
    if (found >= 0) window.location.assign(canvas.dataset.narrative + data.ids[found]);
  });

  let pending = 0;
  const relayout = () => {
    if (pending) return;
    pending = requestAnimationFrame(() => {
      pending = 0;
      if (data && (canvas.clientWidth !== width || canvas.clientHeight !== height
                   || (window.devicePixelRatio || 1) !== dpr)) layout();
    });
  };
  new ResizeObserver(relayout).observe(canvas);
  window.addEventListener("resize", relayout);   // a zoom changes the pixel ratio
  load();
})();
