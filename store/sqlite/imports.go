package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/roster-scim/roster/store"
)

const jobCols = `tenant_id, id, file_name, format, mode, state, total, done, failed, error, created_by, version, created, updated, finished`

func scanJob(sc scanner) (*store.ImportJob, error) {
	j := new(store.ImportJob)
	var created, updated int64
	var finished sql.NullInt64
	if err := sc.Scan(&j.TenantID, &j.ID, &j.FileName, &j.Format, &j.Mode, &j.State, &j.Total, &j.Done, &j.Failed, &j.Error,
		&j.CreatedBy, &j.Version, &created, &updated, &finished); err != nil {
		return nil, err
	}
	j.CreatedAt, j.UpdatedAt, j.FinishedAt = msTime(created), msTime(updated), fromMS(finished)
	return j, nil
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
	j.FinishedAt = store.Timestamp(j.FinishedAt)
	_, err := s.wr.ExecContext(ctx, `INSERT INTO import_jobs (`+jobCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`,
		j.TenantID, j.ID, j.FileName, j.Format, j.Mode, j.State, j.Total, j.Done, j.Failed, j.Error, j.CreatedBy,
		at.UnixMilli(), at.UnixMilli(), ms(j.FinishedAt))
	if err != nil {
		return constraint(err, map[string]string{"import_jobs.id": "id"}, nil)
	}
	j.Version, j.CreatedAt, j.UpdatedAt = 1, at, at
	return nil
}

// GetImportJob reads a job.
func (s *Store) GetImportJob(ctx context.Context, tenantID, id string) (*store.ImportJob, error) {
	j, err := scanJob(s.rd.QueryRowContext(ctx, `SELECT `+jobCols+` FROM import_jobs WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return j, notFound(err)
}

// UpdateImportJob writes j if its Version is still the stored one.
func (s *Store) UpdateImportJob(ctx context.Context, j *store.ImportJob) error {
	at := now()
	fin := store.Timestamp(j.FinishedAt)
	var created int64
	err := s.tx(ctx, func(tx *wtx) error {
		err := tx.QueryRowContext(ctx, `UPDATE import_jobs SET file_name = ?, format = ?, mode = ?, state = ?, total = ?, done = ?, failed = ?,
				error = ?, created_by = ?, finished = ?, version = version + 1, updated = ?
			WHERE tenant_id = ? AND id = ? AND version = ? RETURNING created`,
			j.FileName, j.Format, j.Mode, j.State, j.Total, j.Done, j.Failed, j.Error, j.CreatedBy, ms(fin), at.UnixMilli(),
			j.TenantID, j.ID, j.Version).Scan(&created)
		if errors.Is(err, sql.ErrNoRows) {
			return casMiss(ctx, tx, "import_jobs", j.TenantID, j.ID)
		}
		return err
	})
	if err != nil {
		return err
	}
	j.Version, j.UpdatedAt, j.CreatedAt, j.FinishedAt = j.Version+1, at, msTime(created), fin
	return nil
}

// ListImportJobs lists the tenant's jobs, newest first.
func (s *Store) ListImportJobs(ctx context.Context, tenantID string) ([]*store.ImportJob, error) {
	return list(ctx, s.rd, scanJob, `SELECT `+jobCols+` FROM import_jobs WHERE tenant_id = ? ORDER BY created DESC, id DESC`, tenantID)
}

const rowCols = `tenant_id, job_id, n, cells, errors, user_id, done`

func scanRow(sc scanner) (*store.ImportRow, error) {
	r := new(store.ImportRow)
	var cells, errs string
	if err := sc.Scan(&r.TenantID, &r.JobID, &r.N, &cells, &errs, &r.UserID, &r.Done); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(cells), &r.Cells); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(errs), &r.Errors); err != nil {
		return nil, err
	}
	return r, nil
}

func rowArgs(r *store.ImportRow) (cells, errs string, err error) {
	c, err := json.Marshal(r.Cells)
	if err != nil {
		return "", "", err
	}
	e, err := json.Marshal(r.Errors)
	if err != nil {
		return "", "", err
	}
	return string(c), string(e), nil
}

// PutImportRows stores rows (replacing rows with the same number) in one
// transaction; every row's job must exist in its tenant.
func (s *Store) PutImportRows(ctx context.Context, rows []*store.ImportRow) error {
	if len(rows) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *wtx) error {
		ins, err := tx.prepare(ctx, `INSERT INTO import_rows (`+rowCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, job_id, n) DO UPDATE SET cells = excluded.cells, errors = excluded.errors,
				user_id = excluded.user_id, done = excluded.done`)
		if err != nil {
			return err
		}
		defer ins.Close()
		checked := map[[2]string]bool{}
		for _, r := range rows {
			if r.N <= 0 {
				return &store.ErrInvalid{Field: "n", Reason: "row numbers start at 1"}
			}
			key := [2]string{r.TenantID, r.JobID}
			if !checked[key] {
				ok, err := exists(ctx, tx, `SELECT 1 FROM import_jobs WHERE tenant_id = ? AND id = ?`, r.TenantID, r.JobID)
				if err != nil {
					return err
				}
				if !ok {
					return &store.ErrInvalid{Field: "jobId", Reason: "no such import job"}
				}
				checked[key] = true
			}
			cells, errs, err := rowArgs(r)
			if err != nil {
				return err
			}
			if _, err := ins.ExecContext(ctx, r.TenantID, r.JobID, r.N, cells, errs, r.UserID, boolInt(r.Done)); err != nil {
				return err
			}
		}
		return nil
	})
}

// UpdateImportRow writes the result of one row.
func (s *Store) UpdateImportRow(ctx context.Context, r *store.ImportRow) error {
	cells, errs, err := rowArgs(r)
	if err != nil {
		return err
	}
	res, err := s.wr.ExecContext(ctx, `UPDATE import_rows SET cells = ?, errors = ?, user_id = ?, done = ? WHERE tenant_id = ? AND job_id = ? AND n = ?`,
		cells, errs, r.UserID, boolInt(r.Done), r.TenantID, r.JobID, r.N)
	if err != nil {
		return err
	}
	if rowsAffected(res) == 0 {
		return store.ErrNotFound
	}
	return nil
}

// ImportRows pages the job's rows by number, after row `after`.
func (s *Store) ImportRows(ctx context.Context, tenantID, jobID string, after, limit int) ([]*store.ImportRow, error) {
	if limit <= 0 {
		limit = -1
	}
	return list(ctx, s.rd, scanRow, `SELECT `+rowCols+` FROM import_rows WHERE tenant_id = ? AND job_id = ? AND n > ? ORDER BY n LIMIT ?`,
		tenantID, jobID, after, limit)
}
