// Toasts and live errors pushed over the websocket hide themselves after a while.
(function () {
  function scheduleHide(root) {
    root.querySelectorAll("[data-autohide]").forEach(function (el) {
      if (el.dataset.hideScheduled) return;
      el.dataset.hideScheduled = "1";
      setTimeout(function () { el.remove(); }, parseInt(el.dataset.autohide, 10));
    });
  }
  // Show whether live updates are flowing (the websocket is open).
  document.addEventListener("htmx:wsOpen", function () { document.body.dataset.live = "open"; });
  document.addEventListener("htmx:wsClose", function () { document.body.dataset.live = "closed"; });
  // A panel holding forms (data-live-key: its state) is swapped only when its state
  // changed, so a refresh does not wipe what the user is typing into it.
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target, incoming = event.detail.fragment && event.detail.fragment.firstElementChild;
    if (target && incoming && target.dataset && target.dataset.liveKey !== undefined && target.dataset.liveKey === incoming.dataset.liveKey) {
      event.detail.shouldSwap = false;
    }
  });
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    scheduleHide(document);
    if (event.detail.target && event.detail.target.classList.contains("mirror-tick")) scheduleLiveRefresh();
  });

  // Mirror changes arrive as ticks; re-read live tables at most every 50 ms, and once more
  // after a burst, so a flood of events costs the browser a few requests, not thousands.
  var refreshPending = false;
  function scheduleLiveRefresh() {
    if (refreshPending) return;
    refreshPending = true;
    setTimeout(function () {
      refreshPending = false;
      document.querySelectorAll("[data-live-refresh]").forEach(function (el) { htmx.trigger(el, "live-refresh"); });
    }, 50);
  }
  document.addEventListener("htmx:wsAfterMessage", function () { scheduleHide(document); });

  // Selects that apply at once (language, tenant): here rather than inline onchange
  // handlers, which the Content-Security-Policy does not run.
  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-autosubmit]")) event.target.form.submit();
  });
})();
