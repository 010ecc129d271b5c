// The rig form's "Test connection": asks the API to poll the miner once (the same service the
// poller and third parties use) and shows what it found, or the error's kind and message.
// Nothing is saved; the form's own submit saves. Text from the miner is set as text, never HTML.
(function () {
  const fmt = window.ethdashFormat;
  const form = document.getElementById("rig-form");
  const button = document.getElementById("test-connection");
  const out = document.getElementById("trial");
  if (!form || !button || !out) return;

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function field(name) {
    const input = form.elements[name];
    return input ? input.value : "";
  }

  function syncButton() {
    const polled = field("protocol") !== "";
    button.disabled = !polled;
    button.title = polled ? "" : "An agent-push rig has no miner API to test.";
  }

  function showErrors(body) {
    out.replaceChildren(el("p", "The address is not valid; nothing was asked.", "error"));
    const list = el("ul");
    Object.entries(body).forEach(([name, messages]) => {
      const text = Array.isArray(messages) ? messages.join(" ") : String(messages);
      list.append(el("li", name === "detail" ? text : name + ": " + text));
    });
    out.append(list);
  }

  function showTrial(trial) {
    const where = trial.host + ":" + trial.port + " (" + trial.protocol + ")";
    if (!trial.ok) {
      const line = el("p", null, "error");
      line.append(el("strong", "No answer from " + where), " (" + trial.error_kind + "): " + trial.error);
      out.replaceChildren(line, el("p",
        "You can still save the rig: ethdash keeps polling it and shows when its miner answers.", "sub"));
      out.dataset.result = "error";
      out.dataset.errorKind = trial.error_kind;
      return;
    }
    const head = el("p");
    head.append(el("strong", "The miner at " + where + " answered."));
    const info = el("dl", null, "info");
    const rows = [
      ["Miner", [trial.miner, trial.version].filter(Boolean).join(" ") || "–"],
      ["Algorithm", trial.algorithm || "–"],
      ["Pool", trial.pool_url || "–"],
      ["Devices", String(trial.devices.length)],
      ["Total hashrate", fmt.hashrate(trial.hashrate_hs)],
    ];
    rows.forEach(([label, value]) => {
      info.append(el("dt", label));
      const dd = el("dd", value);
      dd.dataset.field = label.toLowerCase().replace(" ", "_");
      info.append(dd);
    });
    const table = el("table", null, "grid");
    const header = el("tr");
    ["Device", "Name", "PCI bus", "Hashrate", "Temp"].forEach((h) => header.append(el("th", h)));
    table.append(el("thead"));
    table.tHead.append(header);
    const body = el("tbody");
    trial.devices.forEach((d) => {
      const row = el("tr");
      row.dataset.kind = d.kind;
      // Named as the rig's page names its devices: "GPU 2", "CPU 3".
      const label = (d.kind === "cpu" ? "CPU " : "GPU ") + d.index;
      row.append(el("td", label), el("td", d.name || "–"),
        el("td", d.pci_bus === null ? "–" : String(d.pci_bus)),
        el("td", fmt.hashrate(d.hashrate_hs), "num"), el("td", fmt.celsius(d.temperature_c), "num"));
      body.append(row);
    });
    table.append(body);
    out.replaceChildren(head, info, table);
    out.dataset.result = "ok";
    delete out.dataset.errorKind;
  }

  async function test() {
    const payload = { protocol: field("protocol"), host: field("host").trim() };
    if (field("port").trim() !== "") payload.port = Number(field("port"));
    // A blank password on an existing rig means its stored one, as saving does.
    if (field("api_password") !== "") payload.api_password = field("api_password");
    else if (!form.dataset.rig) payload.api_password = "";
    if (form.dataset.rig) payload.rig = Number(form.dataset.rig);
    out.hidden = false;
    out.replaceChildren(el("p", "Asking the miner…", "sub"));
    out.dataset.result = "pending";
    button.disabled = true;
    try {
      const response = await fetch(form.dataset.testUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          "X-CSRFToken": form.elements.csrfmiddlewaretoken.value,
        },
        body: JSON.stringify(payload),
      });
      const body = await response.json();
      if (response.ok) showTrial(body);
      else showErrors(body.errors || { detail: body.detail });
      if (!response.ok) out.dataset.result = "invalid";
    } catch (err) {
      out.replaceChildren(el("p", "The test could not be run: " + err, "error"));
      out.dataset.result = "failed";
    } finally {
      syncButton();
    }
  }

  button.addEventListener("click", test);
  form.elements.protocol.addEventListener("change", syncButton);
  syncButton();
})();
