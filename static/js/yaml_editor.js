// Line numbers beside the YAML editor's textarea: a gutter that follows its lines and scrolling.
(function () {
  "use strict";
  function attach(editor) {
    var text = editor.querySelector("textarea"), gutter = editor.querySelector(".yaml-gutter");
    if (!text || !gutter) return;
    gutter.style.lineHeight = getComputedStyle(text).lineHeight;
    gutter.style.overflow = "hidden";
    gutter.style.paddingTop = getComputedStyle(text).paddingTop;
    function number() {
      var lines = text.value.split("\n").length, out = [];
      for (var i = 1; i <= lines; i++) out.push(i);
      gutter.textContent = out.join("\n");
      gutter.scrollTop = text.scrollTop;
    }
    text.addEventListener("input", number);
    text.addEventListener("scroll", function () { gutter.scrollTop = text.scrollTop; });
    number();
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".yaml-editor").forEach(attach);
  });
})();
