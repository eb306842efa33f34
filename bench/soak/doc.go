// Package soak watches the process's memory during a long run, to show
// that a soak's memory and goroutines stay flat once it has warmed up.
//
// # What it owns
//
//   - [SampleMemory]: [runtime.MemStats] read after a forced GC, at once
//     and then at an interval, until stopped.
//   - [MemReport]: the samples, least-squares slopes of the live heap,
//     heap in use and Sys after the warm-up, [MemReport.Check] against
//     [MemLimits], and [MemReport.WriteTable].
//
// # What it must not touch
//
// soak imports the standard library only. It runs no workload and knows
// nothing of backends: the caller (itsbench run -memstats) starts a run
// between SampleMemory and the stop it returns.
package soak
