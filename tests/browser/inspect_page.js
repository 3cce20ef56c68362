// Read back what a loaded report shows (run by Selenium's execute_async_script; the last argument
// is the callback). Waits for every image to load or fail before measuring it.
const done = arguments[arguments.length - 1];
(async () => {
  const images = Array.from(document.images);
  await Promise.all(
    images.map((img) => (img.complete ? null : new Promise((ok) => { img.onload = ok; img.onerror = ok; }))),
  );
  const screenHeight = window.innerHeight;
  const top = (el) => el.getBoundingClientRect().top + window.scrollY;
  const bottom = (el) => el.getBoundingClientRect().bottom + window.scrollY;
  const clean = (text) => text.replace(/\s+/g, " ").trim();

  // Everything the page would load: src of scripts, images, frames and media, href of links, data of objects.
  const resources = [];
  for (const el of document.querySelectorAll("[src]")) {
    resources.push({ tag: el.tagName.toLowerCase(), url: el.getAttribute("src") });
  }
  for (const el of document.querySelectorAll("link[href]")) {
    resources.push({ tag: "link rel=" + (el.getAttribute("rel") || ""), url: el.getAttribute("href") });
  }
  for (const el of document.querySelectorAll("object[data]")) {
    resources.push({ tag: "object", url: el.getAttribute("data") });
  }
  for (const sheet of document.styleSheets) {
    let rules = [];
    try { rules = Array.from(sheet.cssRules || []); } catch (e) { rules = []; }
    for (const rule of rules) {
      if (rule.href !== undefined && rule.type === CSSRule.IMPORT_RULE) {
        resources.push({ tag: "@import", url: rule.href });
      }
    }
  }

  const tables = Array.from(document.querySelectorAll("table"));
  const first = tables[0] || null;
  let firstTable = null;
  if (first) {
    const headRow = first.querySelector("thead tr") || first.querySelector("tr");
    const firstRow = first.querySelector("tbody tr") || null;
    firstTable = {
      headers: headRow ? Array.from(headRow.children).map((c) => clean(c.textContent)) : [],
      rows: first.querySelectorAll("tbody tr").length,
      top: top(first),
      firstRowBottom: firstRow ? bottom(firstRow) : null,
      inVerdictBlock: Boolean(first.closest(".opskit-verdict")),
    };
  }

  const cutCells = [];
  for (const cell of document.querySelectorAll("td, th")) {
    const text = clean(cell.textContent);
    if (text.endsWith("...") || text.endsWith("\u2026")) {
      cutCells.push(text.slice(-120));
    }
  }

  // The page's text without scripts and styles (hidden <details> content included); and the same without
  // what the report quotes as evidence (log lines in code blocks of its HTML and Markdown outputs: a job's
  // own traceback is evidence), which keeps every raw output (stream, error, text/plain) in.
  const body = document.body.cloneNode(true);
  for (const el of body.querySelectorAll("script, style, noscript")) el.remove();
  const unquoted = body.cloneNode(true);
  const rendered = '[data-mime-type="text/html"], [data-mime-type="text/markdown"]';
  for (const el of unquoted.querySelectorAll(rendered)) {
    for (const quote of el.querySelectorAll("code, pre")) quote.remove();
  }

  const headline = document.querySelector(".opskit-headline");
  done({
    title: document.title,
    screenHeight: screenHeight,
    resources: resources,
    tableCount: tables.length,
    firstTable: firstTable,
    images: images.map((img) => ({
      src: (img.getAttribute("src") || "").slice(0, 40),
      complete: img.complete,
      width: img.naturalWidth,
      height: img.naturalHeight,
    })),
    cutCells: cutCells,
    text: body.textContent,
    textOutsideQuotes: unquoted.textContent,
    headline: headline ? { text: clean(headline.textContent), bottom: bottom(headline) } : null,
  });
})().catch((err) => done({ scriptError: String(err && err.stack ? err.stack : err) }));
