package admin

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/roster-scim/roster/store"
)

const groupsPerPage = 50

// groupsData is the Groups page.
type groupsData struct {
	Query         string
	Rows          []groupRow
	Total         int
	Page, Pages   int
	PrevURL       string
	NextURL       string
	SearchError   string
	HasPools      bool
	LicensesURL   string
	ConnectIdPURL string
}

type groupRow struct {
	ID, Name, URL string
	Members       int
	Licenses      []string
}

func (s *server) groupsPage(c *rc) error {
	qv := c.r.URL.Query()
	d := &groupsData{Query: strings.TrimSpace(qv.Get("q")), LicensesURL: c.T("licenses"), ConnectIdPURL: c.T("connect")}
	d.Page, _ = strconv.Atoi(qv.Get("page"))
	d.Page = max(d.Page, 1)
	var f store.Expr
	if d.Query != "" {
		f = store.Compare{Attr: store.AttrPath{Name: "displayName"}, Op: store.OpCo, Value: d.Query}
	}
	k, err := s.catalog(c.ctx(), c.tenant.ID)
	if err != nil {
		return err
	}
	d.HasPools = len(k.Pools) > 0
	rules, err := s.st.ListRules(c.ctx(), c.tenant.ID)
	if err != nil {
		return err
	}
	res, err := s.st.ListGroups(c.ctx(), c.tenant.ID, store.Query{Filter: f, SortBy: store.AttrPath{Name: "displayName"},
		Offset: (d.Page - 1) * groupsPerPage, Limit: groupsPerPage, MaxScan: 10000})
	if _, bad := store.IsInvalid(err); bad {
		d.SearchError = "This search matches too many groups to list; type more of the name."
		res, err = &store.GroupPage{}, nil
	}
	if err != nil {
		return err
	}
	d.Total = res.Total
	d.Pages = max(1, (res.Total+groupsPerPage-1)/groupsPerPage)
	pageURL := func(n int) string {
		v := url.Values{}
		if d.Query != "" {
			v.Set("q", d.Query)
		}
		v.Set("page", strconv.Itoa(n))
		return c.T("groups") + "?" + v.Encode()
	}
	if d.Page > 1 {
		d.PrevURL = pageURL(d.Page - 1)
	}
	if d.Page < d.Pages {
		d.NextURL = pageURL(d.Page + 1)
	}
	for _, g := range res.Groups {
		n, err := s.st.CountMembers(c.ctx(), c.tenant.ID, g.ID)
		if err != nil {
			return err
		}
		row := groupRow{ID: g.ID, Name: g.DisplayName, URL: c.T("groups", g.ID), Members: n}
		for _, r := range rules {
			if r.GroupID == g.ID {
				row.Licenses = append(row.Licenses, k.PoolName(r.PoolID))
			}
		}
		d.Rows = append(d.Rows, row)
	}
	return c.show("groups", "Groups", "groups", d)
}

const membersPerPage = 50

// groupData is one group: members and the license rules attached.
type groupData struct {
	Group    *store.Group
	Members  []memberRow
	Count    int
	NextURL  string
	FirstURL string
	Rules    []ruleRow
	Pools    []poolChoice // pools not yet mapped to this group
	RuleURL  string
	BackURL  string
}

type memberRow struct {
	Name, Type, URL string
}

type ruleRow struct {
	ID, Pool, RemoveURL string
}

func (s *server) groupPage(c *rc) error {
	g, err := s.st.GetGroup(c.ctx(), c.tenant.ID, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	d := &groupData{Group: g, RuleURL: c.T("groups", g.ID, "rules"), BackURL: c.T("groups")}
	after := c.r.URL.Query().Get("after")
	if after != "" {
		d.FirstURL = c.T("groups", g.ID)
	}
	if d.Count, err = s.st.CountMembers(c.ctx(), c.tenant.ID, g.ID); err != nil {
		return err
	}
	ms, err := s.st.ListMembers(c.ctx(), c.tenant.ID, g.ID, after, membersPerPage)
	if err != nil {
		return err
	}
	for _, m := range ms {
		row := memberRow{Name: m.Display, Type: m.Type}
		if row.Name == "" {
			row.Name = m.MemberID
		}
		if m.Type == store.MemberGroup {
			row.URL = c.T("groups", m.MemberID)
		} else {
			row.URL = c.T("users", m.MemberID)
		}
		d.Members = append(d.Members, row)
	}
	if len(ms) == membersPerPage {
		d.NextURL = c.T("groups", g.ID) + "?after=" + url.QueryEscape(ms[len(ms)-1].MemberID)
	}
	k, err := s.catalog(c.ctx(), c.tenant.ID)
	if err != nil {
		return err
	}
	rules, err := s.st.ListRules(c.ctx(), c.tenant.ID)
	if err != nil {
		return err
	}
	mapped := map[string]bool{}
	for _, r := range rules {
		if r.GroupID == g.ID {
			mapped[r.PoolID] = true
			d.Rules = append(d.Rules, ruleRow{ID: r.ID, Pool: k.PoolName(r.PoolID), RemoveURL: c.T("rules", r.ID, "delete")})
		}
	}
	for _, p := range k.Pools {
		if !mapped[p.ID] {
			d.Pools = append(d.Pools, poolChoice{ID: p.ID, Product: k.ProductName(p.ProductID), Free: max(0, p.Unassigned())})
		}
	}
	return c.show("group", g.DisplayName+" · Groups", "groups", d)
}

func (s *server) ruleAdd(c *rc) error {
	if err := c.form(); err != nil {
		return err
	}
	groupID := c.r.PathValue("id")
	back := c.T("groups", groupID)
	poolID := c.r.FormValue("pool")
	if poolID == "" {
		return c.back(back, invalid("Choose a pool."), "")
	}
	r, err := s.eng.AddRule(c.ctx(), c.tenant.ID, groupID, poolID, c.actor())
	if r != nil {
		s.audit(c, "rule.create", "rule", r.ID, "", `{"groupId":"`+groupID+`","poolId":"`+poolID+`"}`, "")
	}
	return c.back(back, err, "Every member of this group now gets a seat of "+s.poolLabel(c, poolID)+" while seats are free; the others wait.")
}

func (s *server) ruleRemove(c *rc) error {
	if err := c.form(); err != nil {
		return err
	}
	id := c.r.PathValue("id")
	back := c.T("groups")
	if g := c.r.FormValue("group"); g != "" {
		back = c.T("groups", g)
	}
	if c.r.FormValue("from") == "licenses" {
		back = c.T("licenses")
	}
	err := s.eng.RemoveRule(c.ctx(), c.tenant.ID, id, c.actor())
	if err == nil {
		s.audit(c, "rule.delete", "rule", id, "", "", "")
	}
	return c.back(back, err, "The rule was removed; seats it granted were returned unless another rule or a direct assignment keeps them.")
}
