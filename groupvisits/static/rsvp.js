/* RSVP cards: the "I'm bringing a family member or carer" box is saved as soon as it changes.
   <input data-support-person data-status="ID"> in a form whose [data-support-save] button
   names the route (formaction). Each change is posted in turn, so the last one wins; the card
   says "Saved" (or why not) in the live region named by data-status. A refused change (no seat
   left for a support person) puts the box back as it was. Without JavaScript the Save button
   stays and posts the same route. */
(function () {
  "use strict";

  function say(status, text, failed) {
    /* Empty first, so that a second "Saved" is announced again. */
    status.textContent = "";
    status.classList.toggle("rsvp__status--error", Boolean(failed));
    window.setTimeout(function () { status.textContent = text; }, 50);
  }

  function post(url, form, wanted) {
    var data = new FormData(form);
    data.delete("brings_support_person");
    if (wanted) { data.append("brings_support_person", "y"); }
    return fetch(url, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      return response.json().then(function (body) {
        return { ok: response.ok, message: body.message };
      });
    }).catch(function () {
      return { ok: false, message: "Not saved. Please reload the page and try again." };
    });
  }

  function setUp(box) {
    var form = box.form;
    var save = form && form.querySelector("[data-support-save]");
    var status = document.getElementById(box.getAttribute("data-status"));
    if (!save || !status || !window.fetch || !window.FormData) { return; }
    var url = save.getAttribute("formaction");
    var saved = box.checked;
    var queue = Promise.resolve();
    save.hidden = true;
    box.addEventListener("change", function () {
      queue = queue.then(function () {
        var wanted = box.checked;
        if (wanted === saved) { say(status, "Saved"); return null; }
        say(status, "Saving…");
        return post(url, form, wanted).then(function (result) {
          if (result.ok) {
            saved = wanted;
          } else if (box.checked === wanted) {
            box.checked = saved;
          }
          say(status, result.message, !result.ok);
        });
      });
    });
  }

  document.querySelectorAll("input[data-support-person]").forEach(setUp);
})();
