// ipi's dashboard: the charts (uPlot), and the tables' sorting and filters.
// Data comes from <script type="application/json" class="chart-data"> blocks: nothing
// is fetched, and nothing runs inline (the page's Content-Security-Policy forbids it).
"use strict";

(() => {
  const DASH = "\u2013";
  const iso = (s) => new Date(s * 1000).toISOString().slice(0, 10);
  const fixed = (digits, unit = "") => (u, v) => (v == null ? DASH : v.toFixed(digits) + unit);
  const utc = (s) => uPlot.tzDate(new Date(s * 1000), "Etc/UTC");
  const dpr = () => window.devicePixelRatio || 1;

  // Amazon's check dates as dotted vertical lines, over every chart of a marketplace.
  const checkLines = (checks) => ({
    hooks: {
      draw: [(u) => {
        const { ctx, bbox } = u;
        ctx.save();
        ctx.strokeStyle = "#6b7280";
        ctx.fillStyle = "#4b5563";
        ctx.lineWidth = dpr();
        ctx.setLineDash([3 * dpr(), 3 * dpr()]);
        ctx.font = `${11 * dpr()}px system-ui, sans-serif`;
        for (const c of checks) {
          const x = Math.round(u.valToPos(c, "x", true));
          if (x < bbox.left || x > bbox.left + bbox.width) continue;
          ctx.beginPath();
          ctx.moveTo(x, bbox.top);
          ctx.lineTo(x, bbox.top + bbox.height);
          ctx.stroke();
          ctx.fillText("check", x + 3 * dpr(), bbox.top + 12 * dpr());
        }
        ctx.restore();
      }],
    },
  });

  const base = (d, el, height) => ({
    width: Math.max(el.clientWidth, 280),
    height,
    tzDate: utc,
    // One key per marketplace: hovering one chart moves the cursor on all of them.
    cursor: { sync: { key: `ipi-${d.marketplace}` }, points: { size: 7 } },
    scales: { x: { time: true, range: () => d.range } },
    plugins: [checkLines(d.checks)],
  });

  const xSeries = { label: "date", value: (u, v) => (v == null ? DASH : iso(v)) };
  const marks = (label, color) => ({
    label, stroke: color, fill: color, paths: () => null,
    points: { show: true, size: 9, stroke: color, fill: color }, value: fixed(0),
  });

  function scoreChart(d, el) {
    const opts = {
      ...base(d, el, 280),
      scales: { ...base(d, el, 280).scales, y: { range: () => d.yrange } },
      series: [
        xSeries,
        { label: "low", stroke: "rgba(66,146,198,0.45)", width: 1, value: fixed(0), points: { show: false } },
        { label: "high", stroke: "rgba(66,146,198,0.45)", width: 1, value: fixed(0), points: { show: false } },
        { label: "estimate", stroke: "#08519c", width: 2, value: fixed(1), points: { show: false } },
        { label: "threshold", stroke: "#cb181d", width: 1.5, dash: [6, 4], value: fixed(0), points: { show: false } },
        marks("official", "#e6550d"),
        marks("alert fired", "#b91c1c"),
      ],
      bands: [{ series: [2, 1], fill: "rgba(66,146,198,0.16)" }],
      axes: [{}, { size: 48 }],
    };
    const threshold = d.x.map(() => d.threshold);
    return new uPlot(opts, [d.x, d.low, d.high, d.score, threshold, d.official, d.fired], el);
  }

  function factorChart(d, f, el) {
    const unit = f.unit ? ` ${f.unit}` : "";
    const digits = f.key === "sell_through" ? 2 : 1;
    const opts = {
      ...base(d, el, 170),
      scales: {
        ...base(d, el, 170).scales,
        // The target line stays in view, however far the values are from it.
        y: { range: (u, lo, hi) => padded(Math.min(lo ?? f.target, f.target), Math.max(hi ?? f.target, f.target)) },
      },
      series: [
        xSeries,
        { label: f.label, stroke: "#08519c", width: 1.5, value: fixed(digits, unit), points: { show: false } },
        { label: "line", stroke: "#cb181d", width: 1, dash: [6, 4], value: fixed(digits, unit), points: { show: false } },
      ],
      axes: [{}, { size: 48 }],
    };
    return new uPlot(opts, [d.x, f.values, d.x.map(() => f.target)], el);
  }

  function padded(lo, hi) {
    const pad = (hi - lo) * 0.1 || Math.abs(hi) * 0.1 || 1;
    return [Math.max(0, lo - pad), hi + pad];
  }

  // Every chart of the page, by marketplace: for resizing, and for tests to read.
  const charts = (window.ipiCharts = {});
  for (const block of document.querySelectorAll("script.chart-data")) {
    const d = JSON.parse(block.textContent);
    const mp = d.marketplace;
    const score = document.getElementById(`score-${mp}`);
    charts[mp] = { data: d, score: scoreChart(d, score), factors: {} };
    for (const f of d.factors) {
      const el = document.getElementById(`factor-${mp}-${f.key}`);
      charts[mp].factors[f.key] = factorChart(d, f, el);
    }
  }
  let resizing = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => {
      for (const c of Object.values(charts)) {
        for (const u of [c.score, ...Object.values(c.factors)]) {
          const el = u.root.parentElement;
          u.setSize({ width: Math.max(el.clientWidth, 280), height: u.height });
        }
      }
    }, 150);
  });

  // Tables with data-sortable: a click on a heading sorts by that column (again: the
  // other way). Numbers sort by their data-v (the value, not its formatting); blanks last.
  for (const table of document.querySelectorAll("table[data-sortable]")) {
    const heads = [...table.tHead.rows[0].cells];
    heads.forEach((th, i) => {
      const button = th.querySelector("button");
      if (button) button.addEventListener("click", () => sortBy(table, heads, i));
    });
  }

  function sortBy(table, heads, i) {
    const th = heads[i];
    const up = th.getAttribute("aria-sort") !== "ascending";
    heads.forEach((h) => h.removeAttribute("aria-sort"));
    th.setAttribute("aria-sort", up ? "ascending" : "descending");
    const numeric = th.dataset.type === "num";
    const key = (row) => {
      const cell = row.cells[i];
      const v = cell.dataset.v ?? cell.textContent.trim();
      return numeric ? (v === "" ? null : Number(v)) : v.toLowerCase();
    };
    const body = table.tBodies[0];
    const rows = [...body.rows].map((r) => [key(r), r]);
    rows.sort(([a], [b]) => {
      if (a === b) return 0;
      if (a === null) return 1;
      if (b === null) return -1;
      return (a < b ? -1 : 1) * (up ? 1 : -1);
    });
    body.append(...rows.map(([, r]) => r));
  }

  // Filter boxes and state menus: rows of the named table that do not contain the text,
  // or are not in the chosen state (tone-bad, tone-warn, tone-ok), are hidden.
  for (const el of document.querySelectorAll("input[data-filter], select[data-state]")) {
    const table = document.getElementById(el.dataset.filter || el.dataset.state);
    el.addEventListener(el.tagName === "SELECT" ? "change" : "input", () => applyFilter(table));
  }

  function applyFilter(table) {
    const input = document.querySelector(`input[data-filter="${table.id}"]`);
    const state = document.querySelector(`select[data-state="${table.id}"]`);
    const q = input ? input.value.trim().toLowerCase() : "";
    const tone = state ? state.value : "";
    const rows = table.tBodies[0].rows;
    let shown = 0;
    for (const row of rows) {
      row.hidden = (q !== "" && !row.textContent.toLowerCase().includes(q))
        || (tone !== "" && !row.classList.contains(`tone-${tone}`));
      shown += row.hidden ? 0 : 1;
    }
    const count = input && document.getElementById(input.dataset.count);
    const unit = (input && input.dataset.unit) || "SKUs";
    if (count) count.textContent = shown === rows.length ? `${rows.length} ${unit}`
      : `${shown} of ${rows.length} ${unit}`;
  }
})();
