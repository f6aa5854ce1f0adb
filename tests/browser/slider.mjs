// Drives an smpsim slider page in Debian's headless Chromium and prints what it measured as JSON.
//   node slider.mjs PAGE.html SCREENSHOT_PREFIX
import { chromium } from "playwright-core";

const [page_path, shot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
const result = { consoleErrors: [], pageErrors: [], requests: [] };
try {
  const context = await browser.newContext({ viewport: { width: 800, height: 700 } });
  const page = await context.newPage();
  page.on("console", (m) => { if (m.type() === "error") result.consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => result.pageErrors.push(String(e)));
  page.on("request", (r) => result.requests.push(r.url().slice(0, 60)));
  await page.goto("file://" + page_path);
  await page.waitForLoadState("load");
  const handle = page.locator("#handle");
  const value = async () => Number(await handle.getAttribute("aria-valuenow"));
  result.initial = await value();
  await page.screenshot({ path: shot + "-initial.png" });
  // Keyboard: five presses of the left arrow.
  await handle.focus();
  for (let i = 0; i < 5; i++) await page.keyboard.press("ArrowLeft");
  result.afterKeys = await value();
  // Mouse: drag from the middle to a quarter of the width.
  const box = await page.locator("#frame").boundingBox();
  result.frame = box;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.35, box.y + box.height / 2, { steps: 5 });
  await page.mouse.move(box.x + box.width * 0.25, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  result.afterDrag = await value();
  await page.screenshot({ path: shot + "-dragged.png" });
  // A click without dragging shows the photo at 100%.
  await page.mouse.click(box.x + box.width * 0.8, box.y + box.height / 2);
  result.fullAfterClick = await page.locator("#frame").evaluate((f) => f.classList.contains("full"));
  result.naturalWidth = await page.locator("#after").evaluate((i) => i.naturalWidth);
  result.shownWidth = await page.locator("#after").evaluate((i) => i.getBoundingClientRect().width);
  // A phone-sized screen: the picture fits its width.
  await page.setViewportSize({ width: 390, height: 800 });
  await page.mouse.click(5, 5);
  await page.locator("#frame").evaluate((f) => f.classList.remove("full"));
  result.phoneFrameWidth = (await page.locator("#frame").boundingBox()).width;
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
