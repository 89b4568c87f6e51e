// crisiscast console: the only script. Everything works without it; it adds the live board
// (server-sent events) and shows the Exercise/Actual banner as the status is chosen.
"use strict";
(function () {
  const board = document.getElementById("board");
  if (board && board.dataset.events && window.EventSource) {
    const source = new EventSource(board.dataset.events);
    source.onmessage = function (event) { board.innerHTML = event.data; };
    source.addEventListener("end", function () { source.close(); });
  }
  const banner = document.getElementById("mode-banner");
  const form = document.getElementById("compose");
  if (banner && form) {
    form.addEventListener("change", function (event) {
      const target = event.target;
      if (target.name !== "status") return;
      const exercise = target.value === "Exercise";
      banner.textContent = exercise ? banner.dataset.exercise : banner.dataset.actual;
      banner.className = "mode " + (exercise ? "mode-banner-exercise" : "mode-banner-actual");
      document.body.className = exercise ? "mode-exercise" : "mode-actual";
    });
  }
})();
