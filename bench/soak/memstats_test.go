package soak

import (
	"runtime/metrics"
	"strings"
	"testing"
	"time"
)

func TestMemReportSlopes(t *testing.T) {
	r := &MemReport{Limits: MemLimits{Warmup: time.Minute}}
	for i := range 11 {
		r.Samples = append(r.Samples, MemSample{At: time.Duration(i) * time.Minute, HeapAlloc: uint64(100<<20 + i*(2<<20)), Sys: 200 << 20, Goroutines: 5})
	}
	r.Samples[0].HeapAlloc = 1 // the warm-up is not fitted
	r.fit()
	if r.Fitted != 10 || int(r.HeapSlope) != 2<<20 || r.SysSlope != 0 {
		t.Fatalf("fit: %d samples, heap %v/min, sys %v/min", r.Fitted, r.HeapSlope, r.SysSlope)
	}
	err := r.Check()
	if err == nil || !strings.Contains(err.Error(), "the live heap grows 2.000 MiB/min") {
		t.Errorf("Check = %v, want the heap growth", err)
	}
	r.Limits.MaxHeapSlope = 3 << 20
	if err := r.Check(); err != nil {
		t.Errorf("Check with a 3 MiB/min limit: %v", err)
	}
	var b strings.Builder
	if err := r.WriteTable(&b); err != nil || !strings.Contains(b.String(), "slope after warm-up (10 samples)") {
		t.Errorf("WriteTable: %v\n%s", err, b.String())
	}
}

// SampleMemory samples at once and then every tick until stopped, in time
// order. Each sample forces one GC (runtime.GC), and no other test here
// forces any, so the test waits for three forced GCs (read from
// runtime/metrics, which forces nothing) rather than for a guessed time: a
// GC under -race on a loaded machine can take longer than many ticks.
func TestSampleMemory(t *testing.T) {
	const want = 3
	forced := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
	forcedGCs := func() uint64 {
		metrics.Read(forced)
		if forced[0].Value.Kind() != metrics.KindUint64 {
			t.Fatalf("runtime/metrics has no %s", forced[0].Name)
		}
		return forced[0].Value.Uint64()
	}
	before := forcedGCs()
	stop := SampleMemory(10*time.Millisecond, MemLimits{})
	deadline := time.Now().Add(30 * time.Second)
	for forcedGCs() < before+want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	r := stop()
	if len(r.Samples) < want {
		t.Fatalf("%d samples after %d forced GCs (30 s at most), want at least %d", len(r.Samples), forcedGCs()-before, want)
	}
	for i := 1; i < len(r.Samples); i++ {
		if r.Samples[i].At <= r.Samples[i-1].At {
			t.Errorf("sample %d at %v, not after sample %d at %v", i, r.Samples[i].At, i-1, r.Samples[i-1].At)
		}
	}
}

// TestMemReportNoSampleAfterWarmup: a run shorter than its warm-up has no
// goroutine count after it; the report says so instead of comparing the
// last sample with 0 ("0 goroutines after the warm-up, 5 at the end").
func TestMemReportNoSampleAfterWarmup(t *testing.T) {
	r := &MemReport{Limits: MemLimits{Warmup: time.Minute}}
	for i := range 4 {
		r.Samples = append(r.Samples, MemSample{At: time.Duration(i) * time.Second, HeapAlloc: 1 << 20, Sys: 2 << 20, Goroutines: 5})
	}
	r.fit()
	err := r.Check()
	if err == nil || !strings.Contains(err.Error(), "0 samples after the 1m0s warm-up: too few to fit") {
		t.Errorf("Check = %v, want too few samples", err)
	}
	if err != nil && strings.Contains(err.Error(), "goroutines") {
		t.Errorf("Check compares goroutines without a sample after the warm-up: %v", err)
	}
	var b strings.Builder
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); !strings.Contains(got, "no sample after the 1m0s warm-up") || strings.Contains(got, "goroutines 0 ->") {
		t.Errorf("WriteTable:\n%s", got)
	}
}
