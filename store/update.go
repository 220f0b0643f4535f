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
