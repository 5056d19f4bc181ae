/* Copy buttons: <button data-copy="ID" data-copy-status="ID" hidden> copies the value of the
   field named by data-copy and says so in the live region named by data-copy-status.
   Without JavaScript the button stays hidden and the field stays selectable. */
(function () {
  "use strict";

  function say(status, text) {
    if (!status) { return; }
    /* Empty first, so that a second "Copied" is announced again. */
    status.textContent = "";
    window.setTimeout(function () { status.textContent = text; }, 50);
  }

  function copyBySelection(field) {
    field.focus();
    field.select();
    try {
      return document.execCommand("copy");
    } catch (error) {
      return false;
    }
  }

  function copy(field) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(field.value).then(
        function () { return true; },
        function () { return copyBySelection(field); }
      );
    }
    return Promise.resolve(copyBySelection(field));
  }

  function setUp(button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    var status = document.getElementById(button.getAttribute("data-copy-status"));
    if (!field) { return; }
    field.addEventListener("focus", function () { field.select(); });
    button.addEventListener("click", function () {
      copy(field).then(function (copied) {
        say(status, copied
          ? "Copied"
          : "Could not copy. Select the address and copy it yourself.");
      });
    });
    button.hidden = false;
  }

  document.querySelectorAll("button[data-copy]").forEach(setUp);
})();
