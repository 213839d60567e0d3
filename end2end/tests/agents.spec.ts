import { expect, test } from '@playwright/test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { DEMO, signIn } from './helpers';

test.describe('agents', () => {
  test('create an agent, copy its secret, get a token with it, see "last token" update', async ({
    page,
    context,
    request,
    baseURL,
  }) => {
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseURL });
    await signIn(page, DEMO.proOwner, '/agents');
    await page.getByText('Register an agent').click();
    await page.getByLabel('Name').fill('e2e-copy-bot');
    await page.getByLabel('Agent type').fill('assistant');
    await page.getByLabel('Owner').fill('qa-team');
    await page.getByLabel('Environment').selectOption('staging');
    await page.getByLabel('Capabilities').fill('tickets:read tickets:write');
    await page.getByRole('button', { name: 'Create agent' }).click();

    await expect(page.getByRole('heading', { name: 'Agent created' })).toBeVisible();
    const clientId = (await page.getByTestId('client-id').textContent())!.trim();
    const shown = (await page.getByTestId('client-secret').textContent())!.trim();
    await expect(page.getByTestId('last-token')).toHaveText('never');

    // The Copy button is an island: it hydrates and writes the clipboard.
    await page.getByRole('button', { name: 'Copy' }).click();
    await expect(page.getByRole('button', { name: 'Copied' })).toBeVisible();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    expect(copied).toBe(shown);
    // Shown once: not repeated in the island's attributes.
    expect((await page.content()).split(shown)).toHaveLength(2);

    const res = await request.post('/api/v1/token', {
      form: { grant_type: 'client_credentials', scope: 'tickets:read' },
      headers: { authorization: 'Basic ' + Buffer.from(`${clientId}:${copied}`).toString('base64') },
    });
    expect(res.status()).toBe(200);
    const body = await res.json();
    expect(body.token_type).toBe('Bearer');
    expect(body.scope).toBe('tickets:read');

    // An independent JWT library verifies the token from the JWKS alone.
    const jwks = createRemoteJWKSet(new URL('/.well-known/jwks.json', baseURL));
    const { payload, protectedHeader } = await jwtVerify(body.access_token, jwks, { issuer: baseURL!.replace(/\/$/, '') });
    expect(protectedHeader.alg).toBe('EdDSA');
    expect(payload.sub).toBe(clientId);
    expect(payload.scope).toBe('tickets:read');

    await page.goto(`/agents/${clientId}`);
    await expect(page.getByTestId('last-token')).toHaveText(/^just now/);
    await expect(page.getByTestId('client-secret')).toHaveCount(0);
  });

  test('rotate a secret with an overlap, both work, then retire the old one now', async ({ page, request }) => {
    const token = (clientId: string, secret: string) =>
      request.post('/api/v1/token', {
        form: { grant_type: 'client_credentials' },
        headers: { authorization: 'Basic ' + Buffer.from(`${clientId}:${secret}`).toString('base64') },
      });
    await signIn(page, DEMO.proOwner, '/agents');
    await page.getByText('Register an agent').click();
    await page.getByLabel('Name').fill('e2e-rotating-bot');
    await page.getByLabel('Agent type').fill('worker');
    await page.getByLabel('Owner').fill('qa-team');
    await page.getByLabel('Capabilities').fill('jobs:run');
    await page.getByRole('button', { name: 'Create agent' }).click();
    const clientId = (await page.getByTestId('client-id').textContent())!.trim();
    const first = (await page.getByTestId('client-secret').textContent())!.trim();
    await expect(page.getByTestId('credential')).toHaveCount(1);

    await page.getByTestId('overlap').selectOption({ label: '1 hour' });
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await expect(page.getByRole('heading', { name: 'New client secret' })).toBeVisible();
    await expect(page.getByText('The previous secret keeps working until')).toBeVisible();
    const second = (await page.getByTestId('client-secret').textContent())!.trim();
    expect(second).not.toBe(first);
    const rows = page.getByTestId('credential');
    await expect(rows).toHaveCount(2);
    await expect(rows.nth(0)).toHaveAttribute('data-status', 'active');
    await expect(rows.nth(1)).toHaveAttribute('data-status', 'expiring');

    // Inside the window, a copy still on the old secret gets tokens, and
    // the answer says which secret it used.
    const oldLabel = `ais_…${first.slice(-4)}`;
    const viaOld = await token(clientId, first);
    expect(viaOld.status()).toBe(200);
    expect((await viaOld.json()).credential).toBe(oldLabel);
    const viaNew = await token(clientId, second);
    expect(viaNew.status()).toBe(200);
    expect((await viaNew.json()).credential).toBe(`ais_…${second.slice(-4)}`);

    await rows.nth(1).getByRole('button', { name: 'Retire now' }).click();
    await expect(page.getByText('Secret retired: it gets no new token')).toBeVisible();
    await expect(page.getByTestId('credential').nth(1)).toHaveAttribute('data-status', 'retired');
    await expect(page.getByRole('button', { name: 'Retire now' })).toHaveCount(0);
    expect((await token(clientId, first)).status()).toBe(401);
    expect((await token(clientId, second)).status()).toBe(200);
  });

  test('a free tenant at its agent limit is told so, with a link to the plan', async ({ page }) => {
    await signIn(page, DEMO.freeAdmin, '/agents');
    const limit = page.getByTestId('agent-limit');
    const [live, max] = (await limit.textContent())!.match(/\d+/g)!.map(Number);
    expect(max).toBe(10);
    for (let i = live; i <= max; i++) {
      await page.goto('/agents');
      await page.getByText('Register an agent').click();
      await page.getByLabel('Name').fill(`filler-${i}`);
      await page.getByLabel('Agent type').fill('workflow');
      await page.getByLabel('Owner').fill('qa-team');
      await page.getByLabel('Capabilities').fill('jobs:run');
      await page.getByRole('button', { name: 'Create agent' }).click();
      if (i < max) await expect(page.getByRole('heading', { name: 'Agent created' })).toBeVisible();
    }
    const error = page.getByTestId('agent-form-error');
    await expect(error).toContainText('The Free tier allows 10 live agents');
    await error.getByRole('link', { name: 'See your plan and upgrade' }).click();
    await expect(page).toHaveURL('/settings/tier');
  });

  test('a viewer sees the agents but no way to change them', async ({ page }) => {
    await signIn(page, DEMO.proViewer, '/agents');
    await expect(page.getByText('You have view access')).toBeVisible();
    await expect(page.getByText('Register an agent')).toHaveCount(0);
    await page.getByRole('link', { name: 'support-triage', exact: true }).click();
    await expect(page.getByTestId('agent-name')).toContainText('support-triage');
    await expect(page.getByRole('button', { name: 'Rotate secret' })).toHaveCount(0);
  });

  test('search and status filter narrow the list and stay in the URL', async ({ page }) => {
    await signIn(page, DEMO.enterpriseOwner, '/agents');
    await page.getByRole('searchbox', { name: 'Search agents' }).fill('scanner');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect(page).toHaveURL(/q=scanner/);
    const rows = page.locator('table tbody tr');
    await expect(rows.first()).toContainText('security-scanner');
    for (const text of await rows.allTextContents()) expect(text).toContain('scanner');
    await page.getByLabel('Status').selectOption('suspended');
    await page.getByRole('searchbox', { name: 'Search agents' }).fill('');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect(page).toHaveURL(/status=suspended/);
    for (const text of await rows.allTextContents()) expect(text).toContain('suspended');
  });
});
