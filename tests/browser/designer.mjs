// Drives the smpsim designer (`smpsim serve`) in Debian's headless Chromium and prints what it saw as JSON.
//   node designer.mjs URL PHOTO DOWNLOAD_DIR
// Uploads PHOTO through the file picker, clicks three hairline points, waits for the preview to change, paints
// an exclusion stroke, switches views, and downloads the design, the settings, the exclusion map and the after
// image into DOWNLOAD_DIR (the Rust test then re-runs `smpsim render` on them and compares the bytes).
import { chromium } from "playwright-core";
import path from "node:path";

const [url, photo, downloads] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
const result = { consoleErrors: [], pageErrors: [], foreignRequests: [], files: {} };
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  page.on("console", (m) => { if (m.type() === "error") result.consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => result.pageErrors.push(String(e)));
  page.on("request", (r) => {
    if (!r.url().startsWith(url) && !r.url().startsWith("blob:") && !r.url().startsWith("data:")) {
      result.foreignRequests.push(r.url());
    }
  });
  await page.goto(url);
  await page.setInputFiles("#file", photo);
  await page.waitForFunction(() => document.body.dataset.state === "idle", null, { timeout: 20000 });
  const version = () => page.locator("#after-img").evaluate((img) => Number(img.dataset.version));
  const imageBytes = () => page.locator("#after-img").evaluate(async (img) => {
    const c = document.createElement("canvas");
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    const g = c.getContext("2d");
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    for (let i = 0; i < d.length; i += 4) sum += d[i] + d[i + 1] + d[i + 2];
    return sum / (d.length / 4) / 3;
  });
  // Waits until a preview newer than `version` is shown and nothing is rendering.
  const newPreviewAfter = (version) => page.waitForFunction((v) =>
    Number(document.getElementById("after-img").dataset.version) > v && document.body.dataset.state === "idle",
    version, { timeout: 20000 });
  result.meanBefore = await imageBytes();
  const v0 = await version();

  // Three hairline points across the forehead of the synthetic head.
  const box = await page.locator("#overlay").boundingBox();
  // A mouse drag between two points given as fractions of the photo.
  const drag = async ([x0, y0], [x1, y1], steps) => {
    await page.mouse.move(box.x + box.width * x0, box.y + box.height * y0);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * x1, box.y + box.height * y1, { steps });
    await page.mouse.up();
  };
  const started = Date.now();
  for (const [fx, fy] of [[0.32, 0.36], [0.5, 0.30], [0.68, 0.36]]) {
    await page.mouse.click(box.x + box.width * fx, box.y + box.height * fy);
  }
  // Under load the clicks can be more than the 120 ms debounce apart, so a preview of one or two points
  // (no hairline yet, the photo unchanged) may land first: wait for the one that has impressions.
  await page.waitForFunction((v) =>
    Number(document.getElementById("after-img").dataset.version) > v && document.body.dataset.state === "idle" &&
    document.getElementById("stats").textContent.includes("impressions"),
    v0, { timeout: 20000 });
  result.previewMs = Date.now() - started;
  result.meanAfter = await imageBytes();
  result.stats = await page.locator("#stats").textContent();
  result.command = await page.locator("#command").textContent();

  // Drag the middle point down a little: the preview changes again.
  const v1 = await version();
  await drag([0.5, 0.30], [0.5, 0.33], 4);
  await newPreviewAfter(v1);
  result.pointsAfterDrag = await page.evaluate(() => document.getElementById("command").textContent.length > 0);

  // An exclusion stroke on the left of the crown.
  await page.check('input[name="tool"][value="exclude"]');
  const v2 = await version();
  await drag([0.40, 0.20], [0.45, 0.22], 5);
  await newPreviewAfter(v2);
  result.commandWithExclusion = await page.locator("#command").textContent();

  // Views: before hides the after image; the slider clips it.
  await page.check('input[name="view"][value="before"]');
  result.afterHiddenInBefore = await page.locator("#after-img").evaluate((img) => img.hidden);
  await page.check('input[name="view"][value="slider"]');
  result.sliderClip = await page.locator("#after-img").evaluate((img) => img.style.clipPath);
  await page.screenshot({ path: path.join(downloads, "designer.png") });

  // A bad number shows a message instead of failing silently.
  await page.fill("#density", "-5");
  await page.dispatchEvent("#density", "change");
  await page.waitForSelector("#message:not([hidden])", { timeout: 5000 });
  result.badNumberMessage = await page.locator("#message").textContent();
  await page.fill("#density", "100");
  await page.dispatchEvent("#density", "change");

  for (const what of ["design", "settings", "exclude", "after"]) {
    const [download] = await Promise.all([
      page.waitForEvent("download", { timeout: 60000 }),
      page.click(`.export[data-what="${what}"]`),
    ]);
    const file = path.join(downloads, download.suggestedFilename());
    await download.saveAs(file);
    result.files[what] = file;
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
