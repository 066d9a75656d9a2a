// The login page: show why the last try failed, and carry `next` (where to go
// after logging in) into the form. A file, not inline: the Content-Security-Policy
// allows no inline script. The server checks `next` again (guard.safe_next).
(function () {
  var q = new URLSearchParams(location.search);
  var next = q.get("next");
  if (next && next.charAt(0) === "/" && next.charAt(1) !== "/" && !/[\s\\\x00-\x1f\x7f]/.test(next)) {
    document.getElementById("next").value = next;
  }
  var err = q.get("error"), box = document.getElementById("error");
  if (err) {
    box.textContent = err === "locked" ? "Too many attempts, wait a minute"
      : err === "busy" ? "The server is busy, try again in a moment"
      : "Wrong login or password";
    box.hidden = false;
  }
})();
