package importer

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/store"
)

var (
	benchRows = flag.Int("rows", 100_000, "rows of the file BenchmarkImportXLSX imports")
	long      = flag.Bool("long", false, "run the tests on 100,000-row files")
)

// benchUser is row i of the benchmark file.
func benchUser(i int) []string {
	return []string{fmt.Sprintf("Given%d", i), fmt.Sprintf("Family%d", i), fmt.Sprintf("user%07d@bench.test", i),
		fmt.Sprintf("user%07d@bench.test", i), "", fmt.Sprintf("+1 202 %07d", i), fmt.Sprintf("+1 303 %07d", i),
		"Bench Corp", fmt.Sprintf("BC-%d", i), "", "", "", "no", ""}
}

// bigXLSX writes an n-row workbook the way Excel stores one (shared
// strings), through excelize's stream writer.
func bigXLSX(tb testing.TB, n int) []byte {
	tb.Helper()
	f := excelize.NewFile()
	defer f.Close()
	sw, err := f.NewStreamWriter("Sheet1")
	must(tb, err)
	row := make([]any, len(header))
	for i, h := range header {
		row[i] = h
	}
	must(tb, sw.SetRow("A1", row))
	for i := 1; i <= n; i++ {
		for j, v := range benchUser(i) {
			row[j] = v
		}
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		must(tb, sw.SetRow(cell, row))
	}
	must(tb, sw.Flush())
	b, err := f.WriteToBuffer()
	must(tb, err)
	return b.Bytes()
}

func bigCSV(n int) []byte {
	var b bytes.Buffer
	b.Write(csvBytes(header))
	for i := 1; i <= n; i++ {
		b.Write(csvBytes(benchUser(i)))
	}
	return b.Bytes()
}

var (
	bigOnce  sync.Once
	bigFiles map[string][]byte
)

// peakHeap samples the allocated heap while fn runs and returns the
// highest value above what was live before (a GC first, so earlier garbage
// does not count). With the default GOGC it includes the collector's
// slack, which is what the process really uses.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > base && m.HeapAlloc-base > peak.Load() {
				peak.Store(m.HeapAlloc - base)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	fn()
	close(stop)
	<-done
	return peak.Load()
}

// BenchmarkImportXLSX imports an n-row workbook end to end (Submit: parse
// and check every row; Run: create the users with their audit events and
// the rows' bookkeeping) and, in the same run on a fresh store, creates
// the same users through store.CreateUser in a loop. It reports both
// rates, their ratio (import / direct; the goal is at least 0.5) and the
// import's peak heap. Run it as:
//
//	go test ./importer -run '^$' -bench Import -benchtime 1x [-rows 100000]
func BenchmarkImportXLSX(b *testing.B) { benchImport(b, FormatXLSX) }

// BenchmarkImportCSV is the same with the users as a CSV file, whose
// parsing costs next to nothing: the difference to BenchmarkImportXLSX is
// the workbook's XML decoding.
func BenchmarkImportCSV(b *testing.B) { benchImport(b, FormatCSV) }

func benchImport(b *testing.B, format string) {
	n := *benchRows
	bigOnce.Do(func() { bigFiles = map[string][]byte{FormatXLSX: bigXLSX(b, n), FormatCSV: bigCSV(n)} })
	file := bigFiles[format]
	ctx := context.Background()
	// direct creates the same users, built as the importer builds them,
	// through store.CreateUser in a loop. It runs before and after the
	// import and the mean is used: other work on a shared machine moves
	// both numbers, and this way it moves them alike.
	direct := func() time.Duration {
		st := openStore(b)
		t1 := &store.Tenant{Name: "direct"}
		must(b, st.CreateTenant(ctx, t1))
		start := time.Now()
		for i := 1; i <= n; i++ {
			in, errs := parseRow(cellsOf(benchUser(i)), 32767, nil)
			if len(errs) > 0 {
				b.Fatal(errs)
			}
			if err := st.CreateUser(ctx, newUser(t1.ID, &in, "")); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	for b.Loop() {
		directBefore := direct()
		st := openStore(b)
		t2 := &store.Tenant{Name: "import"}
		must(b, st.CreateTenant(ctx, t2))
		r := &Runner{Store: st, Engine: licensing.New(st, licensing.WithLogger(quiet)), Logger: quiet,
			Limits: Limits{MaxRows: n, BatchSize: 500}}
		var submitDur, runDur time.Duration
		peak := peakHeap(func() {
			s := time.Now()
			j, err := r.Submit(ctx, t2.ID, "bench."+format, bytes.NewReader(file), store.ImportAllOrNothing, "bench")
			if err != nil || j.State != store.JobQueued {
				b.Fatalf("Submit: %v %+v", err, j)
			}
			submitDur = time.Since(s)
			s = time.Now()
			j, err = r.Run(ctx, t2.ID, j.ID)
			if err != nil || j.Done != n {
				b.Fatalf("Run: %v %+v", err, j)
			}
			runDur = time.Since(s)
		})
		importDur := submitDur + runDur
		directDur := (directBefore + direct()) / 2
		if page, err := st.ListUsers(ctx, t2.ID, store.Query{}); err != nil || page.Total != n {
			b.Fatalf("imported %v users (%v)", page, err)
		}
		b.ReportMetric(float64(n)/importDur.Seconds(), "import-rows/s")
		b.ReportMetric(float64(n)/directDur.Seconds(), "direct-rows/s")
		b.ReportMetric(directDur.Seconds()/importDur.Seconds(), "ratio")
		b.ReportMetric(submitDur.Seconds(), "submit-s")
		b.ReportMetric(runDur.Seconds(), "run-s")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		b.ReportMetric(float64(len(file))/(1<<20), "file-MB")
	}
}

func cellsOf(row []string) map[string]string {
	m := make(map[string]string, len(row))
	for i, h := range header {
		m[h] = row[i]
	}
	return m
}

// Reading a 100,000-row file keeps memory bounded: rows stream through
// and the workbook is spooled to disk, so the heap a read needs does not
// grow with the number of rows (measured against a 10,000-row file, as the
// garbage collector's slack makes the absolute peak move).
func TestLargeFileBoundedMemory(t *testing.T) {
	if !*long {
		t.Skip("100,000-row files: run with -long")
	}
	// A low GOGC keeps garbage from hiding what is retained.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	for _, format := range []string{"xlsx", "csv"} {
		t.Run(format, func(t *testing.T) {
			peaks := map[int]uint64{}
			for _, n := range []int{10_000, 100_000} {
				var data []byte
				if format == "xlsx" {
					data = bigXLSX(t, n)
				} else {
					data = bigCSV(n)
				}
				rows := 0
				peaks[n] = peakHeap(func() {
					src, _, err := openSource(bytes.NewReader(data), "big."+format, DefaultLimits)
					must(t, err)
					defer src.close()
					cells, line, err := src.next()
					must(t, err)
					lay, err := parseHeader(cells, line)
					must(t, err)
					for {
						cells, line, err := src.next()
						if err == io.EOF {
							break
						}
						must(t, err)
						m, _ := lay.cells(cells, line, rows == 0)
						if _, errs := parseRow(m, 32767, nil); len(errs) > 0 {
							t.Fatal(errs)
						}
						rows++
					}
				})
				if rows != n {
					t.Errorf("%d rows, want %d", rows, n)
				}
				t.Logf("%s: %d rows, file %.1f MB, peak heap %.1f MB", format, n, float64(len(data))/(1<<20), float64(peaks[n])/(1<<20))
			}
			if peaks[100_000] > peaks[10_000]+8<<20 {
				t.Errorf("peak heap grows with the rows: %d MB for 10,000, %d MB for 100,000", peaks[10_000]>>20, peaks[100_000]>>20)
			}
		})
	}
}
