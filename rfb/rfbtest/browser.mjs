// The browser driver behind rfbtest.StartBrowser: headless Debian Chromium
// through playwright-core, driven over stdin and stdout by the Go test.
//
//	Go → driver: one JSON object a line, {"id": N, "op": "...", ...}
//	driver → Go: one JSON object a line, {"id": N, "ok": true, "value": ...}
//	             or {"id": N, "ok": false, "error": "..."}
//
// The environment says where playwright-core is (LIFEBUOY_NODE_MODULES),
// which Chromium to run (LIFEBUOY_CHROMIUM) and its extra flags
// (LIFEBUOY_CHROMIUM_ARGS, a JSON array). The driver exits when stdin
// closes, closing the browser first.
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import path from 'node:path';

const require = createRequire(path.join(process.env.LIFEBUOY_NODE_MODULES, 'noop.js'));
const { chromium } = require('playwright-core');

const browser = await chromium.launch({
  executablePath: process.env.LIFEBUOY_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // The machine's network is closed: Chromium's own background traffic
  // only produces refused connections and noise.
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ...(JSON.parse(process.env.LIFEBUOY_CHROMIUM_ARGS || 'null') || []),
  ],
});

const pages = new Map(); // id → {page, context, logs}
let nextPage = 1;

// fn turns a function's source into a function, which playwright sends to
// the page by its source and calls there with the argument (a string alone
// would be evaluated as an expression, not called).
function fn(src) {
  return new Function(`return (${src});`)();
}

function pageOf(msg) {
  const p = pages.get(msg.page);
  if (!p) throw new Error(`no page ${msg.page}`);
  return p;
}

const ops = {
  async newPage(msg) {
    const context = await browser.newContext({
      locale: msg.locale || 'en-US',
      viewport: msg.width ? { width: msg.width, height: msg.height } : { width: 1280, height: 800 },
      deviceScaleFactor: 1,
    });
    const page = await context.newPage();
    const logs = [];
    page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
    const id = nextPage++;
    pages.set(id, { page, context, logs });
    return id;
  },
  async closePage(msg) {
    const p = pageOf(msg);
    pages.delete(msg.page);
    await p.context.close();
    return null;
  },
  async goto(msg) {
    const resp = await pageOf(msg).page.goto(msg.url, { timeout: msg.timeout });
    return resp ? resp.status() : 0;
  },
  async eval(msg) {
    // msg.js is a function's source; it is called with msg.arg.
    return await pageOf(msg).page.evaluate(fn(msg.js), msg.arg);
  },
  async click(msg) {
    await pageOf(msg).page.getByRole(msg.role, { name: msg.name, exact: true }).click({ timeout: msg.timeout });
    return null;
  },
  async fill(msg) {
    await pageOf(msg).page.getByLabel(msg.label, { exact: true }).fill(msg.value, { timeout: msg.timeout });
    return null;
  },
  async press(msg) {
    await pageOf(msg).page.keyboard.press(msg.key);
    return null;
  },
  async type(msg) {
    await pageOf(msg).page.keyboard.type(msg.text);
    return null;
  },
  async mouse(msg) {
    const m = pageOf(msg).page.mouse;
    if (msg.action === 'move') await m.move(msg.x, msg.y);
    else if (msg.action === 'click') await m.click(msg.x, msg.y);
    else if (msg.action === 'down') await m.down();
    else if (msg.action === 'up') await m.up();
    else throw new Error(`unknown mouse action ${msg.action}`);
    return null;
  },
  async waitText(msg) {
    await pageOf(msg).page.getByText(msg.text).first().waitFor({ timeout: msg.timeout });
    return null;
  },
  async waitFunction(msg) {
    const h = await pageOf(msg).page.waitForFunction(fn(msg.js), msg.arg, { timeout: msg.timeout, polling: 50 });
    return await h.jsonValue();
  },
  async screenshot(msg) {
    const { page } = pageOf(msg);
    const target = msg.selector ? page.locator(msg.selector).first() : page;
    await target.screenshot({ path: msg.path, timeout: msg.timeout, animations: 'disabled', caret: 'hide' });
    return null;
  },
  async setInputFiles(msg) {
    await pageOf(msg).page.getByLabel(msg.label, { exact: true }).setInputFiles(msg.files, { timeout: msg.timeout });
    return null;
  },
  async download(msg) {
    // Clicks what starts a download, waits for it to finish and saves it.
    const { page } = pageOf(msg);
    const [dl] = await Promise.all([
      page.waitForEvent('download', { timeout: msg.timeout }),
      page.getByRole(msg.role, { name: msg.name, exact: true }).click({ timeout: msg.timeout }),
    ]);
    const failure = await dl.failure();
    if (failure) throw new Error(`download failed: ${failure}`);
    await dl.saveAs(msg.path);
    return dl.suggestedFilename();
  },
  async logs(msg) {
    return pageOf(msg).logs.slice();
  },
};

function reply(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch (e) {
    reply({ id: 0, ok: false, error: `bad request: ${e.message}` });
    continue;
  }
  const op = ops[msg.op];
  if (!op) {
    reply({ id: msg.id, ok: false, error: `unknown op ${msg.op}` });
    continue;
  }
  // Requests run one after another: a test drives one step at a time.
  try {
    const value = await op(msg);
    reply({ id: msg.id, ok: true, value: value === undefined ? null : value });
  } catch (e) {
    reply({ id: msg.id, ok: false, error: String(e && e.message ? e.message : e) });
  }
}
await browser.close();
