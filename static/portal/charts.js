/* Charts drawn on demand: a chart is a <div data-figure="{...}"> (Plotly's JSON); Plotly itself is
   loaded the first time a page, or a panel htmx brings in, has one. */
(function () {
  var me = document.currentScript;
  var plotlySrc = me && me.getAttribute("data-plotly");
  var loading = null;

  function loadPlotly() {
    if (window.Plotly) return Promise.resolve();
    if (!loading) {
      loading = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = plotlySrc;
        script.onload = resolve;
        script.onerror = reject;
        document.head.appendChild(script);
      });
    }
    return loading;
  }

  function draw(root) {
    var charts = (root || document).querySelectorAll("div[data-figure]:not([data-drawn])");
    if (!charts.length) return;
    loadPlotly().then(function () {
      charts.forEach(function (div) {
        div.setAttribute("data-drawn", "1");
        var figure = JSON.parse(div.getAttribute("data-figure"));
        var config = JSON.parse(div.getAttribute("data-config") || "{}");
        window.Plotly.newPlot(div, figure.data, figure.layout, config);
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function (event) { draw(event.target); });
})();
