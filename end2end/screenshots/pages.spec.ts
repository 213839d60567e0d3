import { expect, test } from '@playwright/test';
import { DEMO, signIn } from '../tests/helpers';

// One picture per page, light and dark, into docs/screenshots/ (the README
// shows them). Globex is the busiest demo tenant.
const OUT = '../docs/screenshots';

for (const scheme of ['light', 'dark'] as const) {
  test.describe(scheme, () => {
    test.use({ colorScheme: scheme });

    test(`pages in ${scheme}`, async ({ page }) => {
      await page.goto('/login');
      await page.screenshot({ path: `${OUT}/sign-in-${scheme}.png` });
      await page.goto('/signup');
      await page.screenshot({ path: `${OUT}/sign-up-${scheme}.png` });

      await signIn(page, DEMO.enterpriseOwner, '/analytics');
      await expect(page.getByTestId('trend-chart')).toBeVisible();
      await page.screenshot({ path: `${OUT}/analytics-${scheme}.png`, fullPage: true });

      await page.goto('/agents');
      await expect(page.getByTestId('agent-limit')).toBeVisible();
      await page.screenshot({ path: `${OUT}/agents-${scheme}.png`, fullPage: true });

      await page.getByRole('link', { name: 'support-triage', exact: true }).first().click();
      await expect(page.getByTestId('agent-name')).toBeVisible();
      await page.screenshot({ path: `${OUT}/agent-detail-${scheme}.png`, fullPage: true });

      await page.goto('/settings/tier');
      await page.screenshot({ path: `${OUT}/tier-${scheme}.png`, fullPage: true });

      await page.goto('/settings/team');
      await expect(page.getByTestId('members')).toBeVisible();
      await page.screenshot({ path: `${OUT}/team-${scheme}.png`, fullPage: true });

      await page.goto('/settings/audit');
      await expect(page.getByTestId('audit')).toBeVisible();
      await page.screenshot({ path: `${OUT}/audit-${scheme}.png` });
    });
  });
}
