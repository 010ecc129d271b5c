// Validator pages. The list page charts the farm's consensus income per epoch (EpochSummary),
// extended in place from validator.epoch events; each such event (one per stored epoch, and one
// per run's backfilled epochs, flagged `backfill`) also makes the page re-read its own figures
// from the server. The validator page charts balance and
// daily income (consensus and execution stacked) from the day rows, and follows its proposals
// (proposed, then orphaned when a reorg drops the block) and its liveness as they are pushed.
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

  // A page's figures re-read from the page itself (its filters, sort and page number kept), once
  // an epoch was stored: one request per processed epoch, triggered by the push and never
  // polled, through the same view and templates as a reload, so no figure can differ from what
  // a reload would show and no row lags its neighbour. A run's backfilled epochs come as one
  // event (one more read); events arriving during a read make one more read, not one each.
  function rereader(ids, after) {
    let reading = false;
    let again = false;
    let newest = null;
    return async function reread(epoch) {
      newest = epoch;
      if (reading) { again = true; return; }
      reading = true;
      try {
        do {
          again = false;
          const asked = newest;
          const response = await fetch(location.href, { credentials: "same-origin",
                                                        headers: { Accept: "text/html" } });
          if (!response.ok) break;
          const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
          for (const id of ids) {
            const shown = document.getElementById(id);
            const current = fresh.getElementById(id);
            if (shown && current) shown.replaceWith(document.importNode(current, true));
          }
          window.ethdashFormat.refresh();
          if (after) after(asked);
        } while (again);
      } catch (err) {
        // A failed read leaves the figures as they were; the next epoch's event reads again.
        console.warn("validators: re-reading the figures failed", err);
      } finally {
        reading = false;
      }
    };
  }

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
    // After each stored epoch every figure of the page is re-read (see rereader): the tiles, the
    // nodes' and farms' progress, the figures by window and every row of the page shown. An
    // event carries no rows: a farm of 100,000 validators cannot push them all, and the page
    // shows one page of them in an order the figures themselves decide.
    const reread = rereader(["node-health", "validator-tiles", "validator-figures", "validator-rows",
                             "validator-pagination"], (epoch) => { chart.dataset.epoch = epoch; });
    document.addEventListener("ethdash:live", (e) => {
      const event = e.detail;
      if (event.type !== "validator.epoch") return;
      const index = traceOf[event.farm];
      if (index === undefined) return;
      if (event.backfill) {
        // A run's backfilled epochs, older than those charted: put in their place by epoch.
        const trace = chart.data[index];
        const points = new Map(trace.x.map((x, i) => [x, trace.y[i]]));
        for (const point of event.epochs) points.set(point.epoch, eth(point.income));
        const x = [...points.keys()].sort((a, b) => a - b).slice(-5000);
        Plotly.restyle(chart, { x: [x], y: [x.map((epoch) => points.get(epoch))] }, [index]);
        reread(Math.max(...x));
        return;
      }
      Plotly.extendTraces(chart, { x: [[event.epoch]], y: [[eth(event.income)]] }, [index], 5000);
      reread(event.epoch);
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
    if (data.group !== undefined) {
      // The group's tiles, figures by window and members after each stored epoch of its farm.
      const reread = rereader(["validator-tiles", "window-figures", "validator-rows"]);
      document.addEventListener("ethdash:live", (e) => {
        const event = e.detail;
        if (event.type === "validator.epoch" && event.farm === data.farm) reread(event.epoch);
      });
    }
    if (data.validator !== undefined) {
      // The tiles (status, balance, APR, last duty, liveness), proposals and timeline after each
      // stored epoch of the validator's farm, whether or not the epoch was notable for it.
      const reread = rereader(["validator-status", "validator-tiles", "window-figures",
                               "proposal-rows", "timeline"]);
      document.addEventListener("ethdash:live", (e) => {
        const event = e.detail;
        if (event.type === "validator.epoch" && event.farm === data.farm) reread(event.epoch);
      });
      document.addEventListener("ethdash:live", (e) => {
        const event = e.detail;
        if (event.type === "validator.proposal" && event.id === data.validator) showProposal(event);
        if (event.type === "validator.liveness" && (event.offline || []).includes(data.validator)) {
          const tile = document.getElementById("validator-live");
          if (tile) tile.textContent = "no · epoch " + event.epoch;
        }
      });
    }
  }

  // A proposal as the listener pushes it: "proposed" when the block is seen, "orphaned" when a
  // reorg drops it (within the slot), and the epoch's figures once processed.
  const OUTCOME_CLASS = { proposed: "status-online", scheduled: "status-new" };
  const OUTCOME_LABEL = { proposed: "Proposed", missed: "Missed", orphaned: "Orphaned", scheduled: "Scheduled" };
  function showProposal(event) {
    const body = document.getElementById("proposal-rows");
    if (!body) return;
    let row = body.querySelector('tr[data-slot="' + event.slot + '"]');
    if (!row) {
      const empty = body.querySelector("td.empty");
      if (empty) empty.parentElement.remove();
      row = document.createElement("tr");
      row.dataset.slot = event.slot;
      const cells = [event.slot, event.epoch !== undefined ? event.epoch : "–", "", "–", "–", "–", "–", "–", "–", "–"];
      for (const text of cells) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.appendChild(cell);
      }
      row.children[2].dataset.field = "outcome";
      const newer = Array.from(body.querySelectorAll("tr[data-slot]"))
        .find((other) => Number(other.dataset.slot) < event.slot);
      body.insertBefore(row, newer || null);
    }
    const outcome = row.querySelector('[data-field="outcome"]');
    outcome.replaceChildren();
    const badge = document.createElement("span");
    badge.className = "status " + (OUTCOME_CLASS[event.outcome] || "status-offline");
    badge.textContent = OUTCOME_LABEL[event.outcome] || event.outcome;
    outcome.appendChild(badge);
    if (event.outcome === "orphaned" && event.block) {
      outcome.title = "Block " + event.block + " was dropped by a reorg" +
        (event.new_head_block ? " (new head " + event.new_head_block + ")" : "");
    }
  }
})();
