// Pool account page: the pool's current, average and miner-reported hashrate, extended live from
// pool.sample events.
(function () {
  const data = JSON.parse(document.getElementById("chart-data").textContent);
  const mhs = (values) => values.map((v) => (v === null ? null : v / 1e6));
  const chart = document.getElementById("pool-chart");
  const trace = (name, values, color) => ({ x: data.ts, y: mhs(values), name, mode: "lines", line: { color } });
  Plotly.newPlot(
    chart,
    [trace("Pool effective (current)", data.current, "#3fb950"), trace("Pool average", data.average, "#58a6ff"),
     trace("Reported by miners", data.reported, "#d29922"),
     { x: data.measured.ts, y: mhs(data.measured.hashrate_hs), name: "Measured by the rigs", mode: "lines",
       line: { color: "#c9d1d9", dash: "dot" } }],
    {
      margin: { l: 50, r: 20, t: 10, b: 30 }, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: "#c9d1d9", size: 11 }, legend: { orientation: "h" },
      xaxis: { type: "date", gridcolor: "#30363d" },
      yaxis: { title: { text: "MH/s" }, gridcolor: "#30363d", rangemode: "tozero" },
    },
    { displayModeBar: false, responsive: true },
  );
  document.addEventListener("ethdash:live", (e) => {
    const event = e.detail;
    if (event.type !== "pool.sample" || event.id !== data.account) return;
    const mh = (v) => (v === null || v === undefined ? null : v / 1e6);
    Plotly.extendTraces(chart, {
      x: [[event.ts], [event.ts], [event.ts]],
      y: [[mh(event.current_hashrate_hs)], [mh(event.average_hashrate_hs)], [mh(event.reported_hashrate_hs)]],
    }, [0, 1, 2], 5000);
  });
})();
