-- Counting a tenant's active or inactive users (the portal's status
-- filter, SCIM's filter=active eq false) reads this index alone, not
-- every user of the tenant.
CREATE INDEX users_active ON users (tenant_id, active, user_name_norm);
