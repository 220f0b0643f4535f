-- A pool's assignments in one state, oldest first: the head of the
-- waiting list (ListWaiting, the portal's Licenses page) and its length
-- read the waiting entries alone, not every seat of the pool.
CREATE INDEX assignments_pool_state ON assignments (tenant_id, pool_id, state, created, id);
