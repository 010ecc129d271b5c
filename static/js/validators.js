// Validator pages. The list page charts the farm's consensus income per epoch (EpochSummary),
// extended in place from validator.epoch events, and updates the status, balance and last duty
// of the validators an event names; the validator and group pages chart balance and daily income
// (consensus and execution stacked) from the day rows.
(function () {
  const layout = (yTitle, extra) => Object.assign({
    margin: { l: 60, r: 20, t: 10, b: 30 }, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    font: { color: "#c9d1d9", size: 11 }, legend: { orientation: "h" },
    xaxis: { gridcolor: "#30363d" }, yaxis: { title: { text: yTitle }, gridcolor: "#30363d" },
  }, extra || {});
  const config = { displayModeBar: false, responsive: true };
  const eth = (gwei) => (gwei === null || gwei === undefined ? null : gwei / 1e9);
  // Wei arrive as decimal strings (exact); a chart needs only a float.
  const weiEth = (wei) => Number(BigInt(wei) / 1000000000n) / 1e9;
  const gweiText = (gwei) => (gwei === null || gwei === undefined ? "–" : (gwei / 1e9).toFixed(5));

  const epochData = document.getElementById("epoch-chart-data");
  if (epochData) {
    const data = JSON.parse(epochData.textContent);
    const chart = document.getElementById("epoch-chart");
    const traceOf = {};
    const traces = data.farms.map((farm, i) => {
      traceOf[farm.farm] = i;
      return { x: farm.epoch, y: farm.income_gwei.map(eth), name: data.farms.length > 1 ? "farm " + farm.farm : "income",
               mode: "lines", line: { color: ["#3fb950", "#58a6ff", "#d29922", "#f85149"][i % 4] } };
    });
    Plotly.newPlot(chart, traces, layout("ETH per epoch", { showlegend: data.farms.length > 1,
      xaxis: { title: { text: "epoch" }, gridcolor: "#30363d" } }), config);
    const table = document.getElementById("validator-table");
    document.addEventListener("ethdash:live", (e) => {
      const event = e.detail;
      if (event.type !== "validator.epoch") return;
      const index = traceOf[event.farm];
      if (index !== undefined) {
        Plotly.extendTraces(chart, { x: [[event.epoch]], y: [[eth(event.income)]] }, [index], 5000);
      }
      for (const v of event.validators || []) {
        const row = table && table.querySelector('tr[data-validator="' + v.id + '"]');
        if (!row) continue;
        const status = row.querySelector('[data-field="status"] .status');
        if (status && v.status) status.textContent = data.status_labels[v.status] || v.status;
        const balance = row.querySelector('[data-field="balance"]');
        if (balance && v.balance !== undefined) balance.textContent = gweiText(v.balance);
        const duty = row.querySelector('[data-field="last_duty"]');
        if (duty && v.last_duty) duty.textContent = v.last_duty + " · epoch " + event.epoch;
      }
    });
  }

  const dayData = document.getElementById("day-chart-data");
  if (dayData) {
    const data = JSON.parse(dayData.textContent);
    Plotly.newPlot(document.getElementById("balance-chart"),
      [{ x: data.day, y: data.balance_gwei.map(eth), name: "balance at the end of the day", mode: "lines+markers",
         line: { color: "#58a6ff" } }],
      layout("ETH", { xaxis: { type: "date", gridcolor: "#30363d" } }), config);
    Plotly.newPlot(document.getElementById("income-chart"),
      [{ x: data.day, y: data.consensus_gwei.map(eth), name: "consensus", type: "bar", marker: { color: "#3fb950" } },
       { x: data.day, y: data.execution_wei.map(weiEth), name: "execution", type: "bar", marker: { color: "#d29922" } }],
      layout("ETH per day", { barmode: "relative", xaxis: { type: "date", gridcolor: "#30363d" } }), config);
    if (data.validator !== undefined) {
      document.addEventListener("ethdash:live", (e) => {
        const event = e.detail;
        if (event.type !== "validator.epoch" || event.farm !== data.farm) return;
        const v = (event.validators || []).find((item) => item.id === data.validator);
        if (!v) return;
        const status = document.getElementById("validator-status");
        if (status && v.status) status.textContent = data.status_labels[v.status] || v.status;
        const balance = document.getElementById("validator-balance");
        if (balance && v.balance !== undefined) balance.textContent = gweiText(v.balance) + " ETH";
        const duty = document.getElementById("validator-last-duty");
        if (duty && v.last_duty) duty.textContent = v.last_duty + " · epoch " + event.epoch;
      });
    }
  }
})();
