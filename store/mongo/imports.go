package mongo

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodrv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/roster-scim/roster/store"
)

// Import jobs and rows.

type jobDoc struct {
	ID         string    `bson:"_id"`
	TenantID   string    `bson:"tenantId"`
	FileName   string    `bson:"fileName"`
	Format     string    `bson:"format"`
	Mode       string    `bson:"mode"`
	State      string    `bson:"state"`
	Total      int       `bson:"total"`
	Done       int       `bson:"done"`
	Failed     int       `bson:"failed"`
	Error      string    `bson:"error,omitempty"`
	CreatedBy  string    `bson:"createdBy,omitempty"`
	Version    int64     `bson:"version"`
	CreatedAt  time.Time `bson:"createdAt"`
	UpdatedAt  time.Time `bson:"updatedAt"`
	FinishedAt time.Time `bson:"finishedAt,omitempty"`
}

func (d *jobDoc) record() *store.ImportJob {
	return &store.ImportJob{TenantID: d.TenantID, ID: d.ID, FileName: d.FileName, Format: d.Format, Mode: d.Mode, State: d.State,
		Total: d.Total, Done: d.Done, Failed: d.Failed, Error: d.Error, CreatedBy: d.CreatedBy, Version: d.Version,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, FinishedAt: d.FinishedAt}
}

// CreateImportJob stores a new job (State queued when empty).
func (s *Store) CreateImportJob(ctx context.Context, j *store.ImportJob) error {
	if j.TenantID == "" {
		return &store.ErrInvalid{Field: "tenantId", Reason: "required"}
	}
	if j.ID == "" {
		j.ID = store.NewID()
	}
	if j.State == "" {
		j.State = store.JobQueued
	}
	at := now()
	j.FinishedAt = stamp(j.FinishedAt)
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	_, err := s.c.jobs.InsertOne(ctx, jobDoc{ID: j.ID, TenantID: j.TenantID, FileName: j.FileName, Format: j.Format, Mode: j.Mode,
		State: j.State, Total: j.Total, Done: j.Done, Failed: j.Failed, Error: j.Error, CreatedBy: j.CreatedBy, Version: 1,
		CreatedAt: at, UpdatedAt: at, FinishedAt: j.FinishedAt})
	if err != nil {
		return mapErr(err, collJobs)
	}
	j.Version, j.CreatedAt, j.UpdatedAt = 1, at, at
	return nil
}

// GetImportJob reads a job.
func (s *Store) GetImportJob(ctx context.Context, tenantID, id string) (*store.ImportJob, error) {
	d, err := findOne[jobDoc](ctx, s.c.jobs, idFilter(tenantID, id))
	if err != nil {
		return nil, err
	}
	return d.record(), nil
}

// UpdateImportJob writes j if its Version is still the stored one.
func (s *Store) UpdateImportJob(ctx context.Context, j *store.ImportJob) error {
	at := now()
	fin := stamp(j.FinishedAt)
	set := bson.D{{Key: "fileName", Value: j.FileName}, {Key: "format", Value: j.Format}, {Key: "mode", Value: j.Mode},
		{Key: "state", Value: j.State}, {Key: "total", Value: j.Total}, {Key: "done", Value: j.Done}, {Key: "failed", Value: j.Failed},
		{Key: "error", Value: j.Error}, {Key: "createdBy", Value: j.CreatedBy}}
	if !fin.IsZero() {
		set = append(set, bson.E{Key: "finishedAt", Value: fin})
	}
	created, err := s.casUpdate(ctx, s.c.jobs, idFilter(j.TenantID, j.ID), j.Version, set, at)
	if err != nil {
		return err
	}
	if fin.IsZero() {
		// casUpdate only sets; a cleared FinishedAt is rare (a job re-run)
		// and its own write.
		ctx, cancel := withTimeout(ctx)
		defer cancel()
		if _, err := s.c.jobs.UpdateOne(ctx, append(idFilter(j.TenantID, j.ID), bson.E{Key: "version", Value: j.Version + 1},
			bson.E{Key: "finishedAt", Value: bson.D{{Key: "$exists", Value: true}}}),
			bson.D{{Key: "$unset", Value: bson.D{{Key: "finishedAt", Value: ""}}}}); err != nil {
			return mapErr(err, collJobs)
		}
	}
	j.Version, j.UpdatedAt, j.CreatedAt, j.FinishedAt = j.Version+1, at, created, fin
	return nil
}

// ListImportJobs lists the tenant's jobs, newest first.
func (s *Store) ListImportJobs(ctx context.Context, tenantID string) ([]*store.ImportJob, error) {
	ds, err := findAll[jobDoc](ctx, s.c.jobs, bson.D{{Key: "tenantId", Value: tenantID}}, options.Find().SetSort(sortBy("createdAt", -1, "_id", -1)))
	if err != nil {
		return nil, err
	}
	out := make([]*store.ImportJob, len(ds))
	for i := range ds {
		out[i] = ds[i].record()
	}
	return out, nil
}

type rowDoc struct {
	TenantID string `bson:"tenantId"`
	JobID    string `bson:"jobId"`
	N        int    `bson:"n"`
	// Cells and Errors are JSON like on the other backends, so nil and
	// empty survive and a header may contain any character ("." or "$"
	// are not welcome in BSON keys).
	Cells  string `bson:"cells"`
	Errors string `bson:"errors"`
	UserID string `bson:"userId,omitempty"`
	Done   bool   `bson:"done"`
}

func toRowDoc(r *store.ImportRow) (*rowDoc, error) {
	c, err := json.Marshal(r.Cells)
	if err != nil {
		return nil, err
	}
	e, err := json.Marshal(r.Errors)
	if err != nil {
		return nil, err
	}
	return &rowDoc{TenantID: r.TenantID, JobID: r.JobID, N: r.N, Cells: string(c), Errors: string(e), UserID: r.UserID, Done: r.Done}, nil
}

func (d *rowDoc) record() (*store.ImportRow, error) {
	r := &store.ImportRow{TenantID: d.TenantID, JobID: d.JobID, N: d.N, UserID: d.UserID, Done: d.Done}
	if err := json.Unmarshal([]byte(d.Cells), &r.Cells); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(d.Errors), &r.Errors); err != nil {
		return nil, err
	}
	return r, nil
}

func rowFilter(tenantID, jobID string, n int) bson.D {
	return bson.D{{Key: "tenantId", Value: tenantID}, {Key: "jobId", Value: jobID}, {Key: "n", Value: n}}
}

// PutImportRows stores rows, replacing rows with the same number; every
// row's job must exist in its tenant. Each row is one upsert, so a retry
// after a failure part-way writes the same result.
func (s *Store) PutImportRows(ctx context.Context, rows []*store.ImportRow) error {
	if len(rows) == 0 {
		return nil
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	checked := map[[2]string]bool{}
	models := make([]mongodrv.WriteModel, 0, len(rows))
	for _, r := range rows {
		if r.N <= 0 {
			return &store.ErrInvalid{Field: "n", Reason: "row numbers start at 1"}
		}
		key := [2]string{r.TenantID, r.JobID}
		if !checked[key] {
			if err := existsOrNotFound(ctx, s.c.jobs, idFilter(r.TenantID, r.JobID)); errors.Is(err, store.ErrNotFound) {
				return &store.ErrInvalid{Field: "jobId", Reason: "no such import job"}
			} else if err != nil {
				return err
			}
			checked[key] = true
		}
		d, err := toRowDoc(r)
		if err != nil {
			return err
		}
		models = append(models, mongodrv.NewReplaceOneModel().SetFilter(rowFilter(r.TenantID, r.JobID, r.N)).SetReplacement(d).SetUpsert(true))
	}
	_, err := s.c.rows.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(true))
	return mapErr(err, collRows)
}

// UpdateImportRow writes the result of one row.
func (s *Store) UpdateImportRow(ctx context.Context, r *store.ImportRow) error {
	d, err := toRowDoc(r)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	res, err := s.c.rows.ReplaceOne(ctx, rowFilter(r.TenantID, r.JobID, r.N), d)
	if err != nil {
		return mapErr(err, collRows)
	}
	if res.MatchedCount == 0 {
		return store.ErrNotFound
	}
	return nil
}

// ImportRows pages the job's rows by number, after row `after`.
func (s *Store) ImportRows(ctx context.Context, tenantID, jobID string, after, limit int) ([]*store.ImportRow, error) {
	opts := options.Find().SetSort(sortBy("n", 1))
	if limit > 0 {
		opts.SetLimit(int64(limit))
	}
	ds, err := findAll[rowDoc](ctx, s.c.rows, bson.D{{Key: "tenantId", Value: tenantID}, {Key: "jobId", Value: jobID},
		{Key: "n", Value: bson.D{{Key: "$gt", Value: after}}}}, opts)
	if err != nil {
		return nil, err
	}
	out := make([]*store.ImportRow, len(ds))
	for i := range ds {
		r, err := ds[i].record()
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}
