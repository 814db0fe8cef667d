// The new-exercise form: blank inject fieldsets after the first stay folded until "Add an inject"
// asks for the next one. Without JavaScript every fieldset shows and blank ones are ignored.
(function () {
  var sets = Array.prototype.slice.call(document.querySelectorAll("fieldset.inject"));
  var button = document.getElementById("add-inject");
  if (!sets.length || !button) { return; }
  function blank(set) {
    return Array.prototype.every.call(set.querySelectorAll("input[type=text], input:not([type]), textarea"),
      function (el) { return !el.value.trim(); }) && !set.querySelector(".field-errors");
  }
  var shown = 0;
  sets.forEach(function (set, i) { if (!blank(set)) { shown = i; } });
  sets.forEach(function (set, i) { if (i > shown) { set.classList.add("is-hidden"); } });
  button.hidden = shown >= sets.length - 1;
  button.addEventListener("click", function () {
    var next = sets.filter(function (set) { return set.classList.contains("is-hidden"); })[0];
    if (next) { next.classList.remove("is-hidden"); next.querySelector("input, textarea, select").focus(); }
    button.hidden = !sets.some(function (set) { return set.classList.contains("is-hidden"); });
  });
}());
