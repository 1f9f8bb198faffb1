// End-to-end test of the playground in a real headless Chromium (Debian's /usr/bin/chromium),
// driven by playwright-core. It covers the wiring and the DOM; the simulation itself is tested
// natively in the simulator (sim/tests/play.rs).
//
//   node web/tests/e2e.mjs http://127.0.0.1:PORT/      (scripts/test-web serves dist/ and runs it)
//
// Steps: start three servers from the setup panel, see a LEADING server, kill it, see a new
// leader, run `create /a x` in a console and read /a back from another server's tree view,
// replay the run from its address, switch to Chinese, check the panic overlay; then the tutorial
// panel: list the tutorials, walk S1 step by step (each step's checks turn green and time stops
// there), open S6 from its address and walk it with one step back, auto-play, Chinese narration,
// and leave the script — with no console errors or page errors, and screenshots in target/e2e/
// (playground.png, tutorial-s6.png). Every wait is bounded.

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


// The tutorial panel as the page shows it: its step, phase and checks (for waits and messages).
async function tutorialState(page) {
  return page.evaluate(() => {
    const t = document.querySelector('#tutorial');
    if (!t) return null;
    return {
      id: t.dataset.tutorial, step: Number(t.dataset.step), steps: Number(t.dataset.steps), phase: t.dataset.phase,
      status: document.querySelector('#tutorial-status')?.textContent.trim(),
      checks: [...document.querySelectorAll('#tutorial-checks .check-item')]
        .map((c) => ({ ok: c.dataset.ok === 'true', text: c.textContent.trim() })),
    };
  });
}

// Waits (bounded) until step `step` of the open tutorial has passed: its phase is `passed` or
// `done` and every check is green. A step that runs late fails at once with what was seen.
async function waitStepPassed(page, step) {
  try {
    await page.waitForFunction((step) => {
      const t = document.querySelector('#tutorial');
      if (!t || t.dataset.step !== String(step)) return false;
      if (t.dataset.phase === 'late') return true;
      if (t.dataset.phase !== 'passed' && t.dataset.phase !== 'done') return false;
      const checks = [...document.querySelectorAll('#tutorial-checks .check-item')];
      return checks.length > 0 && checks.every((c) => c.dataset.ok === 'true');
    }, step, { timeout: T });
  } catch (e) {
    throw new Error(`step ${step} did not pass in ${T / 1000} s: ${JSON.stringify(await tutorialState(page))}`);
  }
  const s = await tutorialState(page);
  if (s.phase === 'late') throw new Error(`step ${step} ran late: ${JSON.stringify(s)}`);
  return s;
}

// Next, then wait for the step it begins to pass.
async function nextStep(page) {
  const before = (await tutorialState(page)).step;
  await page.click('#tutorial-next');
  return waitStepPassed(page, before + 1);
}

const clockNow = async (page) => Number(await page.getAttribute('#clock', 'data-now'));

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


  // ---- The tutorial panel. ----
  await page.setViewportSize({ width: 1400, height: 1000 });
  await page.click('#tutorials-toggle');
  await page.waitForSelector('#tutorial-list', { timeout: T });
  const listed = await page.$$eval('#tutorial-list .tutorial-item', (b) => b.map((x) => x.dataset.tutorialId));
  check(listed.length === 18 && listed[0] === 'S1' && listed[17] === 'S18',
    `the tutorial list shows 18 tutorials (${listed.join(' ')})`);
  check(await page.getAttribute('#tutorials-toggle', 'aria-pressed') === 'true', 'the Tutorials button is on');

  await page.click('button[data-tutorial-id="S1"]');
  await page.waitForSelector('#tutorial[data-tutorial="S1"]', { timeout: T });
  let tut = await tutorialState(page);
  check(tut.step === 0 && tut.phase === 'intro' && tut.steps === 7, `S1 opens at its start (${tut.steps} steps, ${tut.phase})`);
  check(await page.isDisabled('#tutorial-back'), 'Back is disabled before the first step');
  check((await page.$$('#ensemble g.server')).length === 5
    && (await serverStates(page)).every((s) => s.status === 'down'), "S1's cluster: five servers, all down");
  check(page.url().includes('#tutorial=S1&step=0'), 'the address names the tutorial');
  await page.click('button.preset[data-speed="100"]');

  tut = await nextStep(page);
  check(tut.step === 1 && tut.checks.length === 2, 'S1 step 1: server 1 starts, LOOKING, votes for itself: checks green');
  const focusIds = await page.$$eval('#ensemble g.server.focus', (gs) => gs.map((g) => g.dataset.serverId));
  check(focusIds.join() === '1' && await page.$('#ensemble g.server.focus .halo') !== null
    && await page.$('.server-card.focus[data-card-id="1"]') !== null, 'the step\'s server has a halo and a marked card');
  const stopped = await clockNow(page);
  await page.waitForTimeout(400);
  check(await clockNow(page) === stopped && await page.getAttribute('#play', 'data-playing') === 'false',
    `time stops where the step passed (${stopped} ms)`);
  for (let i = 2; i <= 7; i++) {
    tut = await nextStep(page);
    check(tut.step === i && tut.checks.every((c) => c.ok), `S1 step ${i} of 7 passed: ${tut.checks.length} checks green`);
    if (i === 3) check(page.url().includes('#tutorial=S1&step=3'), 'the address follows the step');
  }
  check(tut.phase === 'done' && await page.isDisabled('#tutorial-next'), 'S1 is complete and Next is disabled');
  const s1leader = await page.getAttribute('#ensemble g.server[data-server-id="3"]', 'data-state');
  check(s1leader === 'LEADING', `at S1's end server 3 is ${s1leader}`);

  // S6 from its address, at its start.
  const s6 = await context.newPage();
  watch(s6, 's6');
  await s6.goto(base + '?lang=en&speed=100#tutorial=S6&step=0', { waitUntil: 'load' });
  await s6.waitForSelector('#tutorial[data-tutorial="S6"]', { timeout: T });
  tut = await tutorialState(s6);
  check(tut.step === 0 && tut.phase === 'intro' && tut.steps === 6, 'S6 opens from its address, at its start');
  check((await s6.textContent('#tutorial-note')).includes('COMMIT'), "S6's note is shown before the first step");
  for (let i = 1; i <= 4; i++) {
    tut = await nextStep(s6);
    check(tut.step === i, `S6 step ${i} of 6 passed: ${tut.checks.length} checks green`);
  }
  // Step 4 is about PROPOSAL and ACK: the log marks those entries, each on its own row.
  const marked = await s6.$$eval('#event-log li.focus', (lis) => lis.map((li) => ({
    kind: li.dataset.kind, top: li.getBoundingClientRect().top,
  })));
  const rows = new Set(marked.map((m) => Math.round(m.top)));
  check(marked.length >= 3 && marked.every((m) => m.kind === 'PROPOSAL' || m.kind === 'ACK') && rows.size === marked.length,
    `the log marks the step's ${marked.length} PROPOSAL/ACK entries, one per row`);
  // One step back: step 3 begins again where it began, and passes again.
  await s6.click('#tutorial-back');
  tut = await waitStepPassed(s6, 3);
  check(tut.step === 3 && tut.checks.every((c) => c.ok), 'Back goes to step 3, which passes again');
  for (let i = 4; i <= 6; i++) {
    tut = await nextStep(s6);
    check(tut.step === i, `S6 step ${i} of 6 passed: ${tut.checks.length} checks green`);
  }
  check(tut.phase === 'done', 'S6 is complete');
  const created = await s6.textContent('#console-transcript');
  check(created.includes('Created /s6') && created.includes('cZxid = 0x100000002'),
    'the console shows "Created /s6" and its cZxid 0x100000002');
  await s6.screenshot({ path: join(artifacts, 'tutorial-s6.png'), fullPage: false });
  check(true, 'screenshot saved to target/e2e/tutorial-s6.png');

  // Chinese narration.
  await s6.click('#lang-zh');
  const say = await s6.textContent('#tutorial-say');
  const title = await s6.textContent('#tutorial-title');
  check(say.includes('服务器 1 已经应用了这个事务') && title.includes('一次写请求的完整旅程'),
    `the Chinese page narrates in Chinese: ${title} — ${say.slice(0, 24)}…`);
  check(/服务器|控制台/.test(await s6.textContent('#tutorial-checks')), 'the checks read in Chinese');
  await s6.click('#lang-en');

  // On a phone the panel comes first and nothing scrolls sideways.
  await s6.setViewportSize({ width: 390, height: 844 });
  await s6.waitForTimeout(300);
  const panelBox = await s6.$eval('#tutorial', (e) => e.getBoundingClientRect().toJSON());
  const ensembleTop = await s6.$eval('#ensemble', (e) => e.getBoundingClientRect().top);
  const sideways = await s6.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(panelBox.width <= 390 && panelBox.top < ensembleTop && sideways <= 1,
    `phone layout with the tutorial: panel ${Math.round(panelBox.width)}px above the ensemble, no sideways scroll`);
  await s6.screenshot({ path: join(artifacts, 'tutorial-phone.png'), fullPage: false });
  await s6.setViewportSize({ width: 1400, height: 1000 });

  // Play freely: the panel goes, the run goes on from where it is.
  const left = await clockNow(s6);
  await s6.click('#tutorial-leave');
  await s6.waitForSelector('#tutorial', { state: 'detached', timeout: T });
  check(await s6.$('#tutorials') === null, 'Play freely closes the tutorial panel');
  await s6.waitForFunction((t) => Number(document.querySelector('#clock').dataset.now) > t, left, { timeout: T });
  check(await s6.getAttribute('#play', 'data-playing') === 'true', 'the run goes on after leaving the script');
  await s6.waitForFunction(() => location.hash.startsWith('#run='), null, { timeout: T });
  check(true, 'the address holds the run again');
  await s6.close();

  // An address in the middle of S6: the steps before it replay, step 4 begins; auto-play goes on.
  const mid = await context.newPage();
  watch(mid, 's6-step4');
  await mid.goto(base + '?lang=en&speed=100#tutorial=S6&step=4', { waitUntil: 'load' });
  tut = await waitStepPassed(mid, 4);
  check(tut.id === 'S6' && tut.step === 4, 'the address #tutorial=S6&step=4 replays up to step 4, which passes');
  await mid.click('#tutorial-auto');
  tut = await waitStepPassed(mid, 5);
  check(tut.step === 5, 'auto-play begins step 5 by itself after a pause');
  await mid.close();

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
