// Package auth decides who is calling Roster and what they may do.
//
//   - Identity providers call /scim/v2 with a SCIM bearer token:
//     SCIMBearer checks it (with a short cache) and puts the tenant and
//     token ids in the request context (TenantID, TokenID); MintToken
//     creates one.
//   - Admins sign in to the portal through OIDC (OIDC, with PKCE, state
//     and nonce); Roles turns the identity into an operator or a tenant
//     admin, and ServerSessions keeps the session in the store. A tenant
//     admin is a user of the tenant with accountAdmin, found by verified
//     e-mail or by externalId: the subject, or the ID token claim
//     OIDCConfig.ExternalIDClaim names ("oid" for Microsoft Entra ID,
//     whose tokens carry neither a verified e-mail nor a subject that
//     SCIM knows).
//   - While no OIDC provider is configured, `roster serve` prints a
//     one-time link (Bootstrap) that signs the platform operator in.
//   - Users' passwords (SCIM password, device sign-in) are argon2id hashes.
//
// Secrets are never stored: a token, link or session secret is shown once
// and only its hex SHA-256 is written. Those secrets are 256-bit random
// values, so a plain hash is enough (no password hashing needed), and it
// lets the store find a record by the hash of what the caller sent.
//
// auth imports only the store package; every interface it needs from the
// store is declared next to the function that uses it, and holds only the
// methods that function calls.
package auth
