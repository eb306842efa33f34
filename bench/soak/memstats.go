package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"
)

// MemSample is one reading of the process's memory, taken right after a
// garbage collection so that HeapAlloc is the live heap.
type MemSample struct {
	At         time.Duration `json:"at"` // since sampling started
	HeapAlloc  uint64        `json:"heap_alloc"`
	HeapInuse  uint64        `json:"heap_inuse"`
	Sys        uint64        `json:"sys"`
	Goroutines int           `json:"goroutines"`
}

// MemLimits bound how memory may grow after the warm-up of a soak.
type MemLimits struct {
	// Warmup is ignored when fitting: buffers fill, caches settle.
	Warmup time.Duration
	// MaxHeapSlope is the largest live-heap (HeapAlloc after GC) growth
	// allowed, in bytes per minute, by a least-squares fit of the samples
	// after Warmup. 0 means 1 MiB/min.
	MaxHeapSlope float64
	// MaxSysSlope is the same bound on Sys (memory obtained from the OS).
	// 0 means 4 MiB/min.
	MaxSysSlope float64
}

// MemReport is what [SampleMemory] saw.
type MemReport struct {
	Samples []MemSample `json:"samples"`
	Limits  MemLimits   `json:"limits"`
	// Fitted slopes after the warm-up, bytes per minute, and the
	// goroutines at the first sample after it and at the last; both
	// goroutine counts are 0 when no sample came after the warm-up
	// (Fitted is 0): there is nothing to compare then.
	HeapSlope, InuseSlope, SysSlope float64
	GoroutinesAfterWarmup           int
	GoroutinesAtEnd                 int
	Fitted                          int // samples after the warm-up
}

// SampleMemory reads runtime.MemStats (after runtime.GC) at once and then
// every interval until the returned stop is called, which returns the
// report (no sample is taken by stop: what follows the run, building
// its report, is not the run). The GC it forces costs about a millisecond per
// sample on a small heap.
func SampleMemory(interval time.Duration, lim MemLimits) (stop func() *MemReport) {
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	rep := &MemReport{Limits: lim}
	read := func() {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		rep.Samples = append(rep.Samples, MemSample{At: time.Since(start), HeapAlloc: ms.HeapAlloc, HeapInuse: ms.HeapInuse, Sys: ms.Sys, Goroutines: runtime.NumGoroutine()})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		read()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				read()
			}
		}
	}()
	return func() *MemReport {
		cancel()
		<-done
		rep.fit()
		return rep
	}
}

// slope fits y = a + b·x by least squares and returns b.
func slope(x, y []float64) float64 {
	n := float64(len(x))
	var sx, sy, sxx, sxy float64
	for i := range x {
		sx += x[i]
		sy += y[i]
		sxx += x[i] * x[i]
		sxy += x[i] * y[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

func (r *MemReport) fit() {
	var x, heap, inuse, sys []float64
	for _, s := range r.Samples {
		if s.At < r.Limits.Warmup {
			continue
		}
		if len(x) == 0 {
			r.GoroutinesAfterWarmup = s.Goroutines
		}
		x = append(x, s.At.Minutes())
		heap = append(heap, float64(s.HeapAlloc))
		inuse = append(inuse, float64(s.HeapInuse))
		sys = append(sys, float64(s.Sys))
	}
	r.Fitted = len(x)
	if r.Fitted > 0 {
		r.GoroutinesAtEnd = r.Samples[len(r.Samples)-1].Goroutines
	}
	if len(x) >= 2 {
		r.HeapSlope, r.InuseSlope, r.SysSlope = slope(x, heap), slope(x, inuse), slope(x, sys)
	}
}

// Check returns an error when memory grew beyond the limits after the
// warm-up, or goroutines did, or too few samples were taken to say.
func (r *MemReport) Check() error {
	maxHeap, maxSys := r.Limits.MaxHeapSlope, r.Limits.MaxSysSlope
	if maxHeap == 0 {
		maxHeap = 1 << 20
	}
	if maxSys == 0 {
		maxSys = 4 << 20
	}
	var errs []error
	if r.Fitted < 3 {
		errs = append(errs, fmt.Errorf("memstats: %d samples after the %v warm-up: too few to fit (run longer or sample more often)", r.Fitted, r.Limits.Warmup))
	}
	if r.HeapSlope > maxHeap {
		errs = append(errs, fmt.Errorf("memstats: the live heap grows %s/min after the warm-up (limit %s/min)", mib(r.HeapSlope), mib(maxHeap)))
	}
	if r.SysSlope > maxSys {
		errs = append(errs, fmt.Errorf("memstats: Sys grows %s/min after the warm-up (limit %s/min)", mib(r.SysSlope), mib(maxSys)))
	}
	if r.Fitted > 0 && r.GoroutinesAtEnd > r.GoroutinesAfterWarmup {
		errs = append(errs, fmt.Errorf("memstats: %d goroutines after the warm-up, %d at the end", r.GoroutinesAfterWarmup, r.GoroutinesAtEnd))
	}
	return errors.Join(errs...)
}

func mib(v float64) string { return fmt.Sprintf("%.3f MiB", v/(1<<20)) }

// WriteTable writes the samples and the fitted slopes.
func (r *MemReport) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "memory (after runtime.GC), sampled %d times; warm-up %v\n", len(r.Samples), r.Limits.Warmup)
	fmt.Fprintf(w, "%10s %12s %12s %12s %10s\n", "at", "live heap", "heap inuse", "sys", "goroutines")
	step := max(1, len(r.Samples)/20) // at most ~20 rows
	for i, s := range r.Samples {
		if i%step != 0 && i != len(r.Samples)-1 {
			continue
		}
		fmt.Fprintf(w, "%10v %12s %12s %12s %10d\n", s.At.Round(time.Second), mib(float64(s.HeapAlloc)), mib(float64(s.HeapInuse)), mib(float64(s.Sys)), s.Goroutines)
	}
	if r.Fitted == 0 {
		_, err := fmt.Fprintf(w, "no sample after the %v warm-up: no slope, no goroutine count to compare\n", r.Limits.Warmup)
		return err
	}
	_, err := fmt.Fprintf(w, "slope after warm-up (%d samples): live heap %s/min, heap inuse %s/min, sys %s/min; goroutines %d -> %d\n",
		r.Fitted, mib(r.HeapSlope), mib(r.InuseSlope), mib(r.SysSlope), r.GoroutinesAfterWarmup, r.GoroutinesAtEnd)
	return err
}
