//go:build !unix

package sqlite

import (
	"errors"
	"os"
)

// Elsewhere the lookups keep to a transaction per read.
func mapShared(*os.File, int) ([]byte, error) {
	return nil, errors.New("sqlite: no shared map of the -shm file on this system")
}

func unmap([]byte) error { return nil }
