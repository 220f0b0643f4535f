package mongo

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodrv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/roster-scim/roster/store"
)

type tenantDoc struct {
	ID         string    `bson:"_id"`
	Name       string    `bson:"name"`
	NameNorm   string    `bson:"nameNorm"`
	Suspended  bool      `bson:"suspended"`
	InviteFrom string    `bson:"inviteFrom,omitempty"`
	SSO        bool      `bson:"sso,omitempty"`
	SSOURL     string    `bson:"ssoSignInUrl,omitempty"`
	Version    int64     `bson:"version"`
	CreatedAt  time.Time `bson:"createdAt"`
	UpdatedAt  time.Time `bson:"updatedAt"`
}

func (d *tenantDoc) record() *store.Tenant {
	return &store.Tenant{ID: d.ID, Name: d.Name, Suspended: d.Suspended, InviteFrom: d.InviteFrom,
		SSO: d.SSO, SSOSignInURL: d.SSOURL,
		Version: d.Version, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

// CreateTenant inserts t; names are unique ignoring case.
func (s *Store) CreateTenant(ctx context.Context, t *store.Tenant) error {
	if t.Name == "" {
		return &store.ErrInvalid{Field: "name", Reason: "required"}
	}
	if t.ID == "" {
		t.ID = store.NewID()
	}
	at := now()
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	_, err := s.c.tenants.InsertOne(ctx, tenantDoc{ID: t.ID, Name: t.Name, NameNorm: store.NormUserName(t.Name),
		Suspended: t.Suspended, InviteFrom: t.InviteFrom, SSO: t.SSO, SSOURL: t.SSOSignInURL, Version: 1, CreatedAt: at, UpdatedAt: at})
	if err != nil {
		return mapErr(err, collTenants)
	}
	t.Version, t.CreatedAt, t.UpdatedAt = 1, at, at
	return nil
}

// GetTenant reads a tenant by id.
func (s *Store) GetTenant(ctx context.Context, id string) (*store.Tenant, error) {
	d, err := findOne[tenantDoc](ctx, s.c.tenants, idFilter("", id))
	if err != nil {
		return nil, err
	}
	return d.record(), nil
}

// GetTenantByName reads a tenant by name, ignoring case.
func (s *Store) GetTenantByName(ctx context.Context, name string) (*store.Tenant, error) {
	d, err := findOne[tenantDoc](ctx, s.c.tenants, bson.D{{Key: "nameNorm", Value: store.NormUserName(name)}})
	if err != nil {
		return nil, err
	}
	return d.record(), nil
}

// casUpdate applies upd to the document of filter whose version is
// version, bumping the version and setting updatedAt to at; it returns the
// stored createdAt. A miss is ErrNotFound or ErrPrecondition.
func (s *Store) casUpdate(ctx context.Context, coll *mongodrv.Collection, filter bson.D, version int64, set bson.D, at time.Time) (time.Time, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	upd := bson.D{
		{Key: "$set", Value: append(set, bson.E{Key: "updatedAt", Value: at})},
		{Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}},
	}
	var stored struct {
		CreatedAt time.Time `bson:"createdAt"`
	}
	err := coll.FindOneAndUpdate(ctx, append(filter, bson.E{Key: "version", Value: version}), upd,
		options.FindOneAndUpdate().SetReturnDocument(options.After).SetProjection(bson.D{{Key: "createdAt", Value: 1}})).Decode(&stored)
	if errors.Is(err, mongodrv.ErrNoDocuments) {
		return time.Time{}, casMiss(ctx, coll, filter)
	}
	if err != nil {
		return time.Time{}, mapErr(err, coll.Name())
	}
	return stored.CreatedAt, nil
}

// UpdateTenant writes t if its Version is still the stored one.
func (s *Store) UpdateTenant(ctx context.Context, t *store.Tenant) error {
	if t.Name == "" {
		return &store.ErrInvalid{Field: "name", Reason: "required"}
	}
	at := now()
	created, err := s.casUpdate(ctx, s.c.tenants, idFilter("", t.ID), t.Version, bson.D{
		{Key: "name", Value: t.Name}, {Key: "nameNorm", Value: store.NormUserName(t.Name)},
		{Key: "suspended", Value: t.Suspended}, {Key: "inviteFrom", Value: t.InviteFrom},
		{Key: "sso", Value: t.SSO}, {Key: "ssoSignInUrl", Value: t.SSOSignInURL},
	}, at)
	if err != nil {
		return err
	}
	t.Version, t.UpdatedAt, t.CreatedAt = t.Version+1, at, created
	return nil
}

// ListTenants lists every tenant by name.
func (s *Store) ListTenants(ctx context.Context) ([]*store.Tenant, error) {
	ds, err := findAll[tenantDoc](ctx, s.c.tenants, bson.D{}, options.Find().SetSort(sortBy("nameNorm", 1, "_id", 1)))
	if err != nil {
		return nil, err
	}
	out := make([]*store.Tenant, len(ds))
	for i := range ds {
		out[i] = ds[i].record()
	}
	return out, nil
}

// Tokens.

type tokenDoc struct {
	ID         string    `bson:"_id"`
	TenantID   string    `bson:"tenantId"`
	Name       string    `bson:"name"`
	Hash       string    `bson:"hash"`
	CreatedAt  time.Time `bson:"createdAt"`
	LastUsedAt time.Time `bson:"lastUsedAt,omitempty"`
	RevokedAt  time.Time `bson:"revokedAt,omitempty"`
}

func (d *tokenDoc) record() *store.Token {
	return &store.Token{ID: d.ID, TenantID: d.TenantID, Name: d.Name, Hash: d.Hash,
		CreatedAt: d.CreatedAt, LastUsedAt: d.LastUsedAt, RevokedAt: d.RevokedAt}
}

// CreateToken stores a token (its hash only).
func (s *Store) CreateToken(ctx context.Context, t *store.Token) error {
	switch {
	case t.TenantID == "":
		return &store.ErrInvalid{Field: "tenantId", Reason: "required"}
	case t.Hash == "":
		return &store.ErrInvalid{Field: "hash", Reason: "required"}
	}
	if t.ID == "" {
		t.ID = store.NewID()
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now()
	}
	t.CreatedAt = store.Timestamp(t.CreatedAt)
	t.LastUsedAt, t.RevokedAt = stamp(t.LastUsedAt), stamp(t.RevokedAt)
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	_, err := s.c.tokens.InsertOne(ctx, tokenDoc{ID: t.ID, TenantID: t.TenantID, Name: t.Name, Hash: t.Hash,
		CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt})
	return mapErr(err, collTokens)
}

// stamp is store.Timestamp that keeps the zero time zero.
func stamp(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return store.Timestamp(t)
}

// TokenByHash finds a token of any tenant by the hash of its secret.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*store.Token, error) {
	d, err := findOne[tokenDoc](ctx, s.c.tokens, bson.D{{Key: "hash", Value: hash}})
	if err != nil {
		return nil, err
	}
	return d.record(), nil
}

// ListTokens lists the tenant's tokens, oldest first.
func (s *Store) ListTokens(ctx context.Context, tenantID string) ([]*store.Token, error) {
	ds, err := findAll[tokenDoc](ctx, s.c.tokens, bson.D{{Key: "tenantId", Value: tenantID}},
		options.Find().SetSort(sortBy("createdAt", 1, "_id", 1)))
	if err != nil {
		return nil, err
	}
	out := make([]*store.Token, len(ds))
	for i := range ds {
		out[i] = ds[i].record()
	}
	return out, nil
}

// RevokeToken revokes the token at at; revoking twice keeps the first time.
func (s *Store) RevokeToken(ctx context.Context, tenantID, id string, at time.Time) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	res, err := s.c.tokens.UpdateOne(ctx, append(idFilter(tenantID, id), bson.E{Key: "revokedAt", Value: bson.D{{Key: "$exists", Value: false}}}),
		bson.D{{Key: "$set", Value: bson.D{{Key: "revokedAt", Value: store.Timestamp(at)}}}})
	if err != nil {
		return mapErr(err, collTokens)
	}
	if res.MatchedCount == 0 {
		return existsOrNotFound(ctx, s.c.tokens, idFilter(tenantID, id))
	}
	return nil
}

// existsOrNotFound is nil when filter matches a document, else ErrNotFound.
func existsOrNotFound(ctx context.Context, coll *mongodrv.Collection, filter bson.D) error {
	n, err := coll.CountDocuments(ctx, filter, options.Count().SetLimit(1))
	if err != nil {
		return mapErr(err, coll.Name())
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// touchEvery is how stale LastUsedAt may get: every authenticated SCIM
// request touches its token, and a write per request would put the whole
// API's load on one document.
const touchEvery = time.Minute

// TouchToken records a use at most once per touchEvery.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	at = store.Timestamp(at)
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	res, err := s.c.tokens.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "$or", Value: bson.A{
		bson.D{{Key: "lastUsedAt", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "lastUsedAt", Value: bson.D{{Key: "$lte", Value: at.Add(-touchEvery)}}}},
	}}}, bson.D{{Key: "$set", Value: bson.D{{Key: "lastUsedAt", Value: at}}}})
	if err != nil {
		return mapErr(err, collTokens)
	}
	if res.MatchedCount > 0 {
		return nil
	}
	return existsOrNotFound(ctx, s.c.tokens, idFilter("", id))
}

// Products.

type productDoc struct {
	ID        string    `bson:"_id"`
	Code      string    `bson:"code"`
	Name      string    `bson:"name"`
	Version   int64     `bson:"version"`
	CreatedAt time.Time `bson:"createdAt"`
	UpdatedAt time.Time `bson:"updatedAt"`
}

func (d *productDoc) record() *store.Product {
	return &store.Product{ID: d.ID, Code: d.Code, Name: d.Name, Version: d.Version, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

// CreateProduct adds a product to the catalogue; codes are unique.
func (s *Store) CreateProduct(ctx context.Context, p *store.Product) error {
	if p.Code == "" {
		return &store.ErrInvalid{Field: "code", Reason: "required"}
	}
	if p.ID == "" {
		p.ID = store.NewID()
	}
	at := now()
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	_, err := s.c.products.InsertOne(ctx, productDoc{ID: p.ID, Code: p.Code, Name: p.Name, Version: 1, CreatedAt: at, UpdatedAt: at})
	if err != nil {
		return mapErr(err, collProducts)
	}
	p.Version, p.CreatedAt, p.UpdatedAt = 1, at, at
	return nil
}

// GetProduct reads a product by id.
func (s *Store) GetProduct(ctx context.Context, id string) (*store.Product, error) {
	d, err := findOne[productDoc](ctx, s.c.products, idFilter("", id))
	if err != nil {
		return nil, err
	}
	return d.record(), nil
}

// GetProductByCode reads a product by its code (exact).
func (s *Store) GetProductByCode(ctx context.Context, code string) (*store.Product, error) {
	d, err := findOne[productDoc](ctx, s.c.products, bson.D{{Key: "code", Value: code}})
	if err != nil {
		return nil, err
	}
	return d.record(), nil
}

// UpdateProduct writes p if its Version is still the stored one.
func (s *Store) UpdateProduct(ctx context.Context, p *store.Product) error {
	if p.Code == "" {
		return &store.ErrInvalid{Field: "code", Reason: "required"}
	}
	at := now()
	created, err := s.casUpdate(ctx, s.c.products, idFilter("", p.ID), p.Version,
		bson.D{{Key: "code", Value: p.Code}, {Key: "name", Value: p.Name}}, at)
	if err != nil {
		return err
	}
	p.Version, p.UpdatedAt, p.CreatedAt = p.Version+1, at, created
	return nil
}

// ListProducts lists the catalogue by code.
func (s *Store) ListProducts(ctx context.Context) ([]*store.Product, error) {
	ds, err := findAll[productDoc](ctx, s.c.products, bson.D{}, options.Find().SetSort(sortBy("code", 1)))
	if err != nil {
		return nil, err
	}
	out := make([]*store.Product, len(ds))
	for i := range ds {
		out[i] = ds[i].record()
	}
	return out, nil
}
