// Reloads the page, without its query, after the delay its script tag gives in
// data-refresh-ms: the validator add page follows a paste's progress until the worker is done.
// A file rather than an inline script: the Content Security Policy allows no inline script.
(function () {
  "use strict";
  var script = document.currentScript;
  var delayMs = Number(script && script.dataset.refreshMs) || 3000;
  setTimeout(function () {
    location.replace(location.pathname);
  }, delayMs);
})();
