/* Draws the console's charts from /api/series with uPlot; refreshes every 30 seconds. */
(function () {
  "use strict";
  var COLOURS = { delivered: "#0b6b2b", sent: "#1d5fbf", screened: "#7a4a00", quarantined: "#a4121c", latency: "#5b2a86" };
  var plots = {};

  function width(el) { return Math.max(320, el.clientWidth || 800); }

  function draw(id, title, names, data, unit) {
    var el = document.getElementById(id);
    var series = [{}].concat(names.map(function (n) {
      return { label: n, stroke: COLOURS[n], width: 2, value: function (u, v) { return v == null ? "-" : v + unit; } };
    }));
    var columns = [data.t].concat(names.map(function (n) { return data[n]; }));
    if (plots[id]) { plots[id].setData(columns); return; }
    plots[id] = new uPlot({ title: title, width: width(el), height: 280, series: series,
      axes: [{}, { label: unit.trim() || "per minute" }] }, columns, el);
  }

  function refresh() {
    fetch("/api/series", { credentials: "same-origin" }).then(function (r) {
      if (r.status === 401) { window.location = "/login?next=/charts"; return null; }
      return r.json();
    }).then(function (data) {
      if (!data) { return; }
      document.getElementById("chart-status").textContent =
        data.t.length ? data.t.length + " minute(s) of data" : "No data yet: the first minute is being counted.";
      draw("chart-traffic", "Messages per minute", ["delivered", "sent", "screened", "quarantined"], data, "");
      draw("chart-latency", "Arrival to CRM latency", ["latency"], data, " s");
    });
  }

  document.addEventListener("DOMContentLoaded", function () { refresh(); setInterval(refresh, 30000); });
}());
