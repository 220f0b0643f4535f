// Package store is the centre of Roster: the domain records every door
// (SCIM, portal, device API, importer, CLI) works on, one interface per
// aggregate that a backend implements, the error values those interfaces
// return, and the normalising functions that decide what "the same" means
// (case folding of userName, e-mail values).
//
// It imports only the standard library so that backends (store/sqlite,
// store/mongo) and every transport can depend on it without depending on
// each other. Interfaces are shaped around intents (ClaimSeat, MoveSeat,
// DeleteUser with its cascade) rather than open transactions, so the same
// guarantees hold on SQLite and on a MongoDB cluster without multi-document
// transactions.
package store
