package script

import (
	"fmt"
	"strings"

	"github.com/gicits/gicits/model"
)

// This file holds the statements of the GICv4.0 part of the language:
// vPEs, their vLPIs, and what a hypervisor does to schedule them. The V*
// commands themselves are [CommandStmt]s carrying the model's typed
// commands (model.VMAPP, model.VMAPTI, ...).

// ---- settings ----

// GICv4Stmt: gicv4 [version=4.0|4.1] opens the backend with a GICv4.0
// ITS ([model.GICv4ITSTyper]: Virtual, VMOVP, 12-byte ITT entries) or,
// with version=4.1, a GICv4.1 one ([model.GICv41ITSTyper]: VMAPP, VSGI,
// SVPET = 1, nID = 1).
type GICv4Stmt struct {
	At
	V41 bool
	// NoVMOVP clears GITS_TYPER.VMOVP (vmovp=0): software sends VMOVP to
	// every ITS of ITSList, with a SequenceNumber.
	NoVMOVP bool
}

func (s *GICv4Stmt) String() string {
	out := "gicv4"
	if s.V41 {
		out += " version=4.1"
	}
	if s.NoVMOVP {
		out += " vmovp=0"
	}
	return out
}

// VPETableStmt: vpetable flat|indirect [pagesize=] [pages=] [at=]
// programs GITS_BASER2, the vPE table, before the first action: the
// runner clears GITS_CTLR.Enabled, writes GITS_BASER2 and enables the ITS
// again. Without at= the table is allocated, zeroed, in the layout's ITT
// area. It needs gicv4.
type VPETableStmt struct {
	At
	Indirect bool
	PageSize int       // 0: 64 KiB
	Pages    int       // 0: 1
	Addr     model.GPA // 0: allocated
}

func (s *VPETableStmt) String() string {
	var b strings.Builder
	b.WriteString("vpetable flat")
	if s.Indirect {
		b.Reset()
		b.WriteString("vpetable indirect")
	}
	if s.PageSize != 0 {
		fmt.Fprintf(&b, " pagesize=%dk", s.PageSize>>10)
	}
	if s.Pages != 0 {
		fmt.Fprintf(&b, " pages=%d", s.Pages)
	}
	b.WriteString(atSuffix(s.Addr))
	return b.String()
}

// pageSize returns the table's page size, the default filled in.
func (s *VPETableStmt) pageSize() int {
	if s.PageSize == 0 {
		return model.PageSize64K
	}
	return s.PageSize
}

// pages returns the table's number of pages, the default filled in.
func (s *VPETableStmt) pages() int {
	if s.Pages == 0 {
		return 1
	}
	return s.Pages
}

// ---- actions ----

// VLPIStmt: vlpi FIRST[..LAST] table=ADDR prio=P enabled|disabled writes
// the configuration bytes of vINTIDs FIRST..LAST into the virtual LPI
// configuration table at ADDR (the table a GICR_VPROPBASER points at): the
// byte of vINTID n is at ADDR + n - 8192.
type VLPIStmt struct {
	At
	First, Last model.INTID
	Table       model.GPA
	Config      model.LPIConfig
}

func (s *VLPIStmt) String() string {
	state := "disabled"
	if s.Config.Enabled() {
		state = "enabled"
	}
	ids := fmt.Sprint(uint32(s.First))
	if s.Last != s.First {
		ids = fmt.Sprintf("%d..%d", s.First, s.Last)
	}
	return fmt.Sprintf("vlpi %s table=%v prio=%#02x %s", ids, s.Table, s.Config.Priority(), state)
}

// VScheduleStmt: vschedule cpu= vpt= vprop= [bits=] [idai] makes a vPE
// resident on cpu's redistributor as a GICv4.0 hypervisor does:
// GICR_VPROPBASER (the vLPI configuration table at vprop, vINTIDs below
// 2^bits), then GICR_VPENDBASER with Valid (the virtual pending table at
// vpt, IDAI as given).
//
// The GICv4.1 form, vschedule cpu= vpe= [grp0] [grp1], writes
// GICR_VPENDBASER with Valid, the vPEID and the group enables (grp1 alone
// when neither is given); if cpu's GICR_VPROPBASER is not valid it first
// points it at the vPE table GITS_BASER2 holds, the table the ITS and
// redistributors share (as Linux's GICv4.1 driver does).
type VScheduleStmt struct {
	At
	CPU   model.CPU
	VPT   model.GPA
	VProp model.GPA
	Bits  int // GICR_VPROPBASER.IDbits + 1
	IDAI  bool

	V41        bool // the GICv4.1 form: VPE, Grp0, Grp1
	VPE        model.VPEID
	Grp0, Grp1 bool
}

func (s *VScheduleStmt) String() string {
	if s.V41 {
		str := fmt.Sprintf("vschedule cpu=%d vpe=%d", s.CPU, s.VPE)
		if s.Grp0 {
			str += " grp0"
		}
		if s.Grp1 {
			str += " grp1"
		}
		return str
	}
	str := fmt.Sprintf("vschedule cpu=%d vpt=%v vprop=%v bits=%d", s.CPU, s.VPT, s.VProp, s.Bits)
	if s.IDAI {
		str += " idai"
	}
	return str
}

// VDescheduleStmt: vdeschedule cpu= [db] reads GICR_VPENDBASER and writes
// it back with Valid clear; the redistributor then sets PendingLast. db
// (GICv4.1) sets GICR_VPENDBASER.Doorbell in that write: the vPE's
// default doorbell is requested.
type VDescheduleStmt struct {
	At
	CPU model.CPU
	DB  bool
}

func (s *VDescheduleStmt) String() string {
	if s.DB {
		return fmt.Sprintf("vdeschedule cpu=%d db", s.CPU)
	}
	return fmt.Sprintf("vdeschedule cpu=%d", s.CPU)
}

// SGIRStmt: sgir vpe= sgi= writes GITS_SGIR (GICv4.1): vSGI sgi (0..15)
// of vPE vpe is made pending.
type SGIRStmt struct {
	At
	VPE model.VPEID
	SGI uint8
}

func (s *SGIRStmt) String() string { return fmt.Sprintf("sgir vpe=%d sgi=%d", s.VPE, s.SGI) }

// VInvRStmt: vinvlpir cpu= vpe= vlpi= and vinvallr cpu= vpe= write
// GICR_INVLPIR or GICR_INVALLR of cpu's redistributor with V = 1
// (GICv4.1): the vLPI configuration of vPE vpe is read again.
type VInvRStmt struct {
	At
	CPU  model.CPU
	VPE  model.VPEID
	All  bool        // vinvallr
	VLPI model.INTID // vinvlpir
}

func (s *VInvRStmt) String() string {
	if s.All {
		return fmt.Sprintf("vinvallr cpu=%d vpe=%d", s.CPU, s.VPE)
	}
	return fmt.Sprintf("vinvlpir cpu=%d vpe=%d vlpi=%d", s.CPU, s.VPE, s.VLPI)
}

// VAckStmt: vack cpu= reads ICV_IAR1_EL1 in the vPE scheduled on cpu.
type VAckStmt struct {
	At
	CPU model.CPU
}

func (s *VAckStmt) String() string { return fmt.Sprintf("vack cpu=%d", s.CPU) }

// VEOIStmt: veoi cpu= [vlpi=] writes ICV_EOIR1_EL1 in the vPE scheduled on
// cpu; without vlpi= the last vLPI vack'd on cpu and not yet veoi'd, or
// nothing when there is none.
type VEOIStmt struct {
	At
	CPU  model.CPU
	VLPI model.INTID // 0: the last one acknowledged on CPU
}

func (s *VEOIStmt) String() string {
	if s.VLPI != 0 {
		return fmt.Sprintf("veoi cpu=%d vlpi=%d", s.CPU, s.VLPI)
	}
	return fmt.Sprintf("veoi cpu=%d", s.CPU)
}

// VPMRStmt: vpmr cpu= value= writes ICV_PMR_EL1 in the vPE scheduled on
// cpu.
type VPMRStmt struct {
	At
	CPU   model.CPU
	Value uint8
}

func (s *VPMRStmt) String() string { return fmt.Sprintf("vpmr cpu=%d value=%#02x", s.CPU, s.Value) }

// vCommandString prints a GICv4.0 command in the language's form, or
// reports false for any other command.
func vCommandString(c model.Command) (string, bool) {
	switch c := c.(type) {
	case model.VMAPP:
		if !c.Valid {
			if c.PTZ || c.VCONFAddr != 0 || c.DefaultDoorbell != 0 || c.RDbase != 0 || c.VPTAddr != 0 || c.VPTSize != 0 {
				return "", false // only a raw packet says this
			}
			if c.Alloc {
				return fmt.Sprintf("vmapp vpe=%d valid=0 alloc", c.VPEID), true
			}
			return fmt.Sprintf("vmapp vpe=%d valid=0", c.VPEID), true
		}
		s := fmt.Sprintf("vmapp vpe=%d cpu=%d vpt=%v bits=%d", c.VPEID, c.RDbase, c.VPTAddr, c.VINTIDBits())
		if c.VCONFAddr != 0 {
			s += fmt.Sprintf(" vconf=%v", c.VCONFAddr)
		}
		switch c.DefaultDoorbell {
		case 0:
		case model.NoDoorbell:
			s += " db=none"
		default:
			s += fmt.Sprintf(" db=%d", c.DefaultDoorbell)
		}
		if c.Alloc {
			s += " alloc"
		}
		if c.PTZ {
			s += " ptz"
		}
		return s, true
	case model.INVDB:
		return fmt.Sprintf("invdb vpe=%d", c.VPEID), true
	case model.VSGI:
		if c.Clear {
			if c.Enable || c.Group || c.Priority != 0 {
				return "", false // only a raw packet says this
			}
			return fmt.Sprintf("vsgi vpe=%d sgi=%d clear", c.VPEID, c.VINTID), true
		}
		state := "disable"
		if c.Enable {
			state = "enable"
		}
		return fmt.Sprintf("vsgi vpe=%d sgi=%d prio=%#02x group=%d %s", c.VPEID, c.VINTID, c.Priority, bit(c.Group), state), true
	case model.VMAPTI:
		return fmt.Sprintf("vmapti dev=%#x ev=%d vpe=%d vlpi=%d%s", uint32(c.DeviceID), c.EventID, c.VPEID, c.VINTID, doorbellSuffix(c.Doorbell, false)), true
	case model.VMAPI:
		return fmt.Sprintf("vmapi dev=%#x ev=%d vpe=%d%s", uint32(c.DeviceID), c.EventID, c.VPEID, doorbellSuffix(c.Doorbell, false)), true
	case model.VMOVI:
		if !c.D && c.Doorbell != 0 {
			return "", false // only a raw packet says this
		}
		s := fmt.Sprintf("vmovi dev=%#x ev=%d vpe=%d", uint32(c.DeviceID), c.EventID, c.VPEID)
		if c.D {
			s += doorbellSuffix(c.Doorbell, true)
		}
		return s, true
	case model.VMOVP:
		if c.DB || c.DefaultDoorbell != 0 {
			return "", false
		}
		s := fmt.Sprintf("vmovp vpe=%d cpu=%d", c.VPEID, c.RDbase)
		if c.SequenceNumber != 0 {
			s += fmt.Sprintf(" seq=%d", c.SequenceNumber)
		}
		if c.ITSList != 0 {
			s += fmt.Sprintf(" itslist=%#x", c.ITSList)
		}
		return s, true
	case model.VSYNC:
		return fmt.Sprintf("vsync vpe=%d", c.VPEID), true
	case model.VINVALL:
		return fmt.Sprintf("vinvall vpe=%d", c.VPEID), true
	}
	return "", false
}

// doorbellSuffix prints a db= field: always when always is set (VMOVI's
// D), otherwise only when there is a doorbell.
func doorbellSuffix(db model.INTID, always bool) string {
	switch {
	case db == model.NoDoorbell && always:
		return " db=none"
	case db == model.NoDoorbell:
		return ""
	}
	return fmt.Sprintf(" db=%d", db)
}

// ---- expectations ----

// ExpectVPTStmt: expect vpt at= vlpi= pending|clear checks a vINTID's bit
// in a virtual LPI pending table in guest memory: bit N%8 of the byte at
// ADDR + N/8.
type ExpectVPTStmt struct {
	At
	Addr    model.GPA
	VLPI    model.INTID
	Pending bool
}

func (*ExpectVPTStmt) isExpectation() {}

func (s *ExpectVPTStmt) String() string {
	state := "clear"
	if s.Pending {
		state = "pending"
	}
	return fmt.Sprintf("expect vpt at=%v vlpi=%d %s", s.Addr, s.VLPI, state)
}

// ExpectVTEStmt: expect vte vpe= (invalid | [cpu=] [vpt=] [bits=]) checks
// a vPE table entry in the table GITS_BASER2 points at, flat or two-level.
// An entry beyond the table, or behind an invalid level-1 entry, reads as
// invalid.
type ExpectVTEStmt struct {
	At
	VPE     model.VPEID
	Invalid bool
	CPU     *uint64
	VPT     *model.GPA
	Bits    *int
}

func (*ExpectVTEStmt) isExpectation() {}

func (s *ExpectVTEStmt) String() string {
	str := fmt.Sprintf("expect vte vpe=%d", s.VPE)
	if s.Invalid {
		return str + " invalid"
	}
	if s.CPU != nil {
		str += fmt.Sprintf(" cpu=%d", *s.CPU)
	}
	if s.VPT != nil {
		str += fmt.Sprintf(" vpt=%v", *s.VPT)
	}
	if s.Bits != nil {
		str += fmt.Sprintf(" bits=%d", *s.Bits)
	}
	return str
}

// ExpectVSGIPendingStmt: expect vsgipending vpe= sgi=N,M...|none [cpu=]
// reads vPE vpe's pending vSGIs as a hypervisor does (GICv4.1): its vPEID
// written to GICR_VSGIR of cpu's redistributor (default 0), then
// GICR_VSGIPENDR read; Busy must be 0 and Pending exactly the vSGIs
// listed.
type ExpectVSGIPendingStmt struct {
	At
	CPU  model.CPU
	VPE  model.VPEID
	SGIs []uint8 // ascending
}

func (*ExpectVSGIPendingStmt) isExpectation() {}

func (s *ExpectVSGIPendingStmt) String() string {
	list := "none"
	if len(s.SGIs) > 0 {
		parts := make([]string, len(s.SGIs))
		for i, n := range s.SGIs {
			parts[i] = fmt.Sprint(n)
		}
		list = strings.Join(parts, ",")
	}
	str := fmt.Sprintf("expect vsgipending vpe=%d sgi=%s", s.VPE, list)
	if s.CPU != 0 {
		str += fmt.Sprintf(" cpu=%d", s.CPU)
	}
	return str
}

// mask returns the GICR_VSGIPENDR.Pending bits the statement expects.
func (s *ExpectVSGIPendingStmt) mask() uint64 {
	var m uint64
	for _, n := range s.SGIs {
		m |= 1 << n
	}
	return m
}

func bit(b bool) int {
	if b {
		return 1
	}
	return 0
}
