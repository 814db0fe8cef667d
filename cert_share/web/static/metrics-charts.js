/* Draws the metrics page charts with the vendored Chart.js from the JSON block
   <script type="application/json" id="metrics-data"> (the CSP allows no inline script). */
(function () {
  "use strict";
  var source = document.getElementById("metrics-data");
  if (!source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var palette = ["#1f6fb2", "#e07b39", "#2e9d5b", "#b42318", "#7a4fb8", "#c29b0c", "#3a8fa6", "#8a5a44",
                 "#5b6b7c", "#d1478f", "#4a7d1e", "#0b3d5c"];
  Chart.defaults.animation = false;  // deterministic screenshots, nothing moving on a duty screen
  Chart.defaults.font.family = "system-ui, sans-serif";
  Chart.defaults.maintainAspectRatio = false;

  function make(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) { canvas.chart = new Chart(canvas, config); canvas.setAttribute("data-drawn", "true"); }
  }

  var sectors = Object.keys(data.reports_by_sector);
  make("chart-sectors", {
    type: "bar",
    data: {
      labels: data.weeks,
      datasets: sectors.map(function (sector, i) {
        return { label: sector, data: data.reports_by_sector[sector], backgroundColor: palette[i % palette.length] };
      })
    },
    options: { scales: { x: { stacked: true, title: { display: true, text: "week starting" } },
                         y: { stacked: true, beginAtZero: true, ticks: { precision: 0 },
                              title: { display: true, text: "reports" } } } }
  });
  make("chart-response", {
    type: "line",
    data: { labels: data.weeks,
            datasets: [{ label: "median minutes to acknowledge", data: data.median_acknowledge_minutes,
                         borderColor: palette[0], backgroundColor: palette[0], spanGaps: true }] },
    options: { scales: { y: { beginAtZero: true, title: { display: true, text: "minutes" } } } }
  });
  make("chart-processing", {
    type: "line",
    data: { labels: data.weeks,
            datasets: [{ label: "share of the week's reports closed",
                         data: data.processing_rate.map(function (v) { return v === null ? null : Math.round(v * 1000) / 10; }),
                         borderColor: palette[2], backgroundColor: palette[2], spanGaps: true }] },
    options: { scales: { y: { min: 0, max: 100, title: { display: true, text: "%" } } } }
  });
})();
