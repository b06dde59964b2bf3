// The ipywidgets html-manager typesets widget labels through MathJax 2's API
// (MathJax.Hub.Queue); the book loads MathJax 3, which has no Hub. Map the one call it makes.
(function () {
  if (typeof window.MathJax === "undefined" || window.MathJax.Hub) return;
  window.MathJax.Hub = {
    Queue: function (command) {
      var el = Array.isArray(command) ? command[2] : undefined;
      var mj = window.MathJax;
      if (mj.startup && mj.startup.promise && mj.typesetPromise) {
        mj.startup.promise.then(function () { return mj.typesetPromise(el ? [el] : undefined); });
      }
    },
  };
})();
