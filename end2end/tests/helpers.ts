import { expect, Page } from '@playwright/test';

export const DEMO_PASSWORD = 'portal-demo';

export const DEMO = {
  freeOwner: 'owner@northwind.example',
  freeAdmin: 'admin@northwind.example',
  proOwner: 'owner@acme.example',
  proViewer: 'viewer@acme.example',
  enterpriseOwner: 'owner@globex.example',
};

/** Fills and submits the sign-in form of the page currently shown. */
export async function submitSignIn(page: Page, email: string, password = DEMO_PASSWORD) {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

export async function signIn(page: Page, email: string, path = '/analytics') {
  await page.goto(`/login?next=${encodeURIComponent(path)}`);
  await submitSignIn(page, email);
  await expect(page).toHaveURL(path);
}

export async function sessionCookie(page: Page) {
  const cookies = await page.context().cookies();
  return cookies.find((c) => c.name === 'portal_session');
}
