// Package bench measures interrupt injection through the gicits routing API:
// workloads as plain values, and a runner that programs the ITS the way a
// guest driver does and then injects.
//
// # What it owns
//
//   - [Workload]: CPUs, devices, events, how events map to collections, LPI
//     priorities, the injection pattern and path, optional churn, and how
//     long to run; its parameters ([Params]), how a command line's values
//     for them are applied and checked ([Workload.Configure],
//     [Workload.Validate]), and the built-in workloads ([Builtins],
//     [Lookup]), including "lpistress", shaped like Linux's selftest
//     vgic_lpi_stress so that its figures compare with the selftest's.
//   - [Run]: set-up through [model.Backend] and model's driver functions
//     only ([model.EnableCollections], [model.MapDevice] with ITTs from
//     [model.Layout.ITTAllocator], INVALL, [model.SubmitCommands]),
//     then injector goroutines and, optionally, one consumer goroutine per
//     CPU that acknowledges LPIs the way a CPU does, spinning or parked.
//   - [Result]: what a run measured and the accounting of every injection
//     ([Counts]), its latencies summarised with package bench/stats.
//
// The other jobs live in packages of their own, so that each importer
// carries only what it uses: bench/stats (statistics), bench/report (the
// table, CSV, JSON and Go benchmark formats), bench/plot (latency plots:
// the only package that imports gonum's plot), bench/soak (memory
// sampling for soaks), bench/ledger and bench/stress (concurrency stress
// with exact accounting), and bench/benchtest (a fake backend for tests).
//
// # What it must not touch
//
// bench imports the standard library, [model] and bench/stats (and through
// it gonum's stat packages) only: it neither writes reports nor draws. It
// never imports a backend: backends are opened by name through
// [model.Open], and programs (cmd/itsbench) and tests select them with
// blank imports. It never touches the host beyond the clock.
//
// # Clock
//
// Latencies are differences of [time.Now] readings (Go's monotonic clock:
// CLOCK_MONOTONIC through the vDSO on Linux). [MeasureClock] reports its
// resolution and the cost of one reading; every report states both.
package bench
