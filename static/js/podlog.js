// The live pod log panel of the app page (templates/workloads/_pod_log.html).
// The server pushes batches of lines into the hidden #podlog-inbox (hx-swap-oob="beforeend");
// this moves the batches of the panel's own follow into its view and throws away those of a
// follow the page has left (its follower stops by itself once nobody subscribes). It also
// pauses (lines are held, at most the panel's size; older held lines are dropped and
// counted), resumes, searches within the shown lines, and trims the view to its size.
(function () {
  var held = [];
  var dropped = 0;
  var paused = false;

  function panel() { return document.getElementById("pod-log-panel"); }
  function part(name) { var p = panel(); return p && p.querySelector("[data-podlog-" + name + "]"); }
  function maxLines() { return parseInt(panel().dataset.maxLines, 10) || 1000; }
  function text(name, values) {
    return panel().dataset["text" + name].replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }

  // Open a panel: from the Logs buttons of the pods table, the container links, "Follow again".
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-pod-log-url]");
    if (button) {
      htmx.ajax("GET", button.dataset.podLogUrl, { target: "#pod-log", swap: "innerHTML" });
      return;
    }
    if (event.target.closest("[data-podlog-close]")) {
      document.getElementById("podlog-subscription").innerHTML = "";  // no more heartbeats
      document.getElementById("pod-log").innerHTML = "";
    } else if (event.target.closest("[data-podlog-pause]")) {
      setPaused(!paused);
    }
  });

  // A refused panel (bad pod or container) comes with a 400 and an explanation: show it.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "pod-log" && event.detail.xhr.status === 400) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (!event.detail.target || event.detail.target.id !== "pod-log" || !panel()) return;
    held = []; dropped = 0; paused = false;
    panel().scrollIntoView({ block: "nearest" });
  });

  document.addEventListener("input", function (event) {
    if (event.target.matches("[data-podlog-search]")) filterAll();
  });

  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var inbox = event.detail.target;
    if (!inbox || inbox.id !== "podlog-inbox") return;
    var current = panel() && panel().dataset.token;
    Array.from(inbox.children).forEach(function (batch) {
      batch.remove();
      if (current && batch.dataset.podlog === current) take(batch);
    });
  });

  function take(batch) {
    var view = part("lines");
    if (batch.hasAttribute("data-reset")) {
      view.replaceChildren();
      held = []; dropped = 0;
    }
    if (batch.dataset.state) showState(batch.dataset.state, batch.dataset.message);
    var lines = Array.from(batch.children);
    if (!lines.length) return;
    if (paused) {
      held = held.concat(lines);
      var extra = held.length - maxLines();
      if (extra > 0) { held.splice(0, extra); dropped += extra; }
      showHeld();
    } else {
      append(lines);
    }
  }

  function append(lines) {
    var view = part("lines");
    var atBottom = view.scrollTop + view.clientHeight >= view.scrollHeight - 8;
    var query = searchQuery();
    lines.forEach(function (line) { filter(line, query); });
    view.append.apply(view, lines);
    var extra = view.children.length - maxLines();
    for (var i = 0; i < extra; i++) view.firstElementChild.remove();
    if (atBottom) view.scrollTop = view.scrollHeight;
    if (query) showMatches(query);
  }

  function showState(state, message) {
    var status = part("status");
    status.textContent = message || "";
    status.dataset.state = state;
    status.classList.toggle("text-danger", state === "error");
    var done = state !== "following";
    part("again").hidden = !done || state === "idle";
    if (done && state !== "idle") {
      // The follower will not start again: stop subscribing (an idle one may, when the page comes back).
      document.getElementById("podlog-subscription").innerHTML = "";
    }
  }

  function setPaused(value) {
    paused = value;
    var button = part("pause");
    button.textContent = text(paused ? "Resume" : "Pause", {});
    button.setAttribute("aria-pressed", String(paused));
    if (!paused) {
      var lines = held;
      held = []; dropped = 0;
      if (lines.length) append(lines);
    }
    showHeld();
  }

  function showHeld() {
    var note = part("held");
    note.hidden = !paused;
    note.textContent = dropped ? text("Dropped", { held: held.length, dropped: dropped }) : text("Held", { held: held.length });
  }

  // Search: case-insensitive, in the browser only; matching lines stay, with the match marked.
  function searchQuery() {
    var input = part("search");
    return input ? input.value.trim().toLowerCase() : "";
  }

  function filterAll() {
    var query = searchQuery();
    Array.from(part("lines").children).forEach(function (line) { filter(line, query); });
    showMatches(query);
  }

  function filter(line, query) {
    var content = line.textContent;
    var at = query ? content.toLowerCase().indexOf(query) : -1;
    line.hidden = Boolean(query) && at < 0;
    if (at < 0) {
      if (line.firstElementChild) line.textContent = content;  // drop an old mark
      return;
    }
    var parts = [];
    var lower = content.toLowerCase();
    var from = 0;
    while (at >= 0) {
      var mark = document.createElement("mark");
      mark.className = "p-0";
      mark.textContent = content.slice(at, at + query.length);
      parts.push(content.slice(from, at), mark);
      from = at + query.length;
      at = lower.indexOf(query, from);
    }
    parts.push(content.slice(from));
    line.replaceChildren.apply(line, parts);
  }

  function showMatches(query) {
    var note = part("matches");
    var lines = part("lines").children;
    note.hidden = !query;
    if (!query) return;
    var matches = 0;
    for (var i = 0; i < lines.length; i++) if (!lines[i].hidden) matches++;
    note.textContent = text("Matches", { matches: matches, total: lines.length });
  }
})();
