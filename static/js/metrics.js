// Monitoring charts: each chart partial carries its plotly figure as JSON (json_script);
// draw it when htmx puts it in the page. After each scrape the server pushes a tick
// (#metrics-tick); every live chart then asks for its points newer than its last one and
// appends them, dropping those that fell out of its time window.
(function () {
  function draw(root) {
    root.querySelectorAll(".metrics-chart").forEach(function (el) {
      if (el.dataset.drawn) return;
      var data = document.getElementById(el.dataset.figure);
      if (!data || !window.Plotly) return;
      var figure = JSON.parse(data.textContent);
      el.dataset.drawn = "1";
      el.dataset.last = figure.last;
      el.dataset.divisor = figure.divisor;
      el.dataset.window = figure.window;
      Plotly.newPlot(el, figure.data, figure.layout, { displaylogo: false, responsive: true });
    });
  }

  function extend(el) {
    if (el.dataset.live !== "1" || el.dataset.fetching) return;
    el.dataset.fetching = "1";
    var url = el.dataset.pointsUrl + "&since=" + el.dataset.last + "&divisor=" + el.dataset.divisor;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (points) {
        if (!points) return;
        var added = points.x.reduce(function (sum, xs) { return sum + xs.length; }, 0);
        if (added) {
          // A chart in buckets gets its last bucket again (it was still filling): the points from
          // the first one sent on are replaced, the others appended.
          points.x.forEach(function (xs, i) {
            var trace = el.data[i];
            if (!trace || !xs.length) return;
            var first = Date.parse(xs[0]), keep = trace.x.length;
            while (keep > 0 && Date.parse(trace.x[keep - 1]) >= first) keep--;
            trace.x = trace.x.slice(0, keep).concat(xs);
            trace.y = trace.y.slice(0, keep).concat(points.y[i]);
          });
          Plotly.redraw(el);
          var start = new Date((points.last - parseInt(el.dataset.window, 10)) * 1000).toISOString();
          Plotly.relayout(el, { "xaxis.range": [start, new Date(points.last * 1000 + 30000).toISOString()] });
          el.dataset.points = String(parseInt(el.dataset.points || "0", 10) + added);
        }
        el.dataset.last = points.last;
      })
      .finally(function () { delete el.dataset.fetching; });
  }

  document.addEventListener("htmx:afterSettle", function (event) { draw(event.detail.elt.parentNode || document); });
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "metrics-tick") {
      document.querySelectorAll(".metrics-chart[data-drawn]").forEach(extend);
    }
  });
})();
