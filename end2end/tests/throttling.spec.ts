import { expect, test } from '@playwright/test';
import { THROTTLE_PORT } from '../playwright.config';
import { DEMO, submitSignIn } from './helpers';

// This server's only client is this file: the lock-out it provokes for
// 127.0.0.1 must not spill over into the other tests.
test.use({ baseURL: `http://127.0.0.1:${THROTTLE_PORT}` });

test('repeated failures lock sign-in for a while, even with the right password', async ({ page }) => {
  await page.goto('/login');
  for (let i = 0; i < 5; i++) {
    await submitSignIn(page, DEMO.proOwner, `wrong guess ${i}`);
    await expect(page.getByRole('alert')).toHaveText('The email or password is incorrect.');
  }
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/login') && r.request().method() === 'POST'),
    submitSignIn(page, DEMO.proOwner),
  ]);
  expect(response.status()).toBe(429);
  await expect(page.getByRole('alert')).toContainText('Too many failed sign-in attempts. Try again in 15 minute(s).');
  await page.goto('/analytics');
  await expect(page).toHaveURL(/\/login/);
});
