// The one way the app talks to the GridPulse API: same origin locally, the
// API's URL from config.json in production. A 401 ends the session and sends
// the person to sign in; every other error is thrown as an ApiError whose
// message and field come from the API's error body.
import * as session from "./session.js";

let configPromise;
export function config() {
  configPromise ||= fetch("config.json", { cache: "no-store" })
    .then((r) => (r.ok ? r.json() : {}))
    .catch(() => ({}));
  return configPromise;
}

export class ApiError extends Error {
  constructor(status, body) {
    const fields = (body && body.fields) || [];
    super((body && body.message) || `Request failed (${status})`);
    this.status = status;
    this.code = (body && body.error) || "error";
    this.fields = fields;
    this.field = fields.length ? fields.map((f) => f.field).join(", ") : null;
    this.body = body;
  }
}

export async function api(path, { method = "GET", body, headers = {}, query } = {}) {
  const { apiBase = "" } = await config();
  const url = new URL(apiBase.replace(/\/$/, "") + path, window.location.href);
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  const s = session.current();
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (s) init.headers.Authorization = `Bearer ${s.token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    throw new ApiError(0, { error: "network_error", message: "The API cannot be reached. Check your connection." });
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { message: text };
  }
  if (response.status === 401 && s) {
    session.clear();
    window.location.hash = `#/signin?next=${encodeURIComponent(window.location.hash.slice(1) || "/")}`;
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return { status: response.status, data };
}

export const get = async (path, query) => (await api(path, { query })).data;
export const post = async (path, body, headers) => (await api(path, { method: "POST", body, headers })).data;
export const put = async (path, body) => (await api(path, { method: "PUT", body })).data;
export const patch = async (path, body) => (await api(path, { method: "PATCH", body })).data;
export const del = async (path) => (await api(path, { method: "DELETE" })).data;
