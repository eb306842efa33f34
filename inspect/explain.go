package inspect

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
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

// Field is one decoded field of a step.
type Field struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Step is one step of [Explain]'s walk: what was read, where, what it
// says, and whether the translation can go on.
type Step struct {
	Title string `json:"step"`
	// Addr is the guest physical address the step read (0: a register
	// or state with no address).
	Addr model.GPA `json:"addr,omitempty"`
	// Raw is the bytes read, in memory order, as hex.
	Raw     string  `json:"raw,omitempty"`
	Fields  []Field `json:"fields,omitempty"`
	Verdict Verdict `json:"verdict"`
	// Check names what failed or is doubtful; Code and Section say which
	// error and which part of Arm IHI 0069 (empty when none applies).
	Check   string          `json:"check,omitempty"`
	Code    model.ErrorCode `json:"code,omitempty"`
	Section string          `json:"section,omitempty"`
	// Why explains the verdict in words.
	Why string `json:"why,omitempty"`
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

// unmapped is the architectural error an INT of the same event would
// report, which is how a failed MSI translation is named.
const unmapped = model.E_ITS_INT_UNMAPPED_INTERRUPT

// Explain walks the translation of (dev, ev) through b's state step by
// step, the way the ITS and the redistributor would for an MSI now:
// GITS_CTLR, GITS_BASER0, the L1 entry of a two-level device table, the
// DTE, the ITE in the device's ITT, the collection, the target
// redistributor, the LPI's configuration byte, its pending bit, and the
// CPU interface. Each step carries its address, raw bytes, decoded fields
// and a verdict; where the translation fails, the step names the check,
// the error code an INT command would report (an MSI has no error
// report: KVM_SIGNAL_MSI returns 0, "blocked") and the section of Arm
// IHI 0069.
//
// The tables are those a save writes (SaveTables), read from guest
// memory: on KVM, exactly what KVM saved. The error is for a backend
// that cannot be read; a failed translation is a step, not an error.
func Explain(b model.Backend, dev model.DeviceID, ev model.EventID, opts ExplainOptions) ([]Step, error) {
	t, err := ReadSavedTables(b)
	if err != nil {
		return nil, err
	}
	mem := b.Memory()
	var steps []Step
	add := func(s Step) { steps = append(steps, s) }

	// 1. The ITS itself.
	ctlr, err := b.ReadITSRegister(model.GITS_CTLR)
	if err != nil {
		return nil, fmt.Errorf("reading GITS_CTLR: %w", err)
	}
	s := Step{Title: "ITS (GITS_CTLR)", Raw: fmt.Sprintf("%#x", ctlr), Verdict: OK,
		Fields: []Field{{"Enabled", fmt.Sprint(ctlr & model.GITS_CTLR_Enabled)}}}
	if ctlr&model.GITS_CTLR_Enabled == 0 {
		s.Verdict, s.Check, s.Section = Warn, "GITS_CTLR.Enabled = 1", "12.19.5"
		s.Why = "the ITS is disabled: it translates nothing, and KVM refuses MSIs (EBUSY); the tables below are what it would use once enabled"
	}
	add(s)

	// 2. GITS_BASER0.
	db := t.DeviceBaser
	s = Step{Title: "device table (GITS_BASER0)", Raw: fmt.Sprintf("0x%016x", uint64(db)), Verdict: OK, Fields: []Field{
		{"Valid", boolBit(db.Valid())}, {"Type", db.Type().String()}, {"Indirect", boolBit(db.Indirect())},
		{"Entry_Size", fmt.Sprint(db.EntrySize())}, {"Page_Size", fmt.Sprintf("%d KiB", db.PageSize()>>10)},
		{"Size", fmt.Sprintf("%d pages", db.Pages())}, {"Physical_Address", db.Addr().String()},
	}}
	if !db.Valid() || db.Type() != model.BaserDevices {
		s.Verdict, s.Check, s.Code, s.Section = Fail, "GITS_BASER0 is a valid device table", unmapped, "12.19.1"
		s.Why = "no device table: no DeviceID is mapped"
		add(s)
		return steps, nil
	}
	add(s)

	// 3. The L1 entry of a two-level table, then the DTE.
	perPage := uint64(db.PageSize()) / model.TableEntrySize
	dteAddr := db.Addr() + model.GPA(uint64(dev)*model.TableEntrySize)
	if db.Indirect() {
		idx := uint64(dev) / perPage
		l1Addr := db.Addr() + model.GPA(idx*model.TableEntrySize)
		s = Step{Title: fmt.Sprintf("level-1 device table entry [%d] (DeviceIDs %#x..%#x)", idx, idx*perPage, (idx+1)*perPage-1), Addr: l1Addr, Verdict: OK}
		if idx*model.TableEntrySize >= db.SizeBytes() {
			s.Verdict, s.Check, s.Code, s.Section = Fail, "the DeviceID lies within the device table", unmapped, "12.19.1"
			s.Why = fmt.Sprintf("the level-1 table has %d entries, covering DeviceIDs below %#x", db.SizeBytes()/8, db.SizeBytes()/8*perPage)
			add(s)
			return steps, nil
		}
		raw, err := model.ReadUint64(mem, l1Addr)
		if err != nil {
			return nil, err
		}
		l1 := model.DecodeL1Entry(raw)
		s.Raw = rawEntry(raw)
		s.Fields = []Field{{"V", boolBit(l1.Valid)}, {"L2 page", l1.Addr.String()}}
		if !l1.Valid {
			s.Verdict, s.Check, s.Code, s.Section = Fail, "the L1 entry is valid (a second-level page is provided)", unmapped, "12.19.1, 6.3.11"
			s.Why = fmt.Sprintf("no second-level page for DeviceID %#x: the device is not mapped", uint32(dev))
			add(s)
			return steps, nil
		}
		add(s)
		dteAddr = l1.Addr + model.GPA(uint64(dev)%perPage*model.TableEntrySize)
	} else if uint64(dev)*model.TableEntrySize >= db.SizeBytes() {
		add(Step{Title: fmt.Sprintf("device table entry DTE[%#x]", uint32(dev)), Verdict: Fail,
			Check: "the DeviceID lies within the device table", Code: unmapped, Section: "12.19.1, 6.3.11",
			Why: fmt.Sprintf("the device table holds %d DTEs; MAPD of this DeviceID fails with %v", db.SizeBytes()/8, model.E_ITS_MAPD_DEVICE_OOR)})
		return steps, nil
	}
	raw, err := model.ReadUint64(mem, dteAddr)
	if err != nil {
		return nil, err
	}
	dte := model.DecodeDTE(raw)
	s = Step{Title: fmt.Sprintf("device table entry DTE[%#x]", uint32(dev)), Addr: dteAddr, Raw: rawEntry(raw), Verdict: OK, Fields: []Field{
		{"V", boolBit(dte.Valid)}, {"ITT_addr", dte.ITTAddr.String()},
		{"Size", fmt.Sprintf("%d (%d EventID bits)", dte.Size, int(dte.Size)+1)}, {"next", fmt.Sprint(dte.Next)},
	}}
	if !dte.Valid {
		s.Verdict, s.Check, s.Code, s.Section = Fail, "the device is mapped (DTE valid)", unmapped, "6.3.11"
		s.Why = fmt.Sprintf("no MAPD dev=%#x with V=1 (or a MAPD V=0 unmapped it): an MSI from it is dropped", uint32(dev))
		s.Fields = s.Fields[:1]
		add(s)
		return steps, nil
	}
	add(s)

	// 4. The ITE.
	bits := int(dte.Size) + 1
	iteAddr := dte.ITTAddr + model.GPA(uint64(ev)*model.TableEntrySize)
	s = Step{Title: fmt.Sprintf("interrupt translation entry ITE[%d] (ITT at %v)", ev, dte.ITTAddr), Addr: iteAddr, Verdict: OK}
	if bits < 32 && uint64(ev) >= 1<<bits {
		s.Addr = 0
		s.Verdict, s.Check, s.Code, s.Section = Fail, "the EventID fits the ITT", unmapped, "6.3.11, 6.3.13"
		s.Why = fmt.Sprintf("the ITT has %d EventID bits (EventIDs 0..%d); MAPTI of this EventID fails with %v", bits, uint64(1)<<bits-1, model.E_ITS_MAPTI_ID_OOR)
		add(s)
		return steps, nil
	}
	raw, err = model.ReadUint64(mem, iteAddr)
	if err != nil {
		return nil, err
	}
	ite := model.DecodeITE(raw)
	s.Raw = rawEntry(raw)
	s.Fields = []Field{{"pINTID", fmt.Sprint(ite.INTID)}, {"ICID", fmt.Sprint(ite.ICID)}, {"next", fmt.Sprint(ite.Next)}}
	if !ite.Valid() {
		s.Verdict, s.Check, s.Code, s.Section = Fail, "the event is mapped (ITE pINTID != 0)", unmapped, "6.3.13, 6.3.4"
		s.Why = fmt.Sprintf("no MAPTI/MAPI mapped EventID %d of device %#x, or a DISCARD removed it: an MSI is dropped (KVM_SIGNAL_MSI returns 0, blocked)", ev, uint32(dev))
		s.Fields = s.Fields[:1]
		add(s)
		return steps, nil
	}
	add(s)
	lpi := ite.INTID

	// 5. The collection.
	c, found := t.Collection(ite.ICID)
	s = Step{Title: fmt.Sprintf("collection ICID %d", ite.ICID), Verdict: OK}
	if !found {
		s.Verdict, s.Check, s.Section = Fail, "the collection is mapped (MAPC V=1)", "6.3.10"
		s.Why = fmt.Sprintf("no saved CTE for ICID %d: it was never mapped or was unmapped (MAPC V=0); the event cannot be delivered", ite.ICID)
		add(s)
		return steps, nil
	}
	s.Addr, s.Raw = c.Addr, rawEntry(mustEncodeCTE(c.CTE))
	s.Fields = []Field{{"V", boolBit(c.CTE.Valid)}, {"RDbase", rdbaseString(c.CTE)}, {"ICID", fmt.Sprint(c.CTE.ICID)}, {"list position", fmt.Sprint(c.Index)}}
	if !c.CTE.Mapped() {
		s.Verdict, s.Check, s.Section = Fail, "the collection is mapped (MAPC V=1)", "6.3.10"
		s.Why = fmt.Sprintf("ICID %d exists (an ITE names it) but targets no redistributor: MAPC icid=%d valid=0 unmapped it, or it was never mapped; KVM blocks the MSI", ite.ICID, ite.ICID)
		add(s)
		return steps, nil
	}
	add(s)
	cpu := model.CPU(c.CTE.RDbase)

	// 6. The target redistributor.
	caps := b.Capabilities()
	s = Step{Title: fmt.Sprintf("target redistributor CPU %d", cpu), Verdict: OK}
	if int(cpu) >= caps.CPUs {
		s.Verdict, s.Check, s.Code, s.Section = Fail, "RDbase names a redistributor", model.E_ITS_MAPC_PROCNUM_OOR, "6.3.10"
		s.Why = fmt.Sprintf("there are %d CPUs", caps.CPUs)
		add(s)
		return steps, nil
	}
	ctl, err := b.ReadRedistributorRegister(cpu, model.GICR_CTLR)
	if err != nil {
		return nil, err
	}
	pbv, err := b.ReadRedistributorRegister(cpu, model.GICR_PROPBASER)
	if err != nil {
		return nil, err
	}
	pdv, err := b.ReadRedistributorRegister(cpu, model.GICR_PENDBASER)
	if err != nil {
		return nil, err
	}
	pb := model.PropBaser(pbv)
	pendAddr := b.Layout().PendTable(cpu)
	if pa := model.PendBaser(pdv).Addr(); pa != 0 {
		pendAddr = pa
	}
	s.Raw = fmt.Sprintf("GICR_CTLR %#x", ctl)
	s.Fields = []Field{{"EnableLPIs", fmt.Sprint(ctl & model.GICR_CTLR_EnableLPIs)},
		{"GICR_PROPBASER", fmt.Sprintf("%#x (table at %v, %d INTID bits)", pbv, pb.Addr(), pb.IDBits())},
		{"GICR_PENDBASER", fmt.Sprintf("%#x (table at %v)", pdv, pendAddr)}}
	if ctl&model.GICR_CTLR_EnableLPIs == 0 {
		s.Verdict, s.Check, s.Section = Warn, "GICR_CTLR.EnableLPIs = 1", "12.11.2"
		s.Why = fmt.Sprintf("CPU %d's LPIs are disabled: an MSI to it is refused (KVM: EBUSY)", cpu)
	}
	add(s)

	// 7. The LPI configuration byte.
	cfgOf := func(id model.INTID) (model.LPIConfig, model.GPA, error) {
		addr := pb.Addr() + model.GPA(id-model.LPIBase)
		var one [1]byte
		err := mem.ReadAt(one[:], addr)
		return model.LPIConfig(one[0]), addr, err
	}
	s = Step{Title: fmt.Sprintf("LPI %d configuration byte", lpi), Verdict: OK}
	if pb.IDBits() < 32 && uint64(lpi) >= 1<<pb.IDBits() {
		s.Verdict, s.Check, s.Code, s.Section = Fail, "the LPI is covered by the configuration table", model.E_ITS_MAPTI_PHYSICALID_OOR, "5.1.1, 12.11.26"
		s.Why = fmt.Sprintf("GICR_PROPBASER.IDbits covers INTIDs below %d", uint64(1)<<pb.IDBits())
		add(s)
		return steps, nil
	}
	cfg, cfgAddr, err := cfgOf(lpi)
	if err != nil {
		return nil, err
	}
	s.Addr, s.Raw = cfgAddr, fmt.Sprintf("%02x", uint8(cfg))
	s.Fields = []Field{{"Priority", fmt.Sprintf("%#02x", cfg.Priority())}, {"Enable", boolBit(cfg.Enabled())}}
	s.Why = "the redistributor uses the copy it cached when the LPI was mapped or last invalidated (INV, INVALL, GICR_INVLPIR, GICR_INVALLR); a change to this byte since then is not seen yet"
	if !cfg.Enabled() {
		s.Verdict, s.Check, s.Section = Warn, "the LPI is enabled (bit 0)", "5.1.1"
		s.Why = "the LPI is disabled: it can become pending, but is never signalled to the CPU. " + s.Why
	}
	add(s)

	// 8. The pending bit. The table byte is read first, as the save at the
	// start of the walk left it: observing pending state may itself go
	// through the table (KVM's SAVE_PENDING_TABLES) and leave it zeroed.
	byteAddr := pendAddr + model.GPA(lpi/8)
	var pbyte [1]byte
	pbyteErr := mem.ReadAt(pbyte[:], byteAddr)
	pending, err := b.Pending(cpu)
	if err != nil {
		return nil, err
	}
	isPending := false
	for _, id := range pending {
		isPending = isPending || id == lpi
	}
	s = Step{Title: fmt.Sprintf("pending state of LPI %d on CPU %d", lpi, cpu), Verdict: OK, Addr: byteAddr,
		Fields: []Field{{"pending", yesNo(isPending)}}}
	if pbyteErr == nil {
		s.Raw = fmt.Sprintf("%02x", pbyte[0])
		s.Fields = append(s.Fields, Field{"saved pending table bit", fmt.Sprintf("byte %v bit %d = %d", byteAddr, lpi%8, pbyte[0]>>(lpi%8)&1)})
	}
	if !isPending {
		s.Verdict = Info
		s.Why = "not pending: no MSI or INT since it was last acknowledged or CLEARed"
	}
	add(s)

	// 9. The CPU interface.
	pmr, known := opts.PMR[cpu]
	if !known {
		pmr = 0xFF
	}
	s = Step{Title: fmt.Sprintf("CPU %d interface (acknowledge now?)", cpu), Verdict: OK}
	pmrNote := fmt.Sprintf("%#02x", pmr)
	if !known {
		pmrNote += " (assumed: the reset value Linux programs; the routing API cannot read it)"
	}
	s.Fields = []Field{{"ICC_PMR_EL1", pmrNote}}
	var competitors []string
	for _, id := range pending {
		if id == lpi {
			continue
		}
		c, _, err := cfgOf(id)
		if err != nil || !c.Enabled() || c.Priority() >= pmr {
			continue
		}
		if c.Priority() < cfg.Priority() || (c.Priority() == cfg.Priority() && id < lpi) {
			competitors = append(competitors, fmt.Sprintf("%d (prio %#02x)", id, c.Priority()))
		}
	}
	if len(competitors) > 0 {
		s.Fields = append(s.Fields, Field{"taken first", strings.Join(competitors, ", ")})
	}
	predicted := true
	switch {
	case !isPending:
		predicted = false
		s.Verdict, s.Why = Info, "no: the LPI is not pending"
	case ctl&model.GICR_CTLR_EnableLPIs == 0:
		predicted = false
		s.Verdict, s.Check, s.Section, s.Why = Warn, "GICR_CTLR.EnableLPIs = 1", "12.11.2", "no: the redistributor's LPIs are disabled"
	case !cfg.Enabled():
		predicted = false
		s.Verdict, s.Check, s.Section, s.Why = Warn, "the LPI is enabled", "5.1.1", "no: the LPI is disabled in its configuration byte"
	case cfg.Priority() >= pmr:
		predicted = false
		s.Verdict, s.Check, s.Why = Warn, "priority below the priority mask", fmt.Sprintf("no: masked: priority %#02x is not below ICC_PMR_EL1 %#02x", cfg.Priority(), pmr)
	case len(competitors) > 0:
		s.Verdict, s.Why = Info, fmt.Sprintf("yes, after %d LPI(s) of higher priority (or equal priority and lower INTID): %s", len(competitors), strings.Join(competitors, ", "))
	default:
		s.Why = "yes: the next acknowledge (ICC_IAR1_EL1) returns it, unless an acknowledged interrupt not yet EOId holds a running priority at or above it"
	}
	if opts.Probe {
		got, err := probe(b, cpu, lpi)
		if err != nil {
			return nil, fmt.Errorf("probing CPU %d: %w", cpu, err)
		}
		s.Fields = append(s.Fields, Field{"probe", got.String()})
		if got.acked != predicted {
			s.Verdict = Warn
			if got.acked {
				s.Why = "the tables say no, but the probe acknowledged it: the redistributor's cached configuration differs from the byte above (it changed without an INV)"
			} else {
				s.Check = "the CPU interface agrees with the tables"
				s.Why = "the tables say yes, but the probe did not acknowledge it: the redistributor still holds an older cached configuration (the byte changed without INV/INVALL/GICR_INVLPIR), or the priority mask or running priority is higher than assumed"
				s.Section = "5.1.1"
			}
		}
	}
	add(s)
	return steps, nil
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

// WriteStepsJSON writes the walk as indented JSON.
func WriteStepsJSON(w io.Writer, steps []Step) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(steps)
}
