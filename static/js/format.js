// Display of stored SI units, the same as the server's humanize_units filters, and the ageing of
// live figures: relative times count up, and figures whose source has stopped turn stale.
window.ethdashFormat = (function () {
  const prefixes = [[1e12, "TH/s"], [1e9, "GH/s"], [1e6, "MH/s"], [1e3, "kH/s"]];
  function hashrate(hs) {
    if (hs === null || hs === undefined) return "–";
    for (const [scale, unit] of prefixes) {
      if (hs >= scale) return (hs / scale).toFixed(2) + " " + unit;
    }
    return hs.toFixed(0) + " H/s";
  }
  function watts(w) {
    if (w === null || w === undefined) return "–";
    return w >= 1000 ? (w / 1000).toFixed(2) + " kW" : w.toFixed(0) + " W";
  }
  function celsius(c) {
    return c === null || c === undefined ? "–" : c.toFixed(0) + " °C";
  }
  const statusLabels = {
    new: "New (never reported)", online: "Online", degraded: "Degraded",
    unreachable: "Unreachable", offline: "Offline",
  };
  function status(s) { return statusLabels[s] || s; }

  // As the server's timesince_short filter.
  function ago(iso) {
    if (!iso) return "never";
    const seconds = Math.floor((Date.now() - Date.parse(iso)) / 1000);
    if (Number.isNaN(seconds)) return "never";
    if (seconds < 60) return Math.max(seconds, 0) + " s ago";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
    if (seconds < 86400) return Math.floor(seconds / 3600) + " h ago";
    return Math.floor(seconds / 86400) + " d ago";
  }
  function utc(iso) {
    return iso ? iso.slice(0, 19).replace("T", " ") + " UTC" : "";
  }

  // A source has stopped when its rig is offline or unreachable (the server said so), or when
  // nothing arrived for data-stale-after-s (the offline sweep, or the socket, may lag), or, for a
  // source the server gave a time (data-stale-at: a pool account, a beacon node), once it passes.
  const STOPPED = ["offline", "unreachable"];
  function isStale(el, now) {
    if (STOPPED.includes(el.dataset.status)) return true;
    if (el.dataset.staleAt !== undefined) {
      const at = Date.parse(el.dataset.staleAt);
      return !Number.isNaN(at) && now > at;
    }
    const seen = Date.parse(el.dataset.lastSeen || "");
    const after = Number(el.dataset.staleAfterS || 0);
    return !Number.isNaN(seen) && after > 0 && now - seen > after * 1000;
  }
  function refresh(root) {
    const scope = root || document;
    const now = Date.now();
    scope.querySelectorAll("[data-ago]").forEach((el) => {
      el.textContent = ago(el.dataset.ago);
      if (el.dataset.ago) el.title = utc(el.dataset.ago);
    });
    const sources = Array.from(scope.querySelectorAll(".live-source"));
    if (scope.classList && scope.classList.contains("live-source")) sources.push(scope);
    sources.forEach((el) => {
      const stale = isStale(el, now);
      el.classList.toggle("stale", stale);
      el.querySelectorAll("[data-figure]").forEach((figure) => {
        if (stale) figure.title = "Stale: the last figure received; its source has stopped";
        else figure.removeAttribute("title");
      });
      // A badge that reads otherwise once its source is stale ("Stale", "Silent"), as the
      // server would render it on a reload; it reads as before when the source is current again.
      el.querySelectorAll("[data-stale-label]").forEach((badge) => {
        if (stale && badge.dataset.freshLabel === undefined) {
          badge.dataset.freshLabel = badge.textContent;
          badge.dataset.freshClass = badge.className;
          badge.textContent = badge.dataset.staleLabel;
          badge.className = "status status-" + badge.dataset.staleStatus;
        } else if (!stale && badge.dataset.freshLabel !== undefined) {
          badge.textContent = badge.dataset.freshLabel;
          badge.className = badge.dataset.freshClass;
          delete badge.dataset.freshLabel;
          delete badge.dataset.freshClass;
        }
      });
    });
  }
  // Sets a badge as an event says its source is now; what it read before going stale is moot.
  function setStatus(badge, status, label) {
    badge.textContent = label;
    badge.className = "status status-" + status;
    delete badge.dataset.freshLabel;
    delete badge.dataset.freshClass;
  }
  setInterval(refresh, 1000);
  document.addEventListener("DOMContentLoaded", () => refresh());
  return { hashrate, watts, celsius, status, ago, utc, refresh, setStatus };
})();
