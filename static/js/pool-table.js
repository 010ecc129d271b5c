// Keeps the pool account table current from pool.sample events.
(function () {
  const fmt = window.ethdashFormat;
  const table = document.getElementById("pool-table");
  if (!table) return;

  function coins(baseUnits, decimals) {
    // Exact to 6 places from the integer string: wei amounts pass what a float holds.
    const digits = String(baseUnits).padStart(decimals + 1, "0");
    const whole = digits.slice(0, digits.length - decimals);
    const fraction = digits.slice(digits.length - decimals).slice(0, 6).padEnd(6, "0");
    return Number(whole).toLocaleString("en-US") + "." + fraction;
  }

  document.addEventListener("ethdash:live", (e) => {
    const event = e.detail;
    if (event.type !== "pool.sample") return;
    const row = table.querySelector('tr[data-account="' + event.id + '"]');
    if (!row) return;
    const set = (field, text) => {
      const cell = row.querySelector('[data-field="' + field + '"]');
      if (cell) cell.textContent = text;
      return cell;
    };
    set("current_hashrate_hs", fmt.hashrate(event.current_hashrate_hs));
    set("average_hashrate_hs", fmt.hashrate(event.average_hashrate_hs));
    set("reported_hashrate_hs", fmt.hashrate(event.reported_hashrate_hs));
    if (event.workers_online !== null && event.workers_online !== undefined) set("workers_online", event.workers_online);
    const unpaid = row.querySelector('[data-field="unpaid"]');
    if (unpaid && event.unpaid !== null) {
      unpaid.textContent = coins(event.unpaid, Number(unpaid.dataset.decimals)) + " " + unpaid.dataset.coin;
    }
    set("last_poll_at", "just now");
  });
})();
