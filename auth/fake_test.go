package auth

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/roster-scim/roster/store"
)

// fakeStore is the part of a store auth uses, in memory, counting calls so
// tests can see what the cache saves.
type fakeStore struct {
	mu          sync.Mutex
	tenants     map[string]*store.Tenant
	tokens      map[string]*store.Token // by id
	invitations map[string]*store.Invitation
	lookups     int
	touches     int
	fail        error // returned by every lookup when set
}

func newFakeStore() *fakeStore {
	return &fakeStore{tenants: map[string]*store.Tenant{}, tokens: map[string]*store.Token{},
		invitations: map[string]*store.Invitation{}}
}

func (f *fakeStore) addTenant(id string, suspended bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tenants[id] = &store.Tenant{ID: id, Name: id, Suspended: suspended}
}

func (f *fakeStore) CreateToken(_ context.Context, t *store.Token) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := *t
	f.tokens[t.ID] = &c
	return nil
}

func (f *fakeStore) TokenByHash(_ context.Context, hash string) (*store.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups++
	if f.fail != nil {
		return nil, f.fail
	}
	for _, t := range f.tokens {
		if t.Hash == hash {
			c := *t
			return &c, nil
		}
	}
	return nil, store.ErrNotFound
}

func (f *fakeStore) GetTenant(_ context.Context, id string) (*store.Tenant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tenants[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	c := *t
	return &c, nil
}

func (f *fakeStore) TouchToken(_ context.Context, id string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.touches++
	if t, ok := f.tokens[id]; ok {
		t.LastUsedAt = at
	}
	return nil
}

func (f *fakeStore) revoke(id string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens[id].RevokedAt = at
}

func (f *fakeStore) counts() (lookups, touches int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lookups, f.touches
}

func (f *fakeStore) CreateInvitation(_ context.Context, inv *store.Invitation) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := *inv
	f.invitations[inv.ID] = &c
	return nil
}

func (f *fakeStore) InvitationByHash(_ context.Context, hash string) (*store.Invitation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	for _, inv := range f.invitations {
		if inv.TokenHash == hash {
			c := *inv
			return &c, nil
		}
	}
	return nil, store.ErrNotFound
}

func (f *fakeStore) UseInvitation(_ context.Context, tenantID, id string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	inv, ok := f.invitations[id]
	if !ok || inv.TenantID != tenantID {
		return store.ErrNotFound
	}
	if !inv.UsedAt.IsZero() || !at.Before(inv.ExpiresAt) {
		return store.ErrExpired
	}
	inv.UsedAt = at
	return nil
}

func (f *fakeStore) RevokeInvitations(_ context.Context, tenantID, userID string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, inv := range f.invitations {
		if inv.TenantID == tenantID && inv.UserID == userID && inv.UsedAt.IsZero() {
			inv.ExpiresAt = at
		}
	}
	return nil
}

var errStoreDown = errors.New("database is locked")
