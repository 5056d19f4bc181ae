/* Check-in cards: the one-on-one answer (<form data-checkin-autosave>) is saved as soon as it
   changes, whatever else is tapped, and "Saved" is said in the form's live region
   ([data-checkin-status]). Without JavaScript the form's own Save button posts it. */
(function () {
  "use strict";

  function say(status, text, problem) {
    if (!status) { return; }
    status.classList.toggle("check-in__saved--problem", Boolean(problem));
    /* Empty first, so that a second "Saved" is announced again. */
    status.textContent = "";
    window.setTimeout(function () { status.textContent = text; }, 50);
  }

  function send(form) {
    return window.fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      return response.json().then(function (answer) {
        return { ok: response.ok, message: answer.message };
      });
    });
  }

  function setUp(form) {
    var select = form.querySelector("select");
    var button = form.querySelector("button[type=submit]");
    var status = form.querySelector("[data-checkin-status]");
    var queue = Promise.resolve();
    if (!select || !window.fetch || !window.FormData) { return; }
    if (button) { button.hidden = true; }
    select.addEventListener("change", function () {
      say(status, "Saving…");
      /* One answer at a time, in the order chosen: the last choice is the one kept. */
      queue = queue.then(function () { return send(form); }).then(function (result) {
        say(status, result.ok ? "Saved" : result.message, !result.ok);
        if (!result.ok && button) { button.hidden = false; }
      }, function () {
        say(status, "Not saved: check the connection, then press Save.", true);
        if (button) { button.hidden = false; }
      });
    });
  }

  document.querySelectorAll("form[data-checkin-autosave]").forEach(setUp);
})();
