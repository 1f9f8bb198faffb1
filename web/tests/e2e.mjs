// End-to-end test of the playground in a real headless Chromium (Debian's /usr/bin/chromium),
// driven by playwright-core. It covers the wiring and the DOM; the simulation itself is tested
// natively in core (core/tests/play.rs).
//
//   node web/tests/e2e.mjs http://127.0.0.1:PORT/      (scripts/test-web serves dist/ and runs it)
//
// Steps: start three servers from the setup panel, see a LEADING server, kill it, see a new
// leader, run `create /a x` in a console and read /a back from another server's tree view,
// replay the run from its address, switch to Chinese, check the panic overlay — with no console
// errors or page errors, and a screenshot in target/e2e/playground.png. Every wait is bounded.

import { chromium } from '../tools/node_modules/playwright-core/index.mjs';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const base = process.argv[2] || 'http://127.0.0.1:8088/';
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const artifacts = join(root, 'target', 'e2e');
mkdirSync(artifacts, { recursive: true });

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
];

let passed = 0;
const started = Date.now();
function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  passed += 1;
  console.log(`  ok ${passed} - ${what}`);
}

const profile = mkdtempSync(join(tmpdir(), 'zk-e2e-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: CHROMIUM_ARGS,
  viewport: { width: 1400, height: 1000 },
});

// Console errors and page errors of every page but the deliberate panic's.
const problems = [];
function watch(page, label) {
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${label}: console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`${label}: page error: ${e.message}`));
}

const T = 20_000; // the longest any single wait may take

async function serverStates(page) {
  return page.$$eval('#ensemble g.server', (gs) => gs.map((g) => ({
    id: g.dataset.serverId, state: g.dataset.state, status: g.dataset.status, serving: g.dataset.serving,
  })));
}

async function waitLeader(page, not) {
  const handle = await page.waitForFunction((not) => {
    const g = [...document.querySelectorAll('#ensemble g.server[data-state="LEADING"][data-serving="true"]')]
      .filter((x) => x.dataset.serverId !== not && x.dataset.status === 'up');
    return g.length === 1 ? g[0].dataset.serverId : null;
  }, not ?? null, { timeout: T });
  return handle.jsonValue();
}

async function transcript(page) {
  return page.$eval('#console-transcript', (e) => e.textContent);
}

let failure = null;
try {
  const page = await context.newPage();
  watch(page, 'main');
  await page.goto(base + '?lang=en#seed=11', { waitUntil: 'load' });
  await page.waitForSelector('#ensemble g.server', { timeout: T });
  check(true, 'the page loads and draws the ensemble');

  // Start three servers by hand: a new run of 3 voters that does not start them.
  await page.selectOption('#setup-voters', '3');
  await page.selectOption('#setup-observers', '0');
  await page.uncheck('#setup-autostart');
  await page.click('#new-run');
  await page.waitForFunction(() => {
    const g = document.querySelectorAll('#ensemble g.server');
    return g.length === 3 && [...g].every((x) => x.dataset.status === 'down');
  }, null, { timeout: T });
  check(true, 'a new run of three servers, all down');
  for (const id of ['1', '2', '3']) {
    await page.click(`.server-card[data-card-id="${id}"] [data-action="start"]`);
  }
  await page.waitForFunction(() => [...document.querySelectorAll('#ensemble g.server')]
    .every((x) => x.dataset.status === 'up'), null, { timeout: T });
  check(true, 'three servers started from their cards');

  await page.click('button.preset[data-speed="10"]');
  check((await page.textContent('#speed-value')).trim() === '10×', 'speed set to 10×');

  const first = await waitLeader(page);
  check(Boolean(first), `server ${first} is LEADING`);
  check(await page.$(`.leader-marker[data-server-id="${first}"]`) !== null, 'the leader carries the marker');

  // Kill the leader; the other two elect a new one.
  await page.click(`.server-card[data-card-id="${first}"] [data-action="kill"]`);
  await page.waitForSelector(`#ensemble g.server[data-server-id="${first}"][data-status="down"]`, { timeout: T });
  check(true, `server ${first} killed`);
  const second = await waitLeader(page, first);
  check(second && second !== first, `server ${second} is the new leader`);

  // A console on the new leader: create /a x.
  await page.selectOption('#console-server', second);
  await page.click('#open-console');
  await page.waitForFunction(() => {
    const p = document.querySelector('.prompt-line .prompt');
    return p && p.textContent.includes('CONNECTED');
  }, null, { timeout: T });
  check(true, `console connected to zk${second}`);
  await page.fill('#console-input', 'create /a x');
  await page.press('#console-input', 'Enter');
  await page.waitForFunction(() => document.querySelector('#console-transcript')?.textContent
    .includes('Created /a'), null, { timeout: T });
  check((await transcript(page)).includes('create /a x'), 'the console echoes the command and prints "Created /a"');

  // Read it back from the third server's tree.
  const states = await serverStates(page);
  const other = states.find((s) => s.id !== first && s.id !== second).id;
  await page.selectOption('#tree-server', other);
  await page.waitForSelector(`#tree[data-server-id="${other}"] li[data-path="/a"]`, { timeout: T });
  const data = await page.textContent(`#tree li[data-path="/a"] .data`);
  check(data.trim() === '"x"', `server ${other}'s tree has /a = "x" (got ${data})`);
  await page.click(`#tree li[data-path="/a"] .node`);
  const stat = await page.textContent(`#tree li[data-path="/a"] table.stat`);
  check(stat.includes('cZxid') && stat.includes('dataLength'), 'a click on /a shows its stat');

  // Pause, pick a message in flight, drop it: the log says so.
  await page.click('#play');
  check(await page.getAttribute('#play', 'data-playing') === 'false', 'paused');
  // Single steps until a message is on its way (each step handles one event).
  const clock = async () => Number(await page.getAttribute('#clock', 'data-now'));
  const before = await clock();
  for (let i = 0; i < 200 && !(await page.$('#messages .msg')); i++) await page.click('#step');
  const msg = await page.$('#messages .msg');
  check(msg !== null && (await clock()) >= before, 'single steps bring a message in flight');
  const msgId = await msg.getAttribute('data-msg-id');
  const msgKind = await msg.getAttribute('data-kind');
  await msg.click();
  await page.waitForSelector(`#picked-message[data-msg-id="${msgId}"]`, { timeout: T });
  const fields = await page.textContent('#picked-message table.fields');
  check(fields.length > 0, `a click on ${msgKind} #${msgId} shows its fields`);
  await page.click('#drop-message');
  await page.waitForFunction((id) => [...document.querySelectorAll('#event-log li')]
    .some((li) => li.textContent.includes(`#${id} dropped`)), msgId, { timeout: T });
  check(await page.$(`#messages .msg[data-msg-id="${msgId}"]`) === null, `${msgKind} #${msgId} dropped by hand`);
  await page.click('#play');

  // The vote panel explains a vote change.
  await page.click(`#votes [data-vote-server="${second}"]`);
  const why = await page.textContent('#vote-why');
  check(/peerEpoch|zxid|server id|round/.test(why), `the vote panel says why: ${why.trim().slice(0, 80)}`);

  check(await page.getAttribute('#invariants', 'data-ok') === 'true', 'the invariant badge is green');
  await page.screenshot({ path: join(artifacts, 'playground.png'), fullPage: true });
  check(true, 'screenshot saved to target/e2e/playground.png');

  // The address replays the run: the same command prints the same answer.
  const url = page.url();
  check(url.includes('#run='), 'the address holds the run');
  const replay = await context.newPage();
  watch(replay, 'replay');
  await replay.goto(url.replace('?lang=en', '?lang=en&speed=10'), { waitUntil: 'load' });
  await replay.waitForFunction(() => document.querySelector('#console-transcript')?.textContent
    .includes('Created /a'), null, { timeout: T });
  const killed = await replay.getAttribute(`#ensemble g.server[data-server-id="${first}"]`, 'data-status');
  check(killed === 'down', `the replayed run has server ${first} down and the console's "Created /a"`);
  await replay.close();

  // Chinese.
  await page.click('#lang-zh');
  check((await page.textContent('h1')).includes('演练场'), 'the language switch shows Chinese');
  check(await page.getAttribute('html', 'lang') === 'zh-CN', 'the document language follows');
  await page.screenshot({ path: join(artifacts, 'playground-zh.png'), fullPage: false });
  await page.click('#lang-en');

  // A phone-sized screen still shows the ensemble and the console.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  const svgWidth = await page.$eval('#ensemble', (e) => e.getBoundingClientRect().width);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(svgWidth > 300 && svgWidth <= 390 && overflow <= 1, `phone layout: no sideways scroll (svg ${svgWidth}px)`);
  await page.screenshot({ path: join(artifacts, 'playground-phone.png'), fullPage: false });

  // A panic shows the overlay (this page's errors are expected, so not watched).
  const crash = await context.newPage();
  await crash.goto(base + '?panic-test', { waitUntil: 'load' });
  await crash.waitForSelector('#panic:not([hidden])', { timeout: T });
  const panicText = await crash.textContent('#panic-message');
  check(panicText.includes('deliberate panic'), 'a panic shows the overlay with its message');
  check(await crash.$('#panic-reset') !== null, 'the overlay offers a reset');
  await crash.close();

  check(problems.length === 0, `no console or page errors${problems.length ? ':\n' + problems.join('\n') : ''}`);
} catch (e) {
  failure = e;
  try {
    const pages = context.pages();
    if (pages.length) await pages[0].screenshot({ path: join(artifacts, 'failure.png'), fullPage: true });
  } catch { /* the screenshot is a bonus */ }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

const secs = ((Date.now() - started) / 1000).toFixed(1);
if (failure) {
  console.error(`  not ok - ${failure.message}`);
  if (problems.length) console.error(problems.join('\n'));
  console.log(`e2e: FAILED after ${passed} checks in ${secs} s (screenshot: target/e2e/failure.png)`);
  process.exit(1);
}
console.log(`e2e: ${passed} checks passed in ${secs} s`);
