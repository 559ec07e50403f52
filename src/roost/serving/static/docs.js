"use strict";
// The docs page: read this server's openapi.json, then list each model's inputs and
// outputs with a form that sends its example to the KServe V1 predict endpoint.
// Everything is built with DOM calls and textContent, never innerHTML, because model
// cards and descriptions are written by people and must not run as markup.

// the server's root, which is also right when the server sits behind a path prefix
const base = new URL(".", window.location.href);

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function text(value) {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.map(text).join("; ");
  return JSON.stringify(value);
}

function shapeText(spec) {
  return spec.shape ? "[" + spec.shape.join(", ") + "]" : "one value per row";
}

function specTable(specs, isOutput) {
  const rows = specs.map((spec) => {
    const notes = [];
    if (spec.description) notes.push(spec.description);
    if (spec.labels) notes.push("classes: " + spec.labels.map(text).join(", "));
    if (spec.allow_nan) notes.push("may be missing (null)");
    return el("tr", {},
      el("td", {}, el("code", {}, spec.name)),
      el("td", {}, spec.dtype),
      el("td", {}, shapeText(spec)),
      el("td", {}, notes.join(" · ") || "—"));
  });
  return el("table", {},
    el("thead", {}, el("tr", {},
      el("th", {}, isOutput ? "Output" : "Input"), el("th", {}, "Type"),
      el("th", {}, "Shape"), el("th", {}, "Notes"))),
    el("tbody", {}, ...rows));
}

function cardSection(card) {
  const titles = { overview: "Overview", intended_use: "Intended use", limitations: "Limitations" };
  const paragraphs = Object.entries(titles)
    .filter(([key]) => card[key])
    .map(([key, title]) => el("p", {}, el("strong", {}, title + ". "), text(card[key])));
  return paragraphs.length ? el("div", { class: "card" }, ...paragraphs) : null;
}

async function send(path, textarea, output) {
  output.replaceChildren("Sending…");
  const started = performance.now();
  let response;
  try {
    // the text as typed, so a malformed body shows the server's error for it
    response = await fetch(new URL(path.slice(1), base), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: textarea.value,
    });
  } catch (error) {
    output.replaceChildren(el("span", { class: "status-bad" }, "No answer: " + error));
    return;
  }
  const body = await response.text();
  const elapsed = Math.round(performance.now() - started);
  let pretty = body;
  try { pretty = JSON.stringify(JSON.parse(body), null, 2); } catch (_) { /* not JSON */ }
  const status = el("span", { class: response.ok ? "status-ok" : "status-bad" },
    response.status + " " + response.statusText);
  output.replaceChildren(status, " · " + elapsed + " ms\n\n" + pretty);
}

function tryIt(doc, model) {
  const operation = (doc.paths[model.predict] || {}).post;
  if (!operation) return null;
  const example = operation.requestBody.content["application/json"].example;
  const initial = JSON.stringify(example || { instances: [] }, null, 2);
  const textarea = el("textarea", { spellcheck: "false", "aria-label": "request body" });
  textarea.value = initial;
  const output = el("pre", { class: "response", "aria-live": "polite" }, "No request sent yet.");
  const sendButton = el("button", { type: "button" }, "Send");
  sendButton.addEventListener("click", () => send(model.predict, textarea, output));
  const resetButton = el("button", { type: "button", class: "secondary" }, "Reset example");
  resetButton.addEventListener("click", () => { textarea.value = initial; });
  return el("div", {},
    el("h3", {}, "Try it: ", el("code", {}, "POST " + model.predict)),
    textarea, sendButton, resetButton, output);
}

function modelSection(doc, model) {
  const title = el("h2", { id: "model-" + model.name },
    model.name, el("span", { class: "badge" }, "version " + model.version));
  if (model.default) title.append(el("span", { class: "badge" }, "default · /invocations"));
  return el("section", {},
    title,
    el("p", { class: "muted" }, "Served as ", el("code", {}, model.ref), "."),
    cardSection(model.card || {}),
    el("h3", {}, "Inputs (" + model.kind + ")"), specTable(model.inputs, false),
    el("h3", {}, "Outputs"), specTable(model.outputs, true),
    tryIt(doc, model));
}

function endpointRows(doc) {
  const rows = [];
  for (const path of Object.keys(doc.paths).sort()) {
    for (const [method, operation] of Object.entries(doc.paths[path])) {
      rows.push(el("tr", {},
        el("td", {}, method.toUpperCase()), el("td", {}, el("code", {}, path)),
        el("td", {}, operation.summary || "")));
    }
  }
  return rows;
}

async function main() {
  const summary = document.getElementById("summary");
  let doc;
  try {
    const response = await fetch(new URL("openapi.json", base));
    if (!response.ok) throw new Error("HTTP " + response.status);
    doc = await response.json();
  } catch (error) {
    summary.replaceChildren(el("span", { class: "status-bad" },
      "Could not load openapi.json: " + error));
    return;
  }
  const models = (doc.tags || []).map((tag) => tag["x-roost-model"]).filter(Boolean);
  summary.replaceChildren(
    models.length + (models.length === 1 ? " model" : " models") + " served by roost " +
    doc.info.version + ".");
  document.getElementById("models").replaceChildren(
    ...models.map((model) => modelSection(doc, model)));
  const endpoints = document.getElementById("endpoints");
  endpoints.querySelector("tbody").replaceChildren(...endpointRows(doc));
  endpoints.hidden = false;
}

main();
