// A phone for demos and training: each hop goes to the server as the aggregator would send it.
(function () {
  var screen = document.getElementById("screen"), answer = document.getElementById("answer");
  var state = { session: null, inputs: [], open: false };
  var token = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  function hop() {
    var form = new URLSearchParams();
    form.set("sessionId", state.session);
    form.set("phoneNumber", document.getElementById("msisdn").value);
    form.set("text", state.inputs.join("*"));
    form.set("lang", document.getElementById("lang").value);
    return fetch("simulator/hop", { method: "POST", body: form, credentials: "same-origin",
                                    headers: { "X-CSRFToken": token } })
      .then(function (r) {
        var keys = document.getElementById("shown-keys");
        keys.textContent = "claves: " + (r.headers.get("X-Catalog-Keys") || "-");
        keys.hidden = !document.getElementById("keys").checked;
        return r.text();
      })
      .then(function (body) {
        state.open = body.indexOf("CON ") === 0;
        screen.textContent = body.substring(4) + (state.open ? "" : "\n\n(sesion terminada)");
        screen.setAttribute("data-kind", body.substring(0, 3));
      });
  }
  document.getElementById("dial").onclick = function () {
    state = { session: "SIM" + Date.now() + Math.floor(Math.random() * 1e6), inputs: [], open: true };
    hop(); answer.focus();
  };
  function send() {
    if (!state.open) { return; }
    state.inputs.push(answer.value); answer.value = ""; hop();
  }
  document.getElementById("send").onclick = send;
  document.getElementById("keys").onchange = function () {
    document.getElementById("shown-keys").hidden = !this.checked;
  };
  answer.addEventListener("keydown", function (e) { if (e.key === "Enter") { send(); } });
})();
