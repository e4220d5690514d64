// A confirmed broadcast's page follows its job in place, every few seconds, until the job is
// done or has failed for good (GET .../progreso answers with the part that changes).
(function () {
  var url = document.currentScript.getAttribute("data-progress");
  var progress = document.getElementById("progress");
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.redirected || r.status === 404) { return null; }  // logged out, or gone: stop
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(function (s) {
        if (!s) { return; }
        progress.innerHTML = s.html;
        progress.setAttribute("data-state", s.state);
        if (!s.final) { setTimeout(poll, 2000); }
      })
      .catch(function () { setTimeout(poll, 10000); });  // the server is busy or away: later
  }
  setTimeout(poll, 2000);
})();
