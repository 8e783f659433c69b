// Opens kiosk-core's fleet page in headless Chromium (Debian's, driven by playwright-core) and
// prints what a person sees, as JSON; saves a screenshot. Usage: node fleet.cjs URL KIOSK PNG
const { chromium } = require('playwright-core');

(async () => {
  const [url, kiosk, png] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 420 } });
    await page.goto(url, { waitUntil: 'load' });
    const row = page.locator(`tr[data-kiosk="${kiosk}"]`);
    const state = (await row.locator('td[data-state]').innerText()).trim();
    const alerts = await row.locator('.alert').allInnerTexts();
    const summary = (await page.locator('.summary').innerText()).trim();
    if (png) await page.screenshot({ path: png, fullPage: true });
    await row.locator('a').click();
    await page.waitForSelector('#history');
    const history = await page.locator('#history tbody tr').count();
    const devices = await page.locator('#devices tbody tr').allInnerTexts();
    console.log(JSON.stringify({ state, alerts, summary, history, devices, title: await page.title() }));
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
