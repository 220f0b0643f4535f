// Package licensing turns group membership into license seats: seat
// pools, group → pool rules, the assignment engine that grants, queues and
// returns seats, device binding, signed offline leases and the reconciler
// that recounts pools (DESIGN.md §5).
//
// Every door (SCIM, the admin portal, the importer, the device API) calls
// the same functions here, so a rule fires the same way whichever door a
// change came in by. It depends on the store package only, and never on
// the SCIM library: licensing speaks in domain records, not in SCIM
// resources.
package licensing
