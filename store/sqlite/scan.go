package sqlite

import "github.com/roster-scim/roster/store/filter"

type scanObs = filter.ScanObserver

// ObserveFilterScans has obs told of every list request whose filter
// was answered partly by a bounded scan evaluated in Go (an attribute
// without an index), refused or not. Call it before the store is used.
func (s *Store) ObserveFilterScans(obs filter.ScanObserver) { s.scans = obs }
