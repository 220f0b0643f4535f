package scim

import (
	"strings"
)

// projection is a resolved attributes or excludedAttributes parameter
// (RFC 7644 §3.9). A nil *projection returns the default attribute set.
type projection struct {
	include bool // attributes=…: only these (and "always" attributes)
	keys    map[projKey]struct{}
	urns    map[string]struct{} // extension URNs any key mentions (include mode)
}

// projKey names a listed attribute canonically: {urn, name, ""} for a
// whole attribute, {urn, name, sub} for a sub-attribute, {urn, "", ""}
// for a whole extension, and {urn, name, "."} marks an attribute some of
// whose sub-attributes are listed.
type projKey struct{ urn, name, sub string }

// parseProjection resolves the two parameters against rt. Names that rt
// does not know are ignored: asking for an attribute a resource type does
// not have yields no attribute, as it would if the value were unset.
// attributes wins when both are given.
func parseProjection(rt *resourceType, attributes, excluded string) *projection {
	list, include := attributes, true
	if strings.TrimSpace(list) == "" {
		list, include = excluded, false
	}
	if strings.TrimSpace(list) == "" {
		return nil
	}
	p := &projection{include: include, keys: map[projKey]struct{}{}, urns: map[string]struct{}{}}
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if e := rt.ext(item); e != nil {
			p.add(projKey{urn: e.urn})
			continue
		}
		if strings.EqualFold(item, rt.core.urn) {
			// The core schema URN alone names every core attribute.
			for _, a := range rt.core.attrs {
				p.add(projKey{name: a.name})
			}
			continue
		}
		urn, rest, _ := rt.splitURN(item)
		name, sub, hasSub := strings.Cut(rest, ".")
		_, a := rt.lookup(urn, name)
		if a == nil {
			continue
		}
		if !hasSub {
			p.add(projKey{urn: urn, name: a.name})
			continue
		}
		s := a.sub(sub)
		if s == nil {
			continue
		}
		p.add(projKey{urn: urn, name: a.name, sub: s.name})
		p.add(projKey{urn: urn, name: a.name, sub: "."})
	}
	return p
}

func (p *projection) add(k projKey) {
	p.keys[k] = struct{}{}
	if k.urn != "" {
		p.urns[k.urn] = struct{}{}
	}
}

func (p *projection) has(k projKey) bool {
	_, ok := p.keys[k]
	return ok
}

// attr reports whether attribute a of schema urn ("" for core and common
// attributes) is returned.
func (p *projection) attr(urn string, a *attrDef) bool {
	switch a.returned {
	case "never":
		return false
	case "always":
		return true
	}
	if p == nil {
		return a.returned != "request"
	}
	whole := p.has(projKey{urn: urn, name: a.name})
	if !p.include {
		return !whole && a.returned != "request"
	}
	return whole || p.has(projKey{urn: urn, name: a.name, sub: "."}) ||
		(urn != "" && p.has(projKey{urn: urn}))
}

// sub reports whether sub-attribute s of a is returned, given that a is.
func (p *projection) sub(urn string, a, s *attrDef) bool {
	if s.returned == "never" {
		return false
	}
	if p == nil {
		return s.returned != "request"
	}
	if !p.include {
		return !p.has(projKey{urn: urn, name: a.name, sub: s.name})
	}
	return p.has(projKey{urn: urn, name: a.name}) || p.has(projKey{urn: urn, name: a.name, sub: s.name}) ||
		(urn != "" && p.has(projKey{urn: urn}))
}

// ext reports whether anything of extension urn may be returned.
func (p *projection) ext(urn string) bool {
	if p == nil {
		return true
	}
	if !p.include {
		return !p.has(projKey{urn: urn})
	}
	_, ok := p.urns[urn]
	return ok
}
