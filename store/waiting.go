package store

import "context"

// WaitingLister is an optional fast path for a door that shows the head
// of a pool's waiting list (the portal's Licenses page): the first limit
// waiting assignments, oldest first, and how many wait in all, without
// reading every one. Without it a caller lists them all
// (Assignments.ListAssignments with State AssignWaiting).
type WaitingLister interface {
	ListWaiting(ctx context.Context, tenantID, poolID string, limit int) (first []*Assignment, total int, err error)
}
