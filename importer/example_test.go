package importer_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/roster-scim/roster/importer"
	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/sqlite"
)

// The flow of `roster import --tenant T users.csv`: check the file, run
// the job with a progress line, write the result file, and fail when rows
// failed.
func ExampleRunner() {
	dir, _ := os.MkdirTemp("", "roster-example")
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(filepath.Join(dir, "roster.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	tenant := &store.Tenant{Name: "acme"}
	if err := st.CreateTenant(ctx, tenant); err != nil {
		log.Fatal(err)
	}

	r := &importer.Runner{
		Store:        st,
		Engine:       licensing.New(st),
		HashPassword: func(pw string) (string, error) { return "hash-of-" + pw, nil }, // auth.HashPassword
		Invite:       func(ctx context.Context, u *store.User) error { return nil },   // notify's invitation
	}
	var meter importer.Meter
	r.OnProgress = func(j *store.ImportJob) {
		// A CLI redraws its progress line here:
		// "1,200 / 10,000 rows (12%), 3 failed, 450 rows/s, about 20s left"
		_ = meter.Line(j, time.Now())
	}

	file := "First Name;Last Name;Login;Email Address\n" +
		"Ann;Lee;ann@acme.test;ann@acme.test\n" +
		"Bob;Ray;bob@acme;bob@acme.test\n"
	job, err := r.Submit(ctx, tenant.ID, "users.csv", strings.NewReader(file), store.ImportValidRows, "cli")
	if err != nil {
		log.Fatal(err) // a *importer.FileError says what is wrong with the file
	}
	if job.State == store.JobQueued {
		if job, err = r.Run(ctx, tenant.ID, job.ID); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(job.State, job.Done, "imported,", job.Failed, "failed")
	fmt.Println(job.Error)
	if job.Failed > 0 {
		var result strings.Builder
		if err := r.WriteJobResult(ctx, &result, tenant.ID, job.ID, ""); err != nil {
			log.Fatal(err)
		}
		fmt.Print(strings.ReplaceAll(strings.TrimPrefix(result.String(), "\ufeff"), "\r\n", "\n"))
		// os.Exit(1)
	}
	// Output:
	// done 1 imported, 1 failed
	// 1 row of 2 could not be imported; the Errors column of the result file says why
	// First Name*,Last Name*,Username*,E-mail*,Errors
	// Ann,Lee,ann@acme.test,ann@acme.test,
	// Bob,Ray,bob@acme,bob@acme.test,"Username: must be an e-mail address, such as jane.doe@example.com (the login is an e-mail address)"
}
