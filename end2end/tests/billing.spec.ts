import { expect, test } from '@playwright/test';
import { DEMO, signIn } from './helpers';
import { BILLING_PORT } from '../playwright.config';

// Northwind (free) upgrades through the local Stripe test double, on a server
// of its own: the upgrade would change what the agents spec expects.
test.use({ baseURL: `http://127.0.0.1:${BILLING_PORT}` });
test.describe.configure({ mode: 'serial' });

test('a free tenant sees limits, usage and an enabled "Upgrade to Pro"', async ({ page }) => {
  await signIn(page, DEMO.freeAdmin, '/settings/tier');
  await expect(page.getByTestId('plan-name')).toHaveText('Free');
  await expect(page.getByTestId('limit-tokens').getByTestId('amount')).toHaveText(/of 1,000$/);
  await expect(page.getByTestId('limit-api_calls').getByTestId('amount')).toHaveText(/of 1,000$/);
  await expect(page.getByTestId('limit-agents').getByTestId('amount')).toHaveText(/of 10$/);
  await expect(page.getByTestId('test-mode')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Upgrade to Pro' })).toBeEnabled();
});

test('the limits shown are the ones enforced', async ({ page, request }) => {
  await signIn(page, DEMO.freeAdmin, '/settings/tier');
  const shown = (await page.getByTestId('limit-tokens').getByTestId('amount').textContent())!;
  const [used, limit] = shown.split(' of ').map((n) => Number(n.replace(/,/g, '')));
  expect(limit).toBe(1000);
  // A token through the real endpoint reports the same limit and what is left.
  await page.goto('/agents');
  await page.getByText('Register an agent').click();
  await page.getByLabel('Name').fill(`e2e-limits-${Date.now()}`.slice(0, 40));
  await page.getByLabel('Agent type').fill('assistant');
  await page.getByLabel('Owner').fill('e2e');
  await page.getByLabel('Environment').selectOption('staging');
  await page.getByLabel('Capabilities').fill('reports:read');
  await page.getByRole('button', { name: 'Create agent' }).click();
  const created = page.getByRole('heading', { name: 'Agent created' });
  await expect(created).toBeVisible();
  const id = (await page.getByTestId('client-id').textContent())!.trim();
  const secret = (await page.getByTestId('client-secret').textContent())!.trim();
  const res = await request.post('/api/v1/token', {
    form: { grant_type: 'client_credentials' },
    headers: { authorization: 'Basic ' + Buffer.from(`${id}:${secret}`).toString('base64') },
  });
  expect(res.status()).toBe(200);
  expect(res.headers()['x-ratelimit-limit']).toBe('1000');
  const remaining = Number(res.headers()['x-ratelimit-remaining']);
  await page.goto('/settings/tier');
  const after = (await page.getByTestId('limit-tokens').getByTestId('amount').textContent())!;
  expect(Number(after.split(' of ')[0].replace(/,/g, ''))).toBe(1000 - remaining);
  expect(1000 - remaining).toBeGreaterThan(used);
});

test('enterprise shows "Enterprise — Unlimited" and no upgrade button', async ({ page }) => {
  await signIn(page, DEMO.enterpriseOwner, '/settings/tier');
  await expect(page.getByText('Enterprise — Unlimited')).toBeVisible();
  await expect(page.getByRole('button', { name: /upgrade/i })).toHaveCount(0);
});

test('a viewer sees the page but no button that changes billing', async ({ page }) => {
  await signIn(page, DEMO.proViewer, '/settings/tier');
  await expect(page.getByTestId('plan-name')).toHaveText('Pro');
  await expect(page.getByTestId('ask-owner')).toBeVisible();
  await expect(page.getByRole('button')).toHaveText(['Sign out']);
});

test('Upgrade to Pro: POST /api/tiers/upgrade, pay on the checkout page, back on Pro', async ({ page }) => {
  await signIn(page, DEMO.freeOwner, '/settings/tier');
  const upgrade = page.waitForRequest((r) => r.url().endsWith('/api/tiers/upgrade') && r.method() === 'POST');
  await page.getByRole('button', { name: 'Upgrade to Pro' }).click();
  await upgrade;
  await expect(page).toHaveURL(/\/checkout\/cs_test_/);
  await expect(page.getByText('Stripe test double')).toBeVisible();
  await page.getByRole('button', { name: 'Pay' }).click();
  await expect(page).toHaveURL(/\/settings\/tier\?checkout=success/);
  await expect(page.getByTestId('plan-name')).toHaveText('Pro');
  await expect(page.getByTestId('limit-tokens').getByTestId('amount')).toHaveText(/of 50,000$/);
  await expect(page.getByTestId('limit-agents').getByTestId('amount')).toHaveText(/of 100$/);
  await expect(page.getByRole('button', { name: 'Upgrade to Pro' })).toHaveCount(0);
  await expect(page.getByTestId('billing-history')).toContainText('Free → Pro');
  await expect(page.getByTestId('billing-history')).toContainText('checkout.session.completed');
});
