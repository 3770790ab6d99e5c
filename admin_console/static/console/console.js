/* Small progressive enhancements for the staff console; every page works without JavaScript.
   Loaded from /static/ (the CSP allows no inline script). */
(function () {
  "use strict";
  // <form data-confirm="…">: ask before destructive posts (deactivate, suspend).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form && form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
  // After an htmx swap that replaced a form, move focus to its first error (or the status message),
  // so keyboard and screen-reader users hear what happened.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target) { return; }
    var focusable = target.querySelector("[aria-invalid=true], [data-focus-after-swap]");
    if (focusable) { focusable.focus(); }
  });
})();
