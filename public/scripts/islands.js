// Wakes the islands of a page (`<leptos-island>`): loads the wasm only when
// one of them scrolls into view or is first pointed at, focused or touched.
// A static file (cached, precompressed) rather than inline in every page;
// `portal` is the output name in Cargo.toml.
// The build's version (`?v=`) this loader was asked for under goes on to
// the wasm and its glue, so they are kept as long as the loader is.
(() => {
  let loading = null;
  const built = (path) => new URL(path + new URL(import.meta.url).search, import.meta.url);
  const load = () => {
    if (!loading) {
      loading = import(built("../pkg/portal.js")).then(async (mod) => {
        await mod.default({ module_or_path: built("../pkg/portal.wasm") });
        mod.hydrate();
        return mod;
      });
    }
    return loading;
  };
  const observer = "IntersectionObserver" in window
    ? new IntersectionObserver((entries) => {
        for (const e of entries) if (e.isIntersecting) wake(e.target);
      })
    : null;
  const wake = (el) => {
    if (el.dataset.hydration) return;
    el.dataset.hydration = "loading";
    if (observer) observer.unobserve(el);
    load().then((mod) => {
      const island = mod[el.dataset.component];
      if (!island) return console.warn("no wasm export for island", el.dataset.component);
      island(el);
      el.dataset.hydration = "done";
      // A click that woke the island: play it again now that it listens.
      if (el.$$pendingClick) el.$$pendingClick.click();
      // Focus that arrived before the island did: let it see it now.
      const focused = document.activeElement;
      if (focused && el.contains(focused)) focused.dispatchEvent(new FocusEvent("focusin", { bubbles: true }));
    });
  };
  for (const el of document.querySelectorAll("leptos-island")) {
    if (observer) observer.observe(el); else wake(el);
    for (const type of ["pointerover", "focusin", "touchstart"]) {
      el.addEventListener(type, () => wake(el), { once: true, passive: true });
    }
    el.addEventListener("click", (ev) => {
      if (el.dataset.hydration === "done") return;
      ev.preventDefault();
      ev.stopPropagation();
      el.$$pendingClick = ev.target;
      wake(el);
    }, { capture: true });
  }
})();
