// Package auth decides who is calling Roster.
//
// Today that is two kinds of caller. An identity provider calls /scim/v2
// with a SCIM bearer token: SCIMBearer checks the token and puts the
// tenant and token ids in the request context (TenantID, TokenID). A
// platform operator on a server without OIDC signs in to /admin once
// through the bootstrap link that `roster serve` prints (Bootstrap) and is
// then recognised by a signed session cookie (Sessions). OIDC login,
// tenant-admin roles and device-user authentication come with their issues
// and will live here too.
//
// Secrets are never stored: a token or link secret is shown once and only
// its hex SHA-256 is written to the store. Because the secrets are 256-bit
// random values, a plain hash is enough (no password hashing needed), and
// it lets the store find a token by the hash of what the caller sent.
//
// auth imports only the store package; every interface it needs from the
// store is declared here, next to the function that uses it, and holds
// only the methods that function calls.
package auth
