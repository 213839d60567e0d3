(() => {
  let loading = null;
  const load = () => {
    if (!loading) {
      loading = import("__JS__").then(async (mod) => {
        await mod.default({ module_or_path: "__WASM__" });
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
      if (focused && el.contains(focused)) focused.dispatchEvent(new FocusEvent("focus"));
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
})
