package filter

import (
	"context"
	"strings"

	"github.com/roster-scim/roster/store"
)

// Scan reports a list request a backend answered by reading candidates
// and evaluating part of the filter here, in Go, rather than with an
// index (DESIGN §3: "falls back to the reference evaluator over a bounded
// scan and says so in logs and metrics"). Filters are given as shapes:
// attribute paths and operators with every value replaced by "?", since
// values may be personal data.
type Scan struct {
	Resource  string // "User" or "Group"
	Filter    string // the whole filter's shape
	Unindexed string // the shape of the part evaluated in Go
	Scanned   int    // candidates read (MaxScan+1 when Refused)
	Refused   bool   // more candidates than Query.MaxScan: the request failed
}

// ScanObserver receives a backend's Scans. It runs on the request's
// goroutine, so it must be quick.
type ScanObserver func(ctx context.Context, s Scan)

// Report calls obs (when set) with the Scan of a list request whose part
// rest was evaluated in Go over scanned candidates. Backends call it only
// when rest is not nil, so the indexed path pays nothing.
func Report(ctx context.Context, obs ScanObserver, resource string, q store.Query, rest store.Expr, scanned int, refused bool) {
	if obs == nil || rest == nil {
		return
	}
	obs(ctx, Scan{Resource: resource, Filter: Shape(q.Filter), Unindexed: Shape(rest), Scanned: scanned, Refused: refused})
}

// Shape renders e in SCIM filter syntax with every comparison value
// replaced by "?" (null stays null: it is no one's data), so logs can
// say which filters miss the indexes without recording what was looked
// for.
func Shape(e store.Expr) string {
	var b strings.Builder
	shape(&b, e, "")
	return b.String()
}

func shape(b *strings.Builder, e store.Expr, parentOp string) {
	switch x := e.(type) {
	case nil:
	case store.And:
		logical(b, "and", x.L, x.R, parentOp)
	case store.Or:
		logical(b, "or", x.L, x.R, parentOp)
	case store.Not:
		b.WriteString("not (")
		shape(b, x.X, "")
		b.WriteString(")")
	case store.Compare:
		b.WriteString(x.Attr.String())
		b.WriteString(" ")
		b.WriteString(x.Op)
		switch {
		case x.Op == store.OpPr:
		case x.Value == nil:
			b.WriteString(" null")
		default:
			b.WriteString(" ?")
		}
	case store.ValuePath:
		b.WriteString(x.Attr.String())
		b.WriteString("[")
		shape(b, x.Filter, "")
		b.WriteString("]")
	default:
		b.WriteString("?")
	}
}

func logical(b *strings.Builder, op string, l, r store.Expr, parentOp string) {
	paren := parentOp != "" && parentOp != op
	if paren {
		b.WriteString("(")
	}
	shape(b, l, op)
	b.WriteString(" " + op + " ")
	shape(b, r, op)
	if paren {
		b.WriteString(")")
	}
}
