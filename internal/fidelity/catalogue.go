package fidelity

import (
	"slices"
	"strings"

	"github.com/gicits/gicits/model"
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
	// Classify reports whether a divergence is this one; nil for an entry
	// the generated streams cannot meet.
	Classify func(*Context) bool
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

// Catalogue lists every known divergence, the most specific first: a
// divergence is the first entry whose classifier takes it.
var Catalogue = []*Entry{
	{
		ID:       "movall",
		Kernels:  []string{"6.12"},
		Rule:     "6.3.15 MOVALL: only the LPIs of RDbase1 move to RDbase2",
		KVM:      "every LPI of the VM gets RDbase2's vCPU as its target, pending or not, wherever it was",
		Path:     "arch/arm64/kvm/vgic/vgic-its.c: vgic_its_cmd_handle_movall walks dist->lpi_xa (the 2024 xarray rework) without filtering by vcpu1, calling update_affinity for each",
		Case:     "testdata/fidelity/movall.its",
		Classify: classifyMOVALL,
	},
	{
		ID:       "discard-pending",
		Kernels:  []string{"6.1", "6.12"},
		Rule:     "6.3.5 DISCARD, 6.3.8 MAPD: removing an event's mapping removes its LPI's pending state",
		KVM:      "the LPI stays pending on its redistributor and can still be acknowledged; a later MAPTI of the same INTID inherits its pending state and target",
		Path:     "arch/arm64/kvm/vgic/vgic-its.c: vgic_its_cmd_handle_discard and vgic_its_free_device call its_free_ite, which drops the ITE's reference (vgic_put_irq) but leaves pending_latch set while the vgic_irq sits on a vCPU's ap_list",
		Case:     "testdata/fidelity/discard-pending.its",
		Classify: classifyDiscardPending,
	},
	{
		ID:       "reused-intid",
		Kernels:  []string{"6.1", "6.12"},
		Rule:     "6.3.9 MAPTI: the new LPI targets the redistributor of the collection ICID names, with its configuration and pending state read from the tables (IHI 0069 5.1.1, 5.1.2)",
		KVM:      "a MAPTI of an INTID whose previous vgic_irq is still referenced (it was made pending on a vCPU that has not run since, even if CLEARed and unmapped) reuses that vgic_irq as it is: its old target vCPU, its cached configuration and pending latch, without reading the pending table; the LPI goes to the old CPU until a MOVI or MAPC moves it",
		Path:     "arch/arm64/kvm/vgic/vgic-its.c: vgic_its_cmd_handle_mapi calls vgic_add_lpi, which returns at once the vgic_irq vgic_get_irq finds for the INTID (\"no put, since we keep the reference\"), skipping target_vcpu, update_lpi_config and vgic_v3_lpi_sync_pending_status; the reference is the vCPU's ap_list entry, dropped by vgic_prune_ap_list when that vCPU next runs",
		Case:     "testdata/fidelity/reused-intid.its",
		Classify: classifyReusedINTID,
	},
	{
		ID:       "priority-bits",
		Kernels:  []string{"6.1", "6.12"},
		Rule:     "4.8 Interrupt prioritization: the number of implemented priority bits is IMPLEMENTATION DEFINED; the simulator compares bits [7:2]",
		KVM:      "the virtual CPU interface implements 5 priority bits under the QEMU harness: priorities that differ in bits [2:0] tie, and ICC_PMR_EL1 = 0xFF holds 0xF8, so LPIs of priority 0xF8 and 0xFC are never signalled",
		Path:     "arch/arm64/kvm/vgic/vgic-v3.c: vgic_v3_populate_lr writes the priority into ICH_LR<n>_EL2, whose unimplemented low bits are RES0 (ICH_VTR_EL2.PRIbits)",
		Case:     "testdata/fidelity/priority-bits.its",
		Classify: classifyPriorityBits,
	},
	{
		ID:       "ack-equal-priority",
		Kernels:  []string{"6.1", "6.12"},
		Rule:     "4.8: which of several pending interrupts of equal priority is acknowledged first is IMPLEMENTATION DEFINED; the simulator takes the lowest INTID",
		KVM:      "Acknowledge returns the one KVM put in a list register first: the order LPIs were queued on the vCPU's ap_list",
		Path:     "arch/arm64/kvm/vgic/vgic.c: vgic_flush_lr_state fills list registers in ap_list order (vgic_sort_ap_list sorts by priority only)",
		Case:     "testdata/fidelity/ack-equal-priority.its",
		Classify: classifyEqualPriority,
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
	for _, e := range Catalogue {
		if e.ID == id {
			return e, true
		}
	}
	return nil, false
}

// Classify returns the catalogue entry that explains the divergence in
// c, among those that show on kernel series k (all of them when k is not
// one the catalogue knows), or nil.
func Classify(c *Context, k string) *Entry {
	known := slices.Contains(Kernels, k)
	for _, e := range Catalogue {
		if known && !e.ShowsOn(k) {
			continue
		}
		if e.Classify != nil && e.Classify(c) {
			return e
		}
	}
	return nil
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

// classifyMOVALL: the divergence involves an LPI that the last MOVALL
// before it moves on KVM only: the LPI then targeted neither RDbase1 nor
// RDbase2 on the simulator, and still targets the same CPU there (no MOVI
// or MAPC moved it since), while KVM, if it shows the LPI, shows it on
// RDbase2.
func classifyMOVALL(c *Context) bool {
	i, mv, ok := c.lastMOVALL()
	if !ok {
		return false
	}
	then, now := c.SimBefore(i), c.SimBefore(c.Div.Index)
	if then == nil || now == nil {
		return false
	}
	for _, s := range c.Involved() {
		t, ok := target(then, s.LPI)
		if !ok || uint64(t) == mv.RDbase1 || uint64(t) == mv.RDbase2 {
			continue
		}
		if still, ok := target(now, s.LPI); !ok || still != t {
			continue
		}
		if s.KVMCPU < 0 || uint64(s.KVMCPU) == mv.RDbase2 {
			return true
		}
	}
	return false
}

// lastMOVALL returns the last MOVALL before the divergence that moves
// anything: RDbase1 and RDbase2 distinct redistributors.
func (c *Context) lastMOVALL() (int, model.MOVALL, bool) {
	for i := c.Div.Index - 1; i >= 0; i-- {
		cmd, _ := c.command(i)
		mv, ok := cmd.(model.MOVALL)
		if !ok || mv.RDbase1 == mv.RDbase2 {
			continue
		}
		st := c.SimBefore(i)
		if st != nil && int(mv.RDbase1) < len(st.Redistributors) && int(mv.RDbase2) < len(st.Redistributors) {
			return i, mv, true
		}
	}
	return 0, model.MOVALL{}, false
}

// classifyDiscardPending: the divergence involves an LPI whose mapping a
// DISCARD or MAPD removed, at some point before, while it was pending on
// the simulator, and KVM still shows it (wherever later commands moved it
// there), or a later MAPTI of the INTID inherited the stale vgic_irq, with
// its old target, so KVM does not show it where the simulator does.
func classifyDiscardPending(c *Context) bool {
	for _, s := range c.Involved() {
		for _, r := range c.removals(s.LPI) {
			if !r.pending {
				continue
			}
			if s.KVMCPU >= 0 {
				return true
			}
			if _, ok := c.mappedAfter(s.LPI, r.index); ok {
				return true
			}
		}
	}
	return false
}

// removal is a statement that removed an LPI's mapping (DISCARD, MAPD),
// and whether the LPI was pending on the simulator just before it.
type removal struct {
	index   int
	pending bool
}

// removals returns the statements before the divergence that removed
// lpi's mapping, the latest first.
func (c *Context) removals(lpi model.INTID) []removal {
	var out []removal
	for i := c.Div.Index - 1; i >= 0; i-- {
		cmd, ok := c.command(i)
		if !ok {
			continue
		}
		switch cmd.(type) {
		case model.DISCARD, model.MAPD:
		default:
			continue
		}
		st := c.SimBefore(i)
		if st == nil || !slices.Contains(eventsOf(st, cmd), lpi) {
			continue
		}
		_, was := pendingOn(st, lpi)
		out = append(out, removal{i, was})
	}
	return out
}

// classifyReusedINTID: the divergence involves an LPI mapped again by a
// MAPTI after a DISCARD or MAPD removed its previous mapping while it was
// not pending on the simulator, and whose old vgic_irq KVM may still hold:
// the LPI was last pending on a CPU o that neither acknowledged nor EOId
// anything from then until that MAPTI (so KVM did not run o's vCPU and
// prune its list). KVM, if it shows the LPI, shows it on o (the stale
// target), or where the simulator targets it too (a stale configuration
// or pending latch, after a MOVI).
func classifyReusedINTID(c *Context) bool {
	for _, s := range c.Involved() {
		rs := c.removals(s.LPI)
		if len(rs) == 0 || rs[0].pending {
			continue
		}
		m, ok := c.mappedAfter(s.LPI, rs[0].index)
		if !ok {
			continue
		}
		u, o, ok := c.lastPending(s.LPI, rs[0].index)
		if !ok || c.cpuRan(o, u+1, m) {
			continue
		}
		if s.KVMCPU < 0 || model.CPU(s.KVMCPU) == o {
			return true
		}
		// On the CPU the simulator targets too (a MOVI moved both): the
		// reused vgic_irq's stale configuration or pending latch.
		if now := c.SimBefore(c.Div.Index); now != nil {
			if t, ok := target(now, s.LPI); ok && int(t) == s.KVMCPU {
				return true
			}
		}
	}
	return false
}

// mappedAfter returns the first MAPTI of lpi after statement i, before
// the divergence.
func (c *Context) mappedAfter(lpi model.INTID, i int) (int, bool) {
	for j := i + 1; j < c.Div.Index; j++ {
		if cmd, ok := c.command(j); ok {
			if m, ok := cmd.(model.MAPTI); ok && m.INTID == lpi {
				return j, true
			}
		}
	}
	return 0, false
}

// lastPending returns the last statement before i that ran while lpi was
// pending on the simulator, and the CPU it was pending on.
func (c *Context) lastPending(lpi model.INTID, i int) (int, model.CPU, bool) {
	for j := i - 1; j >= 0; j-- {
		st := c.SimBefore(j)
		if st == nil {
			continue
		}
		if cpu, ok := pendingOn(st, lpi); ok {
			return j, cpu, true
		}
	}
	return 0, 0, false
}

// cpuRan reports whether a statement in [from, to) acknowledges or EOIs on
// cpu: on KVM, that runs the vCPU, which prunes its list.
func (c *Context) cpuRan(cpu model.CPU, from, to int) bool {
	for j := from; j < to && j < len(c.Stream.Stmts); j++ {
		switch st := c.Stream.Stmts[j].(type) {
		case *script.AckStmt:
			if st.CPU == cpu {
				return true
			}
		case *script.EOIStmt:
			if st.CPU == cpu {
				return true
			}
		case *script.ExpectAckStmt:
			if st.CPU == cpu {
				return true
			}
		}
	}
	return false
}

// classifyPriorityBits: an ack on which the two sides took LPIs whose
// priorities differ only in bits [2:0], or on which KVM took nothing where
// the simulator took an LPI of priority 0xF8 or 0xFC.
func classifyPriorityBits(c *Context) bool {
	cpu, a, b, ok := c.ack()
	if !ok || a < model.LPIBase {
		return false
	}
	st := c.SimBefore(c.Div.Index)
	if st == nil {
		return false
	}
	pa, okA := priority(st, a)
	if !okA {
		return false
	}
	if b == model.SpuriousINTID {
		return pa&0xf8 == 0xf8
	}
	pb, okB := priority(st, b)
	p, isPending := pendingOn(st, b)
	return okB && isPending && p == cpu && pa != pb && pa&0xf8 == pb&0xf8
}

// classifyEqualPriority: an ack on which the two sides took different
// LPIs of equal priority, both pending on that CPU.
func classifyEqualPriority(c *Context) bool {
	cpu, a, b, ok := c.ack()
	if !ok || a < model.LPIBase || b < model.LPIBase {
		return false
	}
	st := c.SimBefore(c.Div.Index)
	if st == nil {
		return false
	}
	pa, okA := priority(st, a)
	pb, okB := priority(st, b)
	p, isPending := pendingOn(st, b)
	return okA && okB && pa == pb && isPending && p == cpu
}
