package admin

import (
	"github.com/roster-scim/roster/store"
)

// The store indexes no activation state, so "Pending activation" walks
// the list in username order, a batch at a time, and keeps the pending
// users: the cost of a page follows how rare pending users are, not how
// many users the tenant has. The page has no total; Next continues the
// walk from where this page stopped.
const (
	pendingBatch  = 200
	pendingBudget = 5000 // users looked at per page, at most
)

// pendingUsers returns up to usersPerPage pending users of the list that
// search q selects, starting at position from, and where the next page
// starts (0: no more).
func (s *server) pendingUsers(c *rc, q string, from int) (users []*store.User, next int, err error) {
	batch, budget := pendingBatch, pendingBudget
	if q != "" {
		// A search costs a pass over what it finds per query (its
		// total): one larger batch rather than many.
		batch, budget = 1000, 1000
	}
	at := from
	for at-from < budget {
		res, err := s.searchUsers(c, store.UserSearch{Text: q, Offset: at, Limit: batch})
		if err != nil {
			return nil, 0, err
		}
		for i, u := range res.Users {
			if u.Active && u.Activation == store.ActivationPending {
				users = append(users, u)
				if len(users) == usersPerPage {
					return users, at + i + 1, nil
				}
			}
		}
		if len(res.Users) < batch {
			return users, 0, nil
		}
		at += len(res.Users)
	}
	return users, at, nil
}
