-- A tenant whose users sign in with their company's SSO, and where.
ALTER TABLE tenants ADD COLUMN sso INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN sso_url TEXT NOT NULL DEFAULT '';
