package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/mongo"
	"github.com/roster-scim/roster/store/sqlite"
)

// openStore opens the configured backend. It is the one place that
// chooses a backend; every other package sees store.Store.
func openStore(ctx context.Context, cfg *Config) (store.Store, error) {
	switch cfg.Storage.Driver {
	case "sqlite":
		path := cfg.SQLitePath()
		if err := ensureWritableDir(filepath.Dir(path)); err != nil {
			return nil, err
		}
		st, err := openSQLite(path)
		if err != nil {
			return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
		}
		if err := st.Ping(ctx); err != nil {
			st.Close()
			return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
		}
		return st, nil
	case "mongodb":
		// Open pings and ensures indexes; bound it so an unreachable
		// cluster ends start-up with a message instead of a hang.
		octx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		st, err := mongo.Open(octx, cfg.Storage.MongoDB.URI, cfg.Storage.MongoDB.Database)
		if err != nil {
			return nil, fmt.Errorf("open mongodb database %s: %w", cfg.Storage.MongoDB.Database, err)
		}
		return st, nil
	}
	return nil, fmt.Errorf("storage.driver: %q is not one of sqlite, mongodb", cfg.Storage.Driver)
}

// ensureWritableDir creates dir if needed and proves a file can be
// created in it, so a read-only or misplaced data directory is reported
// as such at start-up rather than as a database error on the first write.
func ensureWritableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("data directory %s cannot be created: %v", dir, pathErr(err))
	}
	f, err := os.CreateTemp(dir, ".roster-write-check-*")
	if err != nil {
		return fmt.Errorf("data directory %s is not writable: %v", dir, pathErr(err))
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return nil
}

// pathErr drops the path from a *fs.PathError, whose message the caller
// already names.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// openSQLite opens (creating and migrating when needed) the embedded
// database.
func openSQLite(path string) (store.Store, error) {
	st, err := sqlite.Open(path)
	if err != nil {
		return nil, err
	}
	return st, nil
}
