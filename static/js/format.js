// Display of stored SI units, the same as the server's humanize_units filters.
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
  return { hashrate, watts, celsius, status };
})();
