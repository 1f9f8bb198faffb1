// Frame-time benchmark of the playground in headless Chromium: 7 voters under write load,
// opened from an address that holds the run (so every run of the benchmark is the same run),
// at a few playback speeds. For each it records the intervals between animation frames for
// DURATION seconds and reports mean and p95 frame time, frames per second, and how far
// simulated time got.
//
//   node web/tests/bench.mjs http://127.0.0.1:PORT/ [seconds]     (scripts/bench-web runs it)

import { chromium } from '../tools/node_modules/playwright-core/index.mjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const base = process.argv[2] || 'http://127.0.0.1:8088/';
const DURATION = Number(process.argv[3] || 10);
const SPEEDS = [1, 10, 100];
const LOAD_CLIENTS = 4;

// The run: 7 voters with the playground's latencies; the write load starts at 6 s.
const script = {
  setup: {
    voters: 7, observers: 0, seed: 42,
    network: { min: 300, max: 500 }, disk: { min: 50, max: 100 },
    tick_time: 2000, autostart: true,
  },
  inputs: [{ step: 0, at: 6000, action: { Load: { clients: LOAD_CLIENTS } } }],
};
const run = Buffer.from(JSON.stringify(script)).toString('base64url');

const profile = mkdtempSync(join(tmpdir(), 'zk-bench-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
  viewport: { width: 1400, height: 1000 },
});

const rows = [];
try {
  for (const speed of SPEEDS) {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(`${base}?lang=en&speed=${speed}#run=${run}`, { waitUntil: 'load' });
    await page.waitForSelector('#load-toggle[data-running="true"]', { timeout: 20_000 });
    await page.waitForSelector('#ensemble g.server[data-state="LEADING"]', { timeout: 60_000 });
    await page.waitForTimeout(2_000); // warm up
    const r = await page.evaluate((seconds) => new Promise((done) => {
      const clock = () => Number(document.querySelector('#clock').dataset.now);
      const events = () => Number(document.querySelector('#log .count').textContent.match(/(\d+)\D*$/)[1]);
      const t0 = clock();
      const e0 = events();
      const stamps = [];
      const end = performance.now() + seconds * 1000;
      function frame(ts) {
        stamps.push(ts);
        if (ts < end) requestAnimationFrame(frame);
        else {
          const gaps = stamps.slice(1).map((t, i) => t - stamps[i]).sort((a, b) => a - b);
          const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
          done({
            frames: gaps.length,
            mean,
            p95: gaps[Math.floor(gaps.length * 0.95)],
            max: gaps[gaps.length - 1],
            simMs: clock() - t0,
            events: events() - e0,
            messages: document.querySelectorAll('#ensemble g.msg').length,
          });
        }
      }
      requestAnimationFrame(frame);
    }), DURATION);
    r.speed = speed;
    r.errors = errors.length;
    rows.push(r);
    await page.close();
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

console.log(`\n7 voters, ${LOAD_CLIENTS} write-load clients, ${DURATION} s per speed, headless Chromium:\n`);
console.log('| speed | frames | mean frame (ms) | p95 frame (ms) | max (ms) | fps | simulated s per real s | log entries / s | errors |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.speed}× | ${r.frames} | ${r.mean.toFixed(1)} | ${r.p95.toFixed(1)} | ${r.max.toFixed(1)} | ${(1000 / r.mean).toFixed(1)} | ${(r.simMs / 1000 / DURATION).toFixed(2)} | ${(r.events / DURATION).toFixed(0)} | ${r.errors} |`);
}
