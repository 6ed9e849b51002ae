/**
 * The script of GET /docs: fetches /openapi.json from the same Worker and
 * renders every operation (parameters, request body schema, responses) with
 * a "Try it" form. Plain DOM, no library, nothing loaded from elsewhere.
 * Kept free of backticks and "${" so that it can live in this template.
 */
export const DOCS_SCRIPT = String.raw`"use strict";
let spec = null;

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k === "cls" ? "class" : k, v === true ? "" : String(v));
  }
  for (const kid of kids.flat(Infinity)) if (kid !== null && kid !== undefined && kid !== false) el.append(kid);
  return el;
}

/** Follows local $refs ("#/components/..."). */
function deref(x) {
  for (let i = 0; x && x.$ref && i < 20; i++) {
    const parts = x.$ref.slice(2).split("/").map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
    x = parts.reduce((o, k) => (o ? o[k] : undefined), spec);
  }
  return x;
}

function typeLabel(s) {
  const name = s && s.$ref ? s.$ref.split("/").pop() : null;
  const r = deref(s) || {};
  if (r.allOf) return typeLabel(r.allOf[0]);
  if (r.anyOf || r.oneOf) return (r.anyOf || r.oneOf).map(typeLabel).join(" | ");
  if (r.const !== undefined) return JSON.stringify(r.const);
  if (r.enum) return r.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (name) return name;
  if (r.type === "array") return typeLabel(r.items) + "[]";
  return Array.isArray(r.type) ? r.type.join(" | ") : r.type || "any";
}

function rules(s) {
  const r = deref(s) || {};
  const out = [];
  const add = (label, v) => v !== undefined && out.push(label + " " + (typeof v === "string" ? v : JSON.stringify(v)));
  add("min", r.minimum);
  add("max", r.maximum);
  add("min length", r.minLength);
  add("max length", r.maxLength);
  add("format", r.format);
  add("pattern", r.pattern);
  add("default", r.default);
  for (const alt of r.anyOf || []) out.push(...rules(alt));
  return out;
}

/** The object a schema describes, if any: itself, its first allOf, or its array's items. */
function objectOf(s) {
  let r = deref(s) || {};
  if (r.allOf) r = deref(r.allOf[0]) || {};
  if (r.type === "array") r = deref(r.items) || {};
  return r.properties ? r : null;
}

function schemaView(s, depth) {
  const obj = objectOf(s);
  if (!obj || depth > 5) return h("p", {}, h("code", {}, typeLabel(s)), " ", rules(s).join(", "));
  const required = new Set(obj.required || []);
  const rows = Object.entries(obj.properties).map(([name, p]) =>
    h("tr", {},
      h("td", {}, h("code", {}, name), required.has(name) ? h("span", { cls: "req" }, " required") : null),
      h("td", {}, h("code", {}, typeLabel(p))),
      h("td", {}, (deref(p) || {}).description || "", " ", h("span", { cls: "rules" }, rules(p).join(", ")),
        objectOf(p) ? h("details", {}, h("summary", {}, "fields"), schemaView(p, depth + 1)) : null)));
  const head = h("tr", {}, h("th", {}, "field"), h("th", {}, "type"), h("th", {}, "description and rules"));
  return h("table", {}, h("thead", {}, head), h("tbody", {}, rows));
}

/** A starting body for the Try it form: the required fields, with defaults or plausible values. */
function example(s, depth) {
  const r = deref(s) || {};
  if (r.default !== undefined) return r.default;
  if (r.const !== undefined) return r.const;
  if (r.enum) return r.enum[0];
  if (r.anyOf || r.oneOf) return example((r.anyOf || r.oneOf)[0], depth);
  const t = Array.isArray(r.type) ? r.type[0] : r.type;
  if (r.properties && depth < 5) {
    return Object.fromEntries((r.required || []).map((k) => [k, example(r.properties[k], depth + 1)]));
  }
  if (t === "integer" || t === "number") return Math.max(1, r.minimum || 0);
  if (t === "boolean") return false;
  if (t === "string") return r.format === "date-time" ? new Date().toISOString() : "example";
  return t === "array" ? [] : null;
}

function paramTable(params) {
  const rows = params.map((p) =>
    h("tr", {},
      h("td", {}, h("code", {}, p.name), p.required ? h("span", { cls: "req" }, " required") : null),
      h("td", {}, p.in),
      h("td", {}, h("code", {}, typeLabel(p.schema))),
      h("td", {}, p.description || "", " ", h("span", { cls: "rules" }, rules(p.schema).join(", ")))));
  return h("table", {}, h("thead", {}, h("tr", {}, ["name", "in", "type", "description and rules"].map((x) => h("th", {}, x)))), h("tbody", {}, rows));
}

function responsesView(responses) {
  return Object.entries(responses).map(([status, res]) => {
    const r = deref(res);
    const [type, media] = Object.entries(r.content || {})[0] || [];
    return h("details", { cls: "res s" + status[0] },
      h("summary", {}, h("b", {}, status), " ", r.description),
      Object.keys(r.headers || {}).length ? h("p", {}, "Headers: ", Object.keys(r.headers).join(", ")) : null,
      type ? [h("p", {}, h("code", {}, type)), schemaView(media.schema, 0)] : null);
  });
}

function tryIt(path, method, op, params, bodyType, body) {
  const inputs = params.map((p) => ({
    p,
    input: h("input", { name: p.name, required: p.required, placeholder: p.schema && p.schema.default !== undefined ? String(p.schema.default) : "" }),
  }));
  let text = null;
  if (bodyType === "application/json") text = JSON.stringify(example(body.content[bodyType].schema, 0), null, 2);
  if (bodyType === "text/csv") text = ((body.description || "").match(/\x60([^\x60]+)\x60/) || [])[1] + "\n";
  const area = bodyType ? h("textarea", { rows: 7, spellcheck: "false" }, text || "") : null;
  const out = h("pre", { cls: "out" }, "");
  async function send(event) {
    event.preventDefault();
    let url = path;
    const query = new URLSearchParams();
    const headers = {};
    for (const { p, input } of inputs) {
      if (input.value === "") continue;
      if (p.in === "path") url = url.replace("{" + p.name + "}", encodeURIComponent(input.value));
      else if (p.in === "query") query.set(p.name, input.value);
      else headers[p.name] = input.value;
    }
    if (String(query)) url += "?" + query;
    const key = document.getElementById("key").value.trim();
    if (key && op.security && op.security.length) headers.Authorization = "Bearer " + key;
    const payload = area && area.value.trim() !== "" ? area.value : undefined;
    if (payload !== undefined) headers["Content-Type"] = bodyType;
    out.textContent = method.toUpperCase() + " " + url + " ...";
    try {
      const res = await fetch(url, { method: method.toUpperCase(), headers, body: payload });
      let shown = await res.text();
      try { shown = JSON.stringify(JSON.parse(shown), null, 2); } catch {}
      out.textContent = res.status + " " + res.statusText + "\nX-Request-Id: " + res.headers.get("X-Request-Id") + "\n\n" + shown;
    } catch (err) {
      out.textContent = "The request failed: " + err;
    }
  }
  return h("form", { cls: "try", onsubmit: send },
    h("h4", {}, "Try it"),
    inputs.map(({ p, input }) => h("label", {}, h("span", {}, p.name + " (" + p.in + ")"), input)),
    area ? h("label", {}, h("span", {}, "body (" + bodyType + ")"), area) : null,
    h("button", { type: "submit" }, "Send " + method.toUpperCase() + " " + path), out);
}

function operationView(path, method, op) {
  const params = (op.parameters || []).map(deref);
  const body = op.requestBody ? deref(op.requestBody) : null;
  const bodyType = body ? Object.keys(body.content)[0] : null;
  const roles = op["x-roles"] || [];
  return h("details", { cls: "op", id: op.operationId, "data-search": (method + " " + path + " " + op.summary).toLowerCase() },
    h("summary", {},
      h("span", { cls: "method " + method }, method.toUpperCase()), " ", h("code", {}, path), " ",
      h("span", { cls: "sum" }, op.summary), " ",
      h("span", { cls: "badge" }, roles.length ? "key: " + roles.join(" or ") : "public")),
    op.description ? h("p", { cls: "desc" }, op.description) : null,
    params.length ? [h("h4", {}, "Parameters"), paramTable(params)] : null,
    body ? [h("h4", {}, "Request body, " + bodyType + (body.required ? "" : " (optional)")),
      body.description ? h("p", {}, body.description) : null,
      schemaView(body.content[bodyType].schema, 0)] : null,
    h("h4", {}, "Responses"), responsesView(op.responses),
    tryIt(path, method, op, params, bodyType, body));
}

async function main() {
  const app = document.getElementById("app");
  try {
    spec = await (await fetch("/openapi.json")).json();
  } catch (err) {
    app.textContent = "Could not load /openapi.json: " + err;
    return;
  }
  const key = document.getElementById("key");
  key.value = sessionStorage.getItem("api-key") || "";
  key.addEventListener("input", () => sessionStorage.setItem("api-key", key.value));
  const sections = spec.tags.map((tag) => {
    const ops = Object.entries(spec.paths).flatMap(([path, item]) =>
      Object.entries(item).filter(([, op]) => op.tags.includes(tag.name)).map(([method, op]) => operationView(path, method, op)));
    return h("section", { id: "tag-" + tag.name.replace(/\W+/g, "-") }, h("h2", {}, tag.name), ops);
  });
  const schemas = Object.entries(spec.components.schemas).map(([name, s]) =>
    h("details", { cls: "op", id: "schema-" + name }, h("summary", {}, h("code", {}, name)), schemaView(s, 0)));
  app.replaceChildren(...sections, h("section", {}, h("h2", {}, "Schemas"), schemas));
  document.getElementById("filter").addEventListener("input", (e) => {
    const q = e.target.value.trim().toLowerCase();
    for (const el of document.querySelectorAll("details.op[data-search]")) el.hidden = q !== "" && !el.dataset.search.includes(q);
  });
  const openHash = () => {
    const target = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (target && target.tagName === "DETAILS") { target.open = true; target.scrollIntoView(); }
  };
  window.addEventListener("hashchange", openHash);
  openHash();
}

main();
`;
