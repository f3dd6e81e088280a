// A little JavaScript where it helps; every page works without it.
(function () {
  "use strict";

  // Live SLA countdowns: each <time class="countdown" datetime="..."> counts down (or up,
  // once late) every second.
  function spoken(seconds) {
    var s = Math.abs(seconds);
    if (s < 60) return Math.round(s) + " s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + " min";
    var h = Math.floor(m / 60);
    if (h < 48) return h + " h " + (m % 60) + " min";
    return Math.floor(h / 24) + " d " + (h % 24) + " h";
  }
  // Counted from the server's clock (the page says what time it was when drawn), so a
  // browser whose clock is off still counts right.
  var drawnAt = Date.parse(document.body.getAttribute("data-now") || "");
  var skew = isNaN(drawnAt) ? 0 : drawnAt - Date.now();
  function tick() {
    var now = Date.now() + skew;
    document.querySelectorAll("time.countdown").forEach(function (el) {
      var due = Date.parse(el.getAttribute("datetime"));
      if (isNaN(due)) return;
      var left = (due - now) / 1000;
      el.textContent = left >= 0 ? "due in " + spoken(left) : spoken(left) + " late";
      el.classList.toggle("late", left < 0);
    });
  }
  if (document.querySelector("time.countdown")) {
    tick();
    setInterval(tick, 1000);
  }

  // "Tick every ticket on this page".
  var all = document.getElementById("tick-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll('input[name="ticket"]').forEach(function (box) {
        box.checked = all.checked;
      });
    });
  }
})();
