package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/roster-scim/roster/internal/mongostandin"
	"github.com/roster-scim/roster/store"
)

// TestThreeNodesOnMongoDB runs three `roster serve` nodes on one MongoDB
// database and sends them competing creates: each userName is created
// exactly once whichever node gets it, the others answer 409.
func TestThreeNodesOnMongoDB(t *testing.T) {
	uri := mongostandin.Start(t)
	db := "roster_cmd_" + strings.ReplaceAll(store.NewID()[:13], "-", "")
	cfg := filepath.Join(t.TempDir(), "roster.yaml")
	body := fmt.Sprintf("storage:\n  driver: mongodb\n  mongodb:\n    uri: %q\n    database: %s\n", uri, db)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	var nodes []*runningServer
	for range 3 {
		nodes = append(nodes, startServer(t, t.TempDir(), "--config", cfg))
	}
	token := nodes[0].token
	if token == "" || nodes[1].token != "" || nodes[2].token != "" {
		t.Fatalf("tokens printed: %q %q %q; want only the first node's (the tenant is shared)", nodes[0].token, nodes[1].token, nodes[2].token)
	}
	const names, tries = 6, 3
	codes := make([][]int, names)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range names {
		for j := range tries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := nodes[(i+j)%3]
				req, _ := http.NewRequest("POST", n.url+"/scim/v2/Users", strings.NewReader(
					fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"User%d@Example.com"}`, i)))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/scim+json")
				res, _ := send(t, http.DefaultClient, req)
				mu.Lock()
				codes[i] = append(codes[i], res.StatusCode)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	for i, cs := range codes {
		created, conflicts := 0, 0
		for _, c := range cs {
			switch c {
			case http.StatusCreated:
				created++
			case http.StatusConflict:
				conflicts++
			}
		}
		if created != 1 || conflicts != tries-1 {
			t.Errorf("User%d: statuses %v, want one 201 and %d 409", i, cs, tries-1)
		}
	}
	res, body2 := nodes[2].get(t, `/scim/v2/Users?filter=userName%20sw%20%22user%22`, token)
	if res.StatusCode != 200 || !strings.Contains(body2, fmt.Sprintf(`"totalResults":%d`, names)) {
		t.Errorf("listing on the third node: %d %s, want %d users", res.StatusCode, body2, names)
	}
	if res, _ := nodes[1].get(t, "/readyz", ""); res.StatusCode != 200 {
		t.Errorf("/readyz on MongoDB = %d", res.StatusCode)
	}
}
