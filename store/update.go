package store

import "context"

// UserChangeWriter is an optional fast path of Users.UpdateUser for a
// caller that holds the user as the store returned it (a door applying a
// PATCH): UpdateUserFrom(ctx, before, u) is UpdateUser(ctx, u) where
// before is the user at version u.Version, so the backend may write only
// what changed. (In SQLite every index on a column a statement sets is
// rewritten, changed or not: for a PATCH of active that was 7 pages
// written to the WAL, and later copied to the file, where 4 or 5 do.)
// A backend, or a wrapper over one, without it returns
// errors.ErrUnsupported without writing.
type UserChangeWriter interface {
	UpdateUserFrom(ctx context.Context, before, u *User) error
}

// UserModifier is an optional fast path of a read-modify-write of one
// user (a door applying a PATCH): ModifyUser reads the user, calls change
// with it and writes what change left different, as one write, so no
// other write comes between and there is no version to retry on (many
// concurrent PATCHes of one user all succeed, in turn). It returns the
// user as read and as written; when change leaves the user as it was,
// nothing is written (no new version) and after is before.
//
// change runs while the backend holds its writer, possibly on another
// goroutine: it must be quick, must not call the store, and may run more
// than once, each time on the user as then stored. An error from change
// is returned as is, with nothing written. ErrNotFound when there is no
// such user. A backend, or a wrapper over one, without it returns
// errors.ErrUnsupported without calling change.
type UserModifier interface {
	ModifyUser(ctx context.Context, tenantID, id string, change func(u *User) error) (before, after *User, err error)
}
