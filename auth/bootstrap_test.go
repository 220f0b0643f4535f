package auth

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func newBootstrap(fs BootstrapInvitations, clk *clock) *Bootstrap {
	return &Bootstrap{Invitations: fs, TenantID: "default", Now: clk.Now}
}

// linkStores are the places bootstrap links can live.
func linkStores(t *testing.T) map[string]BootstrapInvitations {
	return map[string]BootstrapInvitations{
		"store": newFakeStore(),
		"file":  NewLinkFile(filepath.Join(t.TempDir(), "bootstrap.json")),
	}
}

func TestBootstrapLinkWorksOnce(t *testing.T) {
	for name, links := range linkStores(t) {
		t.Run(name, func(t *testing.T) { testBootstrapLinkWorksOnce(t, links) })
	}
}

func testBootstrapLinkWorksOnce(t *testing.T, links BootstrapInvitations) {
	ctx := context.Background()
	b := newBootstrap(links, &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)})
	secret, err := b.NewLink(ctx)
	if err != nil {
		t.Fatal(err)
	}
	link := BootstrapURL("http://127.0.0.1:8080/", secret)
	u, _ := url.Parse(link)
	if u.Path != "/admin/bootstrap" || u.Query().Get("token") != secret {
		t.Fatalf("link %q: want /admin/bootstrap?token=<secret>", link)
	}
	if f, ok := links.(*LinkFile); ok {
		data, _ := os.ReadFile(f.path)
		if strings.Contains(string(data), secret) || !strings.Contains(string(data), HashSecret(secret)) {
			t.Errorf("link file holds %s, want only the hash of the secret", data)
		}
	}
	// Checking (the confirmation page, a preview bot) does not spend it.
	for range 2 {
		if err := b.CheckLink(ctx, secret); err != nil {
			t.Fatalf("CheckLink(fresh) = %v", err)
		}
	}
	if err := b.RedeemLink(ctx, secret); err != nil {
		t.Fatalf("RedeemLink(fresh) = %v", err)
	}
	if err := b.RedeemLink(ctx, secret); !errors.Is(err, ErrLinkSpent) {
		t.Errorf("second RedeemLink = %v, want ErrLinkSpent", err)
	}
	if err := b.CheckLink(ctx, secret); !errors.Is(err, ErrLinkSpent) {
		t.Errorf("CheckLink after use = %v, want ErrLinkSpent", err)
	}
}

func TestBootstrapLinkRefused(t *testing.T) {
	for name, links := range linkStores(t) {
		t.Run(name, func(t *testing.T) { testBootstrapLinkRefused(t, links) })
	}
}

func testBootstrapLinkRefused(t *testing.T, links BootstrapInvitations) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	b := newBootstrap(links, clk)
	old, _ := b.NewLink(ctx)
	current, _ := b.NewLink(ctx)
	tests := []struct {
		name   string
		secret string
		after  time.Duration
	}{
		{"replaced by a newer link", old, 0},
		{"garbage", "hello", 0},
		{"scim token is not a link", TokenPrefix + strings.Repeat("A", 43), 0},
		{"expired", current, DefaultBootstrapTTL + time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk.Add(tt.after)
			if err := b.RedeemLink(ctx, tt.secret); !errors.Is(err, ErrLinkSpent) {
				t.Errorf("RedeemLink(%q) = %v, want ErrLinkSpent", tt.secret, err)
			}
		})
	}
	fs, ok := links.(*fakeStore)
	if !ok {
		return
	}
	fs.fail = errStoreDown
	if err := b.RedeemLink(ctx, current); err == nil || errors.Is(err, ErrLinkSpent) {
		t.Errorf("store down: %v, want the store's error (the portal logs it and shows a generic page)", err)
	}
}

func TestBootstrapLinkRace(t *testing.T) {
	for name, links := range linkStores(t) {
		t.Run(name, func(t *testing.T) {
			b := newBootstrap(links, &clock{t: time.Now()})
			secret, _ := b.NewLink(context.Background())
			var wg sync.WaitGroup
			var mu sync.Mutex
			ok, spent := 0, 0
			for range 8 {
				wg.Go(func() {
					err := b.RedeemLink(context.Background(), secret)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						ok++
					case errors.Is(err, ErrLinkSpent):
						spent++
					}
				})
			}
			wg.Wait()
			if ok != 1 || spent != 7 {
				t.Errorf("8 tabs redeeming one link: %d succeeded, %d spent; want 1 and 7", ok, spent)
			}
		})
	}
}
