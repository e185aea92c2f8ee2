// Debian's Chromium through playwright-core, for the tests that drive a real browser.
import assert from "node:assert/strict";
import { chromium, type Page } from "playwright-core";
import { demoRoutes } from "../../demo/routes.ts";
import { type Demo, setUpDemo } from "../../demo/setup.ts";
import { type Stack, withStack } from "./stack.ts";

const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOTS = new URL("../../test-output/screenshots/", import.meta.url);
const TIMEOUT_MS = 15_000;

/** Fails at once, with the fix, when Chromium is not installed. */
export async function chromiumPath(): Promise<string> {
  try {
    await Deno.stat(CHROMIUM);
    return CHROMIUM;
  } catch {
    throw new Error(
      `The browser test needs Chromium at ${CHROMIUM}: run \`apt-get install chromium\` ` +
        "(bash .ci/run installs it when missing).",
    );
  }
}

export interface BrowserPage {
  page: Page;
  /** Page errors and console errors; a test ends by asserting there were none. */
  problems: string[];
  /** Saves the whole page as test-output/screenshots/{name}. */
  shot: (name: string) => Promise<unknown>;
}

/**
 * Runs `fn` with a page of a fresh headless Chromium, and always closes the browser. The
 * browser's own "Failed to load resource" console lines are not problems: the tests provoke
 * 4xx and 5xx answers on purpose, and the page shows those itself.
 */
async function withBrowserPage(
  executablePath: string,
  viewport: { width: number; height: number },
  fn: (browserPage: BrowserPage) => Promise<void>,
): Promise<void> {
  await Deno.mkdir(SCREENSHOTS, { recursive: true });
  // launch() gives the browser a fresh profile directory and deletes it on close.
  const browser = await chromium.launch({
    executablePath,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  try {
    const page = await browser.newPage({ viewport });
    page.setDefaultTimeout(TIMEOUT_MS);
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error" && !/Failed to load resource/.test(message.text())) {
        problems.push(`console: ${message.text()}`);
      }
    });
    const shot = (name: string) =>
      page.screenshot({ path: new URL(name, SCREENSHOTS).pathname, fullPage: true });
    await fn({ page, problems, shot });
  } finally {
    await browser.close();
  }
}

export interface DemoInBrowser extends BrowserPage {
  stack: Stack;
  /** Seeds the demo app (its user, team and prices); until then its pages have nothing to show. */
  setUpDemo: () => Promise<Demo>;
}

/**
 * A test that drives a page of a fresh Chromium against a local stack serving the demo app at
 * `stack.baseUrl`, and ends by asserting the page reported no problem.
 */
export function browserTest(
  name: string,
  viewport: { width: number; height: number },
  fn: (t: Deno.TestContext, context: DemoInBrowser) => Promise<void>,
): void {
  Deno.test({
    name,
    // playwright-core keeps its own pipes and timers to the browser process; they close with the
    // browser in `finally`, but Deno's sanitizers count them while the test body runs.
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async (t) => {
      const executablePath = await chromiumPath();
      let demo: Demo | undefined;
      await withStack({ extraRoutes: demoRoutes(() => demo) }, async (stack) => {
        await withBrowserPage(executablePath, viewport, async (browserPage) => {
          await fn(t, {
            ...browserPage,
            stack,
            setUpDemo: async () => (demo = await setUpDemo(stack)),
          });
          assert.deepEqual(browserPage.problems, []);
        });
      });
    },
  });
}
