package plot

import (
	"math"
	"slices"
	"testing"

	"gonum.org/v1/plot/vg"
)

func TestFormatLatency(t *testing.T) {
	tests := []struct {
		ns   float64
		want string
	}{
		{0, "0 ns"},
		{0.5, "0.5 ns"},
		{40, "40 ns"},
		{999, "999 ns"},
		{1000, "1 µs"},
		{1500, "1.5 µs"},
		{123456, "123 µs"},
		{100000, "100 µs"},
		{1e6, "1 ms"},
		{2.5e9, "2.5 s"},
		{1234.5678, "1.23 µs"},
		{0.30000000000000004 * 1000, "300 ns"},
		{1e12, "1000 s"},
		{999.7, "1 µs"},
		{999_700, "1 ms"},
		{math.Inf(1), "+Inf s"},
	}
	for _, tt := range tests {
		if got := formatLatency(tt.ns); got != tt.want {
			t.Errorf("formatLatency(%v) = %q, want %q", tt.ns, got, tt.want)
		}
	}
}

func TestLatencyTicks(t *testing.T) {
	tests := []struct {
		name     string
		min, max float64   // ns
		length   vg.Length // of the axis, points
		vertical bool
		want     []string // nil: any two labels or more
	}{
		{"a decade: 1-2-5", 25, 250, 300, false, []string{"50 ns", "100 ns", "200 ns"}},
		{"seven decades: every other one", 30, 3e8, 300, false, []string{"100 ns", "10 µs", "1 ms", "100 ms"}},
		{"one decade, roomy", 1e3, 1e4, 200, false, []string{"1 µs", "2 µs", "5 µs", "10 µs"}},
		{"within a decade", 30, 90, 200, false, []string{"40 ns", "60 ns", "80 ns"}},
		{"narrow", 36.5, 43.8, 200, false, []string{"38 ns", "40 ns", "42 ns"}},
		{"very narrow", 40, 41, 100, false, []string{"40 ns", "40.5 ns", "41 ns"}},
		{"crowded: a short axis", 30, 90, 50, false, nil},
		{"sub-nanosecond to seconds", 0.5, 5e9, 250, false, []string{"1 ns", "1 µs", "1 ms", "1 s"}},
		{"four decades side by side on a short axis", 30, 3e5, 80, false, []string{"100 ns", "10 µs"}},
		{"four decades stacked on a short axis", 30, 3e5, 80, true, []string{"100 ns", "1 µs", "10 µs", "100 µs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ticks := latencyTicks{Length: tt.length, Vertical: tt.vertical}.Ticks(tt.min, tt.max)
			var got []string
			for _, tk := range ticks {
				if tk.Value < tt.min || tk.Value > tt.max {
					t.Errorf("tick %v (%q) outside %v..%v", tk.Value, tk.Label, tt.min, tt.max)
				}
				if tk.Label != "" {
					got = append(got, tk.Label)
				}
			}
			if len(got) < 2 || (tt.want != nil && !slices.Equal(got, tt.want)) {
				t.Errorf("labels %q, want %q (nil: at least two)", got, tt.want)
			}
			if !(latencyTicks{Length: tt.length, Vertical: tt.vertical}).fits(ticks, tt.min, tt.max) {
				t.Errorf("labels %q crowd each other on an axis %v long", got, tt.length)
			}
		})
	}
}

// Ranges the figure never asks for get no ticks, and no panic or hang.
func TestLatencyTicksBadRange(t *testing.T) {
	for _, r := range [][2]float64{{0, 10}, {-5, 10}, {10, 10}, {10, 5}, {math.NaN(), 10}, {1, math.Inf(1)}} {
		if ticks := (latencyTicks{}).Ticks(r[0], r[1]); len(ticks) != 0 {
			t.Errorf("Ticks(%v, %v) = %v, want none", r[0], r[1], ticks)
		}
	}
}

func TestPercentileTicks(t *testing.T) {
	var got []string
	for _, tk := range (percentileTicks{}).Ticks(-0.1, maxNines+0.1) {
		got = append(got, tk.Label)
	}
	if want := []string{"p50", "p90", "p99", "p99.9", "p99.99"}; !slices.Equal(got, want) {
		t.Errorf("labels %q, want %q", got, want)
	}
	for _, tp := range tailPercentiles {
		if x := nines(tp.p); math.Abs(x-math.Round(x)) > 1e-9 && tp.p != 0.5 {
			t.Errorf("nines(%v) = %v, want a whole number of nines", tp.p, x)
		}
	}
}

func TestPercentTicks(t *testing.T) {
	var got []string
	for _, tk := range (percentTicks{}).Ticks(-0.03, 1.03) {
		if tk.Label != "" {
			got = append(got, tk.Label)
		}
	}
	if want := []string{"0%", "50%", "100%"}; !slices.Equal(got, want) {
		t.Errorf("labels %q, want %q", got, want)
	}
}
