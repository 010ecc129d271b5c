// Pool page: the pool's own hashrate (left axis, in the unit its size needs)
// and the pool's miners (right axis), as read once per poll interval.
(function () {
  const data = JSON.parse(document.getElementById("chart-data").textContent);
  const peak = Math.max(0, ...data.pool_hashrate_hs.filter((v) => v !== null));
  const [scale, unit] = peak >= 1e12 ? [1e12, "TH/s"] : peak >= 1e9 ? [1e9, "GH/s"] : [1e6, "MH/s"];
  const scaled = (values) => values.map((v) => (v === null ? null : v / scale));
  Plotly.newPlot(
    document.getElementById("pool-stats-chart"),
    [
      { x: data.ts, y: scaled(data.pool_hashrate_hs), name: "Pool hashrate", mode: "lines", line: { color: "#3fb950" } },
      { x: data.ts, y: data.miners, name: "Miners", mode: "lines", yaxis: "y2", line: { color: "#d29922", dash: "dot" } },
    ],
    {
      margin: { l: 50, r: 50, t: 10, b: 30 }, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: "#c9d1d9", size: 11 }, legend: { orientation: "h" },
      xaxis: { type: "date", gridcolor: "#30363d" },
      yaxis: { title: { text: unit }, gridcolor: "#30363d", rangemode: "tozero" },
      yaxis2: { title: { text: "miners" }, overlaying: "y", side: "right", rangemode: "tozero", showgrid: false },
    },
    { displayModeBar: false, responsive: true },
  );
})();
