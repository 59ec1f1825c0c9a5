// The web terminal of the app page (templates/workloads/_terminal.html, workloads/terminal.py).
// A Terminal button loads the panel; this loads xterm.js (vendored, once), opens the console's
// own socket /ws/terminal/<token>/ and relays: keystrokes go out as binary frames, the window
// size as {"resize": {"cols", "rows"}}; binary frames coming in are the terminal's output, text
// frames its state ({"state", "message", "exit_code"}). The browser never talks to the cluster.
(function () {
  var current = null; // {socket, term, fit}
  var assets = null; // a promise: xterm.js and its fit addon loaded

  function host() { return document.getElementById("terminal"); }
  function panel() { return document.getElementById("terminal-panel"); }
  function part(name) { var p = panel(); return p && p.querySelector("[data-terminal-" + name + "]"); }

  function load(src, tag) {
    return new Promise(function (resolve, reject) {
      var element = document.createElement(tag);
      if (tag === "script") { element.src = src; } else { element.rel = "stylesheet"; element.href = src; }
      element.onload = resolve;
      element.onerror = function () { reject(new Error("could not load " + src)); };
      document.head.appendChild(element);
    });
  }

  function loadAssets() {
    if (!assets) {
      var data = host().dataset;
      assets = Promise.all([load(data.xtermCss, "link"), load(data.xtermJs, "script")]).then(function () {
        return load(data.xtermFitJs, "script");
      });
    }
    return assets;
  }

  function status(text, failed) {
    var element = part("status");
    if (!element) return;
    element.textContent = text;
    element.classList.toggle("text-danger", Boolean(failed));
  }

  function stop() {
    if (!current) return;
    var session = current;
    current = null;
    window.removeEventListener("resize", session.onWindowResize);
    if (session.socket.readyState <= 1) session.socket.close();
    session.term.dispose();
  }

  function start() {
    var p = panel();
    if (!p || !p.dataset.socket) return;
    loadAssets().then(function () {
      if (panel() !== p) return; // replaced meanwhile
      var term = new window.Terminal({ cursorBlink: true, fontSize: 13, scrollback: 2000, convertEol: false });
      var fit = new window.FitAddon.FitAddon();
      term.loadAddon(fit);
      term.open(part("screen"));
      fit.fit();
      var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      var socket = new WebSocket(scheme + window.location.host + p.dataset.socket);
      socket.binaryType = "arraybuffer";
      var encoder = new TextEncoder();
      var session = { socket: socket, term: term, fit: fit, ended: false };
      session.onWindowResize = function () { fit.fit(); };
      current = session;
      window.addEventListener("resize", session.onWindowResize);

      function sendSize() {
        if (socket.readyState === 1) socket.send(JSON.stringify({ resize: { cols: term.cols, rows: term.rows } }));
      }
      socket.onopen = function () { sendSize(); term.focus(); };
      term.onResize(sendSize);
      term.onData(function (data) { if (socket.readyState === 1) socket.send(encoder.encode(data)); });
      term.onBinary(function (data) {
        if (socket.readyState !== 1) return;
        var bytes = new Uint8Array(data.length);
        for (var i = 0; i < data.length; i++) bytes[i] = data.charCodeAt(i) & 255;
        socket.send(bytes);
      });
      socket.onmessage = function (event) {
        if (typeof event.data !== "string") {
          term.write(new Uint8Array(event.data));
          return;
        }
        var message = JSON.parse(event.data);
        if (message.error) {
          status(message.error, true);
        } else if (message.state === "open") {
          status(p.dataset.textOpen, false);
        } else if (message.state) {
          session.ended = true;
          status(message.message || p.dataset.textEnded, message.state === "error");
          term.write("\r\n\x1b[2m" + (message.message || p.dataset.textEnded) + "\x1b[0m\r\n");
        }
      };
      socket.onclose = function () {
        if (!session.ended && current === session) status(p.dataset.textLost, true);
      };
    }).catch(function (error) { status(String(error), true); });
  }

  // Open a panel from a Terminal button of the pods table.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-terminal-url]");
    if (button) {
      htmx.ajax("GET", button.dataset.terminalUrl, { target: "#terminal", swap: "innerHTML" });
    } else if (event.target.closest("[data-terminal-close]")) {
      stop();
      host().innerHTML = "";
    }
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (!event.detail.target || event.detail.target.id !== "terminal") return;
    stop(); // one terminal at a time on a page
    if (event.detail.xhr.status === 400) { // refused (pod not running, no such container): show why
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (!event.detail.target || event.detail.target.id !== "terminal" || !panel()) return;
    panel().scrollIntoView({ block: "nearest" });
    start();
  });

  window.addEventListener("pagehide", stop);
})();
