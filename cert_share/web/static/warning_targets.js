/* "Publish to" on a warning's page: when the reviewer picks another TLP, every group of targets
   says at once whether that TLP may go there. The page already says it for the saved TLP, and the
   server refuses a wrong choice anyway: this only tells before the click. */
(function () {
  "use strict";
  var select = document.getElementById("tlp");
  if (!select) { return; }

  function update() {
    var level = select.value;
    var label = select.options[select.selectedIndex].text;
    document.querySelectorAll(".target-group").forEach(function (group) {
      var allowed = (group.getAttribute("data-allowed") || "").split(" ").indexOf(level) >= 0;
      group.classList.toggle("not-allowed", !allowed);
      var note = group.querySelector(".target-note");
      if (note) {
        note.textContent = allowed ? label + " " + group.getAttribute("data-ok")
                                   : group.getAttribute("data-refusal-" + level.replace("+", "-"));
      }
    });
    document.querySelectorAll("#tlp-targets tbody tr").forEach(function (row) {
      row.classList.toggle("chosen", row.getAttribute("data-tlp") === level);
    });
  }

  select.addEventListener("change", update);
  update();
}());
