// Rig page: a rig-total chart and one small chart per GPU (hashrate and temperature), drawn from
// the server-rendered last hour and extended in place from live events without a reload.
(function () {
  const fmt = window.ethdashFormat;
  const data = JSON.parse(document.getElementById("chart-data").textContent);
  const rigId = data.rig;
  const maxPoints = 2000;
  const mhs = (values) => values.map((v) => (v === null ? null : v / 1e6));
  const config = { displayModeBar: false, responsive: true };
  const HASHRATE_COLOR = "#3fb950";
  const TEMPERATURE_COLOR = "#f0883e";
  const baseLayout = {
    margin: { l: 45, r: 45, t: 10, b: 30 },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    font: { color: "#c9d1d9", size: 11 },
    showlegend: false,
    xaxis: { type: "date", gridcolor: "#30363d" },
    yaxis: { title: { text: "MH/s", font: { color: HASHRATE_COLOR } }, gridcolor: "#30363d",
             rangemode: "tozero" },
  };

  const rigChart = document.getElementById("rig-chart");
  Plotly.newPlot(
    rigChart,
    [{ x: data.totals.ts, y: mhs(data.totals.hashrate_hs), name: "Hashrate", mode: "lines",
       line: { color: HASHRATE_COLOR } }],
    baseLayout,
    config,
  );

  // What the pools said of this rig's workers, beside what the rig measured: a gap between
  // them is a dev fee, stale shares or a hijacked rig.
  const poolUrl = "/api/v1/pool-workers/series/?rig=" + rigId + "&from=" + encodeURIComponent(data.since) +
    "&to=" + encodeURIComponent(data.until);
  fetch(poolUrl, { credentials: "same-origin" })
    .then((response) => (response.ok ? response.json() : null))
    .then((pool) => {
      if (!pool || !pool.workers.length) return;
      Plotly.addTraces(rigChart, [
        { x: pool.ts, y: mhs(pool.effective), name: "Pool effective", mode: "lines", line: { color: "#58a6ff", dash: "dot" } },
        { x: pool.ts, y: mhs(pool.reported), name: "Pool reported", mode: "lines", line: { color: "#d29922", dash: "dot" } },
      ]);
      Plotly.relayout(rigChart, { showlegend: true, legend: { orientation: "h" } });
    });

  const gpuCharts = new Map();
  data.gpus.forEach((gpu) => {
    const el = document.getElementById("gpu-chart-" + gpu.id);
    if (!el) return;
    Plotly.newPlot(
      el,
      [
        { x: gpu.ts, y: mhs(gpu.hashrate_hs), name: "Hashrate (MH/s)", mode: "lines",
          line: { color: HASHRATE_COLOR } },
        { x: gpu.ts, y: gpu.temperature_c, name: "Temperature (°C)", mode: "lines", yaxis: "y2",
          line: { color: TEMPERATURE_COLOR } },
      ],
      Object.assign({}, baseLayout, {
        // From zero, so a few degrees of drift do not look like a fire.
        yaxis2: { title: { text: "°C", font: { color: TEMPERATURE_COLOR } }, overlaying: "y",
                  side: "right", showgrid: false, rangemode: "tozero" },
      }),
      config,
    );
    gpuCharts.set(gpu.id, el);
  });

  // Two batches can commit out of order; a point older than the chart's last would draw the
  // line back in time.
  function isNewest(el, ts) {
    const xs = el.data[0].x;
    return xs.length === 0 || Date.parse(ts) > Date.parse(xs[xs.length - 1]);
  }

  function setText(id, text) {
    const el = document.getElementById(id);
    if (el) el.textContent = text;
  }

  // The tiles show the rig's newest figures whatever the chart's range; format.js ages the
  // times and marks the figures stale once the rig stops reporting.
  const live = document.getElementById("rig-live");

  function setAgo(id, iso) {
    const el = document.getElementById(id);
    if (el && iso) el.dataset.ago = iso;
  }

  document.addEventListener("ethdash:live", (e) => {
    const event = e.detail;
    const ofRig = event.id === rigId && (event.type === "rig.sample" || event.type === "rig.status");
    if (ofRig) {
      live.dataset.status = event.status;
      const badge = document.getElementById("rig-status");
      badge.textContent = fmt.status(event.status);
      badge.className = "status status-" + event.status;
      setText("rig-status-reason", (event.type === "rig.sample" ? event.status_reason : event.reason) || "");
    }
    if (event.type === "rig.sample" && event.id === rigId && isNewest(rigChart, event.ts)) {
      setText("rig-hashrate", fmt.hashrate(event.hashrate_hs));
      // The miner's own total where it gives one (what the tile shows), else the device sum.
      setText("rig-hashrate-source", event.hashrate_reported_hs === null
        ? "sum of devices"
        : "miner's total · devices " + fmt.hashrate(event.hashrate_devices_hs));
      ["accepted", "rejected", "stale", "invalid"].forEach((kind) => {
        const count = event["shares_" + kind];
        setText("rig-shares-" + kind, count === null || count === undefined ? "–" : String(count));
      });
      setText("rig-power", fmt.watts(event.power_w));
      setText("rig-temperature", fmt.celsius(event.temperature_max_c));
      setText("rig-gpus", event.gpus_reporting);
      setText("rig-last-seen", fmt.utc(event.last_seen_at));
      setAgo("rig-last-seen-ago", event.last_seen_at);
      live.querySelectorAll('[data-field="as_of"]').forEach((el) => { el.dataset.ago = event.ts; });
      if (event.last_seen_at) live.dataset.lastSeen = event.last_seen_at;
      // Longer ranges show rolled-up averages; raw live points would not belong on them.
      if (data.live) {
        Plotly.extendTraces(rigChart, { x: [[event.ts]], y: [[event.hashrate_hs / 1e6]] }, [0], maxPoints);
      }
    } else if (data.live && event.type === "gpu.sample" && event.rig === rigId) {
      const el = gpuCharts.get(event.id);
      if (!el || !isNewest(el, event.ts)) return;
      Plotly.extendTraces(
        el,
        { x: [[event.ts], [event.ts]], y: [[event.hashrate_hs / 1e6], [event.temperature_c]] },
        [0, 1],
        maxPoints,
      );
    }
    if (ofRig) fmt.refresh();
  });
})();
