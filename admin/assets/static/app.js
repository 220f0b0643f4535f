// Roster admin portal: small enhancements only. Every page works without
// this file; it adds copy buttons, "tick all", the tenant menu that
// switches on choice, the live table of IdP requests, and keeps the
// current menu entry in view on a phone.
(function () {
  "use strict";

  document.addEventListener("click", function (ev) {
    var b = ev.target.closest("[data-copy]");
    if (!b) return;
    var input = document.getElementById(b.getAttribute("data-copy"));
    if (!input) return;
    input.select();
    var done = function () {
      var was = b.textContent;
      b.textContent = "Copied";
      setTimeout(function () { b.textContent = was; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");
      done();
    }
  });

  document.addEventListener("change", function (ev) {
    var all = ev.target.closest("[data-check-all]");
    if (all) {
      var name = all.getAttribute("data-check-all");
      all.form.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (c) { c.checked = all.checked; });
      return;
    }
    var auto = ev.target.closest("[data-autosubmit]");
    if (auto && auto.value) auto.form.submit();
  });

  // On a phone the menu is a strip that scrolls sideways: bring the
  // current page's entry into view.
  var nav = document.querySelector(".sidenav");
  var cur = nav && nav.querySelector('[aria-current="page"]');
  var showCurrent = function () {
    if (cur && nav.scrollWidth > nav.clientWidth) {
      nav.scrollLeft += cur.getBoundingClientRect().left - nav.getBoundingClientRect().left - (nav.clientWidth - cur.offsetWidth) / 2;
    }
  };
  showCurrent();
  window.addEventListener("resize", showCurrent);

  // Live "last requests from your IdP": refetch the rows every 5 seconds
  // while the page is visible.
  var live = document.querySelector("[data-live]");
  if (live) {
    var url = live.getAttribute("data-live");
    setInterval(function () {
      if (document.hidden) return;
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null) return;
          var tmp = document.createElement("tbody");
          tmp.innerHTML = html;
          live.replaceChildren.apply(live, Array.prototype.slice.call(tmp.children));
        })
        .catch(function () {});
    }, 5000);
  }
})();
