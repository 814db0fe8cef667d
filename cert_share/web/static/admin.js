/* Administration pages: copy buttons, and the roles offered for the organization chosen.
   Both are conveniences: without JavaScript the copy buttons stay hidden (the text selects
   whole with one click, CSS .copyable) and every role stays offered (the server refuses a role
   the organization cannot have, next to the field). */
(function () {
  "use strict";

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function copied(button) {
    var label = button.textContent;
    button.textContent = "Copied";
    window.setTimeout(function () { button.textContent = label; }, 2000);
  }

  function copy(button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) { return; }
    var text = source.textContent.trim();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { copied(button); },
                                               function () { selectText(source); });
    } else {  // plain http: no clipboard API; select it for the person to copy
      selectText(source);
      try { if (document.execCommand("copy")) { copied(button); } } catch (e) { /* selected is enough */ }
    }
  }

  function narrowRoles(orgSelect) {
    var roleSelect = document.getElementById(orgSelect.getAttribute("data-role-select"));
    var option = orgSelect.options[orgSelect.selectedIndex];
    var kind = option ? option.getAttribute("data-kind") : "";
    Array.prototype.forEach.call(roleSelect.querySelectorAll("optgroup"), function (group) {
      var fits = !kind || group.getAttribute("data-kinds").split(" ").indexOf(kind) >= 0;
      group.disabled = !fits;
      group.hidden = !fits;
      Array.prototype.forEach.call(group.querySelectorAll("option"), function (role) {
        if (!fits && role.selected) { roleSelect.value = ""; }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("button.copy-button[data-copy]"), function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { copy(button); });
    });
    Array.prototype.forEach.call(document.querySelectorAll("select[data-role-select]"), function (select) {
      narrowRoles(select);
      select.addEventListener("change", function () { narrowRoles(select); });
    });
  });
}());
