// Open alerts, live: the header's count on every page, and the open-alert tables (the alerts
// page, the overview, an object's page) from the alert.opened and alert.resolved events.
(function () {
  const SEVERITY_LABELS = { info: "Info", warning: "Warning", critical: "Critical" };
  const SEVERITY_CLASSES = { info: "status-waiting", warning: "status-degraded", critical: "status-offline" };
  const counted = new Set(); // ids this page added, so a repeated event is counted once

  function setCount(delta) {
    const badge = document.getElementById("open-alert-count");
    if (!badge) return;
    const count = Math.max(0, (parseInt(badge.textContent, 10) || 0) + delta);
    badge.textContent = String(count);
    badge.classList.toggle("count-open", count > 0);
  }

  function wants(body, event) {
    if ("frozen" in body.dataset) return false;
    const d = body.dataset;
    if (d.objectType && d.objectType !== event.object_type) return false;
    if (d.objectIds !== undefined && !d.objectIds.split(" ").includes(String(event.object_id))) return false;
    if (d.kind && d.kind !== event.kind) return false;
    if (d.severity && d.severity !== event.severity) return false;
    return true;
  }

  function templateFor(body) {
    if ("compact" in body.dataset) {
      const next = body.closest("table").nextElementSibling;
      return next && next.matches("template.open-alert-row") ? next : null;
    }
    return document.getElementById("open-alert-row");
  }

  function fill(row, event) {
    row.dataset.alertId = String(event.id);
    row.dataset.objectType = event.object_type;
    row.dataset.objectId = String(event.object_id);
    const set = (field, text) => row.querySelectorAll(`[data-field=${field}]`).forEach((el) => { el.textContent = text; });
    const severity = row.querySelector("[data-field=severity]");
    if (severity) {
      severity.className = "status " + (SEVERITY_CLASSES[event.severity] || "");
      severity.textContent = SEVERITY_LABELS[event.severity] || event.severity;
    }
    set("message", event.message);
    set("opened", window.ethdashFormat ? window.ethdashFormat.utc(event.ts).replace(" UTC", "") : event.ts);
    set("value", "–");
    set("acknowledged", "–");
    const link = row.querySelector("a[data-field=url]");
    if (link) {
      link.href = event.url || "#";
      if (!link.querySelector("[data-field=message]")) {
        link.textContent = event.object_name || event.object_type + " #" + event.object_id;
      }
    }
    row.querySelectorAll("form[data-action]").forEach((form) => {
      form.action = `/alerts/${event.id}/${form.dataset.action}/`;
    });
  }

  function showEmpty(body) {
    const empty = body.querySelector("tr.empty-row");
    if (empty) empty.hidden = body.querySelector("tr[data-alert-id]") !== null;
  }

  function opened(event) {
    document.querySelectorAll("tbody[data-open-alerts]").forEach((body) => {
      if (!wants(body, event) || body.querySelector(`tr[data-alert-id="${event.id}"]`)) return;
      const template = templateFor(body);
      if (!template) return;
      const row = template.content.querySelector("tr").cloneNode(true);
      fill(row, event);
      body.prepend(row);
      showEmpty(body);
    });
  }

  function resolved(event) {
    document.querySelectorAll(`tbody[data-open-alerts] tr[data-alert-id="${event.id}"]`).forEach((row) => {
      const body = row.parentElement;
      row.remove();
      showEmpty(body);
    });
  }

  document.addEventListener("ethdash:live", (e) => {
    const event = e.detail || {};
    if (event.type === "alert.opened" && event.state === "open") {
      // An event kind's occurrence comes as alert.opened already resolved: nothing stays open.
      if (!counted.has(event.id)) { counted.add(event.id); setCount(1); }
      opened(event);
    } else if (event.type === "alert.resolved") {
      counted.delete(event.id);
      setCount(-1);
      resolved(event);
    }
  });
})();
