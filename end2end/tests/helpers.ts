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

const MAIL_API = 'http://127.0.0.1:1180/api/email';

interface CaughtMail {
  subject: string;
  text: string;
  to: { address: string }[];
}

/** Waits for a message to `to` whose subject contains `subject`, in the
 *  mail catcher (maildev), and returns the link to `path` it carries. */
export async function mailedLink(to: string, subject: string, path: string): Promise<string> {
  let found: CaughtMail | undefined;
  await expect
    .poll(
      async () => {
        const mails = (await (await fetch(MAIL_API)).json()) as CaughtMail[];
        found = mails
          .reverse()
          .find((m) => m.to.some((t) => t.address === to) && m.subject.includes(subject));
        return found !== undefined;
      },
      { timeout: 15_000, message: `a "${subject}" message to ${to}` },
    )
    .toBe(true);
  const link = found!.text.match(new RegExp(`https?://\\S+${path}\\?token=[\\w-]+`));
  expect(link, `a ${path} link in: ${found!.text}`).not.toBeNull();
  return link![0];
}

/** A fresh address on a made-up domain, unique to one test run. */
export function freshEmail(who: string): string {
  return `${who}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@e2e.example`;
}

export const STRONG_PASSWORD = 'violet staple engine harbour';
