// What the console's admin pages share: the string dictionary, DOM building with textContent only,
// the API call with the session's CSRF token, and the toast. (The console's own script keeps its
// copies: it is one file by design and predates these pages.)

export const T = JSON.parse(document.getElementById("console-texts").textContent);
export const CSRF = document.querySelector('meta[name="csrf-token"]').content;
export const LANG = document.documentElement.lang || "en";
const SVG_NS = "http://www.w3.org/2000/svg";

/** A string of the dictionary with its {fields} filled. */
export function t(key, fields = {}) {
  const text = T[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (all, name) => (name in fields ? String(fields[name]) : all));
}

function build(node, props, children) {
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.setAttribute("class", value);
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** An HTML element; text only ever goes in through textContent or text nodes. */
export function el(tag, props = {}, ...children) {
  return build(document.createElement(tag), props, children);
}

/** An SVG element, built the same way. */
export function svg(tag, props = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), props, children);
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error;
  }
}

/** A JSON API call as the logged-in agent; a 401 sends the browser to the login page. */
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = CSRF;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    window.location.assign("/agent/login");
    throw new ApiError(401, null);
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

let toastTimer = null;
export function toast(message, kind = "info") {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.className = kind;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (box.hidden = true), 4000);
}

export function failed(error) {
  toast(t("error", { message: error.message }), "error");
}

const isNumber = (value) => typeof value === "number" && Number.isFinite(value);

/** A share (0..1) as a percentage, "—" when there is none. */
export function percent(value, digits = 1) {
  if (!isNumber(value)) return "—";
  return `${(value * 100).toLocaleString(LANG, { maximumFractionDigits: digits })}%`;
}

/** Seconds as "0.8s", "42s", "3m 5s", "2h 10m"; "—" when there is none. */
export function seconds(value) {
  if (!isNumber(value)) return "—";
  if (value < 10) return t("seconds", { n: value.toLocaleString(LANG, { maximumFractionDigits: 1 }) });
  const whole = Math.round(value);
  if (whole < 60) return t("seconds", { n: whole });
  if (whole < 3600) return t("minutes", { n: Math.floor(whole / 60), s: whole % 60 });
  return t("hours", { n: Math.floor(whole / 3600), m: Math.floor((whole % 3600) / 60) });
}

export function count(value) {
  return isNumber(value) ? value.toLocaleString(LANG) : "—";
}

export function localTime(iso, options) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleString(LANG, options);
}
