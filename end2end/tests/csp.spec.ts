import { expect, Page, test } from '@playwright/test';
import { DEMO, signIn } from './helpers';

// The pages run under a strict content security policy (no 'unsafe-inline'
// scripts): everything they do, islands included, works without a single
// violation, and a script injected into a page does not run.

/** Records every CSP violation the page reports, from its first script on. */
async function watchViolations(page: Page): Promise<() => Promise<string[]>> {
  await page.addInitScript(() => {
    (window as any).__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      (window as any).__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`);
    });
  });
  const console: string[] = [];
  page.on('console', (m) => {
    if (m.text().includes('Content Security Policy')) console.push(m.text());
  });
  return async () => [...(await page.evaluate(() => (window as any).__violations as string[])), ...console];
}

test('every page, islands included, works with no policy violation', async ({ page }) => {
  const violations = await watchViolations(page);
  await page.goto('/login');
  await page.goto('/signup');
  await signIn(page, DEMO.enterpriseOwner, '/analytics');
  // Wake the chart islands and use them.
  const trend = page.getByTestId('trend-chart');
  await trend.scrollIntoViewIfNeeded();
  await expect(async () => {
    await page.mouse.move(0, 0);
    await trend.locator('.trend-point').last().hover();
    await expect(page.locator('.trend-chart .chart-tooltip')).toBeVisible({ timeout: 500 });
  }).toPass();
  await page.getByTestId('compare-toggle').click();
  await expect(page).toHaveURL(/compare/);
  const heatmap = page.getByTestId('heatmap');
  await heatmap.scrollIntoViewIfNeeded();
  await expect(async () => {
    await page.mouse.move(0, 0);
    await heatmap.locator('.heat-cell').first().hover();
    await expect(page.locator('.heatmap-chart .chart-tooltip')).toBeVisible({ timeout: 500 });
  }).toPass();
  expect(await violations()).toEqual([]);
  for (const path of ['/agents', '/settings/tier', '/settings/team', '/settings/audit', '/settings/account', '/no/such/page']) {
    await page.goto(path);
    expect(await violations(), path).toEqual([]);
  }
  // An agent's page.
  await page.goto('/agents');
  await page.locator('tbody a[href^="/agents/"]').first().click();
  await expect(page).toHaveURL(/\/agents\/.+/);
  expect(await violations()).toEqual([]);
});

test('a script injected into a page does not run', async ({ page }) => {
  const violations = await watchViolations(page);
  await signIn(page, DEMO.proOwner, '/agents');
  // As if a stored value had slipped through as markup: an inline script
  // element added to the page.
  await page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.__injected = true;';
    document.body.appendChild(s);
  });
  await expect.poll(violations).toContainEqual(expect.stringContaining('script-src'));
  expect(await page.evaluate(() => (window as any).__injected)).toBeUndefined();
});
