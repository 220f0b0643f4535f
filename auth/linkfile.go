package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/roster-scim/roster/store"
)

// LinkFile keeps bootstrap links in a small JSON file (in the data
// directory) and implements BootstrapInvitations with it.
//
// It exists because the store's invitations are for users (kinds
// activate and reset) and a bootstrap link belongs to nobody. A file
// serves a single server well; when the store learns a bootstrap kind,
// cmd passes the store instead and every node of a cluster shares links.
// "Once" holds within a process (a mutex) and between processes up to
// the rename that replaces the file.
type LinkFile struct {
	path string
	mu   sync.Mutex
}

// NewLinkFile returns a LinkFile at path; the file appears with the first
// link.
func NewLinkFile(path string) *LinkFile { return &LinkFile{path: path} }

type linkFileData struct {
	Links []store.Invitation `json:"links"`
}

func (f *LinkFile) load() (*linkFileData, error) {
	var d linkFileData
	b, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return &d, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", f.path, err)
	}
	return &d, nil
}

// save replaces the file atomically, readable by its owner only: it holds
// hashes, not secrets, but nobody else has any business reading them.
func (f *LinkFile) save(d *linkFileData, now time.Time) error {
	keep := d.Links[:0]
	for _, l := range d.Links {
		// Used or expired links only need to be remembered until they
		// would have expired anyway.
		if now.Before(l.ExpiresAt) {
			keep = append(keep, l)
		}
	}
	d.Links = keep
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.path), ".bootstrap-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), f.path)
}

// CreateInvitation stores inv.
func (f *LinkFile) CreateInvitation(_ context.Context, inv *store.Invitation) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, err := f.load()
	if err != nil {
		return err
	}
	d.Links = append(d.Links, *inv)
	return f.save(d, inv.CreatedAt)
}

// InvitationByHash finds a link by the hash of its secret.
func (f *LinkFile) InvitationByHash(_ context.Context, hash string) (*store.Invitation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, err := f.load()
	if err != nil {
		return nil, err
	}
	for _, l := range d.Links {
		if l.TokenHash == hash {
			return &l, nil
		}
	}
	return nil, store.ErrNotFound
}

// UseInvitation marks a link used; a second use or an expired link is
// store.ErrExpired.
func (f *LinkFile) UseInvitation(_ context.Context, tenantID, id string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, err := f.load()
	if err != nil {
		return err
	}
	for i := range d.Links {
		l := &d.Links[i]
		if l.TenantID != tenantID || l.ID != id {
			continue
		}
		if !l.UsedAt.IsZero() || !at.Before(l.ExpiresAt) {
			return store.ErrExpired
		}
		l.UsedAt = at
		return f.save(d, at)
	}
	return store.ErrNotFound
}

// RevokeInvitations expires every unused link of the tenant and user.
func (f *LinkFile) RevokeInvitations(_ context.Context, tenantID, userID string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, err := f.load()
	if err != nil {
		return err
	}
	for i := range d.Links {
		l := &d.Links[i]
		if l.TenantID == tenantID && l.UserID == userID && l.UsedAt.IsZero() && at.Before(l.ExpiresAt) {
			l.ExpiresAt = at
		}
	}
	return f.save(d, at)
}
