package replay

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/gicits/gicits/model"
)

// A Rule is one check of [Lint]: a use of the ITS that the architecture
// does not promise to work, though QEMU's ITS (which re-reads the LPI
// configuration and its tables on every use, and only logs errors) lets
// it pass.
type Rule struct {
	// Name is the rule's kebab-case name: "missing-sync".
	Name string
	// Section is where IHI 0069 says what the rule checks.
	Section string
	// Why is one sentence on why the use works on QEMU but not on KVM or
	// hardware, which cache.
	Why string
}

// Misuse is one finding of [Lint]: at trace line Line, event Event (its
// name), Rule is broken; What says how, with the DeviceIDs, EventIDs,
// LPIs and earlier lines involved.
type Misuse struct {
	Rule  *Rule
	Line  int
	Event string
	What  string
	// Informational findings are worth knowing but are not misuse: they
	// do not make itsbench replay -lint fail.
	Informational bool
}

func (m Misuse) String() string { return m.head() + ": " + m.Rule.Why }

// head is the finding without the rule's reason: line, rule, section and
// what was found.
func (m Misuse) head() string {
	info := ""
	if m.Informational {
		info = " (informational)"
	}
	return fmt.Sprintf("line %d: %s%s (IHI 0069 %s): %s", m.Line, m.Rule.Name, info, m.Rule.Section, m.What)
}

// The rules [Lint] checks, in the order of issue 16's list.
var (
	RuleMissingInv = &Rule{"missing-inv", "6.3.7, 6.3.8",
		"QEMU reads an LPI's configuration byte from memory every time it delivers the LPI, so a change shows at once; KVM reads it when the LPI is mapped or invalidated, and a redistributor may cache it, so until an INV, INVALL or GICR_INVLPIR the old priority and enable stay in force."}
	RuleMissingSync = &Rule{"missing-sync", "6.3.19",
		"QEMU, and KVM, finish every command before the guest's GITS_CWRITER write returns, so the effect is there at once; a hardware ITS may still be carrying it out when the driver goes on to other commands, until a SYNC to the redistributor completes (in the same write or the next, before any other command)."}
	RuleSyncWrongRedistributor = &Rule{"sync-wrong-redistributor", "6.3.19, 6.3.16",
		"QEMU and KVM finish every command before the GITS_CWRITER write returns, so any SYNC will do; on hardware a SYNC waits only for the effects on the redistributor it names, so the one a command acts on must be named: after a MOVI the source, which the pending state and cached translation leave (Linux's driver SYNCs the event's old collection)."}
	RuleMapOverLiveEvent = &Rule{"map-over-live-event", "6.3.13, 6.3.12",
		"QEMU overwrites the ITT entry, so the new LPI fires; KVM ignores a MAPTI or MAPI of a mapped event and keeps the old LPI, and hardware may keep the old translation cached."}
	RuleLPIMappedTwice = &Rule{"lpi-mapped-twice", "6.3.13",
		"QEMU translates each event through its own ITT entry and never notices; KVM keeps one state per LPI, so the two events share one pending bit and the target of the last mapping, and one interrupt is lost or lands on the other's CPU."}
	RuleLPIOutOfRange = &Rule{"lpi-out-of-range", "1.2.1, 5.1.1",
		"QEMU checks the pINTID against its own fixed 16 INTID bits, not the IDbits the guest programmed, so it may accept it; KVM refuses it with a command error the driver does not read, and hardware may read and write past the property and pending tables."}
	RuleEventBeyondSize = &Rule{"event-beyond-size", "6.3.11",
		"QEMU refuses the command or drops the MSI, but only in its error log; KVM and hardware refuse it as well, and an ITT sized for MAPD's Size has no room for the entry."}
	RuleUnmappedDevice = &Rule{"unmapped-device", "6.3.11",
		"QEMU skips the command with a line in its error log; KVM and hardware report a command error (or stall the queue), which a driver that does not check GITS_CREADR and the error never sees."}
	RuleUnmappedEvent = &Rule{"unmapped-event", "6.3.13",
		"QEMU skips the command with a line in its error log; KVM and hardware report a command error (or stall the queue), which a driver that does not check GITS_CREADR and the error never sees."}
	RuleUnmappedCollection = &Rule{"unmapped-collection", "6.3.10",
		"QEMU reads the collection table only when an MSI arrives, so a MAPC issued afterwards is enough there; a caching ITS may resolve the collection when it takes the command, and KVM keeps the event's LPI on no CPU until the MAPC."}
	RuleUnmapLiveCollection = &Rule{"unmap-live-collection", "6.3.10",
		"QEMU drops the events' MSIs with a log line and delivers them again once the collection is mapped anew; KVM and hardware may keep LPIs already pending on the old redistributor, which nothing moves."}
	RuleUnmapLiveDevice = &Rule{"unmap-live-device", "6.3.11",
		"QEMU leaves the entries in the ITT, so a later MAPD V=1 of the same ITT brings the events back; KVM forgets them at once; the architecture does not say what becomes of events still mapped (a hardware ITS may keep their translations cached, or their LPIs pending), so a driver DISCARDs each first."}
	RuleRemapLiveDevice = &Rule{"remap-live-device", "6.3.11",
		"QEMU and KVM simply forget the old ITT; a hardware ITS may keep translating from cached entries of the old one, whose LPIs the driver thinks are gone."}
	RuleITTOverlap = &Rule{"itt-overlap", "6.3.11, 5.1.1",
		"QEMU reads and writes guest memory on every use and shows no sign of the clash; KVM writes its own entries into the ITT when it saves the ITS (migration) and hardware whenever it maps, corrupting whatever shares the memory."}
	RuleMSIUnmapped = &Rule{"msi-unmapped", "6.3.11, 6.3.13",
		"QEMU drops the MSI with a line in its error log; KVM and hardware drop it too, silently, and the device waits for an interrupt that never comes."}
	RuleMSILPIsDisabled = &Rule{"msi-lpis-disabled", "12.11.2",
		"the LPI is lost on every implementation, QEMU included, and none reports it: the only sign is a device waiting for an interrupt, so enable LPIs before the device's MSIs."}
	RuleMSIDisabledLPI = &Rule{"msi-disabled-lpi", "5.1.1, 6.3.7",
		"the LPI becomes pending and waits until it is enabled and the change invalidated; QEMU re-reads the configuration byte at each delivery, so an enable without an INV delivers it there, while KVM and hardware keep it pending: the device waits for an interrupt that comes late or never."}
	RuleEventsOnOfflinedCPU = &Rule{"events-on-offlined-cpu", "6.3.16, 6.3.15",
		"an LPI whose collection stays on an offline CPU waits, pending, until that CPU returns, on QEMU, KVM and hardware alike: nothing in QEMU's log shows it, and the device stalls while the CPU is away."}
)

// Rules are the rules [Lint] checks.
var Rules = []*Rule{
	RuleMissingInv, RuleMissingSync, RuleSyncWrongRedistributor, RuleMapOverLiveEvent, RuleLPIMappedTwice, RuleLPIOutOfRange, RuleEventBeyondSize,
	RuleUnmappedDevice, RuleUnmappedEvent, RuleUnmappedCollection, RuleUnmapLiveCollection,
	RuleUnmapLiveDevice, RuleRemapLiveDevice, RuleITTOverlap, RuleMSIUnmapped, RuleMSILPIsDisabled,
	RuleMSIDisabledLPI, RuleEventsOnOfflinedCPU,
}

// Lint checks the guest's use of its ITS, as tr shows it, against the
// rules in [Rules], and returns what it found in trace order. mem, which
// may be nil, holds dumps of the guest's memory taken at the end of the
// run ([FindDumped]).
//
// # Notes
//
// It reads only the trace and the dumps, replaying nothing. QEMU traces
// no memory access, so three rules need a dump ([Unchecked] names those a
// lint could not check):
//
//   - [RuleMissingInv] and [RuleMSIDisabledLPI] need the LPI property
//     table's. A dump shows the end of the run, so both rest on what the
//     trace says happened after each moment: an LPI enabled in the dump
//     must have had an invalidation after its first mapping (drivers
//     configure an LPI when they bring its interrupt into use, after
//     mapping it, as Linux does); an MSI is to a disabled LPI when the
//     dump shows it disabled and nothing invalidated its configuration
//     after the MSI.
//   - [RuleSyncWrongRedistributor] needs the command queue's, for SYNC's
//     target; without it, any SYNC counts for every command before it.
//
// A CPU going offline has no event of its own: a CPU that comes back
// shows as its redistributor woken again (GICR_WAKER.ProcessorSleep
// cleared once more), and [RuleEventsOnOfflinedCPU] looks at that moment.
func Lint(tr *Trace, mem *Memory) []Misuse {
	l := &linter{g: NewGuest(tr), woken: map[model.CPU]bool{}, dumped: FindDumped(tr, mem), inv: newInvalidations()}
	for _, rec := range tr.Records {
		l.check(rec)
		l.g.Apply(rec)
	}
	l.publish(Record{Line: tr.Lines})
	l.checkDumpedConfig()
	slices.SortStableFunc(l.found, func(a, b Misuse) int { return a.Line - b.Line })
	return l.found
}

// A Gap is a rule [Lint] could check only in part, or not at all, for
// lack of a memory dump: Why says what was missing.
type Gap struct {
	Rule *Rule
	// None: the rule was not checked at all.
	None bool
	Why  string
}

// Gaps returns the rules [Lint] could not fully check on tr with the
// dumps in mem, in the order of [Rules].
func Gaps(tr *Trace, mem *Memory) []Gap {
	d := FindDumped(tr, mem)
	var gaps []Gap
	props := func(r *Rule) {
		switch {
		case d.Properties == nil:
			gaps = append(gaps, Gap{r, true, "needs the LPI property table's dump"})
		case d.LPIsDumped < d.LPIs:
			gaps = append(gaps, Gap{r, false, fmt.Sprintf("the property table's dump holds %d of the %d LPIs the trace maps", d.LPIsDumped, d.LPIs)})
		}
	}
	props(RuleMissingInv)
	switch {
	case d.Queue == nil:
		gaps = append(gaps, Gap{RuleSyncWrongRedistributor, true, "needs the command queue's dump"})
	case d.SyncPackets < d.Syncs:
		gaps = append(gaps, Gap{RuleSyncWrongRedistributor, false, fmt.Sprintf("the queue dump holds the packets of %d of the trace's %d SYNCs (the others were written over, or disagree with the trace)", d.SyncPackets, d.Syncs)})
	}
	props(RuleMSIDisabledLPI)
	return gaps
}

// gicrWAKER is GICR_WAKER's offset; ProcessorSleep is its bit 1.
const (
	gicrWAKER           = 0x14
	wakerProcessorSleep = 1 << 1
)

type linter struct {
	g     *Guest
	found []Misuse
	// unsynced are the commands since the last SYNC whose effect a SYNC
	// guarantees; published, that a GITS_CWRITER write has handed them to
	// the ITS since.
	unsynced  []syncNeed
	published bool
	woken     map[model.CPU]bool
	// dumped is what the memory dumps say; inv, where the guest
	// invalidated LPI configuration.
	dumped *Dumped
	inv    *invalidations
}

// syncNeed is a command that needs a SYNC, and the redistributors a SYNC
// may name for it (cpus, when known: the one it acts on; for MOVALL,
// either of its two); wrong is a SYNC since that named another.
type syncNeed struct {
	rec   Record
	cpus  []model.CPU
	wrong Record
}

func (l *linter) report(rule *Rule, rec Record, format string, args ...any) {
	l.found = append(l.found, Misuse{Rule: rule, Line: rec.Line, Event: eventName(rec), What: fmt.Sprintf(format, args...)})
}

func eventName(rec Record) string {
	if rec.Event == nil {
		return ""
	}
	return rec.Event.Name()
}

// check runs the rules on one record, before the guest applies it.
func (l *linter) check(rec Record) {
	if l.published && rec.Event != nil && strings.HasPrefix(rec.Event.Name(), "gicv3_its_cmd_") {
		// The first command after the commands were handed over: a SYNC
		// for them may come in a write of its own (Xen's driver does
		// that), but not after another command.
		if _, sync := rec.Event.(CmdSYNC); !sync {
			l.publish(rec)
		}
		l.published = false
	}
	l.inv.check(l.g, l.dumped, rec)
	switch e := rec.Event.(type) {
	case CmdSYNC:
		l.sync(rec)
	case CmdMAPTI:
		l.mapEvent(rec, e.DeviceID, e.EventID, e.ICID, e.INTID)
	case CmdMAPI:
		l.mapEvent(rec, e.DeviceID, e.EventID, e.ICID, model.INTID(e.EventID))
	case CmdMOVI:
		if m := l.event(rec, e.DeviceID, e.EventID); m != nil {
			l.needSync(rec, m.ICID)
			l.collection(rec, e.ICID)
		} else {
			l.unsynced = append(l.unsynced, syncNeed{rec: rec})
		}
	case CmdDISCARD:
		l.eventNeedingSync(rec, e.DeviceID, e.EventID)
	case CmdINT:
		l.eventNeedingSync(rec, e.DeviceID, e.EventID)
	case CmdCLEAR:
		l.eventNeedingSync(rec, e.DeviceID, e.EventID)
	case CmdINV:
		l.eventNeedingSync(rec, e.DeviceID, e.EventID)
	case CmdINVALL:
		if p, ok := l.dumped.Packets[rec.Line].(model.INVALL); ok {
			l.needSync(rec, p.ICID)
		} else {
			l.unsynced = append(l.unsynced, syncNeed{rec: rec})
		}
	case CmdMOVALL:
		l.unsynced = append(l.unsynced, syncNeed{rec: rec, cpus: []model.CPU{model.CPU(e.RDbase1), model.CPU(e.RDbase2)}})
	case CmdMAPC:
		if e.Valid {
			l.unsynced = append(l.unsynced, syncNeed{rec: rec, cpus: []model.CPU{model.CPU(e.RDbase)}})
		} else {
			l.needSync(rec, e.ICID)
		}
		if !e.Valid {
			l.unmapCollection(rec, e.ICID)
		}
	case CmdMAPD:
		l.mapDevice(rec, e)
	case ITSWrite:
		if e.Offset&^4 == uint64(model.GITS_CWRITER) && len(l.unsynced) > 0 {
			l.published = true
		}
	case TranslationWrite:
		if e.Offset == translaterOffset {
			l.msi(rec, e)
		}
	case RedistWrite:
		if e.Offset == gicrWAKER && e.Data&wakerProcessorSleep == 0 {
			l.wake(rec, e.Affinity)
		}
	}
}

// needSync notes that rec needs a SYNC to the redistributor of
// collection icid (as the guest has it mapped now, if it is).
func (l *linter) needSync(rec Record, icid model.ICID) {
	n := syncNeed{rec: rec}
	if c := l.g.Collections[icid]; c != nil {
		n.cpus = []model.CPU{c.CPU}
	}
	l.unsynced = append(l.unsynced, n)
}

// eventNeedingSync checks the event a command names and notes that the
// command needs a SYNC to the event's redistributor.
func (l *linter) eventNeedingSync(rec Record, dev model.DeviceID, ev model.EventID) {
	if m := l.event(rec, dev, ev); m != nil {
		l.needSync(rec, m.ICID)
		return
	}
	l.unsynced = append(l.unsynced, syncNeed{rec: rec})
}

// sync settles the commands a SYNC covers: all of them when its target is
// unknown (no queue dump), else those acting on the redistributor it
// names (or on one unknown); the others are left, marked.
func (l *linter) sync(rec Record) {
	p, ok := l.dumped.Packets[rec.Line].(model.SYNC)
	if !ok {
		l.unsynced = nil
		return
	}
	left := l.unsynced[:0]
	for _, n := range l.unsynced {
		if len(n.cpus) > 0 && !slices.Contains(n.cpus, model.CPU(p.RDbase)) {
			n.wrong = rec
			left = append(left, n)
		}
	}
	l.unsynced = left
}

// publish reports the commands handed to the ITS with no SYNC after
// them before the next command (rec, in a later GITS_CWRITER write) or the
// end of the trace (rec without an event).
func (l *linter) publish(rec Record) {
	for _, n := range l.unsynced {
		c := strings.TrimPrefix(Message(n.rec.Event), "GICv3 ITS: command ")
		where := "before the guest's next command, in a later GITS_CWRITER write"
		if rec.Event == nil {
			where = "before the trace ends"
		}
		if n.wrong.Event != nil {
			p := l.dumped.Packets[n.wrong.Line].(model.SYNC)
			l.report(RuleSyncWrongRedistributor, n.rec, "%s acts on CPU %d's redistributor, but the SYNC after it (line %d) names CPU %d's, and no SYNC to CPU %d follows %s (line %d)", c, n.cpus[0], n.wrong.Line, p.RDbase, n.cpus[0], where, rec.Line)
			continue
		}
		l.report(RuleMissingSync, n.rec, "%s has no SYNC after it %s (line %d)", c, where, rec.Line)
	}
	l.unsynced = nil
}

// device returns the mapped device dev, or reports that it is not.
func (l *linter) device(rec Record, dev model.DeviceID) *Device {
	d := l.g.Devices[dev]
	if d == nil {
		l.report(RuleUnmappedDevice, rec, "device %#x is not mapped (no MAPD V=1 for it is in force)", uint32(dev))
	}
	return d
}

// inRange reports whether ev fits d's MAPD Size, and reports it if not.
func (l *linter) inRange(rec Record, d *Device, ev model.EventID) bool {
	if d.EventIDBits < 32 && uint64(ev) >= 1<<d.EventIDBits {
		l.report(RuleEventBeyondSize, rec, "EventID %d of device %#x is beyond the %d EventID bits its MAPD at line %d gave", ev, uint32(d.ID), d.EventIDBits, d.Line)
		return false
	}
	return true
}

// event returns the live mapping of event ev of device dev, or reports
// why there is none.
func (l *linter) event(rec Record, dev model.DeviceID, ev model.EventID) *Mapping {
	d := l.device(rec, dev)
	if d == nil || !l.inRange(rec, d, ev) {
		return nil
	}
	m := d.Events[ev]
	if m == nil {
		l.report(RuleUnmappedEvent, rec, "event %d of device %#x is not mapped", ev, uint32(dev))
	}
	return m
}

func (l *linter) collection(rec Record, icid model.ICID) {
	if l.g.Collections[icid] == nil {
		l.report(RuleUnmappedCollection, rec, "collection %d is not mapped (no MAPC V=1 for it is in force)", icid)
	}
}

func (l *linter) mapEvent(rec Record, dev model.DeviceID, ev model.EventID, icid model.ICID, intid model.INTID) {
	l.needSync(rec, icid)
	l.collection(rec, icid)
	l.lpiRange(rec, intid)
	d := l.device(rec, dev)
	if d == nil || !l.inRange(rec, d, ev) {
		return
	}
	if m := d.Events[ev]; m != nil {
		l.report(RuleMapOverLiveEvent, rec, "event %d of device %#x is already mapped (to LPI %d, at line %d) and was not DISCARDed", ev, uint32(dev), m.INTID, m.Line)
	}
	for _, od := range l.sortedDevices() {
		for _, oev := range slices.Sorted(maps.Keys(od.Events)) {
			m := od.Events[oev]
			if m.INTID == intid && (od.ID != dev || oev != ev) {
				l.report(RuleLPIMappedTwice, rec, "LPI %d is already mapped by event %d of device %#x (line %d)", intid, oev, uint32(od.ID), m.Line)
			}
		}
	}
}

// lpiRange checks intid against 8192 and the IDbits the guest programmed.
func (l *linter) lpiRange(rec Record, intid model.INTID) {
	if intid < model.LPIBase {
		l.report(RuleLPIOutOfRange, rec, "pINTID %d is below 8192, the first LPI", intid)
		return
	}
	bits, line := l.idBits()
	if bits > 0 && bits < 32 && uint64(intid) >= 1<<bits {
		l.report(RuleLPIOutOfRange, rec, "pINTID %d is not below 2^%d, the IDbits the guest programmed in GICR_PROPBASER (line %d)", intid, bits, line)
	}
}

// idBits returns the largest number of INTID bits a GICR_PROPBASER the
// guest wrote allows, and where; 0 when none is written.
func (l *linter) idBits() (int, int) {
	bits, line := 0, 0
	for _, rd := range l.g.Redistributors {
		if rd.PROPBASER != 0 {
			if b := model.PropBaser(rd.PROPBASER).IDBits(); b > bits {
				bits, line = b, rd.Lines[model.GICR_PROPBASER]
			}
		}
	}
	return bits, line
}

func (l *linter) unmapCollection(rec Record, icid model.ICID) {
	for _, d := range l.sortedDevices() {
		for _, ev := range slices.Sorted(maps.Keys(d.Events)) {
			if m := d.Events[ev]; m.ICID == icid {
				l.report(RuleUnmapLiveCollection, rec, "collection %d still holds event %d of device %#x (LPI %d, line %d)", icid, ev, uint32(d.ID), m.INTID, m.Line)
				return
			}
		}
	}
}

func (l *linter) mapDevice(rec Record, e CmdMAPD) {
	d := l.g.Devices[e.DeviceID]
	switch {
	case d != nil && len(d.Events) > 0:
		rule := RuleRemapLiveDevice
		if !e.Valid {
			rule = RuleUnmapLiveDevice
		}
		evs := slices.Sorted(maps.Keys(d.Events))
		m := d.Events[evs[0]]
		l.report(rule, rec, "device %#x still has %s mapped (event %d, LPI %d, line %d): DISCARD them first", uint32(e.DeviceID), plural(len(evs), "event"), evs[0], m.INTID, m.Line)
	case d != nil && e.Valid:
		l.found = append(l.found, Misuse{Rule: RuleRemapLiveDevice, Line: rec.Line, Event: rec.Event.Name(), Informational: true,
			What: fmt.Sprintf("device %#x, mapped at line %d with no live event, is mapped again without MAPD V=0 first", uint32(e.DeviceID), d.Line)})
	}
	if e.Valid {
		l.ittOverlap(rec, e)
	}
}

// A region is a range of guest memory the ITS or a redistributor uses.
type region struct {
	what       string
	start, end uint64
	line       int
}

// ittOverlap checks the ITT e maps against the live ITTs and the tables
// the guest's registers place.
func (l *linter) ittOverlap(rec Record, e CmdMAPD) {
	size := uint64(1) << (e.Size + 1) * uint64(l.ittEntrySize())
	itt := region{"", uint64(e.ITT()), uint64(e.ITT()) + size, rec.Line}
	for _, r := range l.regions(e.DeviceID) {
		if itt.start < r.end && r.start < itt.end {
			l.report(RuleITTOverlap, rec, "the ITT of device %#x at %#x-%#x (%d entries of %d bytes) overlaps %s at %#x-%#x (line %d)", uint32(e.DeviceID), itt.start, itt.end-1, 1<<(e.Size+1), l.ittEntrySize(), r.what, r.start, r.end-1, r.line)
			return
		}
	}
}

// ittEntrySize is GITS_TYPER.ITT_entry_size + 1 as the guest read it, or
// QEMU's 12 bytes.
func (l *linter) ittEntrySize() int {
	if t := model.ITSTyper(l.g.ITS.TYPER); t != 0 {
		return t.ITTEntrySize()
	}
	return 12
}

// regions returns the memory the ITS and the redistributors use, but for
// the ITT of device except.
func (l *linter) regions(except model.DeviceID) []region {
	var rs []region
	its := l.g.ITS
	if cb := model.CBASER(its.CBASER); cb.Valid() {
		rs = append(rs, region{"the command queue", uint64(cb.Addr()), uint64(cb.Addr()) + uint64(cb.SizeBytes()), its.Lines[model.GITS_CBASER]})
	}
	for n, v := range its.BASER {
		if b := model.Baser(v); b.Valid() {
			rs = append(rs, region{fmt.Sprintf("the %v table (GITS_BASER%d)", b.Type(), n), uint64(b.Addr()), uint64(b.Addr()) + b.SizeBytes(), its.Lines[model.GITS_BASER(n)]})
		}
	}
	for cpu, rd := range l.g.Redistributors {
		if rd.PROPBASER != 0 {
			p := model.PropBaser(rd.PROPBASER)
			if p.IDBits() > 13 && p.IDBits() < 48 {
				rs = append(rs, region{"the LPI property table", uint64(p.Addr()), uint64(p.Addr()) + 1<<p.IDBits() - uint64(model.LPIBase), rd.Lines[model.GICR_PROPBASER]})
			}
			if rd.PENDBASER != 0 && p.IDBits() < 48 {
				a := uint64(model.PendBaser(rd.PENDBASER).Addr())
				rs = append(rs, region{fmt.Sprintf("CPU %d's LPI pending table", cpu), a, a + 1<<p.IDBits()/8, rd.Lines[model.GICR_PENDBASER]})
			}
		}
	}
	for _, d := range l.sortedDevices() {
		if d.ID != except {
			end := uint64(d.ITT) + uint64(1)<<d.EventIDBits*uint64(l.ittEntrySize())
			rs = append(rs, region{fmt.Sprintf("the ITT of device %#x", uint32(d.ID)), uint64(d.ITT), end, d.Line})
		}
	}
	return rs
}

// msi checks an MSI: its target mapped, its CPU's LPIs enabled.
func (l *linter) msi(rec Record, e TranslationWrite) {
	dev, ev := e.RequesterID, model.EventID(e.Data)
	if d := l.g.Devices[dev]; d != nil && !l.inRange(rec, d, ev) {
		return
	}
	intid, cpu, err := l.g.Translate(dev, ev)
	if err != nil {
		l.report(RuleMSIUnmapped, rec, "MSI of event %d of device %#x: %v", ev, uint32(dev), err)
		return
	}
	l.inv.msi(rec, dev, ev, intid)
	if int(cpu) < len(l.g.Redistributors) && !l.g.Redistributors[cpu].LPIsEnabled() {
		l.report(RuleMSILPIsDisabled, rec, "MSI of event %d of device %#x targets LPI %d on CPU %d, whose GICR_CTLR.EnableLPIs is clear", ev, uint32(dev), intid, cpu)
	}
}

// wake checks, when a CPU's redistributor is woken a second time (the CPU
// came back online), that no live event stayed in a collection on it.
func (l *linter) wake(rec Record, aff uint32) {
	cpu, ok := l.g.CPUOf(aff)
	if !ok {
		return
	}
	if !l.woken[cpu] {
		l.woken[cpu] = true
		return
	}
	for _, d := range l.sortedDevices() {
		for _, ev := range slices.Sorted(maps.Keys(d.Events)) {
			m := d.Events[ev]
			if c := l.g.Collections[m.ICID]; c != nil && c.CPU == cpu {
				// Informational: a CPU back from suspend (CPU PM) wakes
				// its redistributor the same way, with its collections
				// rightly in place.
				l.report(RuleEventsOnOfflinedCPU, rec, "CPU %d comes back here (from offline, or from suspend, which the trace cannot tell apart), and event %d of device %#x (LPI %d, line %d) stayed in its collection %d while it was away: if it was offline, MOVI it (or MOVALL) before the CPU goes", cpu, ev, uint32(d.ID), m.INTID, m.Line, m.ICID)
				l.found[len(l.found)-1].Informational = true
				return
			}
		}
	}
}

func (l *linter) sortedDevices() []*Device {
	ds := make([]*Device, 0, len(l.g.Devices))
	for _, id := range slices.Sorted(maps.Keys(l.g.Devices)) {
		ds = append(ds, l.g.Devices[id])
	}
	return ds
}

// translaterOffset is GITS_TRANSLATER's offset in the translation frame,
// as QEMU's gicv3_its_translation_write prints it.
const translaterOffset = uint64(model.GITS_TRANSLATER - 0x10000)

// Misuses reports whether ms holds a finding that is not informational.
func Misuses(ms []Misuse) bool {
	return slices.ContainsFunc(ms, func(m Misuse) bool { return !m.Informational })
}

// WriteLint writes what [Lint] found, for people: a header line, then
// each finding (rule, trace line, IHI 0069 section, what) with the rule's
// reason indented under it, or a line saying the trace breaks no rule;
// then the rules not checked, or checked in part, for lack of a memory
// dump ([Gaps]).
func WriteLint(w io.Writer, ms []Misuse, gaps []Gap) error {
	p := &printer{w: w}
	checked := len(Rules)
	for _, g := range gaps {
		if g.None {
			checked--
		}
	}
	info := 0
	for _, m := range ms {
		if m.Informational {
			info++
		}
	}
	switch {
	case len(ms) == 0:
		p.printf("lint: ok: the guest's driver breaks none of the %s\n", plural(checked, "rule")+" checked")
	case info > 0:
		p.printf("lint: %s (%d informational):\n", plural(len(ms), "finding"), info)
	default:
		p.printf("lint: %s:\n", plural(len(ms), "finding"))
	}
	for _, m := range ms {
		p.printf("  %s\n      %s\n", m.head(), m.Rule.Why)
	}
	for _, none := range []bool{true, false} {
		header := "lint: not checked, for lack of a memory dump (-mem):\n"
		if !none {
			header = "lint: checked in part only:\n"
		}
		for _, g := range gaps {
			if g.None == none {
				p.printf("%s  %s: %s\n", header, g.Rule.Name, g.Why)
				header = ""
			}
		}
	}
	return p.err
}
