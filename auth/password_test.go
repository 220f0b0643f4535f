package auth

import (
	"strings"
	"testing"
)

func TestPasswordHashing(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$") || strings.Contains(h, "correct horse") {
		t.Fatalf("HashPassword = %q, want an argon2id PHC string without the password", h)
	}
	h2, _ := HashPassword("correct horse")
	if h == h2 {
		t.Errorf("two hashes of one password are equal: salt missing")
	}
	if err := CheckPassword(h, "correct horse"); err != nil {
		t.Errorf("CheckPassword(right) = %v, want nil", err)
	}
	for _, bad := range []struct{ hash, pw string }{
		{h, "correct horsE"},
		{h, ""},
		{"", "x"},
		{"$argon2id$v=19$m=99999999,t=1,p=1$AAAA$AAAA", "x"},
		{"$bcrypt$whatever", "x"},
		{strings.Replace(h, "$v=19$", "$v=18$", 1), "correct horse"},
	} {
		if err := CheckPassword(bad.hash, bad.pw); err != ErrBadPassword {
			t.Errorf("CheckPassword(%q, %q) = %v, want ErrBadPassword", bad.hash, bad.pw, err)
		}
	}
}
