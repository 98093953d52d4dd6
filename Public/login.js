// Sign-in page: after a session ended during an upload, say which files were chosen.
(function () {
  "use strict";
  document.documentElement.classList.remove("no-js");
  var note = document.getElementById("login-resume");
  var names = null;
  try { names = sessionStorage.getItem("sales-portal.pending-files"); } catch (ignored) { names = null; }
  if (note && names) {
    note.textContent = "Your session ended before the upload of " + names +
      ". Sign in, then choose the file again: nothing of it was loaded.";
    note.hidden = false;
  }
  var username = document.getElementById("username");
  if (username && !username.value) username.focus();
  else if (document.getElementById("password")) document.getElementById("password").focus();
})();
