// Keeps the rig table (overview and rig list) current from rig.sample and rig.status events.
// Times are kept as timestamps (data-ago) that format.js renders and ages every second; a rig
// whose source stops keeps its last figures, marked stale, and its status reason.
(function () {
  const fmt = window.ethdashFormat;
  const table = document.getElementById("rig-table");
  if (!table) return;

  function setCell(row, field, text) {
    const cell = row.querySelector('[data-field="' + field + '"]');
    if (cell) cell.textContent = text;
    return cell;
  }

  function setStatus(row, status) {
    row.dataset.status = status;
    const badge = row.querySelector('[data-field="status"]');
    if (!badge) return;
    badge.textContent = fmt.status(status);
    badge.className = "status status-" + status;
  }

  function setReason(row, reason) {
    const badge = row.querySelector('[data-field="status"]');
    if (badge) badge.title = reason || "";
    const line = row.querySelector('[data-field="status_reason"]');
    if (line) line.textContent = reason || "";
  }

  function setTime(row, field, iso) {
    const cell = row.querySelector('[data-field="' + field + '"]');
    if (cell && iso) cell.dataset.ago = iso;
  }

  function updateTotals() {
    const rows = table.querySelectorAll("tbody tr[data-rig]");
    let online = 0, hashrate = 0;
    rows.forEach((row) => {
      if (row.querySelector(".status-online, .status-degraded")) {
        online += 1;
        hashrate += Number(row.querySelector('[data-field="hashrate_hs"]').dataset.value || 0);
      }
    });
    const onlineEl = document.getElementById("rigs-online");
    if (onlineEl) onlineEl.textContent = online;
    const hashrateEl = document.getElementById("total-hashrate");
    if (hashrateEl) hashrateEl.textContent = fmt.hashrate(hashrate);
  }

  document.addEventListener("ethdash:live", (e) => {
    const event = e.detail;
    if (event.type !== "rig.sample" && event.type !== "rig.status") return;
    const row = table.querySelector('tr[data-rig="' + event.id + '"]');
    if (!row) return;
    setStatus(row, event.status);
    // rig.sample carries the reason as status_reason, rig.status as reason.
    setReason(row, event.type === "rig.sample" ? event.status_reason : event.reason);
    if (event.type === "rig.sample") {
      const cell = setCell(row, "hashrate_hs", fmt.hashrate(event.hashrate_hs));
      cell.dataset.value = event.hashrate_hs;
      const gpus = row.querySelector('[data-field="gpus_reporting"]');
      gpus.textContent = event.gpus_reporting + " / " + gpus.dataset.total;
      setCell(row, "temperature_max_c", fmt.celsius(event.temperature_max_c));
      setCell(row, "power_w", fmt.watts(event.power_w));
      setTime(row, "as_of", event.ts);
      setTime(row, "last_seen_at", event.last_seen_at);
      if (event.last_seen_at) row.dataset.lastSeen = event.last_seen_at;
    }
    // The figures stay as they were on a status change: format.js marks them stale when the
    // rig went offline or unreachable, and current again with the next sample.
    fmt.refresh(row);
    updateTotals();
  });
})();
