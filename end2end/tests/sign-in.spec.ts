import { expect, test } from '@playwright/test';
import { DEMO, sessionCookie, signIn, submitSignIn } from './helpers';

test.describe('sign-in', () => {
  for (const path of ['/analytics', '/settings/tier']) {
    test(`unauthenticated ${path} lands on the login page and back after signing in`, async ({ page }) => {
      await page.goto(path);
      await expect(page).toHaveURL(`/login?next=${encodeURIComponent(path)}`);
      await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();

      await submitSignIn(page, DEMO.proOwner);
      await expect(page).toHaveURL(path);
      await expect(page.getByTestId('tenant-name')).toHaveText('Acme Robotics');
      await expect(page.getByTestId('member-email')).toHaveText(DEMO.proOwner);
    });
  }

  test('/ goes to Analytics', async ({ page }) => {
    await signIn(page, DEMO.freeOwner);
    await page.goto('/');
    await expect(page).toHaveURL('/analytics');
    await expect(page.getByRole('heading', { name: 'Analytics', level: 1 })).toBeVisible();
  });

  test('a wrong password shows the message and sets no session', async ({ page }) => {
    await page.goto('/login');
    await submitSignIn(page, DEMO.freeAdmin, 'not the password');
    await expect(page.getByRole('alert')).toHaveText('The email or password is incorrect.');
    await expect(page.getByLabel('Email')).toHaveValue(DEMO.freeAdmin);
    expect(await sessionCookie(page)).toBeUndefined();
    await page.goto('/analytics');
    await expect(page).toHaveURL(/\/login\?next=/);
  });

  test('after signing out, going back shows the login page', async ({ page }) => {
    await signIn(page, DEMO.enterpriseOwner, '/settings/tier');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect(page).toHaveURL('/login');
    expect(await sessionCookie(page)).toBeUndefined();
    await page.goBack();
    await expect(page).toHaveURL(/\/login\?next=%2Fsettings%2Ftier/);
    await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  });

  test('an external next is ignored', async ({ page }) => {
    await page.goto('/login?next=https://evil.example');
    await submitSignIn(page, DEMO.freeOwner);
    await expect(page).toHaveURL('/analytics');
  });

  test('the navigation reaches every page', async ({ page }) => {
    await signIn(page, DEMO.proOwner);
    const nav = page.getByRole('navigation', { name: 'Main' });
    for (const [label, path] of [
      ['Agents', '/agents'],
      ['Tier & Billing', '/settings/tier'],
      ['Analytics', '/analytics'],
    ]) {
      await nav.getByRole('link', { name: label }).click();
      await expect(page).toHaveURL(path);
      await expect(nav.getByRole('link', { name: label })).toHaveAttribute('aria-current', 'page');
    }
  });

  test('the shell fits a 360 px wide screen', async ({ page }) => {
    await page.setViewportSize({ width: 360, height: 740 });
    await signIn(page, DEMO.proOwner);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
  });
});
