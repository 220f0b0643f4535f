package admin

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/roster-scim/roster/store"
)

// catalog is a tenant's pools with their products' names: small (one pool
// per product), read once per request.
type catalog struct {
	Pools    []*store.Pool
	pool     map[string]*store.Pool
	product  map[string]*store.Product
	Products []*store.Product // every product of the platform
}

func (s *server) catalog(ctx context.Context, tenantID string) (*catalog, error) {
	pools, err := s.st.ListPools(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	prods, err := s.st.ListProducts(ctx)
	if err != nil {
		return nil, err
	}
	k := &catalog{Pools: pools, pool: map[string]*store.Pool{}, product: map[string]*store.Product{}, Products: prods}
	for _, p := range prods {
		k.product[p.ID] = p
	}
	slices.SortFunc(k.Products, func(a, b *store.Product) int {
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	slices.SortFunc(k.Pools, func(a, b *store.Pool) int {
		return strings.Compare(strings.ToLower(k.ProductName(a.ProductID)), strings.ToLower(k.ProductName(b.ProductID)))
	})
	for _, p := range pools {
		k.pool[p.ID] = p
	}
	return k, nil
}

// ProductName names a product by id.
func (k *catalog) ProductName(productID string) string {
	if p, ok := k.product[productID]; ok {
		return p.Name
	}
	return "Unknown product"
}

// PoolName names a pool by its product.
func (k *catalog) PoolName(poolID string) string {
	if p, ok := k.pool[poolID]; ok {
		return k.ProductName(p.ProductID)
	}
	return "Removed pool"
}

// Pool returns a pool by id, or nil.
func (k *catalog) Pool(poolID string) *store.Pool { return k.pool[poolID] }

// PoolOfProduct returns the tenant's pool of a product, or nil.
func (k *catalog) PoolOfProduct(productID string) *store.Pool {
	for _, p := range k.Pools {
		if p.ProductID == productID {
			return p
		}
	}
	return nil
}

func sortTenants(ts []*store.Tenant) {
	slices.SortFunc(ts, func(a, b *store.Tenant) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
}

// maxForm bounds a form body; the largest form (a user) is a few KB.
const maxForm = 256 << 10

// form parses the request's form, bounded.
func (c *rc) form() error {
	c.r.Body = http.MaxBytesReader(c.w, c.r.Body, maxForm)
	if err := c.r.ParseForm(); err != nil {
		return invalid("the form could not be read (is it larger than 256 KB?)")
	}
	return nil
}

// val is a trimmed form value.
func (c *rc) val(name string) string { return strings.TrimSpace(c.r.FormValue(name)) }

// checked reports whether a checkbox was ticked.
func (c *rc) checked(name string) bool {
	v := c.r.FormValue(name)
	return v == "on" || v == "true" || v == "1" || v == "yes"
}
