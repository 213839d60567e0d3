// Chromium's view of a page: DOMContentLoaded, largest contentful paint and
// when the trend chart's SVG is in the document (CHART, a selector), median
// of RUNS loads, with a signed-in session cookie (`-`: none). Used by
// scripts/bench-pages.sh:
//   node page-timing.mjs BASE_URL COOKIE PATH...
import { chromium } from '@playwright/test';

const [base, cookie, ...paths] = process.argv.slice(2);
const RUNS = Number(process.env.RUNS ?? 15);
const CHART = process.env.CHART ?? '[data-testid="trend-chart"]';
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
if (cookie !== '-') {
  const [name, value] = cookie.split('=');
  await context.addCookies([{ name, value, url: base }]);
}
await context.addInitScript((chart) => {
  window.__lcp = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__lcp = e.startTime;
  }).observe({ type: 'largest-contentful-paint', buffered: true });
  new MutationObserver((_, observer) => {
    if (document.querySelector(chart)) {
      window.__chart = performance.now();
      observer.disconnect();
    }
  }).observe(document, { childList: true, subtree: true });
}, CHART);
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const page = await context.newPage();
for (const path of paths) {
  const dcl = [], lcp = [], chart = [];
  for (let i = 0; i < RUNS + 2; i++) {
    await page.goto(base + path, { waitUntil: 'load' });
    await page.waitForTimeout(100);
    const t = await page.evaluate(() => ({
      dcl: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
      lcp: window.__lcp,
      chart: window.__chart ?? null,
    }));
    if (i < 2) continue; // warm-up
    dcl.push(t.dcl); lcp.push(t.lcp); if (t.chart !== null) chart.push(t.chart);
  }
  const ms = (x) => (x === undefined ? '-' : `${x.toFixed(0)} ms`);
  console.log(`${path.padEnd(22)} DOMContentLoaded ${ms(median(dcl))}  LCP ${ms(median(lcp))}  trend chart in DOM ${ms(median(chart))}`);
}
await browser.close();
