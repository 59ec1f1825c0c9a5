// The topology page: draws the graph JSON of the page's scope with Cytoscape.js, keeps it
// live (a mirror tick over the websocket makes it ask what changed since the version it has,
// ?since=<version>, and patch that in place, keeping the user's zoom, pan and layout; the
// whole graph again only when its version is too old), and opens a node's details in the
// side drawer. Large graphs draw each workload's pods as one node until it is clicked (and
// again once closed from the drawer).
(function () {
  "use strict";
  var container = document.getElementById("topology");
  if (!container || typeof cytoscape === "undefined") return;
  if (typeof cytoscapeFcose !== "undefined") cytoscape.use(cytoscapeFcose);

  var scope = container.dataset.scope;
  var graphUrl = container.dataset.graphUrl;
  var expandUrl = container.dataset.expandUrl;
  var nodeUrl = container.dataset.nodeUrl;
  var statusLine = document.getElementById("topology-status");
  var KINDS = ["Namespace", "Ingress", "Service", "HorizontalPodAutoscaler", "Deployment", "StatefulSet", "DaemonSet",
    "CronJob", "Job", "Pod", "ConfigMap", "Secret", "ServiceAccount", "PersistentVolumeClaim", "PersistentVolume",
    "RBDImage", "Node"];
  var SHORT = {Namespace: "ns", Ingress: "ing", Service: "svc", HorizontalPodAutoscaler: "hpa", Deployment: "deploy",
    StatefulSet: "sts", DaemonSet: "ds", CronJob: "cj", Job: "job", Pod: "pod", ConfigMap: "cm", Secret: "secret",
    ServiceAccount: "sa", PersistentVolumeClaim: "pvc", PersistentVolume: "pv", RBDImage: "rbd", Node: "node"};
  var FCOSE_LIMIT = 250;
  var expanded = {};  // namespace node id -> true, in the cluster and tenant views
  var paths = [];
  var startedAt = performance.now();
  // The graph is asked for first: the server builds it while the page sets Cytoscape up.
  var firstGraph = fetchGraph(graphUrl);

  var cy = cytoscape({
    container: container,
    wheelSensitivity: 0.3,
    minZoom: 0.02,
    maxZoom: 4,
    textureOnViewport: true,
    hideEdgesOnViewport: true,
    style: [
      // Labels are drawn only where they can be read (min-zoomed-font-size): a zoomed-out view of
      // thousands of pods paints shapes, not text.
      {selector: "node", style: {
        "label": "data(label)", "font-size": 8, "text-valign": "bottom", "text-margin-y": 2,
        "min-zoomed-font-size": 7, "width": 22, "height": 22, "background-color": "#adb5bd", "border-width": 2,
        "border-color": "#6c757d"}},
      {selector: "node[health = 'ok']", style: {"background-color": "#75b798", "border-color": "#198754"}},
      {selector: "node[health = 'warn']", style: {"background-color": "#ffda6a", "border-color": "#cc9a06"}},
      {selector: "node[health = 'bad']", style: {"background-color": "#ea868f", "border-color": "#dc3545", "border-width": 3}},
      {selector: "node[kind = 'Ingress']", style: {"shape": "diamond", "width": 28, "height": 28}},
      {selector: "node[kind = 'Service']", style: {"shape": "round-rectangle", "width": 30}},
      {selector: "node[kind = 'Deployment'], node[kind = 'StatefulSet'], node[kind = 'DaemonSet'], node[kind = 'Job'], node[kind = 'CronJob']",
        style: {"shape": "hexagon", "width": 32, "height": 30}},
      {selector: "node[kind = 'Pod']", style: {"width": 14, "height": 14, "font-size": 7}},
      {selector: "node[?podGroup]", style: {"width": 26, "height": 26, "border-style": "double", "border-width": 4}},
      {selector: "node[kind = 'ConfigMap'], node[kind = 'Secret'], node[kind = 'ServiceAccount']", style: {"shape": "tag", "width": 16, "height": 16}},
      {selector: "node[kind = 'PersistentVolumeClaim'], node[kind = 'PersistentVolume'], node[kind = 'RBDImage']", style: {"shape": "barrel"}},
      {selector: "node[kind = 'Node']", style: {"shape": "rectangle", "width": 34, "height": 20}},
      {selector: "node[kind = 'HorizontalPodAutoscaler']", style: {"shape": "triangle"}},
      {selector: "node[kind = 'Namespace']", style: {"shape": "round-rectangle", "width": 60, "height": 40, "font-size": 11,
        "text-valign": "center", "text-wrap": "wrap", "min-zoomed-font-size": 0}},
      {selector: ":parent", style: {"background-opacity": 0.06, "text-valign": "top", "font-size": 12, "padding": 12,
        "shape": "round-rectangle"}},
      {selector: "node.group", style: {"background-color": "#0d6efd", "border-color": "#0d6efd", "border-width": 1,
        "border-style": "dashed"}},
      {selector: "edge", style: {"width": 1, "line-color": "#ced4da", "target-arrow-color": "#ced4da",
        "target-arrow-shape": "triangle", "curve-style": "bezier", "arrow-scale": 0.6}},
      {selector: "edge[relation = 'routes'], edge[relation = 'selects']", style: {"line-color": "#6ea8fe", "target-arrow-color": "#6ea8fe", "width": 2}},
      {selector: "edge[pods]", style: {"label": "data(label)", "font-size": 7, "min-zoomed-font-size": 6, "color": "#495057",
        "text-background-color": "#ffffff", "text-background-opacity": 0.8, "text-background-padding": 1}},
      {selector: "edge[relation = 'uses-config'], edge[relation = 'uses-secret'], edge[relation = 'runs-as']", style: {"line-style": "dotted"}},
      {selector: "edge.policy", style: {"line-style": "dashed", "width": 2, "curve-style": "unbundled-bezier", "z-index": 5}},
      {selector: "edge.policy[?allowed]", style: {"line-color": "#198754", "target-arrow-color": "#198754"}},
      {selector: "edge.policy[!allowed]", style: {"line-color": "#dc3545", "target-arrow-color": "#dc3545", "target-arrow-shape": "tee"}},
      {selector: ".filtered", style: {"display": "none"}},
      {selector: ".faded", style: {"opacity": 0.15}},
      {selector: ".match", style: {"border-color": "#0d6efd", "border-width": 4}},
      {selector: ":selected", style: {"overlay-color": "#0d6efd", "overlay-opacity": 0.15}}
    ]
  });
  window.topology = cy;  // for the browser tests and the curious

  function label(node) {
    if (node.kind === "Namespace") {
      return node.name + "\n" + (node.pods || 0) + " " + container.dataset.textPods;
    }
    if (node.podGroup) return node.pods + " " + container.dataset.textPods + (node.bad ? " · " + node.bad + " ✕" : "");
    var text = SHORT[node.kind] + " " + node.name;
    if (node.kind === "Ingress" && node.hosts && node.hosts.length) text += "\n" + node.hosts.join(", ");
    return text;
  }

  function nodeData(node, parent) {
    var data = Object.assign({}, node, {label: label(node), scopeKey: parent || "root"});
    delete data.labels;
    data.labelText = Object.keys(node.labels || {}).map(function (k) { return k + "=" + node.labels[k]; }).join(",");
    if (parent) data.parent = parent;
    return data;
  }

  function edgeData(edge, parent) {
    var data = {id: edge.id, source: edge.source, target: edge.target, relation: edge.relation, scopeKey: parent || "root"};
    if (edge.pods) { data.pods = edge.pods; data.label = "×" + edge.pods; }  // a pod group's: how many of its pods
    return data;
  }

  // Columns in the order of a request's path; long columns wrap, so 2,000 pods take a block.
  function layered(nodes, origin) {
    var columns = {};
    nodes.forEach(function (n) {
      var kind = n.data("kind");
      (columns[kind] = columns[kind] || []).push(n);
    });
    var x = origin ? origin.x : 0, y0 = origin ? origin.y : 0, rows = 40, positions = {};
    KINDS.forEach(function (kind) {
      var column = columns[kind];
      if (!column) return;
      column.sort(function (a, b) {
        var wa = a.data("workload") || "", wb = b.data("workload") || "";
        return wa < wb ? -1 : wa > wb ? 1 : (a.id() < b.id() ? -1 : 1);
      });
      var perColumn = Math.max(rows, Math.ceil(Math.sqrt(column.length * 3)));
      column.forEach(function (n, i) {
        positions[n.id()] = {x: x + Math.floor(i / perColumn) * 60, y: y0 + (i % perColumn) * 45};
      });
      x += (Math.floor((column.length - 1) / perColumn) + 1) * 60 + 120;
    });
    return positions;
  }

  function runLayout(elements) {
    var nodes = elements.nodes().filter(function (n) { return !n.isParent(); });
    if (scope !== "namespace" && nodes.every(function (n) { return n.data("kind") === "Namespace"; })) {
      elements.layout({name: "grid", avoidOverlap: true, padding: 20, animate: false}).run();
    } else if (nodes.length <= FCOSE_LIMIT && typeof cytoscapeFcose !== "undefined") {
      elements.layout({name: "fcose", animate: false, randomize: true, quality: "default", nodeSeparation: 60,
        idealEdgeLength: 70, packComponents: true}).run();
    } else {
      var positions = layered(nodes);
      nodes.layout({name: "preset", positions: function (n) { return positions[n.id()]; }, animate: false, fit: false}).run();
    }
  }

  // What was fetched, for the browser tests: whole graphs and diffs.
  var fetches = window.topologyFetches = {full: 0, diff: 0};
  function fetchGraph(url, since) {
    if (since) url += (url.indexOf("?") >= 0 ? "&" : "?") + "since=" + encodeURIComponent(since);
    return fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}}).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    }).then(function (graph) {
      fetches[graph.diff ? "diff" : "full"] += 1;
      return graph;
    });
  }

  // --- the model: each scope's graph as the server last said it (root: the page's graph; a
  // namespace node's id: that namespace expanded in the cluster and tenant views)

  var models = {};
  function setModel(key, url, graph) {
    var model = models[key];
    if (graph.diff && model && model.version === graph.since) {
      graph.nodes.removed.forEach(function (id) { delete model.nodes[id]; });
      graph.nodes.added.concat(graph.nodes.changed).forEach(function (n) { model.nodes[n.id] = n; });
      graph.edges.removed.forEach(function (id) { delete model.edges[id]; });
      graph.edges.added.forEach(function (e) { model.edges[e.id] = e; });
      if (graph.paths) model.paths = graph.paths;
    } else if (graph.diff) {
      return null;  // a diff from another version than the model's: the caller fetches it all
    } else {
      model = models[key] = {url: url, nodes: {}, edges: {}, paths: graph.paths || []};
      graph.nodes.forEach(function (n) { model.nodes[n.id] = n; });
      graph.edges.forEach(function (e) { model.edges[e.id] = e; });
    }
    model.version = graph.version;
    return model;
  }

  function collectPaths() {
    paths = [];
    Object.keys(models).forEach(function (key) {
      var others = policyOthers(models[key]);
      (models[key].paths || []).forEach(function (p) {
        if (p.source === "*") p = Object.assign({others: others[p.among] || []}, p);
        paths.push(key === "root" ? p : Object.assign({parentNs: key}, p));
      });
    });
  }

  // The overlay's "*" entries stand for every other endpoint of their level (services.overlay):
  // the workloads that have pods, or the namespaces, of the same graph.
  function policyOthers(model) {
    var workloads = {}, namespaces = [];
    Object.keys(model.nodes).forEach(function (id) {
      var n = model.nodes[id];
      if (n.kind === "Pod" && n.workload) workloads[n.workload] = true;
      if (n.kind === "Namespace") namespaces.push(id);
    });
    return {workloads: Object.keys(workloads), namespaces: namespaces};
  }

  // What is drawn of a model: everything, except that in a large graph the pods of each
  // workload with more than POD_GROUP_MIN of them are one node ("pods:<workload id>", its
  // health the worst of theirs) until the user opens it: 2,000 pods are 40 nodes, drawn in a
  // fraction of the time, and the workloads' pods stay one click away.
  var COLLAPSE_ABOVE = 400, POD_GROUP_MIN = 5, HOST_EDGES_MAX = 300, HEALTH_RANK = {ok: 1, warn: 2, bad: 3};
  var openGroups = {};  // "pods:<workload id>" -> the key of the model it was opened in

  // The pods a model draws as groups when they are closed: {workload id: [pod]}.
  function groupable(model) {
    var ids = Object.keys(model.nodes), members = {};
    if (ids.length <= COLLAPSE_ABOVE) return members;
    ids.forEach(function (id) {
      var n = model.nodes[id];
      if (n.kind === "Pod" && n.workload) (members[n.workload] = members[n.workload] || []).push(n);
    });
    Object.keys(members).forEach(function (workload) {
      if (members[workload].length <= POD_GROUP_MIN) delete members[workload];
    });
    return members;
  }

  function view(model) {
    var ids = Object.keys(model.nodes), members = groupable(model), grouped = {}, nodes = [], edges = [];
    Object.keys(members).forEach(function (workload) {
      var pods = members[workload];
      if (openGroups["pods:" + workload]) return;
      var worst = "unknown", bad = 0, group = "pods:" + workload;
      pods.forEach(function (p) {
        grouped[p.id] = group;
        if ((HEALTH_RANK[p.health] || 0) > (HEALTH_RANK[worst] || 0)) worst = p.health;
        if (p.health === "bad") bad += 1;
      });
      var name = workload.split("/")[2];
      nodes.push({id: group, kind: "Pod", podGroup: true, namespace: pods[0].namespace, name: name, health: worst,
        workload: workload, pods: pods.length, bad: bad, labels: pods[0].labels,
        members: pods.map(function (p) { return p.name; }).join("\n")});
      edges.push({id: workload + ">runs>" + group, source: workload, target: group, relation: "runs"});
    });
    ids.forEach(function (id) { if (!grouped[id]) nodes.push(model.nodes[id]); });
    var counted = {}, hostEdges = [];
    Object.keys(model.edges).forEach(function (id) {
      var e = model.edges[id], source = grouped[e.source] || e.source, target = grouped[e.target] || e.target;
      if (source === e.source && target === e.target) { edges.push(e); return; }
      // A group's edges: one per volume and per node its pods use, with how many of its pods
      // do (its workload's "runs" edge is the one above).
      if (e.relation !== "mounts" && e.relation !== "on-node") return;
      var gid = source + ">" + e.relation + ">" + target;
      if (counted[gid]) { counted[gid].pods += 1; return; }
      counted[gid] = {id: gid, source: source, target: target, relation: e.relation, pods: 1};
      (e.relation === "on-node" ? hostEdges : edges).push(counted[gid]);
    });
    // Groups spread over many nodes would bring back as many edges as the pods had (40 groups
    // on 50 nodes: 2,000, and first paint took 1.2 s instead of 0.6, bench/topology.py): past
    // HOST_EDGES_MAX none are drawn, and an opened group shows its pods' nodes.
    if (hostEdges.length <= HOST_EDGES_MAX) edges = edges.concat(hostEdges);
    return {nodes: nodes, edges: edges};
  }

  function expandUrlFor(namespace) {
    return expandUrl.replace("NAMESPACE", encodeURIComponent(namespace));
  }

  function setStatus() {
    var visible = cy.nodes().not(".filtered").not(":parent").length;
    statusLine.textContent = visible + " / " + cy.nodes().not(":parent").length + " · " + cy.edges().not(".policy").length + " ⟶ · " +
      new Date().toLocaleTimeString();
    if (!cy.nodes().length) statusLine.textContent = container.dataset.textNoObjects;
  }

  // Fit to the nodes' positions: cy.fit() measures every label first, which costs seconds at
  // thousands of nodes.
  function fitView() {
    var nodes = cy.nodes().not(":parent").not(".filtered");
    if (!nodes.length) return;
    var x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
    nodes.forEach(function (n) {
      var p = n.position();
      if (p.x < x1) x1 = p.x;
      if (p.x > x2) x2 = p.x;
      if (p.y < y1) y1 = p.y;
      if (p.y > y2) y2 = p.y;
    });
    var pad = 60, width = cy.width(), height = cy.height();
    var zoom = Math.min(4, (width - 2 * pad) / Math.max(1, x2 - x1), (height - 2 * pad) / Math.max(1, y2 - y1));
    zoom = Math.max(cy.minZoom(), Math.min(zoom, 2));
    cy.viewport({zoom: zoom, pan: {x: width / 2 - zoom * (x1 + x2) / 2, y: height / 2 - zoom * (y1 + y2) / 2}});
  }

  // --- first draw

  var timings = window.topologyTimings = {script: Math.round(startedAt)};
  function mark(name) { timings[name] = Math.round(performance.now()); }

  // Thousands of elements: straight edges without arrows (haystack) and no pod labels (the
  // search and the drawer name them); cheap to paint, the same picture at that zoom.
  var LARGE = 600;
  function styleForSize(count) {
    if (count <= LARGE || cy.scratch("large")) return;
    cy.scratch("large", true);
    cy.style()
      .selector("edge").style({"curve-style": "haystack", "haystack-radius": 0, "width": 1})
      .selector("edge.policy").style({"curve-style": "straight"})
      .selector("node[kind = 'Pod'][!podGroup]").style({"label": ""})
      .update();
  }

  function draw(graph) {
    mark("fetched");
    var shown = view(setModel("root", graphUrl, graph));
    styleForSize(shown.nodes.length);
    cy.startBatch();
    cy.elements().remove();
    cy.add(shown.nodes.map(function (n) { return {group: "nodes", data: nodeData(n), scratch: {_src: n}}; }));
    cy.add(shown.edges.map(function (e) { return {group: "edges", data: edgeData(e)}; }));
    cy.endBatch();
    mark("added");
    collectPaths();
    runLayout(cy.elements());
    mark("laidOut");
    fitView();
    applyFilters();
    setStatus();
    mark("filtered");
    // ready once the first frame is painted: the figure bench/topology.py reads
    requestAnimationFrame(function () {
      container.dataset.renderedMs = Math.round(performance.now() - startedAt);
      container.dataset.readyAt = Math.round(performance.now());
      mark("painted");
      container.dataset.ready = "1";
    });
  }

  // --- live: ask what changed and patch it in

  // Makes the drawn elements of one scope those of `graph` (a view of its model): removes what
  // went, updates what changed (data only: positions stay), adds what is new, placed at
  // `positions` (id -> position) when given, else next to its neighbours (placeNew), or not
  // at all with place === false (the caller lays them out). Returns the nodes added.
  function patch(graph, parent, positions, place) {
    var key = parent || "root", wanted = {}, wantedEdges = {}, added = [];
    graph.nodes.forEach(function (n) { wanted[n.id] = n; });
    graph.edges.forEach(function (e) { wantedEdges[e.id] = e; });
    cy.startBatch();
    cy.nodes().forEach(function (n) {
      if (n.data("scopeKey") === key && !wanted[n.id()]) n.remove();
    });
    cy.edges().forEach(function (e) {
      if (e.data("scopeKey") === key && !wantedEdges[e.id()] && !e.hasClass("policy")) e.remove();
    });
    graph.nodes.forEach(function (n) {
      var existing = cy.getElementById(n.id);
      if (existing.length) {
        var src = existing.scratch("_src");
        if (src === n || (n.podGroup && src && JSON.stringify(src) === JSON.stringify(n))) return;
        var data = nodeData(n, parent);
        delete data.parent;
        if (existing.data("scopeKey") !== key) delete data.scopeKey;  // a Node or PV another namespace drew first
        existing.data(data);
        existing.scratch("_src", n);
      } else {
        added.push(cy.add({group: "nodes", data: nodeData(n, parent), scratch: {_src: n}})[0]);
      }
    });
    graph.edges.forEach(function (e) {
      var existing = cy.getElementById(e.id);
      if (existing.length) {
        if (e.pods && existing.data("pods") !== e.pods) existing.data({pods: e.pods, label: edgeData(e).label});
      } else if (cy.getElementById(e.source).length && cy.getElementById(e.target).length) {
        cy.add({group: "edges", data: edgeData(e, parent)});
      }
    });
    cy.endBatch();
    var addedNodes = cy.collection(added);
    if (place === false) return addedNodes;
    var rest = added;
    if (positions) {
      rest = added.filter(function (n) { return !positions[n.id()]; });
      added.forEach(function (n) { if (positions[n.id()]) n.position(positions[n.id()]); });
    }
    placeNew(rest, cy.nodes().not(":parent").length - added.length);
    return addedNodes;
  }

  // New nodes appear next to what they are connected to, and nothing the user sees moves:
  // a first batch into an empty view gets a whole layout; later ones a layout in which every
  // node already shown is fixed where it is (fcose's fixedNodeConstraint).
  function placeNew(added, before) {
    if (!added.length) return;
    if (before === 0) {
      runLayout(cy.elements());
      fitView();
      return;
    }
    var placed = 0, isNew = {};
    added.forEach(function (node) { isNew[node.id()] = true; });
    added.forEach(function (node) {
      var neighbour = node.neighborhood("node").filter(function (n) { return !isNew[n.id()]; }).first();
      var base = neighbour.length ? neighbour.position() : {x: cy.extent().x1 + 40, y: cy.extent().y1 + 40};
      var angle = placed++ * 2.4;
      node.position({x: base.x + Math.cos(angle) * (50 + placed * 4), y: base.y + Math.sin(angle) * (50 + placed * 4)});
    });
    var all = cy.nodes().not(":parent");
    if (all.length > FCOSE_LIMIT || typeof cytoscapeFcose === "undefined" || cy.nodes(":parent").length) return;
    var fixed = all.filter(function (n) { return !isNew[n.id()]; }).map(function (n) {
      return {nodeId: n.id(), position: {x: n.position("x"), y: n.position("y")}};
    });
    cy.elements().not(".policy").layout({name: "fcose", animate: false, randomize: false, fit: false, quality: "default",
      nodeSeparation: 60, idealEdgeLength: 70, fixedNodeConstraint: fixed}).run();
  }

  var refreshTimer = null, refreshing = false, again = false;
  // Each scope drawn asks what changed since its version; a diff from another version than
  // the one the page has (two refreshes crossing) is dropped for the whole graph again.
  function refreshScope(key, url) {
    var model = models[key];
    return fetchGraph(url, model && model.version).then(function (g) {
      if (g.diff && (!model || model.version !== g.since)) return fetchGraph(url);
      return g;
    }).then(function (g) {
      setModel(key, url, g);
      patch(view(models[key]), key === "root" ? null : key);
    });
  }

  function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    var work = [refreshScope("root", graphUrl)];
    Object.keys(expanded).forEach(function (nsId) {
      work.push(refreshScope(nsId, expandUrlFor(nsId.split("/")[2])));
    });
    Promise.all(work).then(function () {
      collectPaths();
      if (scope === "namespace" && !cy.nodes().length) return;
      applyFilters();
      setStatus();
      if (collapseButton && collapseButton.dataset.group) offerCollapse(collapseButton.dataset.group);  // its count
      container.dataset.version = String(parseInt(container.dataset.version || "0", 10) + 1);
    }).catch(function (error) { console.error(error); }).finally(function () {
      refreshing = false;
      if (again) { again = false; scheduleRefresh(); }
    });
  }
  function scheduleRefresh() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(function () { refreshTimer = null; refresh(); }, 300);
  }
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    if (event.detail.target && event.detail.target.classList.contains("mirror-tick")) scheduleRefresh();
  });

  // --- expanding a namespace (cluster and tenant views)

  function expand(nsNode) {
    var ns = nsNode.data("name");
    if (expanded[nsNode.id()]) return Promise.resolve();
    return fetchGraph(expandUrlFor(ns)).then(function (graph) {
      expanded[nsNode.id()] = true;
      var origin = nsNode.position();
      var added = patch(view(setModel(nsNode.id(), expandUrlFor(ns), graph)), nsNode.id(), null, false);
      nsNode.data("label", ns);
      var positions = layered(added, origin);
      added.layout({name: "preset", positions: function (n) { return positions[n.id()]; }, animate: false, fit: false}).run();
      collectPaths();
      applyFilters();
      setStatus();
    });
  }

  // A workload's pods drawn as one node: opened, its pods take its place, in a square, and the
  // drawer shows the workload with a way back (closeGroup).
  function openGroup(node) {
    var key = node.data("scopeKey"), model = models[key], origin = node.position(), positions = {};
    if (!model) return;
    var group = node.id(), workload = cy.getElementById(node.data("workload"));
    openGroups[group] = key;
    var pods = Object.keys(model.nodes).filter(function (id) {
      return model.nodes[id].kind === "Pod" && "pods:" + model.nodes[id].workload === group;
    }).sort();
    var side = Math.ceil(Math.sqrt(pods.length));
    pods.forEach(function (id, i) {
      positions[id] = {x: origin.x + ((i % side) - (side - 1) / 2) * 30, y: origin.y + (Math.floor(i / side) - (side - 1) / 2) * 30};
    });
    patch(view(model), key === "root" ? null : key, positions);
    applyFilters();
    setStatus();
    if (workload.length) openDrawer(workload);
    offerCollapse(group);
  }

  // An opened group closed again: its pods go and the group comes back at their centre;
  // nothing else moves and the zoom stays, as in a live update.
  function closeGroup(group) {
    var key = openGroups[group], model = models[key], positions = {};
    delete openGroups[group];
    offerCollapse(null);
    if (!model) return;
    var x = 0, y = 0, count = 0;
    cy.nodes("[kind = 'Pod']").forEach(function (n) {
      if (n.data("podGroup") || "pods:" + n.data("workload") !== group) return;
      x += n.position("x");
      y += n.position("y");
      count += 1;
    });
    if (count) positions[group] = {x: x / count, y: y / count};
    patch(view(model), key === "root" ? null : key, positions);
    applyFilters();
    setStatus();
  }

  // The opened group a node belongs to (one of its pods) or heads (its workload), if the
  // group would be drawn again once closed.
  function openGroupOf(node) {
    if (node.data("podGroup") || node.hasClass("group")) return null;
    var workload = node.data("kind") === "Pod" ? node.data("workload") : node.id();
    var group = "pods:" + workload, model = models[openGroups[group]];
    return workload && model && groupable(model)[workload] ? group : null;
  }

  var collapseBar = document.getElementById("topology-drawer-actions");
  var collapseButton = document.getElementById("topology-collapse");
  function offerCollapse(group) {
    if (!collapseBar) return;
    var model = group && models[openGroups[group]], pods = model && groupable(model)[group.slice("pods:".length)];
    collapseBar.hidden = !pods;
    collapseButton.dataset.group = pods ? group : "";
    document.getElementById("topology-collapse-count").textContent = pods ? String(pods.length) : "";
  }
  if (collapseButton) {
    collapseButton.addEventListener("click", function () {
      if (collapseButton.dataset.group) closeGroup(collapseButton.dataset.group);
    });
  }

  // --- drawer

  function openDrawer(node) {
    var params = "id=" + encodeURIComponent(node.id());
    var parent = node.data("parent");
    if (parent && parent.indexOf("Namespace/") === 0) params += "&namespace=" + encodeURIComponent(parent.split("/")[2]);
    var url = nodeUrl + (nodeUrl.indexOf("?") >= 0 ? "&" : "?") + params;
    htmx.ajax("GET", url, {target: "#topology-drawer", swap: "innerHTML"});
  }

  cy.on("tap", "node", function (event) {
    var node = event.target;
    if (node.hasClass("group")) return;
    if (node.data("podGroup")) { openGroup(node); return; }
    if (node.data("kind") === "Namespace" && node.data("collapsed") && scope !== "namespace") expand(node);
    openDrawer(node);
    offerCollapse(openGroupOf(node));
  });

  // --- search, filters, grouping, policy overlay

  var search = document.getElementById("topology-search");
  var kindFilter = document.getElementById("topology-kind");
  var labelFilter = document.getElementById("topology-label");
  var groupBy = document.getElementById("topology-group");
  var policies = document.getElementById("topology-policies");

  function labelMatches(node, wanted) {
    if (!wanted) return true;
    var labels = (node.data("labelText") || "").split(",");
    return wanted.split(",").every(function (term) {
      term = term.trim();
      if (!term) return true;
      if (term.indexOf("=") < 0) return labels.some(function (l) { return l.split("=")[0] === term; });
      return labels.indexOf(term.replace("==", "=")) >= 0;
    });
  }

  function applyFilters() {
    var kind = kindFilter.value, wanted = labelFilter.value.trim(), text = search.value.trim().toLowerCase();
    cy.startBatch();
    if (kind || wanted) {
      cy.nodes().forEach(function (n) {
        if (n.hasClass("group") || n.isParent()) return;
        var hide = (kind && n.data("kind") !== kind) || !labelMatches(n, wanted);
        if (n.hasClass("filtered") !== !!hide) n.toggleClass("filtered", !!hide);
      });
    } else {
      cy.nodes(".filtered").removeClass("filtered");
    }
    cy.elements(".faded, .match").removeClass("faded match");
    if (text) {
      var hits = cy.nodes().filter(function (n) {
        return (n.data("name") || "").toLowerCase().indexOf(text) >= 0 ||
          (n.data("members") || "").toLowerCase().indexOf(text) >= 0;
      });
      cy.elements().not(hits).not(hits.connectedEdges()).addClass("faded");
      hits.addClass("match");
    }
    cy.endBatch();
    drawPolicies();
  }

  // Every pair, "*" entries expanded; past POLICY_EDGE_LIMIT only the selected nodes' paths
  // are drawn (300 workloads are 90,000 pairs: a picture of nothing).
  var POLICY_EDGE_LIMIT = 1500;
  function policyPairs() {
    var named = {}, pairs = [];
    paths.forEach(function (p) {
      (p.sources || (p.source !== "*" ? [p.source] : [])).forEach(function (source) {
        named[source + ">" + p.target] = true;
        pairs.push(p.sources ? Object.assign({}, p, {source: source}) : p);
      });
    });
    paths.forEach(function (p) {
      if (p.source !== "*") return;
      p.others.forEach(function (source) {
        if (source !== p.target && !named[source + ">" + p.target]) pairs.push(Object.assign({}, p, {source: source}));
      });
    });
    return pairs;
  }

  function drawPolicies() {
    cy.edges(".policy").remove();
    if (!policies.checked) return;
    var pairs = policyPairs().filter(function (p) {
      return cy.getElementById(p.source).length && cy.getElementById(p.target).length;
    });
    container.dataset.policyPaths = String(pairs.length);
    if (pairs.length > POLICY_EDGE_LIMIT) {
      var selected = {};
      cy.nodes(":selected").forEach(function (n) { selected[n.id()] = true; });
      pairs = pairs.filter(function (p) { return selected[p.source] || selected[p.target]; });
      statusLine.textContent = container.dataset.textPolicyFocus.replace("%(count)s", container.dataset.policyPaths);
    }
    var edges = pairs.map(function (p, i) {
      return {group: "edges", classes: "policy", data: {id: "policy-" + i + "-" + p.source + ">" + p.target, source: p.source,
        target: p.target, allowed: p.allowed, relation: "policy", why: (p.why || []).join("; "), port: p.port}};
    });
    cy.add(edges);
  }
  cy.on("select unselect", "node", function () {
    if (policies.checked && parseInt(container.dataset.policyPaths || "0", 10) > POLICY_EDGE_LIMIT) drawPolicies();
  });

  function regroup() {
    var by = groupBy.value;
    cy.startBatch();
    cy.nodes().forEach(function (n) {
      if (n.data("grouped")) { n.move({parent: null}); n.data("grouped", false); }
    });
    cy.nodes(".group").remove();
    if (by) {
      cy.nodes().forEach(function (n) {
        if (n.isParent() || n.data("parent")) return;
        var key = by === "namespace" ? n.data("namespace") : n.data("host");
        if (!key) return;
        var gid = "group:" + by + ":" + key;
        if (!cy.getElementById(gid).length) cy.add({group: "nodes", classes: "group", data: {id: gid, label: key, kind: "group"}});
        n.move({parent: gid});
        n.data("grouped", true);
      });
    }
    cy.endBatch();
    runLayout(cy.elements());
    fitView();
  }

  var searchTimer = null;
  search.addEventListener("input", function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(function () {
      applyFilters();
      var hits = cy.nodes(".match");
      if (search.value.trim() && hits.length) cy.animate({fit: {eles: hits, padding: 80}, duration: 200});
    }, 150);
  });
  kindFilter.addEventListener("change", applyFilters);
  labelFilter.addEventListener("input", applyFilters);
  groupBy.addEventListener("change", regroup);
  policies.addEventListener("change", drawPolicies);
  document.getElementById("topology-fit").addEventListener("click", function () { fitView(); });
  document.getElementById("topology-relayout").addEventListener("click", function () { runLayout(cy.elements()); fitView(); });
  document.getElementById("topology-png").addEventListener("click", function () {
    var blob = cy.png({output: "blob", full: true, bg: "#ffffff", maxWidth: 8000, maxHeight: 8000});
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = "topology.png";
    document.body.appendChild(link);
    link.click();
    setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
  });
  // The reach check answers bad input with 400 and its messages: show them (htmx swaps no 4xx by default).
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "reach-result" && event.detail.xhr.status === 400) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  cy.on("mouseover", "edge.policy", function (event) { statusLine.textContent = event.target.data("why"); });

  firstGraph.then(draw).catch(function (error) { statusLine.textContent = String(error); });
})();
