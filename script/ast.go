package script

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gicits/gicits/model"
)

// Pos is a position in a script: file, 1-based line and column.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string {
	if p.Col > 0 {
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// LineString returns "file:line", the form failure reports use.
func (p Pos) LineString() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// Script is a parsed .its file.
type Script struct {
	File  string
	Stmts []Stmt
}

// String prints the script, one statement a line, in a form [Parse]
// accepts.
func (s *Script) String() string {
	var b strings.Builder
	for _, st := range s.Stmts {
		b.WriteString(st.String())
		if k, ok := st.(kvmAnnotated); ok && len(k.KVMClasses()) > 0 {
			b.WriteString(" kvm=" + strings.Join(k.KVMClasses(), ","))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// Expectations returns the number of expectations in the script.
func (s *Script) Expectations() int {
	n := 0
	for _, st := range s.Stmts {
		if _, ok := st.(Expectation); ok {
			n++
		}
	}
	return n
}

// Stmt is one statement. String returns the statement's canonical text,
// which parses back to an equal statement (positions aside).
type Stmt interface {
	Position() Pos
	String() string
}

// Setting is a statement that configures the backend before it opens. All
// settings precede the first action.
type Setting interface {
	Stmt
	apply(cfg *model.Config) error
}

// Expectation is a statement that checks something.
type Expectation interface {
	Stmt
	isExpectation()
}

// At is the position a statement was parsed at, and for an expectation
// the divergence classes that make it fail on KVM (its kvm= field);
// statement types embed it.
type At struct {
	Pos Pos
	KVM []string
}

// Position returns the statement's position.
func (a At) Position() Pos { return a.Pos }

// KVMClasses returns the classes of an expectation's kvm= field: the
// divergences (docs/fidelity.md) that make it fail on KVM, on the kernels
// they show on.
func (a At) KVMClasses() []string { return a.KVM }

// kvmAnnotated is a statement that may carry a kvm= field.
type kvmAnnotated interface{ KVMClasses() []string }

// ---- settings ----

// CPUsStmt: cpus N.
type CPUsStmt struct {
	At
	N int
}

func (s *CPUsStmt) String() string { return fmt.Sprintf("cpus %d", s.N) }

// PolicyStmt: policy stall|continue.
type PolicyStmt struct {
	At
	Policy model.ErrorPolicy
}

func (s *PolicyStmt) String() string { return "policy " + s.Policy.String() }

// CacheStmt: cache on|off.
type CacheStmt struct {
	At
	Off bool
}

func (s *CacheStmt) String() string {
	if s.Off {
		return "cache off"
	}
	return "cache on"
}

// QueueStmt: queue pages=N [at=ADDR].
type QueueStmt struct {
	At
	Pages int
	Addr  model.GPA // 0: layout default
}

func (s *QueueStmt) String() string {
	return fmt.Sprintf("queue pages=%d", s.Pages) + atSuffix(s.Addr)
}

// atSuffix prints a table's at= field, if it has one.
func atSuffix(a model.GPA) string {
	if a == 0 {
		return ""
	}
	return fmt.Sprintf(" at=%#x", uint64(a))
}

// RAMStmt: ram mib=N sizes guest RAM. The layout's regions stay where
// they are; RAM beyond them is free for tables placed with at=, and for
// ITTs placed with itt=.
type RAMStmt struct {
	At
	MiB int
}

func (s *RAMStmt) String() string { return fmt.Sprintf("ram mib=%d", s.MiB) }

// ITTStmt: itt entrysize=N sets GITS_TYPER.ITT_entry_size: the ITT's
// entries are N bytes apart, 8..16 (KVM's are 8, QEMU's emulated ITS's
// 12). The ABI revision 0 ITE is in the first 8 bytes of each.
type ITTStmt struct {
	At
	EntrySize int
}

func (s *ITTStmt) String() string { return fmt.Sprintf("itt entrysize=%d", s.EntrySize) }

// TableStmt: devtable flat|indirect [pagesize=] [pages=] [l2=auto|manual]
// [at=], colltable [pagesize=] [pages=] [at=].
type TableStmt struct {
	At
	Collections bool // colltable
	Indirect    bool
	PageSize    int // 0: layout default
	Pages       int // 0: layout default
	ManualL2    bool
	Addr        model.GPA // 0: layout default
}

func (s *TableStmt) String() string {
	var b strings.Builder
	if s.Collections {
		b.WriteString("colltable")
	} else if s.Indirect {
		b.WriteString("devtable indirect")
	} else {
		b.WriteString("devtable flat")
	}
	if s.PageSize != 0 {
		fmt.Fprintf(&b, " pagesize=%dk", s.PageSize>>10)
	}
	if s.Pages != 0 {
		fmt.Fprintf(&b, " pages=%d", s.Pages)
	}
	if s.ManualL2 {
		b.WriteString(" l2=manual")
	}
	b.WriteString(atSuffix(s.Addr))
	return b.String()
}

// ---- actions ----

// LPIStmt: lpi FIRST[..LAST] prio=P enabled|disabled.
type LPIStmt struct {
	At
	First, Last model.INTID
	Config      model.LPIConfig
}

func (s *LPIStmt) String() string {
	state := "disabled"
	if s.Config.Enabled() {
		state = "enabled"
	}
	if s.Last != s.First {
		return fmt.Sprintf("lpi %d..%d prio=%#02x %s", s.First, s.Last, s.Config.Priority(), state)
	}
	return fmt.Sprintf("lpi %d prio=%#02x %s", s.First, s.Config.Priority(), state)
}

// EnableLPIsStmt: enablelpis cpu=N, or enablelpis all.
type EnableLPIsStmt struct {
	At
	All bool
	CPU model.CPU
}

func (s *EnableLPIsStmt) String() string {
	if s.All {
		return "enablelpis all"
	}
	return fmt.Sprintf("enablelpis cpu=%d", s.CPU)
}

// CommandStmt is one ITS command. A MAPD with AutoITT gets its ITT from the
// layout's ITT allocator when it runs.
type CommandStmt struct {
	At
	Cmd     model.Command
	AutoITT bool
}

func (s *CommandStmt) String() string {
	if p, ok := s.Cmd.(model.Packet); ok {
		return "raw " + p.Hex()
	}
	if v, ok := vCommandString(s.Cmd); ok {
		return v
	}
	if m, ok := s.Cmd.(model.MAPD); ok && s.AutoITT && m.Valid {
		return fmt.Sprintf("mapd dev=%#x bits=%d", uint32(m.DeviceID), m.EventIDBits())
	}
	str := s.Cmd.String()
	verb, rest, _ := strings.Cut(str, " ")
	return strings.ToLower(verb) + " " + rest
}

// RepeatStmt: repeat N ACTION.
type RepeatStmt struct {
	At
	N    int
	Body Stmt
}

func (s *RepeatStmt) String() string { return fmt.Sprintf("repeat %d %v", s.N, s.Body) }

// BatchStmt: batch CMD; CMD; ... writes its commands into the queue
// together and moves GITS_CWRITER once past them all (one CWRITER write,
// as a driver that queues several commands does).
type BatchStmt struct {
	At
	Cmds []*CommandStmt
}

func (s *BatchStmt) String() string {
	parts := make([]string, len(s.Cmds))
	for i, c := range s.Cmds {
		parts[i] = c.String()
	}
	return "batch " + strings.Join(parts, "; ")
}

// L2PageStmt: l2page dev=N provides the second-level page of an indirect
// device table that holds dev's DTE.
type L2PageStmt struct {
	At
	Dev model.DeviceID
}

func (s *L2PageStmt) String() string { return fmt.Sprintf("l2page dev=%#x", uint32(s.Dev)) }

// DevIDMode says how an MSI's DeviceID is handed to the backend.
type DevIDMode int

const (
	// DevIDAuto: as generic routing code does, valid exactly when the
	// backend needs one ([model.Capabilities.Prepare]).
	DevIDAuto DevIDMode = iota
	// DevIDNone: never valid, as routing code does on a host without the
	// DeviceID capability (KVM_CAP_MSI_DEVID).
	DevIDNone
	// DevIDValid: always valid.
	DevIDValid
)

func (m DevIDMode) suffix() string {
	switch m {
	case DevIDNone:
		return " devid=none"
	case DevIDValid:
		return " devid=valid"
	}
	return ""
}

// MSIStmt: msi dev= ev= [devid=] [doorbell=].
type MSIStmt struct {
	At
	Dev      model.DeviceID
	Ev       model.EventID
	DevID    DevIDMode
	Doorbell model.GPA // 0: the layout's GITS_TRANSLATER
}

func (s *MSIStmt) String() string {
	str := fmt.Sprintf("msi dev=%#x ev=%d%s", uint32(s.Dev), s.Ev, s.DevID.suffix())
	if s.Doorbell != 0 {
		str += fmt.Sprintf(" doorbell=%v", s.Doorbell)
	}
	return str
}

// RouteStmt: route gsi= dev= ev= [devid=]. The runner keeps the whole
// routing table and sets it again after each route statement.
type RouteStmt struct {
	At
	GSI   model.GSI
	Dev   model.DeviceID
	Ev    model.EventID
	DevID DevIDMode
}

func (s *RouteStmt) String() string {
	return fmt.Sprintf("route gsi=%d dev=%#x ev=%d%s", s.GSI, uint32(s.Dev), s.Ev, s.DevID.suffix())
}

// UnrouteStmt: unroute gsi= removes the GSI's route from the routing
// table.
type UnrouteStmt struct {
	At
	GSI model.GSI
}

func (s *UnrouteStmt) String() string { return fmt.Sprintf("unroute gsi=%d", s.GSI) }

// TriggerStmt: trigger gsi=.
type TriggerStmt struct {
	At
	GSI model.GSI
}

func (s *TriggerStmt) String() string { return fmt.Sprintf("trigger gsi=%d", s.GSI) }

// AckStmt: ack cpu=.
type AckStmt struct {
	At
	CPU model.CPU
}

func (s *AckStmt) String() string { return fmt.Sprintf("ack cpu=%d", s.CPU) }

// EOIStmt: eoi cpu= [lpi=]; without lpi= the last interrupt acknowledged
// on cpu and not yet EOId, or nothing when there is none.
type EOIStmt struct {
	At
	CPU model.CPU
	LPI model.INTID // 0: the last one acknowledged on CPU
}

func (s *EOIStmt) String() string {
	if s.LPI != 0 {
		return fmt.Sprintf("eoi cpu=%d lpi=%d", s.CPU, s.LPI)
	}
	return fmt.Sprintf("eoi cpu=%d", s.CPU)
}

// PMRStmt: pmr cpu= value=.
type PMRStmt struct {
	At
	CPU   model.CPU
	Value uint8
}

func (s *PMRStmt) String() string { return fmt.Sprintf("pmr cpu=%d value=%#02x", s.CPU, s.Value) }

// InvLPIRStmt: invlpir cpu= lpi= writes GICR_INVLPIR.
type InvLPIRStmt struct {
	At
	CPU model.CPU
	LPI model.INTID
}

func (s *InvLPIRStmt) String() string { return fmt.Sprintf("invlpir cpu=%d lpi=%d", s.CPU, s.LPI) }

// InvAllRStmt: invallr cpu= writes GICR_INVALLR.
type InvAllRStmt struct {
	At
	CPU model.CPU
}

func (s *InvAllRStmt) String() string { return fmt.Sprintf("invallr cpu=%d", s.CPU) }

// Register names an ITS register or a redistributor register.
type Register struct {
	Name string // canonical upper-case name
	ITS  model.ITSRegister
	GICR model.GICRRegister
	IsRD bool
}

// WriteRegStmt: write REGISTER [cpu=] value=.
type WriteRegStmt struct {
	At
	Reg   Register
	CPU   model.CPU
	Value uint64
}

func (s *WriteRegStmt) String() string {
	if s.Reg.IsRD {
		return fmt.Sprintf("write %s cpu=%d value=%#x", s.Reg.Name, s.CPU, s.Value)
	}
	return fmt.Sprintf("write %s value=%#x", s.Reg.Name, s.Value)
}

// PokeStmt: poke addr= value= writes a little-endian doubleword to guest
// memory.
type PokeStmt struct {
	At
	Addr  model.GPA
	Value uint64
}

func (s *PokeStmt) String() string { return fmt.Sprintf("poke addr=%v value=%#x", s.Addr, s.Value) }

// SaveStmt: save.
type SaveStmt struct{ At }

func (s *SaveStmt) String() string { return "save" }

// RestoreStmt: restore [inplace]. Without inplace the runner migrates: it
// opens a fresh backend with the same configuration, copies guest memory
// into it, enables LPIs on the redistributors that had them, and restores
// the tables there, as a VMM restores a saved guest.
type RestoreStmt struct {
	At
	InPlace bool
}

func (s *RestoreStmt) String() string {
	if s.InPlace {
		return "restore inplace"
	}
	return "restore"
}

// ---- expectations ----

// ExpectPendingStmt: expect pending|notpending|idle, and with Virtual
// expect vpending|vnotpending|vidle (the vLPIs of the vPE scheduled on
// the CPU's redistributor, fields vlpi= and vlpis=).
type ExpectPendingStmt struct {
	At
	CPU     model.CPU
	LPIs    []model.INTID
	Exact   bool // lpis=, or idle (no LPIs)
	Not     bool // notpending
	Virtual bool // vpending, vnotpending, vidle
}

func (*ExpectPendingStmt) isExpectation() {}

func (s *ExpectPendingStmt) String() string {
	v := ""
	if s.Virtual {
		v = "v"
	}
	switch {
	case s.Exact && len(s.LPIs) == 0:
		return fmt.Sprintf("expect %sidle cpu=%d", v, s.CPU)
	case s.Exact:
		return fmt.Sprintf("expect %spending cpu=%d %slpis=%s", v, s.CPU, v, intidList(s.LPIs))
	case s.Not:
		return fmt.Sprintf("expect %snotpending cpu=%d %slpi=%s", v, s.CPU, v, intidList(s.LPIs))
	}
	return fmt.Sprintf("expect %spending cpu=%d %slpi=%s", v, s.CPU, v, intidList(s.LPIs))
}

func intidList(ids []model.INTID) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprint(uint32(id))
	}
	return strings.Join(parts, ",")
}

// ExpectAckStmt: expect ack cpu= lpi=N|spurious. It acknowledges. With
// Virtual, expect vack cpu= vlpi=N|spurious acknowledges in the vPE
// scheduled on the CPU (ICV_IAR1_EL1).
type ExpectAckStmt struct {
	At
	CPU model.CPU
	LPI model.INTID
	// Or lists more LPIs whose acknowledge satisfies it (lpi=A|B: which
	// of them comes first is left open).
	Or      []model.INTID
	Virtual bool
}

func (*ExpectAckStmt) isExpectation() {}

func (s *ExpectAckStmt) String() string {
	v := ""
	if s.Virtual {
		v = "v"
	}
	if s.LPI == model.SpuriousINTID {
		return fmt.Sprintf("expect %sack cpu=%d spurious", v, s.CPU)
	}
	str := fmt.Sprintf("expect %sack cpu=%d %slpi=%d", v, s.CPU, v, s.LPI)
	for _, id := range s.Or {
		str += fmt.Sprintf("|%d", id)
	}
	return str
}

// ExpectMSIStmt: expect msi delivered|blocked, about the last msi.
type ExpectMSIStmt struct {
	At
	Want model.Delivery
}

func (*ExpectMSIStmt) isExpectation()   {}
func (s *ExpectMSIStmt) String() string { return "expect msi " + s.Want.String() }

// ExpectErrorStmt: expect error CODE, a command error of the last
// command statement.
type ExpectErrorStmt struct {
	At
	Code model.ErrorCode
	// Or lists more codes that satisfy it (expect error E_A|E_B).
	Or []model.ErrorCode
	// Any: any command error satisfies it (expect error any).
	Any bool
}

func (*ExpectErrorStmt) isExpectation() {}

func (s *ExpectErrorStmt) String() string {
	if s.Any {
		return "expect error any"
	}
	names := []string{s.Code.String()}
	for _, c := range s.Or {
		names = append(names, c.String())
	}
	return "expect error " + strings.Join(names, "|")
}

// Accepts reports whether a command error of code c satisfies s.
func (s *ExpectErrorStmt) Accepts(c model.ErrorCode) bool {
	return s.Any || c == s.Code || slices.Contains(s.Or, c)
}

// FailKind classifies an action's error for expect fail.
type FailKind int

const (
	FailAny FailKind = iota
	FailBusy
	FailInvalid
	FailNotSupported
)

var failKindNames = []string{"any", "busy", "invalid", "notsupported"}

func (k FailKind) String() string { return failKindNames[k] }

func (k FailKind) sentinel() error {
	switch k {
	case FailBusy:
		return model.ErrBusy
	case FailInvalid:
		return model.ErrInvalidArgument
	case FailNotSupported:
		return model.ErrNotSupported
	}
	return nil
}

// ExpectFailStmt: expect fail [KIND], the error of the last action.
type ExpectFailStmt struct {
	At
	Kind FailKind
}

func (*ExpectFailStmt) isExpectation() {}
func (s *ExpectFailStmt) String() string {
	if s.Kind == FailAny {
		return "expect fail"
	}
	return "expect fail " + s.Kind.String()
}

// ExpectRegStmt: expect reg REGISTER [cpu=] value= [mask=]; also
// expect stalled / notstalled (GITS_CREADR.Stalled).
type ExpectRegStmt struct {
	At
	Reg   Register
	CPU   model.CPU
	Value uint64
	Mask  uint64 // 0 means all bits
}

func (*ExpectRegStmt) isExpectation() {}

func (s *ExpectRegStmt) String() string {
	if s.Reg.ITS == model.GITS_CREADR && !s.Reg.IsRD && s.Mask == model.GITS_CREADR_Stalled {
		if s.Value == 1 {
			return "expect stalled"
		}
		if s.Value == 0 {
			return "expect notstalled"
		}
	}
	str := "expect reg " + s.Reg.Name
	if s.Reg.IsRD {
		str += fmt.Sprintf(" cpu=%d", s.CPU)
	}
	str += fmt.Sprintf(" value=%#x", s.Value)
	if s.Mask != 0 {
		str += fmt.Sprintf(" mask=%#x", s.Mask)
	}
	return str
}

// ExpectMemStmt: expect mem addr= value= [mask=] reads a little-endian
// doubleword of guest memory (the counterpart of poke).
type ExpectMemStmt struct {
	At
	Addr  model.GPA
	Value uint64
	Mask  uint64 // 0 means all bits
}

func (*ExpectMemStmt) isExpectation() {}

func (s *ExpectMemStmt) String() string {
	str := fmt.Sprintf("expect mem addr=%v value=%#x", s.Addr, s.Value)
	if s.Mask != 0 {
		str += fmt.Sprintf(" mask=%#x", s.Mask)
	}
	return str
}

// ExpectTranslateStmt: expect translate dev= ev= (lpi= cpu= | blocked)
// says where an MSI of the event would land, without signalling one: the
// walk of the ITS tables as they are (DTE, ITE, CTE).
type ExpectTranslateStmt struct {
	At
	Dev     model.DeviceID
	Ev      model.EventID
	LPI     model.INTID
	CPU     model.CPU
	Blocked bool
}

func (*ExpectTranslateStmt) isExpectation() {}

func (s *ExpectTranslateStmt) String() string {
	if s.Blocked {
		return fmt.Sprintf("expect translate dev=%#x ev=%d blocked", uint32(s.Dev), s.Ev)
	}
	return fmt.Sprintf("expect translate dev=%#x ev=%d lpi=%d cpu=%d", uint32(s.Dev), s.Ev, s.LPI, s.CPU)
}

// ExpectDTEStmt: expect dte dev= (invalid | [bits=] [itt=] [next=]) on the
// saved device table.
type ExpectDTEStmt struct {
	At
	Dev     model.DeviceID
	Invalid bool
	Bits    *int
	ITT     *model.GPA
	Next    *int
}

func (*ExpectDTEStmt) isExpectation() {}

func (s *ExpectDTEStmt) String() string {
	str := fmt.Sprintf("expect dte dev=%#x", uint32(s.Dev))
	if s.Invalid {
		return str + " invalid"
	}
	if s.Bits != nil {
		str += fmt.Sprintf(" bits=%d", *s.Bits)
	}
	if s.ITT != nil {
		str += fmt.Sprintf(" itt=%v", *s.ITT)
	}
	if s.Next != nil {
		str += fmt.Sprintf(" next=%d", *s.Next)
	}
	return str
}

// ExpectITEStmt: expect ite dev= ev= (invalid | [lpi=] [icid=] [next=]),
// and on a virtual ITS expect ite dev= ev= vpe= [vlpi=] [db=N|none]
// [next=], a virtual ITE ([model.VirtualITE]).
type ExpectITEStmt struct {
	At
	Dev     model.DeviceID
	Ev      model.EventID
	Invalid bool
	LPI     *model.INTID
	ICID    *model.ICID
	Next    *int
	// The virtual ITE's fields; VPE is set exactly when the expectation
	// is about a virtual ITE.
	VPE  *model.VPEID
	VLPI *model.INTID
	DB   *model.INTID
}

// IsVirtual reports whether s expects a virtual ITE.
func (s *ExpectITEStmt) IsVirtual() bool { return s.VPE != nil }

func (*ExpectITEStmt) isExpectation() {}

func (s *ExpectITEStmt) String() string {
	str := fmt.Sprintf("expect ite dev=%#x ev=%d", uint32(s.Dev), s.Ev)
	if s.Invalid {
		return str + " invalid"
	}
	if s.LPI != nil {
		str += fmt.Sprintf(" lpi=%d", *s.LPI)
	}
	if s.ICID != nil {
		str += fmt.Sprintf(" icid=%d", *s.ICID)
	}
	if s.VPE != nil {
		str += fmt.Sprintf(" vpe=%d", *s.VPE)
	}
	if s.VLPI != nil {
		str += fmt.Sprintf(" vlpi=%d", *s.VLPI)
	}
	if s.DB != nil {
		str += doorbellSuffix(*s.DB, true)
	}
	if s.Next != nil {
		str += fmt.Sprintf(" next=%d", *s.Next)
	}
	return str
}

// CTEState is what expect cte checks.
type CTEState int

const (
	CTEMapped   CTEState = iota // cpu=N
	CTEUnmapped                 // saved with RDbase 0xFFFFFFFF
	CTEAbsent                   // not saved at all
)

// ExpectCTEStmt: expect cte icid= (absent | unmapped | cpu=N).
type ExpectCTEStmt struct {
	At
	ICID  model.ICID
	State CTEState
	CPU   uint64
}

func (*ExpectCTEStmt) isExpectation() {}

func (s *ExpectCTEStmt) String() string {
	switch s.State {
	case CTEUnmapped:
		return fmt.Sprintf("expect cte icid=%d unmapped", s.ICID)
	case CTEAbsent:
		return fmt.Sprintf("expect cte icid=%d absent", s.ICID)
	}
	return fmt.Sprintf("expect cte icid=%d cpu=%d", s.ICID, s.CPU)
}
