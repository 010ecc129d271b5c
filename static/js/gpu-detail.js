// GPU page: hashrate (with the min-max band when rolled up) and temperature, and power; the live
// range extends from gpu.sample events. The tiles follow the newest sample whatever the range,
// and format.js marks them stale once the GPU or its rig stops reporting.
(function () {
  const fmt = window.ethdashFormat;
  const data = JSON.parse(document.getElementById("chart-data").textContent);
  const mhs = (values) => (values || []).map((v) => (v === null ? null : v / 1e6));
  const config = { displayModeBar: false, responsive: true };
  const layout = {
    margin: { l: 50, r: 50, t: 10, b: 30 },
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    font: { color: "#c9d1d9", size: 11 }, showlegend: false,
    xaxis: { type: "date", gridcolor: "#30363d" },
    yaxis: { title: { text: "MH/s", font: { color: "#3fb950" } }, gridcolor: "#30363d", rangemode: "tozero" },
    yaxis2: { title: { text: "°C", font: { color: "#f0883e" } }, overlaying: "y", side: "right",
              showgrid: false, rangemode: "tozero" },
  };
  const traces = [];
  if (data.hashrate_max) {
    traces.push({ x: data.ts, y: mhs(data.hashrate_max), mode: "lines", line: { width: 0 }, hoverinfo: "skip" });
    traces.push({ x: data.ts, y: mhs(data.hashrate_min), mode: "lines", line: { width: 0 }, fill: "tonexty",
                  fillcolor: "rgba(63,185,80,0.15)", hoverinfo: "skip" });
  }
  const hashrateTrace = traces.length;
  traces.push({ x: data.ts, y: mhs(data.hashrate_hs), mode: "lines", name: "Hashrate (MH/s)", line: { color: "#3fb950" } });
  traces.push({ x: data.ts, y: data.temperature_c, mode: "lines", name: "Temperature (°C)", yaxis: "y2",
                line: { color: "#f0883e" } });
  const main = document.getElementById("gpu-chart-" + data.gpu);
  Plotly.newPlot(main, traces, layout, config);
  const powerChart = document.getElementById("gpu-power-chart");
  Plotly.newPlot(powerChart, [{ x: data.ts, y: data.power_w, mode: "lines", line: { color: "#58a6ff" } }],
    Object.assign({}, layout, { yaxis: { title: { text: "W" }, gridcolor: "#30363d", rangemode: "tozero" } }), config);
  const live = document.getElementById("gpu-live");
  let newest = live.dataset.lastSeen ? Date.parse(live.dataset.lastSeen) : 0;

  document.addEventListener("ethdash:live", (e) => {
    const event = e.detail;
    if ((event.type === "rig.status" || event.type === "rig.sample") && event.id === data.rig) {
      live.dataset.status = event.status;
      fmt.refresh(live);
      return;
    }
    if (event.type !== "gpu.sample" || event.id !== data.gpu) return;
    if (Date.parse(event.ts) > newest) {
      newest = Date.parse(event.ts);
      document.getElementById("gpu-hashrate").textContent = fmt.hashrate(event.hashrate_hs);
      document.getElementById("gpu-temperature-now").textContent = fmt.celsius(event.temperature_c);
      live.dataset.lastSeen = event.ts;
      live.querySelectorAll('[data-field="as_of"]').forEach((el) => { el.dataset.ago = event.ts; });
      fmt.refresh(live);
    }
    if (!data.live) return;
    const xs = main.data[hashrateTrace].x;
    if (xs.length && Date.parse(event.ts) <= Date.parse(xs[xs.length - 1])) return;
    Plotly.extendTraces(main, { x: [[event.ts], [event.ts]], y: [[event.hashrate_hs / 1e6], [event.temperature_c]] },
      [hashrateTrace, hashrateTrace + 1], 2000);
    Plotly.extendTraces(powerChart, { x: [[event.ts]], y: [[event.power_w]] }, [0], 2000);
  });
})();
