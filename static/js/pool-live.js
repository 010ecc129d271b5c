// Keeps pool account pages current from pool.sample events: the rows of the accounts table, and
// the figures and status of an account's own page (its #pool-live; pool-detail.js draws the chart).
(function () {
  const fmt = window.ethdashFormat;

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
    const selector = '[data-account="' + event.id + '"]';
    const source = document.querySelector("#pool-table tr" + selector + ", #pool-live" + selector);
    if (!source) return;
    const set = (field, text) => {
      const cell = source.querySelector('[data-field="' + field + '"]');
      if (cell) cell.textContent = text;
      return cell;
    };
    set("current_hashrate_hs", fmt.hashrate(event.current_hashrate_hs));
    set("average_hashrate_hs", fmt.hashrate(event.average_hashrate_hs));
    set("reported_hashrate_hs", fmt.hashrate(event.reported_hashrate_hs));
    if (event.workers_online !== null && event.workers_online !== undefined) set("workers_online", event.workers_online);
    const unpaid = source.querySelector('[data-field="unpaid"]');
    if (unpaid && event.unpaid !== null) {
      unpaid.textContent = coins(event.unpaid, Number(unpaid.dataset.decimals)) + " " + unpaid.dataset.coin;
    }
    set("last_poll_at", "just now");

    // The account answered: current again until the event's stale_at (format.js turns it stale
    // then, unless another sample comes first).
    source.classList.add("live-source");
    source.dataset.staleAt = event.stale_at;
    const badge = source.querySelector("[data-stale-label]");
    if (badge) fmt.setStatus(badge, event.status, event.status_label);
    const note = source.querySelector(".stale-note");
    // As PoolAccount.silence_reason says it.
    if (note) note.textContent = "No answer from the pool since " + fmt.utc(event.ts) + "; the figures shown are its last.";
    fmt.refresh(source);
  });
})();
