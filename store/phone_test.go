package store_test

import (
	"testing"

	"github.com/roster-scim/roster/store"
)

func TestNormPhone(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{"+44 20 7946 0958", "+442079460958", ""},
		{"0044 (0)20 7946-0958", "+442079460958", ""},
		{"+44 (0)7700 900.123", "+447700900123", ""},
		{" +1 (555) 555-0100 ", "+15555550100", ""},
		{"+49\u00a0151/1234\u00a05678", "+4915112345678", ""},
		{"07700 900123", "", "the number needs its country code, with a leading + or 00, such as +44 7700 900123"},
		{"+44 7700 ext 12", "", "letters are not allowed in a phone number; use digits with a leading + and the country code, such as +44 7700 900123"},
		{"+44 7700 900123#", "", `unexpected character '#'; use digits with a leading + and the country code, such as +44 7700 900123`},
		{"+44 12", "", "an international number has 7 to 15 digits after the + (this one has 4)"},
		{"+1234567890123456", "", "an international number has 7 to 15 digits after the + (this one has 16)"},
		{"+0 123 456 789", "", "the country code after the + cannot start with 0"},
		{"44+7700900123", "", `unexpected character '+'; use digits with a leading + and the country code, such as +44 7700 900123`},
		{"", "", "the phone number is empty"},
	}
	for _, tt := range tests {
		got, err := store.NormPhone(tt.in)
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		if got != tt.want || msg != tt.err {
			t.Errorf("NormPhone(%q) = %q, %q; want %q, %q", tt.in, got, msg, tt.want, tt.err)
		}
	}
}
