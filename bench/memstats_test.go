package bench

import (
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

func TestSampleMemory(t *testing.T) {
	// 30 ticks' time for 3 samples: each sample runs a GC, which a loaded
	// CI machine under -race can make slower than the tick.
	stop := SampleMemory(10*time.Millisecond, MemLimits{})
	time.Sleep(300 * time.Millisecond)
	r := stop()
	if len(r.Samples) < 3 {
		t.Fatalf("%d samples", len(r.Samples))
	}
}
