package kvm

// Difference is one way KVM's vITS deliberately (or knowingly) departs
// from the GIC architecture, or from the simulator's reading of it. The
// backend-swapped suite compares effects only, and a scenario step whose
// outcome depends on one of these is tagged with its ID and reported
// rather than compared.
type Difference struct {
	ID     string // short tag used by the suite
	KVM    string // what KVM does
	Reason string // why, and what the architecture says
}

// Differences lists every difference in one place (doc.go repeats it for
// people).
var Differences = []Difference{
	{"command-errors",
		"SubmitCommands never returns a CommandError: KVM drops command errors silently and GITS_CREADR always advances",
		"KVM has no error reporting channel for its ITS (no SEI, no GITS_CREADR.Stalled); Capabilities.ReportsCommandErrors is false"},
	{"no-stall",
		"Opening with ErrorPolicy StallOnError fails with ErrNotSupported",
		"KVM's ITS skips a failing command (the architecture allows either; KVM picked continue)"},
	{"translation-cache",
		"Opening with NoTranslationCache fails with ErrNotSupported",
		"KVM always caches translations (invalidated on DISCARD, MOVI, MAPD, MAPC V=0, MOVALL, disable)"},
	{"its-typer",
		"Opening with an ITSTyper other than model.KVMITSTyper fails with ErrNotSupported",
		"GITS_TYPER is fixed by the kernel: 16 DeviceID and EventID bits, 8-byte ITT entries, PTA = 0"},
	{"discard-pending",
		"DISCARD (and MAPD V=0) of a pending LPI leaves the LPI pending on its redistributor, where it can still be acknowledged; a later MAPTI of the same INTID inherits that pending state",
		"KVM frees the ITE but the LPI's struct vgic_irq lives on while it sits on a vCPU's list with its pending latch (vgic_its_cmd_handle_discard does not clear it); the architecture removes the pending state"},
	{"irqfd-async",
		"An irqfd Signal may complete after it returns",
		"KVM injects from the eventfd wake-up only on a translation-cache hit and defers a miss to a worker; the suite polls. TriggerGSI, which raises its GSI through an irqfd of its own, is not asynchronous: it unbinds that irqfd before it returns, and the unbind waits for the worker (irqfd_shutdown)"},
	{"its-writes-tables",
		"DISCARD and MAPD V=0 write zero ITEs and DTEs into guest memory on kernels with the 6.13 fix (backported to Debian's 6.1), so tables saved earlier change under later commands",
		"KVM keeps the saved tables consistent with the live state; the architecture says the tables belong to the ITS while it is enabled (their contents are IMPLEMENTATION DEFINED)"},
	{"ack-equal-priority",
		"Among pending LPIs of equal priority, Acknowledge returns the one KVM put in a list register first, not the lowest INTID",
		"KVM sorts its per-vCPU list by priority only; the architecture leaves the choice among equals IMPLEMENTATION DEFINED"},
	{"priority-bits",
		"LPI priorities that differ only in bits [2:0] are equal: Acknowledge takes the one KVM put in a list register first (ack-equal-priority), so 0x84 may be acknowledged before 0x80; and ICC_PMR_EL1 = 0xFF holds 0xF8, so LPIs of priority 0xF8 and 0xFC are never signalled",
		"the virtual CPU interface implements 5 priority bits (ICH_VTR_EL2.PRIbits; under the QEMU harness priorities 4 apart tie and 8 apart do not) and the unimplemented low bits of ICH_LR<n>_EL2.Priority and ICC_PMR_EL1 are RES0 (an interrupt is signalled only if its priority is below the mask); the number of implemented priority bits is IMPLEMENTATION DEFINED, and the simulator compares all of bits [7:2]"},
	{"movall",
		"On kernels with the 2024 xarray rework MOVALL retargets every LPI of the VM, not only RDbase1's",
		"a code-level observation of newer kernels; 6.1 filters by RDbase1 as the architecture says"},
	{"route-devid",
		"SetGSIRouting takes a route without a valid DeviceID on a VM that needs one, and TriggerGSI (or an irqfd) on it delivers nothing and reports nothing; the simulator reports ErrInvalidArgument when such a route is raised",
		"KVM_SET_GSI_ROUTING checks only the flags it knows, and the injection fails inside KVM where userspace cannot see it (vgic_msi_to_its refuses an MSI without KVM_MSI_VALID_DEVID; an irqfd drops the error). The translation cache is keyed on the devid field whatever the flag says, so TriggerGSI or an irqfd on such a route (sent with devid 0) is delivered after all when KVM has cached DeviceID 0's translation of the same EventID"},
	{"trigger-unreported",
		"TriggerGSI and a bound trigger's Signal return nil when KVM refuses the route's MSI (the ITS disabled or the target's EnableLPIs 0, where SignalMSI returns ErrBusy; a doorbell outside the ITS frame, ErrInvalidArgument), and Signal also for a GSI without a route: nothing is delivered and nothing reported; the simulator returns the error SignalMSI would, and ErrInvalidArgument for a GSI without a route",
		"both raise the GSI through KVM's routing table with an irqfd, the only way arm64 KVM raises an MSI-routed GSI (KVM_IRQ_LINE takes SPIs and PPIs), and an irqfd has nowhere to report an injection's result: irqfd_wakeup and irqfd_inject drop what the injection returns. TriggerGSI's own ErrInvalidArgument for a GSI without a route comes from the backend's record of its last SetGSIRouting"},
	{"enable-lpis-load",
		"GICR_CTLR.EnableLPIs 0→1 with PTZ = 0 sets each LPI targeting the CPU pending exactly as its pending-table bit says, and leaves the bits set: an LPI made pending while EnableLPIs was 0 (by a MAPTI that consumed its bit) is no longer pending when its bit is clear, and a bit the enable loaded makes the LPI pending again at the next MAPTI of that INTID (after a DISCARD); the simulator adds each bit to the LPI's pending state and clears it",
		"its_sync_lpi_pending_table (vgic_enable_lpis) assigns each LPI's pending latch from the table and writes nothing back; the architecture has the redistributor load the table when EnableLPIs is set and leaves the table's contents afterwards IMPLEMENTATION DEFINED. The simulator consumes the bit as MAPTI does at LPI creation, so a pending state set before the enable is kept and no stale bit comes back (gicr/doc.go)"},
	{"msi-doorbell",
		"SignalMSI (and a route) with a doorbell anywhere in the ITS's 128 KiB frame, GITS_CTLR's address included, is translated as an MSI; the simulator refuses any doorbell but GITS_TRANSLATER with ErrInvalidArgument",
		"KVM_SIGNAL_MSI finds the ITS by the MMIO device at the address (vgic_msi_to_its: kvm_io_bus_get_dev), not by the register; in the architecture only a write to GITS_TRANSLATER is an MSI, and a write elsewhere in the frame is a register access"},
	{"failed-restore",
		"A RestoreTables that KVM refuses (EINVAL: pINTID < 8192, an ICID without a collection, Size+1 > 16) leaves the ITS empty, not as it was",
		"KVM frees what it restored on failure, and the ITS was reset before the restore (KVM_DEV_ARM_ITS_CTRL_RESET) because RESTORE_TABLES only fills an empty ITS"},
}
