// One websocket per page, joined server-side to the user's farms. Each server event is
// re-dispatched as a DOM event "ethdash:live" so page modules stay independent of the socket.
(function () {
  const indicator = document.getElementById("live-status");
  let backoffMs = 1000;

  function show(state) {
    if (!indicator) return;
    indicator.textContent = "● " + state;
    indicator.dataset.state = state;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + "/ws/live/");
    socket.addEventListener("open", () => { backoffMs = 1000; show("live"); });
    socket.addEventListener("message", (message) => {
      let event;
      try { event = JSON.parse(message.data); } catch (err) { return; }
      document.dispatchEvent(new CustomEvent("ethdash:live", { detail: event }));
    });
    socket.addEventListener("close", () => {
      show("reconnecting");
      // Back off so a restarting server is not hammered by every open tab at once.
      setTimeout(connect, backoffMs + Math.random() * 500);
      backoffMs = Math.min(backoffMs * 2, 30000);
    });
  }

  connect();
})();
