// The support chat's embed script: a classic script any page can include.
//
//   <script src="https://bridge.example/widget/chat.js"></script>
//   <script>SupportChat.init({title: "Northwind Bank"});</script>
//
// It stays tiny: the widget itself (customer/widget.js, an ES module) is
// imported from next to this file, whichever site the page is on.
(function () {
  "use strict";

  if (window.SupportChat) return; // included twice: keep the first

  // Only known while this script first runs.
  var scriptUrl = document.currentScript && document.currentScript.src;
  var module = null;
  var instance = null;

  function load() {
    if (!scriptUrl) {
      return Promise.reject(new Error("SupportChat: chat.js must be loaded with <script src> (not inlined or bundled)"));
    }
    if (!module) module = import(new URL("customer/widget.js", scriptUrl).href);
    return module;
  }

  function whenBodyExists() {
    if (document.body) return Promise.resolve();
    return new Promise(function (resolve) {
      document.addEventListener("DOMContentLoaded", function () { resolve(); }, { once: true });
    });
  }

  window.SupportChat = {
    /** Adds the widget to the page; resolves to it (open, close, toggle, send, on, destroy). One per page. */
    init: function (options) {
      if (instance) {
        console.warn("SupportChat: init() was called again; the widget is already on the page.");
        return instance;
      }
      instance = Promise.all([load(), whenBodyExists()]).then(function (loaded) {
        var widget = new loaded[0].ChatWidget(options);
        widget.on("destroy", function () { instance = null; }); // init() may add a new one
        return widget.ready;
      });
      instance.catch(function (error) {
        console.error("SupportChat: the widget could not start.", error);
        instance = null;
      });
      return instance;
    },
    /** The widget's module, for pages that build widgets themselves: new (await SupportChat.load()).ChatWidget(options). */
    load: load,
  };
})();
