package entries

import (
	"os"
	"slices"
	"strings"

	"github.com/gicits/gicits/script"
)

// Entry is one known way KVM's vITS departs from the architecture, as
// the simulator reads it.
type Entry struct {
	ID      string
	Kernels []string // the kernel series it shows on: "6.1", "6.12"
	Rule    string   // what the architecture (IHI 0069) says
	KVM     string   // what KVM does instead
	Path    string   // KVM's code path: file and functions
	Case    string   // minimal deterministic case, from the repository root
	// Crashes says the divergence is a host kernel crash: where it shows,
	// its cases are not run (they would take the whole harness down)
	// unless GICITS_RUN_CRASHING=1 asks for them.
	Crashes bool
}

// ShowsOn reports whether e shows on kernel series k.
func (e *Entry) ShowsOn(k string) bool { return slices.Contains(e.Kernels, k) }

// Kernels are the kernel series the catalogue knows, as
// scripts/kvm-harness names them.
var Kernels = []string{"6.1", "6.12"}

// List is the catalogue: every known divergence, the most specific first: a
// divergence is the first entry whose classifier takes it.
var List = []*Entry{
	{
		ID:      "movall",
		Kernels: []string{"6.12"},
		Rule:    "6.3.15 MOVALL: only the LPIs of RDbase1 move to RDbase2",
		KVM:     "every LPI of the VM gets RDbase2's vCPU as its target, pending or not, wherever it was",
		Path:    "arch/arm64/kvm/vgic/vgic-its.c: vgic_its_cmd_handle_movall walks dist->lpi_xa (the 2024 xarray rework) without filtering by vcpu1, calling update_affinity for each",
		Case:    "testdata/fidelity/movall.its",
	},
	{
		ID:      "discard-pending",
		Kernels: []string{"6.1", "6.12"},
		Rule:    "6.3.5 DISCARD, 6.3.8 MAPD: removing an event's mapping removes its LPI's pending state",
		KVM:     "the LPI stays pending on its redistributor and can still be acknowledged; a later MAPTI of the same INTID inherits its pending state and target",
		Path:    "arch/arm64/kvm/vgic/vgic-its.c: vgic_its_cmd_handle_discard and vgic_its_free_device call its_free_ite, which drops the ITE's reference (vgic_put_irq) but leaves pending_latch set while the vgic_irq sits on a vCPU's ap_list",
		Case:    "testdata/fidelity/discard-pending.its",
	},
	{
		ID:      "reused-intid",
		Kernels: []string{"6.1", "6.12"},
		Rule:    "6.3.9 MAPTI: the new LPI targets the redistributor of the collection ICID names, with its configuration and pending state read from the tables (IHI 0069 5.1.1, 5.1.2)",
		KVM:     "a MAPTI of an INTID whose previous vgic_irq is still referenced (it was made pending on a vCPU that has not run since, even if CLEARed and unmapped) reuses that vgic_irq as it is: its old target vCPU, its cached configuration and pending latch, without reading the pending table; the LPI goes to the old CPU until a MOVI or MAPC moves it",
		Path:    "arch/arm64/kvm/vgic/vgic-its.c: vgic_its_cmd_handle_mapi calls vgic_add_lpi, which returns at once the vgic_irq vgic_get_irq finds for the INTID (\"no put, since we keep the reference\"), skipping target_vcpu, update_lpi_config and vgic_v3_lpi_sync_pending_status; the reference is the vCPU's ap_list entry, dropped by vgic_prune_ap_list when that vCPU next runs",
		Case:    "testdata/fidelity/reused-intid.its",
	},
	{
		ID:      "priority-bits",
		Kernels: []string{"6.1", "6.12"},
		Rule:    "4.8 Interrupt prioritization: the number of implemented priority bits is IMPLEMENTATION DEFINED; the simulator compares bits [7:2]",
		KVM:     "the virtual CPU interface implements 5 priority bits under the QEMU harness: priorities that differ in bits [2:0] tie, and ICC_PMR_EL1 = 0xFF holds 0xF8, so LPIs of priority 0xF8 and 0xFC are never signalled",
		Path:    "arch/arm64/kvm/vgic/vgic-v3.c: vgic_v3_populate_lr writes the priority into ICH_LR<n>_EL2, whose unimplemented low bits are RES0 (ICH_VTR_EL2.PRIbits)",
		Case:    "testdata/fidelity/priority-bits.its",
	},
	{
		ID:      "ack-equal-priority",
		Kernels: []string{"6.1", "6.12"},
		Rule:    "4.8: which of several pending interrupts of equal priority is acknowledged first is IMPLEMENTATION DEFINED; the simulator takes the lowest INTID",
		KVM:     "Acknowledge returns the one KVM put in a list register first: the order LPIs were queued on the vCPU's ap_list",
		Path:    "arch/arm64/kvm/vgic/vgic.c: vgic_flush_lr_state fills list registers in ap_list order (vgic_sort_ap_list sorts by priority only)",
		Case:    "testdata/fidelity/ack-equal-priority.its",
	},
	{
		ID:      "eoi-while-lpis-disabled",
		Kernels: []string{"6.1", "6.12"},
		Rule:    "4.1, 12.11.1 (ICC_EOIR1_EL1): an EOI deactivates the interrupt, whatever GICR_CTLR.EnableLPIs says; an inactive LPI made pending is signalled once LPIs are enabled",
		KVM:     "an LPI acknowledged and then EOId while its redistributor's EnableLPIs is 0 stays active for ever: every later MSI only sets its pending latch, and it is never signalled again, through INV, DISCARD and a new MAPTI of the INTID",
		Path:    "arch/arm64/kvm/vgic/vgic-mmio-v3.c: vgic_mmio_write_v3r_ctlr calls vgic_flush_pending_lpis (vgic-its.c), which takes every LPI off the vCPU's ap_list, active ones too, leaving irq->active set; the EOI then finds no list register and vgic_v3_fold_lr_state never sees the deactivation",
		Case:    "testdata/fidelity/eoi-while-lpis-disabled.its",
	},
	{
		ID:      "mapc-v0-rdbase",
		Kernels: []string{"6.1"},
		Rule:    "6.3.10 MAPC: RDbase is meaningful only when V = 1; MAPC V=0 unmaps the collection whatever RDbase holds",
		KVM:     "MAPC V=0 whose RDbase names no vCPU is refused (E_ITS_MAPC_PROCNUM_OOR, dropped): the collection stays mapped and its LPIs keep firing",
		Path:    "arch/arm64/kvm/vgic/vgic-its.c: vgic_its_cmd_handle_mapc checks target_addr >= online_vcpus before it looks at the V bit; d455d366c451 (\"Treat the collection target address as a vcpu_id\", 6.8) moved the check into the V=1 branch",
		Case:    "testdata/fidelity/mapc-v0-rdbase.its",
	},
	{
		ID:      "save-orphan-oops",
		Kernels: []string{"6.12"},
		Rule:    "6.3.10 MAPC V=0 with events still mapped to the collection is UNPREDICTABLE, but must not take the host down; gicits saves such an orphaned event as a zero ITE",
		KVM:     "KVM_DEV_ARM_ITS_SAVE_TABLES with an event whose collection was unmapped (MAPC V=0, or GITS_BASER1 written with Valid=0) dereferences a NULL collection: the host kernel oopses. Fixed in 6.12.113 and 6.1.191 (\"KVM: arm64: vgic-its: Don't dereference a NULL collection on ITT save\"), which write a zero ITE as gicits does; bookworm-backports ships 6.12.95",
		Path:    "arch/arm64/kvm/vgic/vgic-its.c: vgic_its_free_collection sets ite->collection = NULL; vgic_its_save_itt calls vgic_its_save_ite, which reads ite->collection->collection_id",
		Case:    "testdata/fidelity/save-orphan-oops.its",
		Crashes: true,
	},
	{
		ID:      "devtable-shrink",
		Kernels: []string{"6.1", "6.12"},
		Rule:    "12.19.1 GITS_BASER<n>: the device table's size bounds the DeviceIDs; a table software shrinks (the ITS disabled) cannot hold the devices beyond it, and the simulator discards them, zeroing their ITEs",
		KVM:     "the devices stay and keep translating their MSIs; a save writes their ITEs, into an ITT another device may have since",
		Path:    "arch/arm64/kvm/vgic/vgic-its.c: vgic_mmio_write_its_baser frees devices only on a Valid=0 write; KVM never reads the device table to translate; vgic_its_save_device_tables writes each device's ITT through vgic_its_save_itt",
		Case:    "testdata/fidelity/devtable-shrink.its",
	},
	{
		ID:      "colltable-shrink",
		Kernels: []string{"6.1", "6.12"},
		Rule:    "12.19.1 GITS_BASER<n>: the collection table's size bounds the ICIDs; a table software shrinks (the ITS disabled) cannot hold the collections beyond it, and the simulator discards them, orphaning their events",
		KVM:     "the collections stay and keep delivering; a save writes their CTEs, and the restore of that image fails (EINVAL), leaving the ITS empty",
		Path:    "arch/arm64/kvm/vgic/vgic-its.c: vgic_mmio_write_its_baser frees collections only on a Valid=0 write; vgic_its_save_collection_table writes every collection; vgic_its_restore_cte refuses an ICID vgic_its_check_id puts beyond GITS_BASER1",
		Case:    "testdata/fidelity/colltable-shrink.its",
	},
	{
		ID:      "route-devid",
		Kernels: []string{"6.1", "6.12"},
		Rule:    "an MSI to an ITS is translated by (DeviceID, EventID); KVM_CAP_MSI_DEVID says the VM needs the DeviceID (Documentation/virt/kvm/api.rst); the simulator reports ErrInvalidArgument when a route without one is raised",
		KVM:     "KVM_SET_GSI_ROUTING takes a route without KVM_MSI_VALID_DEVID, and raising it (KVM_IRQFD, or the backend's TriggerGSI) delivers nothing and reports nothing",
		Path:    "virt/kvm/irqchip.c: kvm_set_routing_entry checks only the flags it knows; arch/arm64/kvm/vgic/vgic-its.c: vgic_msi_to_its refuses the MSI, and an irqfd drops the error (virt/kvm/eventfd.c: irqfd_inject)",
		Case:    "testdata/fidelity/route-devid.its",
	},
}

// Lookup returns the entry with id.
func Lookup(id string) (*Entry, bool) {
	for _, e := range List {
		if e.ID == id {
			return e, true
		}
	}
	return nil, false
}

// Series returns the kernel series of a kernel release (uname -r):
// "6.1" for 6.1.0-57-arm64, "6.12" for 6.12.95+deb12-arm64.
func Series(release string) string {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return release
	}
	minor := strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' })
	return parts[0] + "." + minor
}

// Annotated returns the catalogue classes the expectation at line of s
// names in its kvm= field, if it has any.
func Annotated(s *script.Script, line int) []string {
	for _, st := range s.Stmts {
		if st.Position().Line == line {
			if k, ok := st.(interface{ KVMClasses() []string }); ok {
				return k.KVMClasses()
			}
		}
	}
	return nil
}

// Showing returns the first entry of classes that shows on kernel series k
// (the first known one when the catalogue does not know k: a kernel it has
// not measured may show any of them).
func Showing(classes []string, k string) (*Entry, bool) {
	for _, id := range classes {
		e, ok := Lookup(id)
		if ok && (e.ShowsOn(k) || !slices.Contains(Kernels, k)) {
			return e, true
		}
	}
	return nil, false
}

// Crashing returns a catalogue entry that crashes the host on kernel
// series k and that an expectation of s names: s must not run there.
func Crashing(s *script.Script, k string) (*Entry, bool) {
	for _, st := range s.Stmts {
		for _, id := range Annotated(s, st.Position().Line) {
			if e, ok := Lookup(id); ok && e.Crashes && e.ShowsOn(k) {
				return e, true
			}
		}
	}
	return nil, false
}

// RunningKernel returns the release of the kernel this process runs on
// (uname -r), or "" where it cannot be read.
func RunningKernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
