// Run by config/tests/test_generated_clients.py after `openapi-typescript` made schema.d.ts from the
// live /schema: the flow a client developer writes first, typed, in one realm.
// Usage: node build/flow.js BASE_URL REALM [ADMIN_USERNAME ADMIN_PASSWORD]
import createClient from "openapi-fetch";
import type { paths } from "./schema.js";

declare const process: { argv: string[]; exit(code: number): never };

const [baseUrl = "", realm = "user", adminUser = "", adminPassword = ""] = process.argv.slice(2);
const client = createClient<paths>({ baseUrl });
const P =
  realm === "user"
    ? ({ auth: "/auth", me: "/users/me" } as const)
    : ({ auth: "/admin/auth", me: "/admin/me" } as const);

function multipart(body?: Record<string, unknown>): FormData {
  const form = new FormData();
  for (const [key, value] of Object.entries(body ?? {})) form.append(key, String(value));
  return form;
}

function check(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(`failed: ${what}`);
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const password = "a-long-client-passphrase";
const username = `ts${realm}`;

let registrar: Record<string, string> = {};
if (realm === "admin") {
  const { data } = await client.POST("/admin/auth/login", { body: { username: adminUser, password: adminPassword } });
  check(data && "access_token" in data.data, "admin login");
  registrar = bearer(data.data.access_token);
}
const registered = await client.POST(`${P.auth}/register`, {
  body: { username, name: "TypeScript", email: `${username}@example.com`, password },
  bodySerializer: multipart,
  headers: registrar,
});
check(registered.response.status === 201 && registered.data?.data.username === username, "register");

const login = await client.POST(`${P.auth}/login`, { body: { username, password } });
check(login.data && "access_token" in login.data.data, "login");
const pair = login.data.data;
const auth = { headers: bearer(pair.access_token) };

const me = await client.GET(P.me, auth);
check(me.data?.data.email === `${username}@example.com`, "me");
const updated = await client.PATCH(P.me, { ...auth, body: { name: "Renamed" }, bodySerializer: multipart });
check(updated.data?.data.name === "Renamed", "update");

const created = await client.POST(`${P.me}/tokens`, { ...auth, body: { name: "ci" } });
check(created.response.status === 201 && created.data?.data.token.startsWith("pat_"), "create token");
const tokens = await client.GET(`${P.me}/tokens`, auth);
check(tokens.data?.data.items.map((t) => t.name).join() === "ci", "list tokens");
const sessions = await client.GET(`${P.me}/sessions`, auth);
check(sessions.data?.data.total === 1, "list sessions");

const refreshed = await client.POST(`${P.auth}/refresh`, { body: { refresh_token: pair.refresh_token } });
check(refreshed.data && refreshed.data.data.access_token !== pair.access_token, "refresh");
const renewed = { headers: bearer(refreshed.data.data.access_token) };
const out = await client.POST(`${P.auth}/logout`, { ...renewed, body: { refresh_token: refreshed.data.data.refresh_token } });
check(out.response.status === 200, "logout");
check((await client.GET(P.me, renewed)).response.status === 401, "logged out");
console.log(`${realm}: ok`);
