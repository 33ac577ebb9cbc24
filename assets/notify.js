// meshdeck: browser notifications of alerts. The Alerts page's "Notify me in this browser"
// button asks for permission (browsers allow that only on a click); then every live `alert`
// event of the page's stream shows a notification, once per alert over all open tabs.
// No inline script anywhere: the content security policy forbids it.
(function () {
  "use strict";
  var supported = "Notification" in window;

  function button() {
    return document.getElementById("notify-me");
  }

  function update() {
    var b = button();
    if (!b) return;
    b.hidden = !supported || Notification.permission !== "default";
  }

  document.addEventListener("click", function (e) {
    var b = button();
    if (!b || !supported || (e.target !== b && !b.contains(e.target))) return;
    var asked = Notification.requestPermission(update);
    if (asked && asked.then) asked.then(update);
  });

  document.addEventListener("htmx:sseMessage", function (e) {
    var ev = e.detail;
    if (!supported || !ev || ev.type !== "alert" || Notification.permission !== "granted") return;
    var doc = new DOMParser().parseFromString(String(ev.data || ""), "text/html");
    var pill = doc.querySelector("[data-note-id]");
    if (!pill) return;
    try {
      var n = new Notification(pill.getAttribute("data-note-title") || "meshdeck", {
        body: pill.getAttribute("data-note-body") || "",
        tag: "meshdeck-alert-" + pill.getAttribute("data-note-id"),
      });
      n.onclick = function () {
        window.focus();
        window.location.href = "/alerts";
      };
    } catch (err) {
      // Some browsers only notify from a service worker; the page shows the alert anyway.
    }
  });

  document.addEventListener("DOMContentLoaded", update);
  document.addEventListener("htmx:afterSwap", update);
  update();
})();
