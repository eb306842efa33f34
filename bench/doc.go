// Package bench measures interrupt injection through the gicits routing API:
// workloads as plain values, a runner that programs the ITS the way a guest
// driver does and then injects, and the statistics, reports and plots of the
// result.
//
// # What it owns
//
//   - [Workload]: CPUs, devices, events, how events map to collections, LPI
//     priorities, the injection pattern and path, optional churn, and how
//     long to run. Built-in workloads ([Builtins], [Lookup]) include
//     "lpistress", shaped like Linux's selftest vgic_lpi_stress so that its
//     figures compare with the selftest's.
//   - [Run]: set-up through [model.Backend] only (EnableLPIs, MAPC, MAPD with
//     ITTs from [model.Layout.ITTAllocator], SetLPIConfig, MAPTI, INVALL),
//     then injector goroutines and, optionally, one consumer goroutine per
//     CPU that acknowledges LPIs the way a CPU does, spinning or parked.
//   - [Summary] and [Compare]: descriptive statistics with gonum's stat
//     package, and the comparison of two runs (ratio of medians, Mann–Whitney
//     U test).
//   - Reports ([Result.WriteTable], [WriteCSV], [WriteJSON], [WriteGoBench])
//     and latency plots ([Plot]).
//
// # What it must not touch
//
// bench imports the standard library, [model], and gonum's stat and plot
// packages only. It never imports a backend: backends are opened by name
// through [model.Open], and programs (cmd/itsbench) and tests select them
// with blank imports. It never touches the host beyond the clock.
//
// # Clock
//
// Latencies are differences of [time.Now] readings (Go's monotonic clock:
// CLOCK_MONOTONIC through the vDSO on Linux). [MeasureClock] reports its
// resolution and the cost of one reading; every report states both.
package bench
