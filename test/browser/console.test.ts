/**
 * The web console in a real browser (Debian's Chromium, driven by playwright-core; docs/console.md):
 * `reflex dev --source <the bundled incident>` as a person runs it, its console opened at 1366x768,
 * and `reflex replay --html`'s report opened from disk with the network off. Screenshots go to
 * test/browser/artifacts/ (gitignored).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { loadMesh } from '../../dev/mesh/manifests.js';
import { triggerFilterText } from '../../dev/mesh/explain.js';
import { projectRoot } from '../../functions/_kit/schemas.js';
import { start, type Proc } from '../wire/process.js';

/** What the in-page checks use of the DOM: the tests are type-checked without the DOM library. */
interface DomElement {
  readonly id: string;
  readonly tagName: string;
  readonly className: string;
  readonly outerHTML: string;
  readonly textContent: string | null;
  readonly parentElement: DomElement | null;
  readonly offsetParent: unknown;
  readonly childNodes: Iterable<{ readonly nodeType: number; readonly textContent: string | null }>;
  readonly classList: { contains(name: string): boolean };
  readonly labels?: { readonly length: number } | null;
  getAttribute(name: string): string | null;
}
declare const document: { readonly activeElement: DomElement | null; querySelectorAll(selector: string): Iterable<DomElement> };
declare function getComputedStyle(el: DomElement): {
  readonly color: string;
  readonly backgroundColor: string;
  readonly outlineStyle: string;
};

const root = projectRoot();
const incident = join(root, 'examples', 'incident', 'checkout.ndjson');
const artifacts = join(root, 'test', 'browser', 'artifacts');
const CHROMIUM = process.env['REFLEX_CHROMIUM'] || '/usr/bin/chromium';
/** The bearer token in the crashed container's log (examples/incident): enrich redacts it; no page may show it. */
const RAW_TOKEN = 'eyJhbGciOiJSUzI1NiIsImtpZCI6InByaWNpbmctMjAyNiJ9';

/** A machine with no cluster: no KUBECONFIG, a HOME with no ~/.kube, not in a pod. */
const noCluster = (): Record<string, string> => ({
  HOME: mkdtempSync(join(tmpdir(), 'reflex-home-')),
  KUBECONFIG: '',
  KUBERNETES_SERVICE_HOST: '',
  NO_COLOR: '1',
});

let dev: Proc;
let consoleUrl: string;
let browser: Browser;
let live: BrowserContext;
let page: Page;

async function until(test: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; reflex dev said:\n${dev.output()}`);
    if (dev.child.exitCode !== null) throw new Error(`reflex dev exited ${dev.child.exitCode}:\n${dev.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const shot = (p: Page, name: string): Promise<Buffer> => p.screenshot({ path: join(artifacts, `${name}.png`), fullPage: false });

/** Every row's summary text, as shown (the visible ones). */
const rowTexts = (p: Page): Promise<string[]> => p.locator('#rows > li:not([hidden]) .row .text').allInnerTexts();

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  dev = start(process.execPath, [join(root, 'bin', 'reflex.js'), 'dev', '--port', '0', '--source', incident], noCluster());
  browser = await chromium.launch({ executablePath: CHROMIUM });
  await until(() => /recording is over/i.test(dev.output()), 'the recording to be over');
  consoleUrl = /console: (http:\/\/\S+)/.exec(dev.output())![1]!;
  live = await browser.newContext({ viewport: { width: 1366, height: 768 } });
  page = await live.newPage();
  await page.goto(consoleUrl);
  await page.locator('#rows .row', { hasText: 'recover would resize Deployment shop/worker' }).waitFor();
}, 40_000);

afterAll(async () => {
  await browser?.close();
  if (dev && dev.child.exitCode === null) {
    dev.child.kill('SIGTERM');
    await dev.exited;
  }
});

describe('the console of reflex dev --source <the bundled incident>', () => {
  it("shows the incident's timeline: the crashloop signal, enrich's evidence redacted, recover's rollback and why", async () => {
    await expect(page.locator('#status')).toBeTruthy();
    const texts = await rowTexts(page);
    expect(texts.some((t) => t.startsWith('signal crashloop WARNING on Deployment shop/web'))).toBe(true);
    // An event that became no signal says why, in classify's words.
    expect(texts).toContainEqual(expect.stringContaining('no signal: rule crashloop-backoff: 1 of 3 occurrences within 900s'));

    const evidence = page.locator('#rows .row', { hasText: 'enrich gathered the evidence on Deployment shop/web (crashloop)' });
    await evidence.click();
    const detail = page.locator(`#${await evidence.getAttribute('aria-controls')}`);
    await expect(detail.innerText()).resolves.toContain('[REDACTED:authorization]');
    await expect(detail.innerText()).resolves.toContain('rollout from revision 1 (web-5d7c9b8a6) to 2 (web-6f9d8c7b5)');

    const rollback = page.locator('#rows .row', { hasText: 'recover would roll back Deployment shop/web' });
    await rollback.click();
    const decision = await page.locator(`#${await rollback.getAttribute('aria-controls')}`).innerText();
    expect(decision).toMatch(/outcome\s+dryrun \(dry-run\)/);
    expect(decision).toContain('the crash loop began with revision 2');
    await rollback.scrollIntoViewIfNeeded();
    await shot(page, 'live-rollback');

    // Nowhere: not on the page, not in what the console serves.
    expect(await page.content()).not.toContain(RAW_TOKEN);
    expect(await (await fetch(new URL('api/records', consoleUrl))).text()).not.toContain(RAW_TOKEN);
  });

  it('explains, for an expanded row, why each Trigger that did not match failed (with the actual value)', async () => {
    const row = page.locator('#rows .row', { hasText: 'Deployment shop/web added' });
    await row.click();
    const text = await page.locator(`#${await row.getAttribute('aria-controls')}`).innerText();
    expect(text).toContain('✓ reflex/classify-on-resource matched');
    expect(text).toContain(
      '✗ reflex/recover-on-failure did not match:\ntype starts with "dev.reflex.signal." (type is "dev.knative.apiserver.resource.add")',
    );
    // Its delivery, and what came of it.
    expect(text).toMatch(/reflex\/classify-on-resource → \S+: delivered, status 202 after 1 attempt/);
    expect(text).toContain('no signal: Deployment shows no problem');
    await row.click();
  });

  it('filters by class, namespace and outcome', async () => {
    const all = (await rowTexts(page)).length;
    await page.selectOption('#f-class', 'crashloop');
    const crash = await rowTexts(page);
    expect(crash.length).toBeGreaterThan(2);
    expect(crash.length).toBeLessThan(all);
    expect(crash).toContainEqual(expect.stringContaining('recover would roll back Deployment shop/web'));
    expect(crash.join('\n')).not.toMatch(/oomkilled|nodenotready/);
    await shot(page, 'live-filter-crashloop');

    await page.selectOption('#f-class', '');
    await page.selectOption('#f-namespace', 'shop');
    const shop = await rowTexts(page);
    expect(shop.join('\n')).not.toContain('Node node-3: Node node-3 status');

    await page.selectOption('#f-namespace', '');
    await page.selectOption('#f-outcome', 'escalated');
    expect(await rowTexts(page)).toEqual([expect.stringContaining('recover escalated Deployment shop/web to a person')]);
    await page.click('#filters button[type=reset]');
    expect((await rowTexts(page)).length).toBe(all);
  });

  it('draws the topology: every Trigger of knative/ with its filter text', async () => {
    const mesh = loadMesh(join(root, 'knative'));
    const boxes = page.locator('#topo-triggers > li');
    expect(await boxes.count()).toBe(mesh.triggers.length);
    for (const t of mesh.triggers) {
      const box = await page.locator(`#topo-triggers > li[data-trigger="${t.name}"]`).innerText();
      expect(box).toContain(triggerFilterText(t));
    }
    await page.locator('#topology').scrollIntoViewIfNeeded();
    await shot(page, 'live-topology');
  });

  it('opens a row from the keyboard alone: Tab to it, ↓ to the next, Enter and Space', async () => {
    await page.goto(consoleUrl);
    await page.locator('#rows .row').first().waitFor();
    for (let i = 0; i < 30; i++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate(() => document.activeElement?.classList.contains('row'))) break;
    }
    expect(await page.evaluate(() => document.activeElement?.id)).toBe(await page.locator('#rows .row').first().getAttribute('id'));
    await page.keyboard.press('ArrowDown');
    const second = page.locator('#rows .row').nth(1);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe(await second.getAttribute('id'));
    await page.keyboard.press('Enter');
    expect(await second.getAttribute('aria-expanded')).toBe('true');
    expect(await page.locator(`#${await second.getAttribute('aria-controls')}`).isVisible()).toBe(true);
    // The focus is shown (an outline), not only held.
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    expect(outline).not.toBe('none');
    await shot(page, 'live-keyboard');
    await page.keyboard.press('Space');
    expect(await second.getAttribute('aria-expanded')).toBe('false');
  });

  it('has a label for every control and AA contrast for its text', async () => {
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('input, select, textarea')]
        .filter((el) => !el.labels?.length && !el.getAttribute('aria-label'))
        .map((el) => el.outerHTML),
    );
    expect(unlabelled).toEqual([]);
    await page.locator('#rows .row').nth(3).click();
    const low = await page.evaluate(() => {
      const rgb = (c: string): number[] => (c.match(/[\d.]+/g) ?? []).map(Number);
      const lum = ([r, g, b]: number[]): number => {
        const f = (v: number): number => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
        return 0.2126 * f(r!) + 0.7152 * f(g!) + 0.0722 * f(b!);
      };
      const background = (el: DomElement | null): number[] => {
        for (; el; el = el.parentElement) {
          const c = rgb(getComputedStyle(el).backgroundColor);
          if (c.length === 3 || (c.length === 4 && c[3]! > 0)) return c.slice(0, 3);
        }
        return [255, 255, 255];
      };
      const out: string[] = [];
      for (const el of document.querySelectorAll('body *')) {
        const own = [...el.childNodes].some((n) => n.nodeType === 3 /* a text node */ && n.textContent!.trim());
        if (!own || !el.offsetParent) continue;
        const a = lum(rgb(getComputedStyle(el).color).slice(0, 3));
        const b = lum(background(el));
        const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        if (ratio < 4.5) out.push(`${ratio.toFixed(2)} ${el.tagName}.${el.className}: ${el.textContent!.slice(0, 40)}`);
      }
      return out;
    });
    expect(low).toEqual([]);
  });

  it('posts an event through the form, says what the ingress answered, and shows it in the timeline', async () => {
    await page.fill('#p-data', '{ not json');
    await page.click('#post-form button[type=submit]');
    await expect(page.locator('#post-result').innerText()).resolves.toMatch(/Data is not JSON/);
    expect(await page.getAttribute('#p-data', 'aria-invalid')).toBe('true');

    await page.fill('#p-type', 'dev.reflex.signal.crashloop');
    await page.fill('#p-source', '/console/test');
    await page.fill('#p-ext', 'reflexclass=crashloop');
    await page.fill(
      '#p-data',
      JSON.stringify({
        class: 'crashloop',
        severity: 'warning',
        reason: 'posted from the browser test',
        target: { kind: 'Deployment', namespace: 'shop', name: 'web' },
      }),
    );
    await page.click('#post-form button[type=submit]');
    await page.locator('#post-result', { hasText: 'The ingress answered 202' }).waitFor();
    const posted = page.locator('#rows .row', { hasText: 'posted from the browser test' });
    await posted.waitFor();
    await posted.scrollIntoViewIfNeeded();
    await shot(page, 'live-posted');

    // A refusal is shown as the ingress said it: the extension name is not one.
    await page.fill('#p-ext', 'Bad-Name=1');
    await page.click('#post-form button[type=submit]');
    await expect(page.locator('#post-result').innerText()).resolves.toMatch(/Extensions, line 1/);
  });
});

describe('reflex replay --html', () => {
  it('writes one file that opens offline and shows the same timeline as the live console', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reflex-report-'));
    const file = join(dir, 'report.html');
    const r = spawnSync(process.execPath, [join(root, 'bin', 'reflex.js'), 'replay', incident, '--html', file], {
      env: { ...process.env, ...noCluster() },
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('The report: ');
    const html = readFileSync(file, 'utf8');
    expect(html).not.toContain(RAW_TOKEN);
    expect(html).not.toMatch(/<(script|link)[^>]+(src|href)="(?!data:)/);

    const offline = await browser.newContext({ viewport: { width: 1366, height: 768 }, offline: true });
    const report = await offline.newPage();
    const requests: string[] = [];
    report.on('request', (q) => requests.push(q.url()));
    await report.goto(pathToFileURL(file).href);
    await report.locator('#rows .row', { hasText: 'recover would resize Deployment shop/worker' }).waitFor();
    expect(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'))).toEqual([]);

    // The live console's rows for the recording (those before the event the form posted) are the report's.
    await page.goto(consoleUrl);
    await page.locator('#rows .row', { hasText: 'posted from the browser test' }).waitFor();
    const liveRows = await rowTexts(page);
    const recorded = liveRows.slice(
      0,
      liveRows.findIndex((t) => t.includes('posted from the browser test')),
    );
    expect(await rowTexts(report)).toEqual(recorded);
    expect(await report.locator('#post-form').isVisible()).toBe(false);
    expect(await report.locator('#topo-triggers > li').count()).toBe(loadMesh(join(root, 'knative')).triggers.length);
    await shot(report, 'report-offline');
    await offline.close();
  });
});
