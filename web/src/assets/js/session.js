// The signed-in person's session. The bearer token lives in sessionStorage:
// readable only by scripts of this origin (the CSP allows no other script and
// no inline script), gone when the tab closes, and cleared by sign-out or 401.
const KEY = "gridpulse.session";

export function current() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) || "null");
    if (!s || !s.token) return null;
    if (s.expires_at && Date.parse(s.expires_at) <= Date.now()) {
      clear();
      return null;
    }
    return s;
  } catch {
    clear();
    return null;
  }
}

export function save(session) {
  sessionStorage.setItem(KEY, JSON.stringify({ token: session.token, expires_at: session.expires_at, user: session.user }));
}

export function clear() {
  sessionStorage.clear();
}

export function user() {
  const s = current();
  return s ? s.user : null;
}

/** admin, operator or viewer */
export function role() {
  const u = user();
  return u ? u.role : null;
}

export const canOperate = () => ["admin", "operator"].includes(role());
export const isAdmin = () => role() === "admin";
