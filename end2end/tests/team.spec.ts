import { readFileSync } from 'fs';
import { expect, test, Browser, Page } from '@playwright/test';
import { freshEmail, mailedLink, STRONG_PASSWORD, submitSignIn } from './helpers';

// One organisation's life, in order: sign-up, verification, a first agent,
// a viewer invited and removed, a forgotten password; then its audit trail.
test.describe.configure({ mode: 'serial' });

const org = `E2E Org ${Date.now()}`;
const owner = freshEmail('owner');
const viewer = freshEmail('viewer');

async function newPage(browser: Browser): Promise<Page> {
  return (await browser.newContext()).newPage();
}

test('sign up, read the verification mail, verify, register an agent', async ({ page }) => {
  await page.goto('/login');
  await page.getByRole('link', { name: 'Create an organisation' }).click();
  await page.getByLabel('Organisation name').fill(org);
  await page.getByLabel('Your work e-mail').fill(owner);
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Create organisation' }).click();
  await expect(page.getByTestId('error-password')).toContainText('at least 12');
  await expect(page.getByLabel('Organisation name')).toHaveValue(org);
  await page.getByLabel('Password').fill(STRONG_PASSWORD);
  await page.getByRole('button', { name: 'Create organisation' }).click();
  await expect(page.getByTestId('form-done')).toContainText(`We sent a message to ${owner}`);

  // Nothing exists until the address is proven: the password signs nobody in.
  await page.getByRole('link', { name: 'Sign in' }).click();
  await submitSignIn(page, owner, STRONG_PASSWORD);
  await expect(page.getByTestId('login-error')).toBeVisible();

  const link = await mailedLink(owner, 'Verify your e-mail', '/verify-email');
  await page.goto(link);
  await expect(page.getByLabel('Organisation name')).toHaveValue(org);
  await page.getByLabel('Your password').fill(STRONG_PASSWORD);
  await page.getByRole('button', { name: 'Verify my address' }).click();
  await expect(page.getByTestId('form-done')).toContainText('your organisation is ready');
  await page.getByRole('link', { name: 'Register an agent' }).click();
  await expect(page.getByTestId('tenant-name')).toHaveText(org);
  await expect(page.getByTestId('verify-banner')).toHaveCount(0);
  await page.getByText('Register an agent').click();
  await page.getByLabel('Name').fill('first-bot');
  await page.getByLabel('Agent type').fill('assistant');
  await page.getByLabel('Owner').fill('founders');
  await page.getByLabel('Capabilities').fill('tickets:read');
  await page.getByRole('button', { name: 'Create agent' }).click();
  await expect(page.getByRole('heading', { name: 'Agent created' })).toBeVisible();
});

test('invite a viewer who joins from the mail, looks, and is signed out when removed', async ({ page, browser }) => {
  await page.goto('/login');
  await submitSignIn(page, owner, STRONG_PASSWORD);
  await page.getByRole('link', { name: 'Team' }).click();
  await page.getByPlaceholder('name@example.com').fill(viewer);
  await page.getByLabel('Role', { exact: true }).selectOption('viewer');
  await page.getByRole('button', { name: 'Send invitation' }).click();
  await expect(page.getByTestId('form-done')).toContainText(`Invitation sent to ${viewer}`);
  await expect(page.getByTestId('invitation-row')).toContainText(viewer);

  const link = await mailedLink(viewer, 'Invitation to join', '/invitation');
  const guest = await newPage(browser);
  await guest.goto(link);
  await expect(guest.getByTestId('invitation-summary')).toContainText(org);
  await guest.getByLabel('Choose a password').fill(STRONG_PASSWORD);
  await guest.getByRole('button', { name: 'Join' }).click();
  await expect(guest).toHaveURL(/\/analytics$/);
  await guest.goto('/agents');
  await expect(guest.getByText('first-bot')).toBeVisible();
  await expect(guest.getByText('Register an agent')).toHaveCount(0);

  await page.reload();
  const row = page.getByTestId('member-row').filter({ hasText: viewer });
  await expect(row.getByTestId('member-role')).toHaveText('viewer');
  await row.getByRole('button', { name: 'Remove' }).click();
  await expect(page.getByTestId('form-done')).toContainText('Member removed');

  // The viewer's open page: the next navigation asks to sign in.
  await guest.getByRole('link', { name: 'Analytics' }).click();
  await expect(guest).toHaveURL(/\/login\?next=%2Fanalytics/);
});

test('forgotten password: the mailed link sets a new one', async ({ page }) => {
  await page.goto('/login');
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await page.getByLabel('E-mail').fill(owner);
  await page.getByRole('button', { name: 'Send the link' }).click();
  await expect(page.getByTestId('form-done')).toContainText(`If ${owner} has an account`);
  const link = await mailedLink(owner, 'Reset your password', '/reset-password');
  await page.goto(link);
  await page.getByLabel('New password').fill('amber crane polished lantern');
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page.getByTestId('login-notice')).toContainText('Your password was changed');
  await submitSignIn(page, owner, 'amber crane polished lantern');
  await expect(page).toHaveURL(/\/analytics$/);
});

test('the audit trail shows each of these, newest first', async ({ page }) => {
  await page.goto('/login');
  await submitSignIn(page, owner, 'amber crane polished lantern');
  await page.getByRole('link', { name: 'Audit' }).click();
  const actions = await page.getByTestId('audit-row').evaluateAll((rows) =>
    rows.map((r) => r.getAttribute('data-action')),
  );
  const order = [
    'tenant.signed_up',
    'member.email_verified',
    'member.signed_in',
    'agent.registered',
    'member.invited',
    'invitation.accepted',
    'member.removed',
    'member.password_reset_requested',
    'member.password_reset',
  ];
  const oldestFirst = actions.reverse();
  let at = -1;
  for (const action of order) {
    const next = oldestFirst.indexOf(action, at + 1);
    expect(next, `${action} after position ${at} in ${oldestFirst.join(', ')}`).toBeGreaterThan(at);
    at = next;
  }
  // Filter to one action; the CSV has the same entries.
  await page.getByLabel('Action').selectOption('member.removed');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page.getByTestId('audit-row')).toHaveCount(1);
  await expect(page.getByTestId('audit-row')).toContainText(viewer);
  const download = page.waitForEvent('download');
  await page.getByTestId('audit-csv').click();
  const csv = await (await download).path();
  const text = readFileSync(csv!, 'utf8');
  expect(text.trim().split('\n')).toHaveLength(2);
  expect(text).toContain(`member.removed,${viewer}`);
});
