// Package kvm is the kvm backend of gicits: [model.Backend] implemented by
// the real Linux KVM vGICv3 and ITS, driven from userspace through
// /dev/kvm. It registers itself as "kvm"; import it for its side effect and
// open it with model.Open("kvm", cfg).
//
// It owns backend/kvm and its internal/kvmsys, the only package of gicits
// that imports golang.org/x/sys/unix. It must not hold simulator logic: every
// answer comes from the kernel, observed through its documented interfaces.
//
// # Set-up
//
// Open creates a VM, one memslot covering the layout's RAM (an anonymous
// shared mapping), cfg.CPUs vCPUs (KVM_ARM_VCPU_INIT, PSCI 0.2), the
// vGICv3 and ITS devices at the layout's addresses and CTRL_INIT; then
// GICD_CTLR.EnableGrp1A, every redistributor's GICR_PROPBASER and
// GICR_PENDBASER (KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, u32 halves), the ITS's
// GITS_BASER0, GITS_BASER1, GITS_CBASER and GITS_CTLR.Enabled last
// (KVM_DEV_ARM_VGIC_GRP_ITS_REGS). Capability widths come from GITS_TYPER
// as read back. A layout with several ITSes (Layout.ITSes) gets one ITS
// device each, at its frames (Layout.ForITS), each programmed, saved and
// restored through its own device fd; KVM picks the ITS an MSI goes to
// from its address, and the backend implements model.MultiITS. Only
// linux/arm64 builds the real thing; elsewhere Open fails
// with an error wrapping [model.ErrNotSupported] that says what is needed.
// A missing /dev/kvm, no permission to open it, a kernel without the vGICv3
// and one without the ITS are four distinct errors.
//
// # The DeviceID rule
//
// KVM_CAP_MSI_DEVID is asked on the VM after the ITS device exists; its
// answer is Capabilities.NeedsDeviceID. MSIs (KVM_SIGNAL_MSI) and GSI routes
// (KVM_SET_GSI_ROUTING, KVM_IRQ_ROUTING_MSI) carry KVM_MSI_VALID_DEVID and
// the DeviceID exactly when the VM needs them (msi.go); a VM without an ITS
// answers 0 and gets neither. An MSI without a DeviceID on a VM that needs
// one is refused; a route without one is taken, as KVM takes it, and
// raising it delivers nothing. TriggerGSI raises the GSI through KVM's
// routing table with an irqfd of its own (KVM_IRQFD), unbound before it
// returns, which waits for the injection; BindIRQFD binds an eventfd with
// KVM_IRQFD.
//
// # The guest program, and why MMIO exits
//
// Acknowledge, EOI and SetPriorityMask mean what they mean on hardware:
// each vCPU runs a guest program of a few dozen instructions (guest.go,
// encoded in Go and checked against GNU objdump in a golden test) that
// reads ICC_IAR1_EL1, writes ICC_EOIR1_EL1 or ICC_PMR_EL1 when the host asks,
// with interrupts masked (PSTATE.I) so that the host alone decides when a
// CPU acknowledges. The running priority is the CPU interface's own. Its
// set-up writes ICC_PMR_EL1 = 0xFF (KVM resets it to 0, masking
// everything) and enables Group 1, as model.Backend's contract says.
//
// KVM moves a pending LPI retargeted by MAPC, MOVI or MOVALL to its new
// vCPU only when the old vCPU next exits the guest (vgic_prune_ap_list).
// So before an Acknowledge that follows such a command every other vCPU
// makes one request round trip that changes nothing (flush_linux_arm64.go),
// and Acknowledge finds the LPI where the architecture says it is. Which
// commands ran is read, not guessed: the packets between GITS_CREADR before
// and after the GITS_CWRITER write (or the GITS_CTLR write enabling the
// ITS) that ran them, whoever wrote them into the queue: the backend has
// no command writer of its own, model.SubmitCommands is the one.
//
// The host asks through MMIO exits rather than a shared-memory ring: the
// guest reads its next request from an address with nothing behind it
// (KVM_EXIT_MMIO; the host supplies the value on the next KVM_RUN) and
// writes its reply to another. So between requests every vCPU is parked
// outside KVM_RUN: it burns no host CPU (a guest spinning on a ring would
// take a whole emulated core under nested TCG), and KVM, which refuses every
// vGIC/ITS attribute access with EBUSY while any vCPU is in KVM_RUN, never
// sees one. A request costs two exits (~0.3 ms each under nested TCG).
//
// Every attribute access still goes through one helper (stopped) that makes
// sure no vCPU is inside KVM_RUN: a vCPU left running in the guest (only
// tests do that, with a "hold" request) is stopped by setting
// kvm_run.immediate_exit and sending SIGURG to its thread (harmless to the
// Go runtime, which uses it for preemption) until KVM_RUN returns EINTR,
// and restarted afterwards, invisibly to the caller. Each vCPU is driven by
// a goroutine locked to its OS thread; KVM_RUN's EINTR from Go's own
// preemption signal is retried.
//
// # Observation
//
// Pending borrows the pending tables, where each GICR_PENDBASER points:
// it copies them all, zeroes the CPU's, issues SAVE_PENDING_TABLES, reads
// it and puts every byte back, so that no stale bit shows and none that
// software set before EnableLPIs (PTZ = 0 loads it) is lost
// (pending_linux_arm64.go). SaveTables zeroes the pending tables and the
// (flat) device and collection tables, then issues SAVE_PENDING_TABLES and
// ITS_SAVE_TABLES: what is in memory afterwards is exactly KVM's state in
// ABI revision 0, which model's decoders read.
// RestoreTables resets the ITS (KVM_DEV_ARM_ITS_CTRL_RESET) and restores in
// the documented order: GITS_IIDR, GITS_CBASER, GITS_CREADR, GITS_CWRITER,
// GITS_BASER<n>, ITS_RESTORE_TABLES, GITS_CTLR.
//
// # Where KVM differs
//
// [Differences] lists every way this backend's contract departs from the
// simulator's, with the reason: no command errors, no stall, an always-on
// translation cache, a fixed GITS_TYPER, DISCARD leaving a pending LPI
// pending, asynchronous irqfd injection, TriggerGSI and irqfds reporting
// nothing of a refused MSI, the ITS writing its tables, the order among
// equal priorities, 5 implemented priority bits, MOVALL on newer kernels, a
// route without a DeviceID accepted and dropped, EnableLPIs loading the
// pending table by replacing pending state and leaving the bits, any
// address in the ITS frame taken as a doorbell, and a failed restore
// leaving the ITS empty. docs/fidelity.md is the catalogue of behaviour
// (internal/fidelity classifies what the differential meets by it), with
// the kernels each shows on, KVM's code path and a minimal case. The
// backend-swapped suite (suite_test.go) runs every scenario on sim and kvm
// and compares the effects with go-cmp, reporting steps that depend on a
// listed difference instead of comparing them.
//
// # Errors
//
// Every error a method of the backend returns begins "backend/kvm: ",
// once (errors.go). The driver functions of package model over a Backend
// (EnableLPIs, SetLPIConfig, SubmitCommands) begin the errors they make
// themselves with the backend's registered name instead ("kvm: the command
// queue is full ..."), and pass the backend's own errors on as they are.
//
// # Testing
//
// On an x86-64 host, scripts/kvm-harness boots each test binary in an
// arm64 guest under qemu-system-aarch64 with KVM inside:
//
//	scripts/kvm-harness -v ./backend/kvm/...
//
// The harness sets GICITS_KVM_REQUIRED=1 (there and on a native arm64
// host), and a test that cannot open KVM fails; elsewhere it skips with the
// reason. backend/kvm/kvmtest makes that choice for every KVM test.
package kvm
