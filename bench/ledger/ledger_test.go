package ledger

import (
	"strings"
	"testing"
)

// The ledger catches a lost and a duplicated LPI and accepts coalescing.
func TestLedger(t *testing.T) {
	l := New()
	// 8192: two deliveries coalesced into one acknowledgement.
	l.Delivered(8192, l.Begin())
	l.Delivered(8192, l.Begin())
	l.Acknowledged(8192, l.Begin())
	// 8193: delivered once, acknowledged twice.
	l.Delivered(8193, l.Begin())
	l.Acknowledged(8193, l.Begin())
	l.Acknowledged(8193, l.Begin())
	// 8194: delivered after its acknowledgement and never again.
	l.Delivered(8194, l.Begin())
	l.Acknowledged(8194, l.Begin())
	l.Delivered(8194, l.Begin())
	// 8195: delivered, then discarded.
	l.Delivered(8195, l.Begin())
	l.Removed(l.Begin(), 8195)
	err := l.Check()
	if err == nil {
		t.Fatal("Check passed")
	}
	msg := err.Error()
	for _, want := range []string{"LPI 8193: ", "duplicated", "LPI 8194: ", "lost"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Check: %v; want it to mention %q", err, want)
		}
	}
	for _, ok := range []string{"LPI 8192", "LPI 8195"} {
		if strings.Contains(msg, ok) {
			t.Errorf("Check: %v; %s balances", err, ok)
		}
	}
	if d, a := l.Totals(); d != 6 || a != 4 {
		t.Errorf("Totals = %d, %d", d, a)
	}
}
