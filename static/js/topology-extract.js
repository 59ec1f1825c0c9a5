// The topology page's "Extract template": the nodes the person selected (window.topology, the
// page's Cytoscape instance) go to the templates module's extract flow as ?objects=<node ids>.
// Only kinds a template holds count; the extract page shows the selection before anything is made.
(function () {
  "use strict";
  var card = document.getElementById("topology-extract");
  var button = document.getElementById("topology-extract-button");
  var count = document.getElementById("topology-extract-count");
  var cy = window.topology;
  if (!card || !button || !cy) return;
  var KINDS = ["Deployment", "StatefulSet", "Service", "Ingress", "ConfigMap", "PersistentVolumeClaim",
    "HorizontalPodAutoscaler", "NetworkPolicy"];

  function selected() {
    return cy.nodes(":selected").filter(function (n) {
      return KINDS.indexOf(n.data("kind")) >= 0 && !n.data("podGroup");
    }).map(function (n) { return n.id(); }).sort();
  }

  function update() {
    var ids = selected();
    count.textContent = String(ids.length);
    button.disabled = ids.length === 0;
  }

  // Once per burst: opening or closing a pod group removes hundreds of nodes, one event each.
  var pending = false;
  cy.on("select unselect remove", "node", function () {
    if (pending) return;
    pending = true;
    setTimeout(function () { pending = false; update(); }, 0);
  });
  button.addEventListener("click", function () {
    var ids = selected();
    if (!ids.length) return;
    var url = card.dataset.extractUrl;
    window.location.assign(url + (url.indexOf("?") >= 0 ? "&" : "?") + "objects=" + encodeURIComponent(ids.join(",")));
  });
  update();
})();
