package inspect

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/gicits/gicits/model"
)

// Verdict is the outcome of one step of a translation walk.
type Verdict string

const (
	OK   Verdict = "ok"
	Fail Verdict = "FAIL" // the translation stops here
	Warn Verdict = "warn" // the walk goes on, but the LPI will not reach the CPU as is
	Info Verdict = "info"
)

// Field is one decoded field of a step, for people.
type Field struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Step is one step of [Explain]'s walk: what was read, where, what it
// says, and whether the translation can go on. [WriteSteps] writes it for
// people, [WriteExplainJSON] for programs (docs/json.md).
type Step struct {
	Title string
	// Addr is the guest physical address the step read (0: a register
	// or state with no address).
	Addr model.GPA
	// What the step read: Bytes at Addr, in memory order, or the value of
	// the register Register names (nil and "" when it read neither).
	Bytes    []byte
	Register string
	Value    uint64
	// Raw is what was read as the text output shows it.
	Raw     string
	Fields  []Field
	Verdict Verdict
	// Check names what failed or is doubtful; Code and Section say which
	// error and which part of Arm IHI 0069 (empty when none applies).
	Check   string
	Code    model.ErrorCode
	Section string
	// Why explains the verdict in words.
	Why string
}

// readRegister records that s read the register name, whose value is v,
// shown as text.
func (s *Step) readRegister(name string, v uint64, text string) {
	s.Register, s.Value, s.Raw = name, v, text
}

// readEntry records that s read an 8-byte table entry at its Addr.
func (s *Step) readEntry(raw uint64) {
	s.Bytes, s.Raw = binary.LittleEndian.AppendUint64(nil, raw), rawEntry(raw)
}

// readByte records that s read one byte at its Addr.
func (s *Step) readByte(b byte) {
	s.Bytes, s.Raw = []byte{b}, fmt.Sprintf("%02x", b)
}

// ExplainOptions adjusts [Explain].
type ExplainOptions struct {
	// PMR is each CPU's priority mask (ICC_PMR_EL1) where the caller
	// knows it; other CPUs are assumed to have 0xFF, the value Linux
	// programs and the simulator's reset value.
	PMR map[model.CPU]uint8
	// Probe makes the last step acknowledge LPIs on the target CPU until
	// this one or none comes (EOIing each): the CPU interface's own
	// answer, at the price of changing pending state. Use it only on a
	// backend about to be closed.
	Probe bool
	// ITS is the ITS whose tables are walked, 0..Capabilities().ITSes-1
	// ([model.ITSOf]); the redistributors and the LPI configuration
	// table are shared.
	ITS int
}

// Walked names what a walk translates: DeviceID Dev's EventID Ev, through
// ITS ITS of a machine with ITSes ITSes, whose MSI doorbell
// (GITS_TRANSLATER) is at Doorbell. [NewWalked] fills it in.
type Walked struct {
	Dev      model.DeviceID
	Ev       model.EventID
	ITS      int
	ITSes    int
	Doorbell model.GPA
}

// NewWalked returns what a walk of (dev, ev) through b's ITS its
// translates. It fails, wrapping [model.ErrInvalidArgument], for an ITS
// out of range.
func NewWalked(b model.Backend, dev model.DeviceID, ev model.EventID, its int) (Walked, error) {
	v, err := model.ITSOf(b, its)
	if err != nil {
		return Walked{}, err
	}
	return Walked{Dev: dev, Ev: ev, ITS: its, ITSes: max(b.Capabilities().ITSes, 1), Doorbell: v.Layout().Doorbell()}, nil
}

// String is "DeviceID 0x10 EventID 1", and on a machine with several
// ITSes which ITS translates it: "DeviceID 0x10 EventID 1 by ITS 1 (MSI
// doorbell GITS_TRANSLATER at 0x8510040)".
func (w Walked) String() string {
	s := fmt.Sprintf("DeviceID %#x EventID %d", uint32(w.Dev), w.Ev)
	if w.ITSes > 1 {
		s += fmt.Sprintf(" by ITS %d (MSI doorbell GITS_TRANSLATER at %v)", w.ITS, w.Doorbell)
	}
	return s
}

func hexBytes(b []byte) string {
	var s strings.Builder
	for i, c := range b {
		if i > 0 {
			s.WriteByte(' ')
		}
		fmt.Fprintf(&s, "%02x", c)
	}
	return s.String()
}

func rawEntry(v uint64) string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	return fmt.Sprintf("%s (0x%016x)", hexBytes(b[:]), v)
}

// The errors an INT of the same event would report, which is how a
// failed MSI translation is named: the device beyond the table, the
// device not mapped, the EventID beyond its ITT, the event not mapped.
const (
	deviceOOR      = model.E_ITS_INT_DEVICE_OOR
	unmappedDevice = model.E_ITS_INT_UNMAPPED_DEVICE
	idOOR          = model.E_ITS_INT_ID_OOR
	unmapped       = model.E_ITS_INT_UNMAPPED_INTERRUPT
)

// Explain walks the translation of (dev, ev) through b's state step by
// step, the way the ITS and the redistributor would for an MSI now:
// GITS_CTLR, GITS_BASER0, the L1 entry of a two-level device table, the
// DTE, the ITE in the device's ITT, the collection, the target
// redistributor, the LPI's configuration byte, its pending bit, and the
// CPU interface. On a backend with GICv4.0 vPEs an event whose ITE is
// virtual is walked to its vLPI instead: the vPE table (GITS_BASER2), the
// L1 entry of a two-level one, the VTE, the residency of the vPE on the
// VTE's redistributor (GICR_VPENDBASER), and where the vLPI goes: pending
// for the resident vPE's virtual CPU interface, or set in the vPE's
// virtual pending table with its doorbell rung. Each step carries its address, raw bytes, decoded fields
// and a verdict; where the translation fails, the step names the check,
// the error code an INT command would report (an MSI has no error
// report: KVM_SIGNAL_MSI returns 0, "blocked") and the section of Arm
// IHI 0069.
//
// The tables are those a save writes (SaveTables), read from guest
// memory: on KVM, exactly what KVM saved. On a backend with several ITSes
// they are those of ITS opts.ITS. The error is for a backend that cannot
// be read, or an ITS out of range (wrapping [model.ErrInvalidArgument]); a
// failed translation is a step, not an error.
func Explain(b model.Backend, dev model.DeviceID, ev model.EventID, opts ExplainOptions) ([]Step, error) {
	b, err := model.ITSOf(b, opts.ITS)
	if err != nil {
		return nil, err
	}
	saved, err := SaveAndReadTables(b)
	if err != nil {
		return nil, err
	}
	w := &walk{b: b, mem: b.Memory(), saved: saved, dev: dev, ev: ev, opts: opts}
	more, err := w.run(
		w.itsControl,       // GITS_CTLR
		w.deviceTableBase,  // GITS_BASER0
		w.deviceTableEntry, // the L1 entry of a two-level table, then the DTE
		w.translationEntry, // the ITE in the device's ITT: physical or virtual
	)
	switch {
	case err != nil:
		return nil, err
	case !more:
	case w.vite != nil:
		_, err = w.run(
			w.vpeTableBase,     // GITS_BASER2
			w.vpeTableEntry,    // the L1 entry of a two-level table, then the VTE
			w.vpeRedistributor, // GICR_CTLR, GICR_VPROPBASER, GICR_VPENDBASER: resident?
			w.virtualDelivery,  // the virtual CPU interface, or the VPT and the doorbell
		)
	default:
		_, err = w.run(
			w.collection,       // the CTE
			w.redistributor,    // GICR_CTLR, GICR_PROPBASER, GICR_PENDBASER
			w.lpiConfiguration, // the LPI's byte of the configuration table
			w.pendingState,     // the LPI's pending bit
			w.cpuInterface,     // ICC_PMR_EL1 and the LPIs taken first
		)
	}
	if err != nil {
		return nil, err
	}
	return w.steps, nil
}

// run takes steps in order until one stops the translation (more false)
// or fails to read the backend.
func (w *walk) run(steps ...func() (bool, error)) (more bool, err error) {
	for _, step := range steps {
		if more, err = step(); !more || err != nil {
			return more, err
		}
	}
	return true, nil
}

// walk is one run of [Explain]: what it reads from, the steps written so
// far, and what earlier steps found that later steps use. Each step method
// appends its Step and reports whether the translation goes on; its error
// is for a backend that cannot be read.
type walk struct {
	b     model.Backend
	mem   model.Memory
	saved *model.SavedTables
	dev   model.DeviceID
	ev    model.EventID
	opts  ExplainOptions
	steps []Step

	dte       model.DTE       // the device's DTE (deviceTableEntry)
	lpi       model.INTID     // the ITE's pINTID (translationEntry)
	icid      model.ICID      // the ITE's ICID (translationEntry)
	cpu       model.CPU       // the collection's RDbase (collection)
	gicrCTLR  uint64          // the target's GICR_CTLR (redistributor)
	propBaser model.PropBaser // the target's GICR_PROPBASER (redistributor)
	pendAddr  model.GPA       // the target's LPI pending table (redistributor)
	cfg       model.LPIConfig // the LPI's configuration byte (lpiConfiguration)
	pending   []model.INTID   // the LPIs pending on the target (pendingState)
	isPending bool            // the LPI is among them (pendingState)

	// The walk of a vLPI (explain_virtual.go).
	vite     *model.VirtualITE // the event's virtual ITE (translationEntry)
	vbaser   model.Baser       // GITS_BASER2 (vpeTableBase)
	vte      model.VTE         // its vPE's VTE (vpeTableEntry)
	resident bool              // the vPE is scheduled on the VTE's RDbase (vpeRedistributor)
	vprop    model.VPropBaser  // the RDbase's GICR_VPROPBASER (vpeRedistributor)
	// GICv4.1 (explain_virtual41.go), found by vpeRedistributor.
	v41       *ITSv41            // GITS_TYPER of a GICv4.1 ITS; nil on GICv4.0
	vpend41   model.VPendBaser41 // the RDbase's GICR_VPENDBASER
	elsewhere *model.CPU         // the CPU, not the RDbase, the vPE is scheduled on
}

// next records s, and the walk goes on.
func (w *walk) next(s Step) (bool, error) {
	w.steps = append(w.steps, s)
	return true, nil
}

// stop records s, where the translation stops.
func (w *walk) stop(s Step) (bool, error) {
	w.steps = append(w.steps, s)
	return false, nil
}

// itsControl is GITS_CTLR (IHI 0069 12.19.5): a disabled ITS translates
// nothing, but the walk goes on to show what it would use once enabled.
func (w *walk) itsControl() (bool, error) {
	ctlr, err := w.b.ReadITSRegister(model.GITS_CTLR)
	if err != nil {
		return false, fmt.Errorf("reading GITS_CTLR: %w", err)
	}
	s := Step{Title: "ITS (GITS_CTLR)", Verdict: OK,
		Fields: []Field{{"Enabled", fmt.Sprint(ctlr & model.GITS_CTLR_Enabled)}}}
	s.readRegister("GITS_CTLR", ctlr, fmt.Sprintf("%#x", ctlr))
	if ctlr&model.GITS_CTLR_Enabled == 0 {
		s.Verdict, s.Check, s.Section = Warn, "GITS_CTLR.Enabled = 1", "12.19.5"
		s.Why = "the ITS is disabled: it translates nothing, and KVM refuses MSIs (EBUSY); the tables below are what it would use once enabled"
	}
	return w.next(s)
}

// deviceTableBase is GITS_BASER0 (IHI 0069 12.19.1), which must describe a
// valid device table.
func (w *walk) deviceTableBase() (bool, error) {
	db := w.saved.DeviceBaser
	s := Step{Title: "device table (GITS_BASER0)", Verdict: OK, Fields: []Field{
		{"Valid", boolBit(db.Valid())}, {"Type", db.Type().String()}, {"Indirect", boolBit(db.Indirect())},
		{"Entry_Size", fmt.Sprint(db.EntrySize())}, {"Page_Size", fmt.Sprintf("%d KiB", db.PageSize()>>10)},
		{"Size", fmt.Sprintf("%d pages", db.Pages())}, {"Physical_Address", db.Addr().String()},
	}}
	s.readRegister("GITS_BASER0", uint64(db), fmt.Sprintf("0x%016x", uint64(db)))
	if !db.Valid() || db.Type() != model.BaserDevices {
		s.Verdict, s.Check, s.Code, s.Section = Fail, "GITS_BASER0 is a valid device table", unmappedDevice, "12.19.1"
		s.Why = "no device table: no DeviceID is mapped"
		return w.stop(s)
	}
	return w.next(s)
}

// deviceTableEntry is the device's DTE (IHI 0069 6.3.11), in a flat table
// or, through its level-1 entry, in a second-level page; MAPD V=1 made it
// valid.
func (w *walk) deviceTableEntry() (bool, error) {
	db := w.saved.DeviceBaser
	dteAddr := db.Addr() + model.GPA(uint64(w.dev)*model.TableEntrySize)
	if db.Indirect() {
		addr, more, err := w.level1Entry()
		if !more || err != nil {
			return more, err
		}
		dteAddr = addr
	} else if uint64(w.dev)*model.TableEntrySize >= db.SizeBytes() {
		return w.stop(Step{Title: fmt.Sprintf("device table entry DTE[%#x]", uint32(w.dev)), Verdict: Fail,
			Check: "the DeviceID lies within the device table", Code: deviceOOR, Section: "12.19.1, 6.3.11",
			Why: fmt.Sprintf("the device table holds %d DTEs; MAPD of this DeviceID fails with %v", db.SizeBytes()/8, model.E_ITS_MAPD_DEVICE_OOR)})
	}
	raw, err := model.ReadUint64(w.mem, dteAddr)
	if err != nil {
		return false, err
	}
	w.dte = model.DecodeDTE(raw)
	s := Step{Title: fmt.Sprintf("device table entry DTE[%#x]", uint32(w.dev)), Addr: dteAddr, Verdict: OK, Fields: []Field{
		{"V", boolBit(w.dte.Valid)}, {"ITT_addr", w.dte.ITTAddr.String()},
		{"Size", fmt.Sprintf("%d (%d EventID bits)", w.dte.Size, int(w.dte.Size)+1)}, {"next", fmt.Sprint(w.dte.Next)},
	}}
	s.readEntry(raw)
	if !w.dte.Valid {
		s.Verdict, s.Check, s.Code, s.Section = Fail, "the device is mapped (DTE valid)", unmappedDevice, "6.3.11"
		s.Why = fmt.Sprintf("no MAPD dev=%#x with V=1 (or a MAPD V=0 unmapped it): an MSI from it is dropped", uint32(w.dev))
		s.Fields = s.Fields[:1]
		return w.stop(s)
	}
	return w.next(s)
}

// level1Entry is the entry of a two-level device table (IHI 0069 12.19.1)
// that covers the device: it must lie within the table and point at a
// second-level page. It returns the address of the device's DTE in that
// page.
func (w *walk) level1Entry() (dteAddr model.GPA, more bool, err error) {
	db := w.saved.DeviceBaser
	perPage := uint64(db.PageSize()) / model.TableEntrySize
	idx := uint64(w.dev) / perPage
	l1Addr := db.Addr() + model.GPA(idx*model.TableEntrySize)
	s := Step{Title: fmt.Sprintf("level-1 device table entry [%d] (DeviceIDs %#x..%#x)", idx, idx*perPage, (idx+1)*perPage-1), Addr: l1Addr, Verdict: OK}
	if idx*model.TableEntrySize >= db.SizeBytes() {
		s.Verdict, s.Check, s.Code, s.Section = Fail, "the DeviceID lies within the device table", deviceOOR, "12.19.1"
		s.Why = fmt.Sprintf("the level-1 table has %d entries, covering DeviceIDs below %#x", db.SizeBytes()/8, db.SizeBytes()/8*perPage)
		more, err = w.stop(s)
		return 0, more, err
	}
	raw, err := model.ReadUint64(w.mem, l1Addr)
	if err != nil {
		return 0, false, err
	}
	l1 := model.DecodeL1Entry(raw)
	s.readEntry(raw)
	s.Fields = []Field{{"V", boolBit(l1.Valid)}, {"L2 page", l1.Addr.String()}}
	if !l1.Valid {
		s.Verdict, s.Check, s.Code, s.Section = Fail, "the L1 entry is valid (a second-level page is provided)", unmappedDevice, "12.19.1, 6.3.11"
		s.Why = fmt.Sprintf("no second-level page for DeviceID %#x: the device is not mapped", uint32(w.dev))
		more, err = w.stop(s)
		return 0, more, err
	}
	more, err = w.next(s)
	return l1.Addr + model.GPA(uint64(w.dev)%perPage*model.TableEntrySize), more, err
}

// translationEntry is the event's ITE in the device's ITT (IHI 0069
// 6.3.13): the EventID must fit the ITT's size, and MAPTI or MAPI must
// have mapped it to an LPI.
func (w *walk) translationEntry() (bool, error) {
	bits := int(w.dte.Size) + 1
	// ITT entries are GITS_TYPER.ITT_entry_size + 1 bytes apart (QEMU's
	// 12, KVM's 8), the ITE in the first 8 of each.
	iteAddr := w.dte.ITTAddr + model.GPA(uint64(w.ev)*w.b.Capabilities().ITTStride())
	s := Step{Title: fmt.Sprintf("interrupt translation entry ITE[%d] (ITT at %v)", w.ev, w.dte.ITTAddr), Addr: iteAddr, Verdict: OK}
	if bits < 32 && uint64(w.ev) >= 1<<bits {
		s.Addr = 0
		s.Verdict, s.Check, s.Code, s.Section = Fail, "the EventID fits the ITT", idOOR, "6.3.11, 6.3.13"
		s.Why = fmt.Sprintf("the ITT has %d EventID bits (EventIDs 0..%d); MAPTI of this EventID fails with %v", bits, uint64(1)<<bits-1, model.E_ITS_MAPTI_ID_OOR)
		return w.stop(s)
	}
	raw, err := model.ReadUint64(w.mem, iteAddr)
	if err != nil {
		return false, err
	}
	vite, word, virtual, err := readVirtualITE(w.b, iteAddr, raw)
	if err != nil {
		return false, err
	}
	if virtual {
		return w.virtualTranslationEntry(s, raw, word, vite)
	}
	ite := model.DecodeITE(raw)
	s.readEntry(raw)
	s.Fields = []Field{{"pINTID", fmt.Sprint(ite.INTID)}, {"ICID", fmt.Sprint(ite.ICID)}, {"next", fmt.Sprint(ite.Next)}}
	if !ite.Valid() {
		s.Verdict, s.Check, s.Code, s.Section = Fail, "the event is mapped (ITE pINTID != 0)", unmapped, "6.3.13, 6.3.4"
		s.Why = fmt.Sprintf("no MAPTI/MAPI mapped EventID %d of device %#x, or a DISCARD removed it: an MSI is dropped (KVM_SIGNAL_MSI returns 0, blocked)", w.ev, uint32(w.dev))
		s.Fields = s.Fields[:1]
		return w.stop(s)
	}
	w.lpi, w.icid = ite.INTID, ite.ICID
	return w.next(s)
}

// collection is the CTE of the ITE's ICID (IHI 0069 6.3.10): MAPC V=1
// must have mapped it to a redistributor.
func (w *walk) collection() (bool, error) {
	c, found := w.saved.Collection(w.icid)
	s := Step{Title: fmt.Sprintf("collection ICID %d", w.icid), Verdict: OK}
	if !found {
		s.Verdict, s.Check, s.Section = Fail, "the collection is mapped (MAPC V=1)", "6.3.10"
		s.Why = fmt.Sprintf("no saved CTE for ICID %d: it was never mapped or was unmapped (MAPC V=0); the event cannot be delivered", w.icid)
		return w.stop(s)
	}
	s.Addr = c.Addr
	s.readEntry(mustEncodeCTE(c.CTE))
	s.Fields = []Field{{"V", boolBit(c.CTE.Valid)}, {"RDbase", rdbaseString(c.CTE)}, {"ICID", fmt.Sprint(c.CTE.ICID)}, {"list position", fmt.Sprint(c.Index)}}
	if !c.CTE.Mapped() {
		s.Verdict, s.Check, s.Section = Fail, "the collection is mapped (MAPC V=1)", "6.3.10"
		s.Why = fmt.Sprintf("ICID %d exists (an ITE names it) but targets no redistributor: MAPC icid=%d valid=0 unmapped it, or it was never mapped; KVM blocks the MSI", w.icid, w.icid)
		return w.stop(s)
	}
	w.cpu = model.CPU(c.CTE.RDbase)
	return w.next(s)
}

// redistributor is the collection's target (IHI 0069 6.3.10, 12.11): it
// must exist, and GICR_CTLR.EnableLPIs must be set for an MSI to reach it.
// GICR_PROPBASER and GICR_PENDBASER locate the tables of the next steps.
func (w *walk) redistributor() (bool, error) {
	s := Step{Title: fmt.Sprintf("target redistributor CPU %d", w.cpu), Verdict: OK}
	if cpus := w.b.Capabilities().CPUs; int(w.cpu) >= cpus {
		s.Verdict, s.Check, s.Code, s.Section = Fail, "RDbase names a redistributor", model.E_ITS_MAPC_PROCNUM_OOR, "6.3.10"
		verb := "are"
		if cpus == 1 {
			verb = "is"
		}
		s.Why = fmt.Sprintf("there %s %s", verb, plural(cpus, "CPU"))
		return w.stop(s)
	}
	var regs [3]uint64
	for i, r := range []model.GICRRegister{model.GICR_CTLR, model.GICR_PROPBASER, model.GICR_PENDBASER} {
		v, err := w.b.ReadRedistributorRegister(w.cpu, r)
		if err != nil {
			return false, err
		}
		regs[i] = v
	}
	ctl, pbv, pdv := regs[0], regs[1], regs[2]
	w.gicrCTLR, w.propBaser = ctl, model.PropBaser(pbv)
	w.pendAddr = w.b.Layout().PendTable(w.cpu)
	if pa := model.PendBaser(pdv).Addr(); pa != 0 {
		w.pendAddr = pa
	}
	s.readRegister("GICR_CTLR", ctl, fmt.Sprintf("GICR_CTLR %#x", ctl))
	s.Fields = []Field{{"EnableLPIs", fmt.Sprint(ctl & model.GICR_CTLR_EnableLPIs)},
		{"GICR_PROPBASER", fmt.Sprintf("%#x (table at %v, %d INTID bits)", pbv, w.propBaser.Addr(), w.propBaser.IDBits())},
		{"GICR_PENDBASER", fmt.Sprintf("%#x (table at %v)", pdv, w.pendAddr)}}
	if ctl&model.GICR_CTLR_EnableLPIs == 0 {
		s.Verdict, s.Check, s.Section = Warn, "GICR_CTLR.EnableLPIs = 1", "12.11.2"
		s.Why = fmt.Sprintf("CPU %d's LPIs are disabled: an MSI to it is refused (KVM: EBUSY)", w.cpu)
	}
	return w.next(s)
}

// lpiConfig reads LPI id's byte of the target's LPI configuration table.
func (w *walk) lpiConfig(id model.INTID) (model.LPIConfig, model.GPA, error) {
	addr := w.propBaser.Addr() + model.GPA(id-model.LPIBase)
	var one [1]byte
	err := w.mem.ReadAt(one[:], addr)
	return model.LPIConfig(one[0]), addr, err
}

// lpiConfiguration is the LPI's byte of the LPI configuration table (IHI
// 0069 5.1.1), which GICR_PROPBASER.IDbits must cover: its priority, and
// whether the LPI is enabled.
func (w *walk) lpiConfiguration() (bool, error) {
	s := Step{Title: fmt.Sprintf("LPI %d configuration byte", w.lpi), Verdict: OK}
	if bits := w.propBaser.IDBits(); bits < 32 && uint64(w.lpi) >= 1<<bits {
		s.Verdict, s.Check, s.Code, s.Section = Fail, "the LPI is covered by the configuration table", model.E_ITS_MAPTI_PHYSICALID_OOR, "5.1.1, 12.11.26"
		s.Why = fmt.Sprintf("GICR_PROPBASER.IDbits covers INTIDs below %d", uint64(1)<<bits)
		return w.stop(s)
	}
	cfg, cfgAddr, err := w.lpiConfig(w.lpi)
	if err != nil {
		return false, err
	}
	w.cfg = cfg
	s.Addr = cfgAddr
	s.readByte(uint8(cfg))
	s.Fields = []Field{{"Priority", fmt.Sprintf("%#02x", cfg.Priority())}, {"Enable", boolBit(cfg.Enabled())}}
	s.Why = "the redistributor uses the copy it cached when the LPI was mapped or last invalidated (INV, INVALL, GICR_INVLPIR, GICR_INVALLR); a change to this byte since then is not seen yet"
	if !cfg.Enabled() {
		s.Verdict, s.Check, s.Section = Warn, "the LPI is enabled (bit 0)", "5.1.1"
		s.Why = "the LPI is disabled: it can become pending, but is never signalled to the CPU. " + s.Why
	}
	return w.next(s)
}

// pendingState is whether the LPI is pending on the target, with its bit
// of the LPI pending table (IHI 0069 5.1.2). The table byte is read first,
// as the save at the start of the walk left it: observing pending state may
// itself go through the table (KVM's SAVE_PENDING_TABLES) and leave it
// zeroed.
func (w *walk) pendingState() (bool, error) {
	byteAddr := w.pendAddr + model.GPA(w.lpi/8)
	var pbyte [1]byte
	pbyteErr := w.mem.ReadAt(pbyte[:], byteAddr)
	pending, err := w.b.Pending(w.cpu)
	if err != nil {
		return false, err
	}
	w.pending = pending
	w.isPending = slices.Contains(pending, w.lpi)
	s := Step{Title: fmt.Sprintf("pending state of LPI %d on CPU %d", w.lpi, w.cpu), Verdict: OK, Addr: byteAddr,
		Fields: []Field{{"pending", yesNo(w.isPending)}}}
	if pbyteErr == nil {
		s.readByte(pbyte[0])
		s.Fields = append(s.Fields, Field{"saved pending table bit", fmt.Sprintf("byte %v bit %d = %d", byteAddr, w.lpi%8, pbyte[0]>>(w.lpi%8)&1)})
	}
	if !w.isPending {
		s.Verdict = Info
		s.Why = "not pending: no MSI or INT since it was last acknowledged or CLEARed"
	}
	return w.next(s)
}

// cpuInterface is whether the target CPU's next acknowledge (ICC_IAR1_EL1)
// would return the LPI: it must be pending, enabled, of a priority below
// ICC_PMR_EL1, and come first among the pending LPIs. With opts.Probe, the
// CPU interface is asked.
func (w *walk) cpuInterface() (bool, error) {
	pmr, known := w.opts.PMR[w.cpu]
	if !known {
		pmr = 0xFF
	}
	pmrNote := fmt.Sprintf("%#02x", pmr)
	if !known {
		pmrNote += " (assumed: the reset value Linux programs; the routing API cannot read it)"
	}
	s := Step{Title: fmt.Sprintf("CPU %d interface (acknowledge now?)", w.cpu), Verdict: OK,
		Fields: []Field{{"ICC_PMR_EL1", pmrNote}}}
	competitors := w.takenFirst(pmr)
	if len(competitors) > 0 {
		s.Fields = append(s.Fields, Field{"taken first", strings.Join(competitors, ", ")})
	}
	predicted := w.predict(&s, pmr, competitors)
	if w.opts.Probe {
		if err := w.askCPUInterface(&s, predicted); err != nil {
			return false, err
		}
	}
	return w.next(s)
}

// takenFirst lists the other pending LPIs the CPU interface would
// acknowledge before the walk's: enabled, not masked by pmr, and of higher
// priority, or of equal priority and a lower INTID.
func (w *walk) takenFirst(pmr uint8) []string {
	var competitors []string
	for _, id := range w.pending {
		if id == w.lpi {
			continue
		}
		c, _, err := w.lpiConfig(id)
		if err != nil || !c.Enabled() || c.Priority() >= pmr {
			continue
		}
		if c.Priority() < w.cfg.Priority() || (c.Priority() == w.cfg.Priority() && id < w.lpi) {
			competitors = append(competitors, fmt.Sprintf("%d (prio %#02x)", id, c.Priority()))
		}
	}
	return competitors
}

// predict sets s's verdict from the tables: whether the next acknowledge
// returns the LPI, which it reports.
func (w *walk) predict(s *Step, pmr uint8, competitors []string) bool {
	switch {
	case !w.isPending:
		s.Verdict, s.Why = Info, "no: the LPI is not pending"
	case w.gicrCTLR&model.GICR_CTLR_EnableLPIs == 0:
		s.Verdict, s.Check, s.Section, s.Why = Warn, "GICR_CTLR.EnableLPIs = 1", "12.11.2", "no: the redistributor's LPIs are disabled"
	case !w.cfg.Enabled():
		s.Verdict, s.Check, s.Section, s.Why = Warn, "the LPI is enabled", "5.1.1", "no: the LPI is disabled in its configuration byte"
	case w.cfg.Priority() >= pmr:
		s.Verdict, s.Check, s.Why = Warn, "priority below the priority mask", fmt.Sprintf("no: masked: priority %#02x is not below ICC_PMR_EL1 %#02x", w.cfg.Priority(), pmr)
	case len(competitors) > 0:
		s.Verdict, s.Why = Info, fmt.Sprintf("yes, after %d LPI(s) of higher priority (or equal priority and lower INTID): %s", len(competitors), strings.Join(competitors, ", "))
		return true
	default:
		s.Why = "yes: the next acknowledge (ICC_IAR1_EL1) returns it, unless an acknowledged interrupt not yet EOId holds a running priority at or above it"
		return true
	}
	return false
}

// askCPUInterface probes the target CPU (see [probe]) and adds what it
// acknowledged to s, with a warning when that disagrees with predicted.
func (w *walk) askCPUInterface(s *Step, predicted bool) error {
	got, err := probe(w.b, w.cpu, w.lpi)
	if err != nil {
		return fmt.Errorf("probing CPU %d: %w", w.cpu, err)
	}
	s.Fields = append(s.Fields, Field{"probe", got.String()})
	if got.acked == predicted {
		return nil
	}
	s.Verdict = Warn
	if got.acked {
		s.Why = "the tables say no, but the probe acknowledged it: the redistributor's cached configuration differs from the byte above (it changed without an INV)"
	} else {
		s.Check = "the CPU interface agrees with the tables"
		s.Why = "the tables say yes, but the probe did not acknowledge it: the redistributor still holds an older cached configuration (the byte changed without INV/INVALL/GICR_INVLPIR), or the priority mask or running priority is higher than assumed"
		s.Section = "5.1.1"
	}
	return nil
}

type probeResult struct {
	acked  bool
	before []model.INTID
}

func (p probeResult) String() string {
	var before []string
	for _, id := range p.before {
		before = append(before, fmt.Sprint(id))
	}
	switch {
	case p.acked && len(before) == 0:
		return "acknowledged first"
	case p.acked:
		return "acknowledged after " + strings.Join(before, ", ")
	case len(before) == 0:
		return "not acknowledged (spurious 1023)"
	}
	return "not acknowledged; acknowledged instead: " + strings.Join(before, ", ")
}

// probe acknowledges (and EOIs) LPIs on cpu until lpi comes or nothing
// does, at most 1024 times.
func probe(b model.Backend, cpu model.CPU, lpi model.INTID) (probeResult, error) {
	var r probeResult
	for range 1024 {
		id, err := b.Acknowledge(cpu)
		if err != nil {
			return r, err
		}
		if id == model.SpuriousINTID {
			return r, nil
		}
		if err := b.EOI(cpu, id); err != nil {
			return r, err
		}
		if id == lpi {
			r.acked = true
			return r, nil
		}
		r.before = append(r.before, id)
	}
	return r, nil
}

func mustEncodeCTE(c model.CTE) uint64 {
	v, err := c.Encode()
	if err != nil {
		return 0
	}
	return v
}

func rdbaseString(c model.CTE) string {
	if !c.Mapped() {
		return fmt.Sprintf("%#x (not mapped)", c.RDbase)
	}
	return fmt.Sprintf("%d (CPU %d)", c.RDbase, c.RDbase)
}

func boolBit(v bool) string {
	if v {
		return "1"
	}
	return "0"
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

// WriteSteps writes the walk for people: one numbered block per step.
func WriteSteps(w io.Writer, steps []Step) error {
	var b strings.Builder
	for i, s := range steps {
		fmt.Fprintf(&b, "%d. %s: %s\n", i+1, s.Title, s.Verdict)
		switch {
		case s.Addr != 0 && s.Raw != "":
			fmt.Fprintf(&b, "   at %v: %s\n", s.Addr, s.Raw)
		case s.Addr != 0:
			fmt.Fprintf(&b, "   at %v\n", s.Addr)
		case s.Raw != "":
			fmt.Fprintf(&b, "   %s\n", s.Raw)
		}
		if len(s.Fields) > 0 {
			parts := make([]string, len(s.Fields))
			for i, f := range s.Fields {
				parts[i] = f.Name + "=" + f.Value
			}
			fmt.Fprintf(&b, "   %s\n", strings.Join(parts, "  "))
		}
		if s.Check != "" && s.Verdict != OK {
			fmt.Fprintf(&b, "   check: %s", s.Check)
			if s.Code != 0 {
				fmt.Fprintf(&b, "; %v (%#06x)", s.Code, uint32(s.Code))
			}
			if s.Section != "" {
				fmt.Fprintf(&b, "; IHI 0069 %s", s.Section)
			}
			b.WriteByte('\n')
		}
		if s.Why != "" {
			fmt.Fprintf(&b, "   %s\n", s.Why)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
