import { defineConfig } from '@playwright/test';

// Servers, each on its own fresh database: the throttling tests lock out
// their client IP (127.0.0.1), so they get a server of their own.
export const MAIN_PORT = 3100;
export const THROTTLE_PORT = 3101;
// The billing spec upgrades a demo tenant: a server of its own too.
export const BILLING_PORT = 3102;
// One mail catcher (maildev) for all portals: tests read their messages by
// recipient, each test with addresses of its own.
export const MAIL_SMTP_PORT = 1125;
export const MAIL_WEB_PORT = 1180;

const server = (port: number) => ({
  command: `bash ./serve-fresh.sh ${port}`,
  url: `http://127.0.0.1:${port}/healthz`,
  reuseExistingServer: false,
  timeout: 60_000,
  stdout: 'ignore' as const,
  stderr: 'pipe' as const,
  env: { SMTP_URL: `smtp://127.0.0.1:${MAIL_SMTP_PORT}` },
});

const mailCatcher = {
  command: `maildev --smtp ${MAIL_SMTP_PORT} --web ${MAIL_WEB_PORT} --ip 127.0.0.1 --web-ip 127.0.0.1 --silent`,
  url: `http://127.0.0.1:${MAIL_WEB_PORT}/api/email`,
  reuseExistingServer: false,
  timeout: 60_000,
  stdout: 'ignore' as const,
  stderr: 'pipe' as const,
};

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  workers: 2,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${MAIN_PORT}`,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  webServer: [mailCatcher, server(MAIN_PORT), server(THROTTLE_PORT), server(BILLING_PORT)],
});
