// An app's log timeline (templates/logs/app_timeline.html, monitoring/logs/live.py). The page
// shows the archived lines; this opens the socket in #timeline's data-socket and puts each row
// it sends in its place by time (data-ts, microseconds), once (data-key: the archive's rows
// count too), keeping at most MAX_ROWS rows. Frames: {"rows": html, "since"}, {"state",
// "message"}, {"note"}. A socket that drops is opened again, going on from the newest row. The
// page's ?pod= goes to the socket too: that pod is followed live first.
(function () {
  var MAX_ROWS = 3000;

  function start() {
    var box = document.getElementById("timeline");
    if (!box || !box.dataset.socket) return;
    var status = document.querySelector("[data-timeline-status]");
    var note = document.querySelector("[data-timeline-note]");
    var keys = new Set();
    box.querySelectorAll(".timeline-line[data-key]").forEach(function (row) { keys.add(row.dataset.key); });
    var template = document.createElement("template");
    var address = new URL(box.dataset.socket, window.location.href);
    var picked = new URLSearchParams(window.location.search).get("pod");
    if (picked) address.searchParams.set("pod", picked);
    var delay = 1000;
    var finished = false;
    box.scrollTop = box.scrollHeight;

    function show(text, failed) {
      status.textContent = text;
      status.classList.toggle("text-danger", Boolean(failed));
    }

    function place(row) {
      if (keys.has(row.dataset.key)) return;
      keys.add(row.dataset.key);
      var ts = Number(row.dataset.ts);
      var before = box.lastElementChild;
      while (before && Number(before.dataset.ts) > ts) before = before.previousElementSibling;
      box.insertBefore(row, before ? before.nextSibling : box.firstChild);
    }

    function insert(html) {
      var atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
      template.innerHTML = html;
      Array.prototype.slice.call(template.content.children).forEach(place);
      while (box.children.length > MAX_ROWS) {
        keys.delete(box.firstElementChild.dataset.key);
        box.removeChild(box.firstElementChild);
      }
      if (atEnd) box.scrollTop = box.scrollHeight;
    }

    function connect() {
      var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      var socket = new WebSocket(scheme + window.location.host + address.pathname + address.search);
      socket.onopen = function () { delay = 1000; };
      socket.onmessage = function (event) {
        var message = JSON.parse(event.data);
        if (message.rows) {
          insert(message.rows);
          if (message.since !== undefined && message.since !== null) address.searchParams.set("since", message.since);
          var last = box.lastElementChild;
          if (last && last.dataset.ts) address.searchParams.set("from", last.dataset.ts);
        }
        if (message.state) {
          show(message.message, message.state === "error");
          if (message.state !== "following") finished = true;
        }
        if (message.note) {
          note.textContent = message.note;
          note.hidden = false;
        }
      };
      socket.onclose = function (event) {
        if (finished || event.code >= 4000) return; // refused or stopped: the page says why
        show(box.dataset.reconnecting, true);
        window.setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30000);
      };
    }

    connect();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
