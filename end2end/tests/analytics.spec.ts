import { APIRequestContext, expect, Page, test } from '@playwright/test';
import { DEMO, signIn } from './helpers';

// Globex (enterprise, Europe/Berlin) is the analytics tenant: no agent limit,
// and no other spec issues tokens for it.
test.describe.configure({ mode: 'serial' });

async function createAgent(page: Page, name: string): Promise<{ id: string; secret: string }> {
  await page.goto('/agents');
  await page.getByText('Register an agent').click();
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Agent type').fill('analyst');
  await page.getByLabel('Owner').fill('e2e');
  await page.getByLabel('Environment').selectOption('production');
  await page.getByLabel('Capabilities').fill('reports:read analytics:read');
  await page.getByRole('button', { name: 'Create agent' }).click();
  await expect(page.getByRole('heading', { name: 'Agent created' })).toBeVisible();
  return {
    id: (await page.getByTestId('client-id').textContent())!.trim(),
    secret: (await page.getByTestId('client-secret').textContent())!.trim(),
  };
}

async function token(request: APIRequestContext, agent: { id: string; secret: string }) {
  const res = await request.post('/api/v1/token', {
    form: { grant_type: 'client_credentials' },
    headers: { authorization: 'Basic ' + Buffer.from(`${agent.id}:${agent.secret}`).toString('base64') },
  });
  expect(res.status()).toBe(200);
  return (await res.json()).access_token as string;
}

async function api(request: APIRequestContext, bearer: string, path: string) {
  const res = await request.get(path, { headers: { authorization: `Bearer ${bearer}` } });
  expect(res.status()).toBe(200);
  return res.json();
}

test('the trend shows exactly the API numbers after known tokens, heatmap and table included', async ({ page, request }) => {
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));

  await signIn(page, DEMO.enterpriseOwner, '/analytics');
  await expect(page.getByTestId('trend-chart')).toBeVisible();
  const agent = await createAgent(page, `e2e-analytics-${Date.now()}`);
  let bearer = '';
  for (let i = 0; i < 3; i++) bearer = await token(request, agent);

  const trend = await api(request, bearer, '/api/v1/analytics/tokens?days=30');
  expect(trend.data).toHaveLength(30);
  await page.goto('/analytics?days=30');
  const points = page.locator('[data-testid="trend-chart"] .trend-point');
  await expect(points).toHaveCount(30);
  const shown = await points.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-count'))));
  expect(shown).toEqual(trend.data.map((d: { count: number }) => d.count));
  expect(shown[29]).toBeGreaterThanOrEqual(3);

  // Heatmap: 168 cells, in the tenant's zone, same numbers as the API.
  const cells = page.locator('[data-testid="heatmap"] .heat-cell');
  await expect(cells).toHaveCount(168);
  await expect(page.getByTestId('heatmap-zone')).toHaveText('Europe/Berlin');
  const activity = await api(request, bearer, '/api/v1/analytics/activity?days=30');
  const heat = await cells.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-count'))));
  // The API call just made counts too: compare everything but its hour.
  const apiHeat = activity.data.map((c: { count: number }) => c.count);
  const differing = heat.filter((v, i) => v !== apiHeat[i]);
  expect(differing.length).toBeLessThanOrEqual(1);

  // Per-agent table: the new agent with its 3 tokens, every agent listed.
  const agents = await api(request, bearer, '/api/v1/analytics/agents');
  await page.getByLabel('Filter agents by name').fill('e2e-analytics');
  await page.getByRole('button', { name: 'Filter' }).click();
  const row = page.locator(`[data-agent-id="${agent.id}"]`);
  await expect(row.locator('[data-col="tokens"]')).toHaveText('3');
  await page.goto('/analytics?sort=name&dir=asc');
  const all = agents.data.length as number;
  await expect(page.getByText(`${all} agents ·`)).toBeVisible();
  for (const a of agents.data.slice(0, 10)) {
    const r = page.locator(`[data-agent-id="${a.agent_id}"]`);
    if (await r.count()) {
      await expect(r.locator('[data-col="tokens"]')).toHaveText(a.tokens_issued.toLocaleString('en-US'));
    }
  }

  // The island hydrates: hovering a point shows its exact value and date.
  await points.nth(29).hover();
  await expect(page.locator('.trend-chart .chart-tooltip')).toContainText('tokens');
  expect(errors).toEqual([]);
});

test('range control keeps the view in the URL, and comparison toggles', async ({ page }) => {
  await signIn(page, DEMO.enterpriseOwner, '/analytics');
  await expect(page.getByTestId('range-30')).toHaveAttribute('aria-current', 'true');
  await page.getByTestId('range-7').click();
  await expect(page).toHaveURL(/days=7/);
  await expect(page.locator('[data-testid="trend-chart"] .trend-point')).toHaveCount(7);
  await page.getByTestId('range-90').click();
  await expect(page).toHaveURL(/days=90/);
  await expect(page.locator('[data-testid="trend-chart"] .trend-point')).toHaveCount(90);

  const toggle = page.getByTestId('compare-toggle');
  const lastPoint = page.locator('[data-testid="trend-chart"] .trend-point').nth(89);
  await expect(page.locator('.trend-previous')).toHaveCSS('display', 'none');
  await lastPoint.hover();
  await expect(page.locator('.trend-chart .chart-tooltip')).toContainText('today, so far');
  await expect(page.locator('.trend-chart .tip-previous')).toHaveCount(0);
  await toggle.click();
  await expect(page.locator('.trend-previous')).not.toHaveCSS('display', 'none');
  await expect(page).toHaveURL(/compare=1/);
  await expect(toggle).toHaveText('Hide previous period');
  await expect(toggle).toHaveAttribute('aria-pressed', 'true');
  await expect(toggle).not.toHaveAttribute('href', /compare=1/);
  // The tooltip names the same day of the previous period while comparing.
  await lastPoint.hover();
  await expect(page.locator('.trend-chart .tip-previous')).toBeVisible();
  // And back, in place.
  await toggle.click();
  await expect(page.locator('.trend-previous')).toHaveCSS('display', 'none');
  await expect(page).not.toHaveURL(/compare=1/);
  await expect(toggle).toHaveText('Compare with previous period');
  await expect(toggle).toHaveAttribute('aria-pressed', 'false');
  await toggle.click();
  await expect(page).toHaveURL(/compare=1/);
  // A link reproduces the view.
  await page.reload();
  await expect(page.locator('.trend-previous')).not.toHaveCSS('display', 'none');
  await expect(page.locator('[data-testid="trend-chart"] .trend-point')).toHaveCount(90);
});

test('CSV downloads carry the range and what is on screen', async ({ page }) => {
  await signIn(page, DEMO.enterpriseOwner, '/analytics?days=7');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-daily').click()]);
  expect(download.suggestedFilename()).toMatch(/^token-trend-7d-\d{4}-\d{2}-\d{2}-to-\d{4}-\d{2}-\d{2}\.csv$/);
  const csv = require('fs').readFileSync(await download.path(), 'utf8') as string;
  const lines = csv.trim().split(/\r?\n/);
  expect(lines[0]).toBe('date,tokens_issued,api_calls,refused');
  expect(lines).toHaveLength(8);
  const onScreen = await page
    .locator('[data-testid="trend-chart"] .trend-point')
    .evaluateAll((els) => els.map((e) => e.getAttribute('data-count')));
  expect(lines.slice(1).map((l) => l.split(',')[1])).toEqual(onScreen);

  const [agents] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-agents').click()]);
  expect(agents.suggestedFilename()).toMatch(/^agent-usage-\d{4}-\d{2}\.csv$/);
});

test('charts are in the HTML and visible with JavaScript disabled', async ({ browser, baseURL }) => {
  const context = await browser.newContext({ javaScriptEnabled: false, baseURL });
  const page = await context.newPage();
  await signIn(page, DEMO.enterpriseOwner, '/analytics');
  await expect(page.getByTestId('trend-chart')).toBeVisible();
  await expect(page.locator('[data-testid="trend-chart"] .trend-point')).toHaveCount(30);
  await expect(page.getByTestId('heatmap')).toBeVisible();
  await page.getByText('View as table').first().click();
  await expect(page.getByTestId('trend-table')).toBeVisible();
  // Comparison without JavaScript: the toggle is a link.
  await page.getByTestId('compare-toggle').click();
  await expect(page).toHaveURL(/compare=1/);
  await expect(page.locator('.trend-previous')).not.toHaveCSS('display', 'none');
  await context.close();
});

test('the wasm loads only when a chart scrolls into view, never on pages without islands', async ({ page }) => {
  const wasm: string[] = [];
  page.on('request', (r) => new URL(r.url()).pathname.endsWith('.wasm') && wasm.push(r.url()));
  await page.setViewportSize({ width: 1000, height: 260 });
  await signIn(page, DEMO.enterpriseOwner, '/agents');
  await page.goto('/settings/tier');
  expect(wasm).toEqual([]);

  await page.goto('/analytics');
  await page.waitForLoadState('networkidle');
  expect(wasm).toEqual([]);
  await page.getByTestId('heatmap').scrollIntoViewIfNeeded();
  await expect.poll(() => wasm.length).toBe(1);
  // Under the build's version, as the loader was: kept by the browser until
  // a new build.
  expect(wasm[0]).toMatch(/\/pkg\/portal\.wasm\?v=[0-9a-f]{12}$/);
  await page.locator('[data-testid="heatmap"] .heat-cell').first().hover();
  await expect(page.locator('.heatmap-chart .chart-tooltip')).toContainText('requests');
});

test('another tenant never sees these numbers', async ({ page, request }) => {
  await signIn(page, DEMO.enterpriseOwner, '/agents');
  const globexAgent = await createAgent(page, `e2e-isolation-${Date.now()}`);
  await token(request, globexAgent);
  await page.context().clearCookies();
  await signIn(page, DEMO.freeOwner, '/analytics');
  await expect(page.getByTestId('tenant-name')).toHaveText('Northwind Agents');
  await expect(page.locator(`[data-agent-id="${globexAgent.id}"]`)).toHaveCount(0);
  expect(await page.content()).not.toContain(globexAgent.id);
  const res = await page.request.get('/analytics/export/agents.csv');
  expect(await res.text()).not.toContain(globexAgent.id);
});

test('the heatmap is one tab stop walked with the arrow keys, with its tooltip', async ({ page }) => {
  await signIn(page, DEMO.enterpriseOwner, '/analytics');
  const heatmap = page.getByTestId('heatmap');
  await heatmap.scrollIntoViewIfNeeded();
  const cell = (i: number) => heatmap.locator('.heat-cell').nth(i);
  // The island hydrates lazily: hover until its styled tooltip answers.
  await expect(async () => {
    await page.mouse.move(0, 0);
    await cell(0).hover();
    await expect(page.locator('.heatmap-chart .chart-tooltip')).toContainText('Sunday 00:00–01:00', { timeout: 500 });
  }).toPass();
  await cell(0).focus();
  await page.keyboard.press('ArrowRight');
  await expect(cell(1)).toBeFocused();
  await page.keyboard.press('ArrowDown');
  await expect(cell(25)).toBeFocused();
  await expect(page.locator('.heatmap-chart .chart-tooltip')).toContainText('Monday 01:00–02:00');
  await expect(heatmap.locator('[tabindex="0"]')).toHaveCount(1);
  await expect(cell(25)).toHaveAttribute('tabindex', '0');
});

test('the trend is one tab stop walked with the arrow keys, with its tooltip', async ({ page }) => {
  await signIn(page, DEMO.enterpriseOwner, '/analytics?days=30');
  const trend = page.getByTestId('trend-chart');
  const point = (i: number) => trend.locator('.trend-point').nth(i);
  await expect(trend.locator('[tabindex="0"]')).toHaveCount(1);
  await expect(point(29)).toHaveAttribute('tabindex', '0');
  // The island hydrates lazily: hover until its styled tooltip answers.
  await expect(async () => {
    await page.mouse.move(0, 0);
    await point(29).hover();
    await expect(page.locator('.trend-chart .chart-tooltip')).toContainText('today, so far', { timeout: 500 });
  }).toPass();
  await point(29).focus();
  await page.keyboard.press('ArrowLeft');
  await expect(point(28)).toBeFocused();
  await expect(point(28)).toHaveAttribute('tabindex', '0');
  await expect(trend.locator('[tabindex="0"]')).toHaveCount(1);
  const tooltip = page.locator('.trend-chart .chart-tooltip');
  await expect(tooltip).toContainText('tokens');
  await expect(tooltip).not.toContainText('today');
  // Whatever the mouse does meanwhile (it was over today's point; focusing
  // may scroll the page under it): once it leaves, the focused point's
  // tooltip is still shown.
  await page.mouse.move(1, 1);
  await expect(tooltip).toContainText('tokens');
  await expect(tooltip).not.toContainText('today');
  // The tooltip sits just above the point it describes.
  const [tip, at] = [(await tooltip.boundingBox())!, (await point(28).boundingBox())!];
  expect(Math.abs(tip.x + tip.width / 2 - (at.x + at.width / 2))).toBeLessThan(3);
  expect(tip.y + tip.height).toBeLessThanOrEqual(at.y);
  expect(tip.y + tip.height).toBeGreaterThan(at.y - 20);
  // The keys stop at the ends.
  for (let i = 0; i < 30; i++) await page.keyboard.press('ArrowLeft');
  await expect(point(0)).toBeFocused();
  await expect(tooltip).toContainText('tokens');
});
