// Drives Debian's headless Chromium (through playwright-core, no browser download) against
// examples/web/index.php served by `php -S`, which talks to a real ledd on a fake sysfs tree.
// Prints one "PASS name" / "FAIL name: why" line per check; run.sh counts them.
//
// Environment (set by run.sh):
//   PHASE       main | unreachable
//   WEB_URL     http://127.0.0.1:PORT/
//   SYSFS       fake /sys/class/leds root (main)       LEDD_SOCKET  ledd's socket (main)
//   LEDD_LOG    ledd's stderr (main)                   ARTIFACTS    where screenshots go
//   EXPECT      text the page must show (unreachable)  SHOT         screenshot name (unreachable)
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const env = (k, d) => process.env[k] ?? d;
const PHASE = env('PHASE', 'main');
const URL0 = env('WEB_URL');
const ARTIFACTS = env('ARTIFACTS', '.');
let failed = 0;

function check(name, ok, why = '') {
  if (ok) console.log(`PASS ${name}`);
  else { failed++; console.log(`FAIL ${name}${why ? ': ' + why : ''}`); }
  return ok;
}
// Normalise text from the page: non-breaking spaces and line breaks become plain spaces.
const norm = (s) => (s ?? '').replace(/\s+/gu, ' ').trim();
// Text of an HTML answer, for the checks that do not go through the rendered page.
const htmlText = (html) => norm(html.replace(/<[^>]*>/g, ' ')
  .replace(/&apos;|&#0?39;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<')
  .replace(/&gt;/g, '>').replace(/&nbsp;/g, ' ').replace(/&amp;/g, '&'));

// ---- ledd side: the fake sysfs files and ledd's own `status` ------------------------------
function ledFiles(dev) {
  const out = {};
  for (const f of ['brightness', 'trigger', 'delay_on', 'delay_off']) {
    const p = path.join(env('SYSFS'), dev, f);
    if (fs.existsSync(p)) out[f] = fs.readFileSync(p, 'utf8').trim();
  }
  return out;
}
function leddAsk(order) {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(env('LEDD_SOCKET'));
    let buf = '';
    c.setTimeout(3000, () => { c.destroy(); reject(new Error('timeout')); });
    c.on('connect', () => c.write(order + '\n'));
    c.on('data', (d) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i >= 0) { c.end(); resolve(buf.slice(0, i)); }
    });
    c.on('error', reject);
  });
}
// The active trigger: the bracketed name, as the kernel (and the fake tree, tests/fakeleds) shows it.
function activeTrigger(content) {
  const m = /\[([^\]]+)\]/.exec(content ?? '');
  return m ? m[1] : null;
}
// Everything that must not move when the page refuses an order.
async function snapshot() {
  return JSON.stringify({
    sim0: ledFiles('sim0'), sim1: ledFiles('sim1'),
    status: await leddAsk('status status'), power: await leddAsk('status power'),
  });
}
// State-changing orders ledd carried out, counted in its log: it logs each one with the
// client's credentials ("order 'blink status 3' from uid=0 pid=...: ok ..."). This is how
// "one click = exactly one order" is checked.
const ORDER_RE = new RegExp(env('ORDER_LOG_RE', 'uid='));
function ordersLogged() {
  return fs.readFileSync(env('LEDD_LOG'), 'utf8').split('\n').filter((l) => ORDER_RE.test(l)).length;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- browser ------------------------------------------------------------------------------
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledd-web-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: env('CHROMIUM', '/usr/bin/chromium'),
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 800, height: 720 },
  locale: 'fr-FR',
  reducedMotion: 'reduce',   // the on-screen LED dot stays lit: stable screenshots
});
const page = context.pages()[0] ?? await context.newPage();
const foreign = [];
page.on('request', (r) => { if (!r.url().startsWith(URL0)) foreign.push(r.url()); });
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(String(e)));

const message = async () => norm((await page.locator('.message').allTextContents()).join(' | '));
const etat = async () => norm(await page.locator('#etat').textContent().catch(() => ''));

// Fill the form and click one button; resolves once the redirected GET page has loaded.
async function submit(button, freq, led) {
  if (led !== undefined) await page.getByLabel('LED', { exact: true }).selectOption(led);
  if (freq !== undefined) await page.getByLabel('Fréquence (Hz)').fill(freq);
  await Promise.all([
    page.waitForURL((u) => u.search !== '' || u.href.endsWith('?'), { waitUntil: 'load' }),
    page.getByRole('button', { name: button, exact: true }).click(),
  ]);
}

try {
  if (PHASE === 'unreachable') {
    const expect = env('EXPECT');
    await page.goto(URL0);
    check(`unreachable page shows "${expect}"`, (await message()).includes(expect), await message());
    await submit('Clignoter', '2');
    const m = await message();
    check(`unreachable click shows "${expect}" and that nothing was done`,
      m.includes(expect) && m.includes('Aucun ordre'), m);
    await page.screenshot({ path: path.join(ARTIFACTS, env('SHOT', 'page-unreachable.png')), fullPage: true });
  } else {
    await page.goto(URL0);
    // Form: same names as the old PHP page, French labels, the LED picker from `list`.
    check('form has field freq and buttons clignote/eteindre',
      await page.locator('input[name=freq]').count() === 1
      && await page.locator('button[name=clignote]').textContent() === 'Clignoter'
      && await page.locator('button[name=eteindre]').textContent() === 'Eteindre');
    const options = await page.locator('select[name=led] option').evaluateAll((os) => os.map((o) => o.value));
    check('LED picker lists the configured LEDs', JSON.stringify([...options].sort()) === '["ghost","power","status"]',
      JSON.stringify(options));
    check('inputs have labels', await page.getByLabel('Fréquence (Hz)').count() === 1
      && await page.getByLabel('LED', { exact: true }).count() === 1);

    // 1. Clignoter à 3 Hz.
    let n0 = ordersLogged();
    await submit('Clignoter', '3', 'status');
    await page.screenshot({ path: path.join(ARTIFACTS, 'page-after-clignote.png'), fullPage: true });
    let f = ledFiles('sim0');
    check('Clignoter 3 Hz: ledd wrote trigger "timer", delay_on 167, delay_off 167',
      activeTrigger(f.trigger) === 'timer' && f.delay_on === '167' && f.delay_off === '167', JSON.stringify(f));
    let st = await leddAsk('status status');
    check('Clignoter 3 Hz: ledd status says blink 167/167',
      /mode=blink/.test(st) && /delay_on=167/.test(st) && /delay_off=167/.test(st), st);
    check('Clignoter 3 Hz: page confirms the order', (await message()).includes('clignoter à 3 Hz'), await message());
    check('Clignoter 3 Hz: page shows the state in French', /clignote à (environ )?3 Hz/.test(await etat()), await etat());
    check('Clignoter 3 Hz: the other LED is untouched',
      JSON.stringify(ledFiles('sim1')) === JSON.stringify({ brightness: '0', trigger: '[none] timer heartbeat pattern' }),
      JSON.stringify(ledFiles('sim1')));
    await sleep(300);   // let ledd flush its log line
    let n1 = ordersLogged();
    check('one click sent exactly one order', n1 - n0 === 1, `ledd logged ${n1 - n0} orders`);
    check('redirect-after-POST: the page is a GET with ?led=status', new URL(page.url()).search === '?led=status', page.url());

    // 2. Reloading the page must not send the order again, and the message shows once.
    await page.reload({ waitUntil: 'load' });
    await sleep(300);
    check('reload sends nothing', ordersLogged() === n1, `${ordersLogged() - n1} more orders`);
    check('reload: the message was shown once only', (await message()) === '', await message());
    check('reload: state still shown', /clignote à (environ )?3 Hz/.test(await etat()), await etat());

    // 3. Eteindre (the old page tested the wrong field name: this one must work).
    await submit('Eteindre');
    f = ledFiles('sim0');
    check('Eteindre: ledd wrote trigger "none", brightness 0', f.brightness === '0' && activeTrigger(f.trigger) === 'none'
      && f.delay_on === undefined, JSON.stringify(f));
    st = await leddAsk('status status');
    check('Eteindre: ledd status says off', /mode=off/.test(st), st);
    check('Eteindre: page says "éteinte"', (await etat()).includes('est éteinte'), await etat());
    await sleep(300);
    check('Eteindre: exactly one order', ordersLogged() - n1 === 1, `${ordersLogged() - n1} orders`);

    // 3b. Identifier: a 30 s claim at 5 Hz on top of the base; released here so the
    // steps below see the base again.
    await submit('Identifier');
    f = ledFiles('sim0');
    st = await leddAsk('status status');
    check('Identifier: ledd blinks 100/100 as a claim over the base',
      activeTrigger(f.trigger) === 'timer' && f.delay_on === '100' && /shown=claim/.test(st), `${JSON.stringify(f)} ${st}`);
    check('Identifier: page confirms the order', (await message()).includes('clignote vite pendant 30 s'), await message());
    await leddAsk('release status all');

    // 4. French decimal comma.
    await submit('Clignoter', '2,5');
    f = ledFiles('sim0');
    check('"2,5" accepted: sim0 blinks 200/200', activeTrigger(f.trigger) === 'timer' && f.delay_on === '200' && f.delay_off === '200', JSON.stringify(f));
    check('"2,5": page says 2,5 Hz', /clignote à (environ )?2,5 Hz/.test(await etat()), await etat());

    // 5. Bad input: a clear French message and nothing sent (files, ledd status, log unchanged).
    const bad = [
      ['abc', "« abc » n'est pas un nombre"],
      ['-1', 'doit être positive'],
      ['0', 'comprise entre 0,001 et 500 Hz'],
      ['', 'Indiquez une fréquence'],
      ['600', 'comprise entre 0,001 et 500 Hz'],
      ['1e3', "n'est pas un nombre"],
      ['2;reboot', "n'est pas un nombre"],
    ];
    for (const [input, expected] of bad) {
      const before = await snapshot();
      const nb = ordersLogged();
      await submit('Clignoter', input);
      await sleep(200);
      const m = await message();
      check(`freq "${input}": message "${expected}"`, m.includes(expected) && m.includes('Aucun ordre'), m);
      check(`freq "${input}": LED files and ledd status unchanged, nothing sent`,
        (await snapshot()) === before && ordersLogged() === nb, `orders +${ordersLogged() - nb}`);
      check(`freq "${input}": the typed value is kept in the field`,
        (await page.getByLabel('Fréquence (Hz)').inputValue()) === input);
    }

    // 6. The LED picker drives the other LED only.
    let before0 = JSON.stringify(ledFiles('sim0'));
    await submit('Clignoter', '1', 'power');
    f = ledFiles('sim1');
    check('picker: power (sim1) blinks 500/500 at 1 Hz', activeTrigger(f.trigger) === 'timer' && f.delay_on === '500' && f.delay_off === '500', JSON.stringify(f));
    check('picker: status (sim0) untouched', JSON.stringify(ledFiles('sim0')) === before0, JSON.stringify(ledFiles('sim0')));
    check('picker: power stays selected and its state is shown',
      (await page.locator('select[name=led]').inputValue()) === 'power' && /power.*clignote à (environ )?1 Hz/.test(await etat()), await etat());

    // 7. ledd's own `err` replies are shown: "ghost" is configured but its device is missing.
    await page.goto(new URL('?led=ghost', URL0).href);
    check('missing device: state says the LED is absent', (await etat()).includes('absente'), await etat());
    let snap = await snapshot();
    await submit('Clignoter', '2', 'ghost');
    check("ledd err reply shown: \"ledd a refusé l'ordre\"", (await message()).includes("ledd a refusé l'ordre"), await message());
    check('ledd err reply: other LEDs unchanged', (await snapshot()) === snap);

    // 8. Crafted POSTs (not through the form): messages, nothing sent.
    await page.goto(URL0);
    const crafted = [
      ['freq=2;reboot&clignote=1', "n'est pas un nombre"],
      ['freq=2%3Breboot&clignote=1', "n'est pas un nombre"],
      ['freq=$(reboot)&clignote=1', "n'est pas un nombre"],
      ['freq=2&clignote=1&led=status%0Aoff', 'LED inconnue'],
      ['freq=2&clignote=1&led=../../../etc', 'LED inconnue'],
      ['freq=2&clignote=1&eteindre=1', 'Choisissez une action'],
      ['freq=2', 'Choisissez une action'],
      ['freq=<script>alert(1)</script>&clignote=1', "n'est pas un nombre"],
      ['freq=2&clignote=1&led=<b>x</b>', 'LED inconnue'],
    ];
    for (const [body, expected] of crafted) {
      snap = await snapshot();
      const nb = ordersLogged();
      // The browser context's own HTTP client: same cookies (flash message), follows the 303.
      const resp = await page.request.post(URL0, {
        data: body, headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
      const html = await resp.text();
      await sleep(200);
      check(`crafted POST ${body}: message and nothing sent`,
        htmlText(html).includes(expected) && (await snapshot()) === snap && ordersLogged() === nb,
        `orders +${ordersLogged() - nb}, message found: ${htmlText(html).includes(expected)}`);
      check(`crafted POST ${body}: output is escaped`, !/<script>alert|<b>x/.test(html));
    }

    // 9. The state live, without a reload: another client's order, then a claim that ends
    //    by itself; the dot blinks at the kernel's own rate (from the real delays).
    await page.goto(new URL('?led=status', URL0).href);
    await page.evaluate(() => { window.notReloaded = true; });
    await leddAsk('blink status 4');
    const liveUntil = async (re, seconds) => {
      for (let i = 0; i < seconds * 10 && !re.test(await etat()); i++) await sleep(100);
      return re.test(await etat());
    };
    check('live: another client\'s order shows within 5 s, no reload',
      (await liveUntil(/clignote à (environ )?4 Hz/, 5)) && (await page.evaluate(() => window.notReloaded === true)),
      await etat());
    const periode = async () => page.locator('#etat-led').evaluate((e) => e.style.getPropertyValue('--periode'));
    check('live: the dot blinks at the kernel\'s rate (period 0.250 s)', (await periode()) === '0.250s', await periode());
    await leddAsk('blink status 5 for=3s');
    const claimSeen = await liveUntil(/clignote à (environ )?5 Hz/, 5);
    check('live: a claim that ends by itself: 5 Hz, then 4 Hz again, no reload',
      claimSeen && (await liveUntil(/clignote à (environ )?4 Hz/, 8)) && (await page.evaluate(() => window.notReloaded === true)),
      `claim seen: ${claimSeen}; now: ${await etat()}`);
    const json = await (await page.request.get(new URL('?etat=json&led=power', URL0).href)).json();
    check('live: ?etat=json gives the state of the LED asked for',
      json.ok === true && json.led === 'power' && json.classe === 'led-clignote' && Math.abs(json.periode - 1) < 1e-9,
      JSON.stringify(json));

    check('no request left the page\'s own server (no external assets)', foreign.length === 0, foreign.join(' '));
    check('no JavaScript errors on the page', pageErrors.length === 0, pageErrors.join(' '));
  }
} catch (e) {
  check(`browser test (${PHASE}) ran to the end`, false, String(e?.stack ?? e));
} finally {
  await context.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
