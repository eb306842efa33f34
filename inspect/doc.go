// Package inspect explains a GICv3 ITS to people: it decodes command packets,
// command queues and the tables Linux KVM's ITS table ABI revision 0 saves,
// reads those tables back out of guest memory into a [State] that renders
// the same way on every backend, walks one translation step by step
// ([Explain]) and traces every command and MSI through [log/slog] ([Trace]).
// On a backend that models GICv4.0 vPEs (Capabilities().VirtualLPIs) the
// state also holds the vPE table, the VLPI_base registers and the vLPIs,
// and a virtual event is walked to its vPE; on any other, nothing of that
// is read or written. On a GICv4.1 ITS (GITS_TYPER.VMAPP) the registers
// are read in their GICv4.1 forms, residency is by vPEID, and the vSGIs
// pending for each vPE are read through GICR_VSGIR and GICR_VSGIPENDR; a
// vPE's VCONF table and default doorbell (VMAPP) are in no vPE table entry
// or register, and are said to be unreadable. On a backend with several
// ITSes (Capabilities().ITSes > 1) the state holds each ITS's registers and
// tables ([State.ITSes]), the redistributors and the LPI configuration
// table once, and [Explain] walks the tables of the ITS its options name
// ([model.ITSOf]).
//
// It works through package model only: everything it knows about a backend
// comes from the [model.Backend] interface (registers, guest memory,
// SaveTables, Pending), so the simulator and Linux KVM are inspected by the
// same code and their dumps can be diffed. It never imports a backend, never
// touches the host, and never panics on bad input: decoders report what is
// wrong as [Problem]s naming the byte offset and the field, and carry on
// with the next packet or entry.
//
// # What it must not touch
//
// inspect reads the machine; it changes guest memory only through
// [model.Backend.SaveTables] (which writes the tables it then reads), and
// never submits commands or signals interrupts. The one register it
// writes is CPU 0's GICR_VSGIR on GICv4.1, the write-only query register
// GICR_VSGIPENDR answers for.
package inspect
