import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../../mail-runtime/auth';
import { TestCluster, type TestUserSpec } from '../../helpers/cluster';
import { ARTIFACTS, ensureDashboardBuilt } from '../../helpers/dashboard';
import { ADMIN_TOKEN, waitFor } from '../../helpers/hub';
import { deliverViaMx } from '../../helpers/smtp';
import { FAST_SCRYPT } from '../../helpers/users';

/**
 * The dashboard end to end: Debian's chromium, headless, driven by
 * playwright-core, against a cluster of real processes (a hub and three
 * nodes on loopback). What an operator does: log in, see every member
 * healthy, change a setting and watch members apply it, get an inline error
 * for a bad value (nothing applied), drain a node, kill one and watch it turn
 * dead while its users move; a read-only login changes nothing. axe-core runs
 * in the same browser on every page. Screenshots go to test-artifacts/.
 */
const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const READONLY_TOKEN = 'read-only-token-for-browser-tests-0123';
/** Bound of each wait for the page to show what the cluster did (a wait, not a timed assertion). */
const UI_WAIT_MS = 15_000;
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

let cluster: TestCluster;
let browser: Browser;
let hubUrl: string;
let users: TestUserSpec[];
let mx: number;

beforeAll(async () => {
  ensureDashboardBuilt();
  await mkdir(ARTIFACTS, { recursive: true });
  cluster = await TestCluster.create('mf-dash-e2e-');
  await cluster.planHubs(1);
  const readOnlyTokenFile = join(cluster.dir, 'secrets', 'read-only-token');
  await writeFile(readOnlyTokenFile, `${READONLY_TOKEN}\n`);
  await cluster.startHub(0, { readOnlyTokenFile });
  hubUrl = cluster.hubUrls[0]!;
  // A gateway too: its messages in/out, queue depth and delivery latency feed the performance page.
  const [gateway] = await Promise.all([cluster.startGateway('gw-0'), ...['node-a', 'node-b', 'node-c'].map((id) => cluster.startNode(id))]);
  mx = gateway.port('smtp');
  users = await cluster.addUsers('example.test', 9);
  await cluster.settled();
  // A missing browser fails the test (never skips): install Debian's chromium (test/setup/debian-packages.ts).
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await cluster?.stop();
});

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** axe-core in the page (evaluated over the DevTools protocol, so the hub's CSP stays on): no serious or critical violation. */
async function axe(page: Page, what: string): Promise<void> {
  await page.evaluate(AXE_SOURCE);
  // A string runs in the page (the test's TypeScript program has no DOM types).
  const result = (await page.evaluate(`axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'best-practice'] } })
    .then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(' ')) })))`)) as { id: string; impact: string | null; targets: string[] }[];
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad, `${what}: ${JSON.stringify(bad)}`).toEqual([]);
}

async function loginWithKeyboard(page: Page, token: string): Promise<void> {
  await page.goto(`${hubUrl}/`);
  await page.waitForSelector('#token');
  // Keyboard only: the token field is the first stop, Enter submits.
  await page.keyboard.press('Tab');
  expect(await page.evaluate('document.activeElement?.id')).toBe('token');
  await page.keyboard.type(token);
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid="session-kind"]', { timeout: UI_WAIT_MS });
}

async function goto(page: Page, id: string): Promise<void> {
  await page.click(`nav a[href="#/${id}"]`);
  await page.waitForSelector(`nav a[href="#/${id}"][aria-current="page"]`);
}


async function settingsVersion(): Promise<number> {
  return (await cluster.admin<{ version: number }>('GET', '/v1/settings')).version;
}

describe('hub dashboard in a real browser', () => {
  it('an admin logs in, sees the cluster healthy, applies a setting, drains a node, and watches a killed node turn dead and its users move', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    // Offline: the page loads nothing from anywhere but the hub.
    const foreign: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(hubUrl)) foreign.push(r.url());
    });

    await loginWithKeyboard(page, ADMIN_TOKEN);
    // Mail through the gateway early, so the performance page has deliveries to chart at the end.
    // (SMTP in; the gateway delivers it to the owner node over LMTP.)
    await deliverViaMx(mx, users[0]!.address, 'performance');
    expect(await page.textContent('[data-testid="session-kind"]')).toBe('admin');
    // The cookie is HttpOnly: script in the page cannot read it.
    expect(await page.evaluate('document.cookie')).toBe('');
    expect((await context.cookies()).find((c) => c.name === 'mailfleet_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });

    // Overview: three healthy nodes.
    for (const id of ['node-a', 'node-b', 'node-c']) await page.waitForSelector(`tr[data-member="${id}"][data-state="live"] td.good`, { timeout: UI_WAIT_MS });
    expect(await page.textContent('[data-testid="hub-status"]')).toContain('active');
    // The overview holds the hub's event stream (push); polling is only its fallback.
    await page.waitForSelector('[data-testid="hub-status"][data-push="stream"]', { timeout: UI_WAIT_MS });
    await shot(page, '01-overview-healthy');
    await axe(page, 'overview');
    // Keyboard: the page links are reachable with Tab.
    await page.focus('nav a[href="#/overview"]');
    await page.keyboard.press('Tab');
    expect(await page.evaluate("document.activeElement?.getAttribute('href')")).toBe('#/performance');

    // Settings: a bad value is shown inline and nothing is applied.
    await goto(page, 'settings');
    await page.waitForSelector('#set-maxConnections');
    await page.fill('#set-maxConnections', '0');
    await page.click('button:has-text("Review changes")');
    const inline = await page.waitForSelector('#set-maxConnections-err', { timeout: UI_WAIT_MS });
    expect(await inline.textContent()).toMatch(/1|greater|least/i);
    expect(await page.getAttribute('#set-maxConnections', 'aria-invalid')).toBe('true');
    expect(await page.locator('[data-testid="diff"]').count()).toBe(0);
    expect(await settingsVersion()).toBe(0);
    await shot(page, '02-settings-inline-error');
    await axe(page, 'settings with an error');

    // A good value: diff first, then apply; every member reports the new version.
    await page.fill('#set-maxConnections', '500');
    await page.click('button:has-text("Review changes")');
    await page.waitForSelector('[data-testid="diff"] th:has-text("limits.maxConnections")', { timeout: UI_WAIT_MS });
    await shot(page, '03-settings-diff');
    await page.click('button:has-text("Apply version 1")');
    await page.waitForSelector('[data-testid="settings-message"]:has-text("version 1 applied")', { timeout: UI_WAIT_MS });
    expect(await settingsVersion()).toBe(1);
    // Polled from here (the page's CSP forbids the string evaluation waitForFunction would use).
    // The nodes' rows (the gateway takes no cluster settings yet: its link reports version 0).
    const appliedCells = page.locator('[data-testid="applied"] tr[data-member^="node-"] [data-testid="applied-version"]');
    await waitFor(async () => {
      const texts = await appliedCells.allTextContents();
      return texts.length === 3 && texts.every((t) => t === 'v1 (current)');
    }, 'every node shown with settings v1 applied', UI_WAIT_MS);
    for (const m of (await cluster.members()).filter((x) => x.id.startsWith('node-'))) expect(m.applied?.settings, m.id).toBe(1);
    await shot(page, '04-settings-applied');

    // Placement: drain node-c (with a confirmation); its users go elsewhere.
    await goto(page, 'placement');
    await page.waitForSelector('tr[data-node="node-c"][data-state="active"]', { timeout: UI_WAIT_MS });
    await axe(page, 'placement');
    await page.click('button:has-text("Drain node-c")');
    await page.waitForSelector('dialog[open]');
    await shot(page, '05-drain-confirm');
    await page.click('dialog[open] button:has-text("Drain")');
    await page.waitForSelector('tr[data-node="node-c"][data-state="drained"]', { timeout: UI_WAIT_MS });
    await page.waitForSelector('tr[data-node="node-c"] [data-testid="users"]:text-is("0")', { timeout: UI_WAIT_MS });
    const drained = await cluster.settled();
    for (const u of users) expect(drained.ownerOf(u.address), u.address).not.toBe('node-c');
    await shot(page, '06-drained');

    // Kill node-b: the overview shows it dead, the placement page shows its users on node-a.
    const onB = users.filter((u) => drained.ownerOf(u.address) === 'node-b');
    expect(onB.length).toBeGreaterThan(0);
    cluster.nodes.get('node-b')!.child.kill('SIGKILL');
    await goto(page, 'overview');
    await page.waitForSelector('tr[data-member="node-b"][data-state="dead"].row-dead', { timeout: UI_WAIT_MS });
    expect(await page.textContent('tr[data-member="node-b"] [data-testid="health"]')).toContain('dead');
    await page.waitForSelector('[data-testid="events"] li.bad:has-text("node-b declared dead")', { timeout: UI_WAIT_MS });
    await shot(page, '07-node-dead');
    await goto(page, 'placement');
    await page.waitForSelector(`tr[data-node="node-a"] [data-testid="users"]:text-is("${users.length}")`, { timeout: UI_WAIT_MS });
    await page.fill('#owner-q', onB[0]!.address);
    await page.click('button:has-text("Find owner")');
    await page.waitForSelector('[data-testid="owner-node"]:text-is("node-a")', { timeout: UI_WAIT_MS });
    const epochShown = Number(await page.textContent('[data-testid="owner-epoch"]'));
    expect(epochShown).toBe((await cluster.placement()).ownerWithEpoch(onB[0]!.address)!.epoch);
    await shot(page, '08-users-moved');

    // Performance: the hub's hour of heartbeat gauges, charted.
    await goto(page, 'performance');
    await page.waitForSelector('[data-testid="chart-Mailboxes open"] canvas', { timeout: UI_WAIT_MS });
    // The figures: a chart each, with a line for the members that report them and the cluster's.
    for (const [title, member] of [
      ['Messages in per minute', 'gw-0'],
      ['Messages in per minute', 'node-a'],
      ['Messages out per minute', 'gw-0'],
      ['Queue depth', 'gw-0'],
      ['Delivery latency p50 (ms)', 'gw-0'],
      ['Delivery latency p99 (ms)', 'gw-0'],
    ]) {
      const chart = await page.waitForSelector(`[data-testid="chart-${title}"] canvas`, { timeout: UI_WAIT_MS });
      expect(chart).toBeTruthy();
      expect((await page.getAttribute(`[data-testid="chart-${title}"]`, 'data-series'))?.split(','), title).toEqual(expect.arrayContaining([member, 'cluster']));
    }
    await shot(page, '09-performance');
    await axe(page, 'performance');

    // Directory: CSV bulk import through the API's all-or-nothing import; a bad file names its line and imports nothing.
    await goto(page, 'directory');
    await page.fill('#csv', 'address,passwordHash\nbad-line-without-hash@example.test\n');
    await page.click('button:has-text("Import")');
    await page.waitForSelector('[data-testid="directory-message"].error:has-text("line 2")', { timeout: UI_WAIT_MS });
    const hash = await hashPassword('csv password', FAST_SCRYPT);
    await page.fill('#csv', `address,passwordHash\ncsv1@example.test,${hash}\ncsv2@example.test,${hash}\n`);
    await page.click('button:has-text("Import")');
    await page.waitForSelector('[data-testid="directory-message"]:has-text("imported 2 users")', { timeout: UI_WAIT_MS });
    await page.fill('#user-search', 'csv');
    await page.click('button:has-text("Search")');
    const rows = page.locator('[data-testid="users"] tbody tr');
    await waitFor(async () => (await rows.count()) === 2, 'the search to show the two imported users only', UI_WAIT_MS);
    expect((await rows.allTextContents()).map((t) => t.split('yes')[0])).toEqual(['csv1@example.test', 'csv2@example.test']);
    await shot(page, '10-directory-import');
    await axe(page, 'directory');

    expect(pageErrors).toEqual([]);
    expect(foreign).toEqual([]);
    await context.close();
  });

  it('a read-only login sees everything and can change nothing', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await loginWithKeyboard(page, READONLY_TOKEN);
    expect(await page.textContent('[data-testid="session-kind"]')).toBe('read-only');
    await goto(page, 'placement');
    await page.waitForSelector('[data-testid="placement-nodes"]', { timeout: UI_WAIT_MS });
    expect(await page.locator('button:has-text("Drain")').count()).toBe(0);
    await goto(page, 'settings');
    await page.waitForSelector('#set-maxConnections');
    expect(await page.isDisabled('#set-maxConnections')).toBe(true);
    await shot(page, '11-read-only');
    await axe(page, 'read-only settings');
    // Even a hand-made request from the page (CSRF token and all) is refused.
    const answer = (await page.evaluate(`(async () => {
      const s = await (await fetch('/v1/session')).json();
      const r = await fetch('/v1/settings', { method: 'PUT', headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrfToken }, body: JSON.stringify({ settings: {} }) });
      return { status: r.status, body: await r.json() };
    })()`)) as { status: number; body: { error: { code: string } } };
    expect(answer.status).toBe(403);
    expect(answer.body.error.code).toBe('forbidden');
    await waitFor(async () => (await settingsVersion()) === 1, 'settings unchanged', 1_000);
    await context.close();
  });
});
