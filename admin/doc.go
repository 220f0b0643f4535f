// Package admin is Roster's admin portal: the pages an enterprise admin
// uses to run their account (users, groups, licenses, devices, bulk
// import, SCIM tokens, the IdP connection, the audit log, settings) and
// the pages a platform operator uses to run every account (tenants,
// products, seat pools, seat requests).
//
// It is a browser world (STYLE.md, "Browser routes and API routes are
// different worlds"): sign-in through OIDC (auth.OIDC) or, while OIDC is
// not configured, the bootstrap link; sessions kept in the store
// (auth.ServerSessions); every state-changing request checked by
// http.CrossOriginProtection; a strict Content-Security-Policy with no
// inline script or style. Pages are html/template rendered into a buffer
// before a byte is written, so a template failure is a clean 500; they
// work without JavaScript, which only adds conveniences (copy buttons,
// "tick all", the account menu switching on choice) and refreshes the live
// "last requests from your IdP" table. A running import's page reloads
// itself with a <meta http-equiv="refresh">, so its progress shows without
// JavaScript too.
//
// Every change to seats goes through licensing.Engine, so a seat moved in
// the portal obeys the same rules, audit and e-mails as one moved by SCIM
// or an import. Templates and static files are embedded; Deps.AssetsDir
// serves them from a directory instead, re-read on every request, while
// developing.
//
// New returns the handler; cmd mounts it at /admin. RequestLog is the
// bounded per-tenant record of SCIM requests behind "Connect your IdP",
// fed by a middleware in cmd; Sampler records pool usage for the
// Licenses page's chart. Deps.Imports checks uploaded files
// (importer.Runner.Submit, on a goroutine detached from the request);
// running the jobs is left to the RunPending loop cmd runs on every node.
package admin
