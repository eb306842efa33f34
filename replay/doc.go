// Package replay replays a real guest's ITS traffic, recorded by QEMU's
// trace events, on a backend, and checks that the backend does what QEMU
// did.
//
// A trace is what QEMU's log trace backend writes with
//
//	-trace 'gicv3_its*' -trace 'gicv3_redist*' -D FILE
//
// (QEMU 7.2 as Debian 12 builds it), plain or gzipped; adding
// -trace 'gicv3_icc_iar1_read' records acknowledges too.
//
// The package owns five things, each usable alone:
//
//   - the trace format: [Parse] turns a log into typed events, one Go type
//     per QEMU event kind ([CmdMAPD], [TranslationWrite], [ITERead],
//     [RedistWrite], ...) with the fields QEMU printed, each line kept with
//     its number; events of other kinds and foreign lines are kept aside,
//     and a malformed line of a known kind is an error naming the line and
//     the format it should have;
//   - the guest model: [Guest], what the guest did (registers written,
//     devices, events and collections mapped), built by applying events
//     in order, touching no backend; a checker of a driver's use of the
//     ITS reads the same events and the same model;
//   - the memory dumps: what QEMU does not trace (the command queue's
//     packets, the LPI property table) from dumps of guest memory taken at
//     the end of the run with QEMU's pmemsave ([Memory], [LoadMemory],
//     [FindDumped]; [PmemsaveCommands] says what to dump);
//   - the replay: [Run] rebuilds the guest's set-up on a [model.Backend],
//     replays every command and MSI in trace order, and reports in a
//     [Report] what it inferred (what QEMU does not trace: SYNC's target,
//     INVALL's collection, the LPI configuration bytes, the number of
//     CPUs), what it remapped (the guest's tables and ITTs live in a RAM
//     the backend does not have) and every divergence, by trace line;
//   - the lint: [Lint] reads the same events (and the dumps, when it has
//     them) into a [Guest] of its own and reports, by trace line and
//     [Rule], each use of the ITS that works on QEMU (which re-reads its
//     tables on every use and only logs errors) but that the architecture
//     does not promise, so KVM or hardware may not do the same; it
//     touches no backend.
//
// It does not own the backends, the command codec or the driver helpers
// (package model), and must not reach into a backend's internals: it
// drives a backend through [model.Backend] and the helpers written over
// it ([model.SubmitCommands], [model.SetLPIConfig], [model.EnableLPIs]),
// so the same replay runs on the simulator and on KVM. It prints nothing
// and opens no file but the trace [ParseFile] is given and the dumps
// [LoadMemory] is given; the command line
// (itsbench replay) owns flags, output and exit statuses.
//
// # Notes
//
// QEMU's event formats here are those of QEMU 7.1 and later
// (hw/intc/trace-events); 7.0 printed the table events without the vPEID
// and doorbell fields and is not supported. Redistributor and
// CPU-interface events name a CPU by its affinity, which QEMU's virt
// machine numbers as KVM does (Aff0 = n % 16, Aff1 = n / 16): a trace's
// GICR_TYPER reads, when present, say so exactly. QEMU's MAPD and DTE
// write events print ITT_addr as the command's field (the address shifted
// right by 8); its DTE and ITE reads print the address itself.
package replay
