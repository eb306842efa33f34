// Package sim is the simulator backend of gicits: guest memory (one Go
// slice), the ITS model of package its and the redistributors of package
// gicr, wired into a [model.Backend] registered as "sim".
//
// It owns the wiring, the GSI routing table and irqfd-like triggers. It
// must not reimplement ITS or redistributor behaviour (that lives in its/
// and gicr/), and like them it never touches the host: no files, no system
// calls, no goroutines.
//
// A layout with several ITSes (Layout.ITSes) gets that many its.ITS
// sharing the redistributors and guest memory; [Backend.ITSView] (the
// model.MultiITS interface) addresses one, and an MSI's doorbell picks
// it. Opened with a GICv4 GITS_TYPER, the redistributors model vPEs and
// each ITS has a vPE table in the scratch region (64 KiB each).
//
// Opening programs every redistributor's GICR_PROPBASER and GICR_PENDBASER
// (PTZ = 0) from the layout, then GITS_BASER0, GITS_BASER1 and GITS_CBASER,
// then GITS_CTLR.Enabled. LPIs are not enabled on any redistributor:
// [model.EnableLPIs] does that. The simulator has no command writer of its
// own: [model.SubmitCommands] fills its queue in guest memory and writes
// GITS_CWRITER, which runs the ITS model. The redistributors support LPI
// INTIDs below 2^max(16, Layout.LPIIDBits) (KVM: always 16), so a layout
// with more LPI bits gets more LPIs.
//
// Where KVM drops a problem silently the simulator reports it: command
// errors come back from GITS_CWRITER writes (and so from
// model.SubmitCommands), and a
// trigger's Signal returns what raising its GSI returned.
package sim
