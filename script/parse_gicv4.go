package script

import (
	"fmt"
	"strings"

	"github.com/gicits/gicits/model"
)

// This file parses the GICv4.0 statements (ast_gicv4.go). The V* commands
// also accept the field names of the model's own command strings (vpeid=
// for vpe=, vintid= for vlpi=, rdbase= for cpu=), so that
// "VMAPTI dev=0x10 ev=1 vintid=8192 vpeid=1 db=1023" is a statement as it
// is.

// The vINTID bits a vPE's pending table may cover, as vmapp's bits= says
// them (VMAPP.VPT_size + 1; the field is 8 bits wide in the codec, and the
// ITS refuses more than its own INTID bits with E_ITS_VMAPP_VPTSIZE_OOR).
const maxVPTBits = 256

// checkGICv4Settings returns the errors of GICv4 settings that do not go
// together: vpetable without gicv4, and gicv4 with ITT entries too small
// for a virtual ITE.
func checkGICv4Settings(s *Script) []error {
	var gicv4 *GICv4Stmt
	var itt *ITTStmt
	var vpt *VPETableStmt
	for _, st := range s.Stmts {
		switch st := st.(type) {
		case *GICv4Stmt:
			gicv4 = st
		case *ITTStmt:
			itt = st
		case *VPETableStmt:
			vpt = st
		}
	}
	var errs []error
	if vpt != nil && gicv4 == nil {
		errs = append(errs, &Error{Pos: vpt.Pos, Msg: "vpetable: want the gicv4 setting too (GITS_BASER2 is a vPE table on a GICv4 ITS only), found none"})
	}
	if gicv4 != nil && itt != nil && itt.EntrySize < model.VirtualITESize {
		errs = append(errs, &Error{Pos: itt.Pos, Msg: fmt.Sprintf("itt: entrysize=%d with gicv4: want %d..%d bytes (a virtual ITE needs %d)", itt.EntrySize, model.VirtualITESize, maxITTEntrySize, model.VirtualITESize)})
	}
	return errs
}

func parseGICv4(f *fields, at At) Stmt {
	s := &GICv4Stmt{At: at}
	if t, ok := f.str("version"); ok {
		switch t.text {
		case "4.0", "4":
		case "4.1":
			s.V41 = true
		default:
			f.fail(t.col, "gicv4: version=%s: want 4.0 or 4.1", t.text)
		}
	}
	if t, ok := f.str("vmovp"); ok {
		switch t.text {
		case "0":
			s.NoVMOVP = true
		case "1":
		default:
			f.fail(t.col, "gicv4: vmovp=%s: want 0 (VMOVP goes to every ITS of its ITSList) or 1", t.text)
		}
	}
	return s
}

func parseVPETable(f *fields, at At) Stmt {
	s := &VPETableStmt{At: at}
	w, ok := f.word("flat", "indirect")
	if !ok {
		f.fail(f.verbCol+len(f.verb)+1, "vpetable: want flat or indirect")
	}
	s.Indirect = w == "indirect"
	s.PageSize = f.pageSize()
	if f.has("pages") {
		n := f.num("pages", 9)
		if f.err == nil && (n < 1 || n > 256) {
			f.fail(f.kv["pages"].col, "vpetable: pages=%d: want 1..256", n)
		}
		s.Pages = int(n)
	}
	s.Addr = f.tableAddr()
	if f.err == nil && s.Addr%model.GPA(s.pageSize()) != 0 {
		f.fail(f.kv["at"].col, "vpetable: at=%v: want an address aligned to the %d KiB page size", s.Addr, s.pageSize()>>10)
	}
	return s
}

// vpe returns the vPEID in vpe= (or vpeid=).
func (f *fields) vpe() model.VPEID {
	return model.VPEID(f.num(f.alias("vpe", "vpeid"), 16))
}

// vintid returns the vINTID in vlpi= (or vintid=).
func (f *fields) vintid() model.INTID {
	return model.INTID(f.num(f.alias("vlpi", "vintid"), 32))
}

// addr64K returns the 64 KiB aligned address in key=.
func (f *fields) addr64K(key string) model.GPA {
	a := f.num(key, 52)
	if f.err == nil && a%(64<<10) != 0 {
		f.fail(f.kv[key].col, "%s: %s=%#x: want a 64 KiB aligned address", f.verb, key, a)
	}
	return model.GPA(a)
}

// doorbell returns the doorbell pINTID in db=N|none, model.NoDoorbell
// when absent or none, and whether db= was given.
func (f *fields) doorbell() (model.INTID, bool) {
	t, ok := f.str("db")
	if !ok {
		return model.NoDoorbell, false
	}
	if t.text == "none" {
		return model.NoDoorbell, true
	}
	return model.INTID(f.numIn("db", t, 32)), true
}

func parseVMAPP(f *fields, at At) Stmt {
	vpe := f.vpe()
	c := model.VMAPP{VPEID: vpe, Valid: f.valid()}
	_, c.Alloc = f.word("alloc")
	if !c.Valid {
		return &CommandStmt{At: at, Cmd: c}
	}
	_, c.PTZ = f.word("ptz")
	if f.has("vconf") {
		c.VCONFAddr = f.addr64K("vconf")
	}
	if db, ok := f.doorbell(); ok {
		c.DefaultDoorbell = db
	}
	c.RDbase = f.num(f.alias("cpu", "rdbase"), 36)
	c.VPTAddr = f.addr64K("vpt")
	bits := f.optNum("bits", 9, 16)
	if f.err == nil && (bits < 1 || bits > maxVPTBits) {
		f.fail(f.kv["bits"].col, "vmapp: bits=%d: want 1..%d vINTID bits (VPT_size + 1)", bits, maxVPTBits)
	}
	c.VPTSize = uint8(bits - 1)
	return &CommandStmt{At: at, Cmd: c}
}

func parseVMAPTI(f *fields, at At) Stmt {
	dev, ev := f.dev(), f.ev()
	vpe := f.vpe()
	vintid := f.vintid()
	db, _ := f.doorbell()
	return &CommandStmt{At: at, Cmd: model.VMAPTI{DeviceID: dev, EventID: ev, VINTID: vintid, VPEID: vpe, Doorbell: db}}
}

func parseVMAPI(f *fields, at At) Stmt {
	dev, ev := f.dev(), f.ev()
	vpe := f.vpe()
	db, _ := f.doorbell()
	return &CommandStmt{At: at, Cmd: model.VMAPI{DeviceID: dev, EventID: ev, VPEID: vpe, Doorbell: db}}
}

// parseVMOVI parses vmovi: D is set exactly when db= is given.
func parseVMOVI(f *fields, at At) Stmt {
	dev, ev := f.dev(), f.ev()
	vpe := f.vpe()
	c := model.VMOVI{DeviceID: dev, EventID: ev, VPEID: vpe}
	if db, ok := f.doorbell(); ok {
		c.D, c.Doorbell = true, db
	}
	return &CommandStmt{At: at, Cmd: c}
}

func parseVMOVP(f *fields, at At) Stmt {
	vpe := f.vpe()
	rd := f.num(f.alias("cpu", "rdbase"), 36)
	seq := f.optNum("seq", 16, 0)
	list := f.optNum("itslist", 16, 0)
	return &CommandStmt{At: at, Cmd: model.VMOVP{VPEID: vpe, RDbase: rd, SequenceNumber: uint16(seq), ITSList: uint16(list)}}
}

// parseVPECmd parses VSYNC and VINVALL: a vPE, nothing else.
func parseVPECmd(f *fields, at At) Stmt {
	vpe := f.vpe()
	if f.verb == "vsync" {
		return &CommandStmt{At: at, Cmd: model.VSYNC{VPEID: vpe}}
	}
	return &CommandStmt{At: at, Cmd: model.VINVALL{VPEID: vpe}}
}

func parseVLPI(f *fields, at At) Stmt {
	t := f.positional("a vINTID or range FIRST..LAST")
	lo, hi, isRange := strings.Cut(t.text, "..")
	first := f.numIn("vINTID", token{lo, t.col}, 32)
	last := first
	if isRange {
		last = f.numIn("vINTID", token{hi, t.col + len(lo) + 2}, 32)
	}
	if f.err == nil && (first < uint64(model.LPIBase) || last < first || last-first >= 1<<16) {
		f.fail(t.col, "vlpi: want a vINTID (8192 and up) or a range FIRST..LAST of at most 65536, found %q", t.text)
	}
	table := f.num("table", 52)
	if f.err == nil && table%4096 != 0 {
		f.fail(f.kv["table"].col, "vlpi: table=%#x: want a 4 KiB aligned address (GICR_VPROPBASER's)", table)
	}
	prio := f.num("prio", 8)
	w, ok := f.word("enabled", "disabled")
	if !ok {
		f.fail(f.endCol(), "vlpi: want enabled or disabled")
	}
	return &VLPIStmt{At: at, First: model.INTID(first), Last: model.INTID(last), Table: model.GPA(table), Config: model.MakeLPIConfig(uint8(prio), w == "enabled")}
}

func parseVSchedule(f *fields, at At) Stmt {
	s := &VScheduleStmt{At: at, CPU: f.cpu()}
	if f.has("vpe") || f.has("vpeid") {
		// The GICv4.1 form: the vPE by its vPEID.
		s.V41, s.VPE = true, f.vpe()
		_, s.Grp0 = f.word("grp0")
		_, s.Grp1 = f.word("grp1")
		if !s.Grp0 && !s.Grp1 {
			s.Grp1 = true
		}
		return s
	}
	s.VPT = f.addr64K("vpt")
	vprop := f.num("vprop", 52)
	if f.err == nil && vprop%4096 != 0 {
		f.fail(f.kv["vprop"].col, "vschedule: vprop=%#x: want a 4 KiB aligned address", vprop)
	}
	s.VProp = model.GPA(vprop)
	bits := f.optNum("bits", 6, 16)
	if f.err == nil && (bits < 14 || bits > 32) {
		f.fail(f.kv["bits"].col, "vschedule: bits=%d: want 14..32 vINTID bits (GICR_VPROPBASER.IDbits + 1)", bits)
	}
	s.Bits = int(bits)
	_, s.IDAI = f.word("idai")
	return s
}

func parseVDeschedule(f *fields, at At) Stmt {
	s := &VDescheduleStmt{At: at, CPU: f.cpu()}
	_, s.DB = f.word("db")
	return s
}

// sgi returns the vSGI number in sgi= (or vintid=), 0..15.
func (f *fields) sgi() uint8 {
	key := f.alias("sgi", "vintid")
	n := f.num(key, 8)
	if f.err == nil && n > 15 {
		f.fail(f.kv[key].col, "%s: %s=%d: want a vSGI 0..15", f.verb, key, n)
	}
	return uint8(n)
}

func parseINVDB(f *fields, at At) Stmt {
	return &CommandStmt{At: at, Cmd: model.INVDB{VPEID: f.vpe()}}
}

// parseVSGI parses vsgi vpe= sgi= [prio=] [group=] enable|disable|clear.
func parseVSGI(f *fields, at At) Stmt {
	c := model.VSGI{VPEID: f.vpe(), VINTID: f.sgi()}
	var prio uint64
	if f.has("prio") || f.has("priority") {
		key := f.alias("prio", "priority")
		prio = f.num(key, 8)
		if f.err == nil && prio&0xF != 0 {
			f.fail(f.kv[key].col, "vsgi: %s=%#x: want a multiple of 0x10 (VSGI holds priority bits 7:4)", key, prio)
		}
	}
	c.Priority = uint8(prio)
	c.Group = f.optNum("group", 1, 0) == 1
	w, ok := f.word("enable", "disable", "clear")
	if !ok {
		f.fail(f.endCol(), "vsgi: want enable, disable or clear, found end of line")
	}
	c.Enable, c.Clear = w == "enable", w == "clear"
	return &CommandStmt{At: at, Cmd: c}
}

func parseSGIR(f *fields, at At) Stmt {
	return &SGIRStmt{At: at, VPE: f.vpe(), SGI: f.sgi()}
}

func parseVInvR(f *fields, at At) Stmt {
	s := &VInvRStmt{At: at, CPU: f.cpu(), VPE: f.vpe(), All: f.verb == "vinvallr"}
	if !s.All {
		s.VLPI = f.vintid()
	}
	return s
}

func parseExpectVSGIPending(f *fields, at At) Stmt {
	s := &ExpectVSGIPendingStmt{At: at, VPE: f.vpe(), CPU: model.CPU(f.optNum("cpu", 32, 0))}
	t, ok := f.str("sgi")
	if !ok {
		f.fail(f.endCol(), "expect vsgipending: want field sgi=N,M... or sgi=none, found end of line")
		return s
	}
	if t.text == "none" {
		return s
	}
	seen := map[uint64]bool{}
	for _, part := range strings.Split(t.text, ",") {
		n := f.numIn("sgi", token{part, t.col}, 8)
		if f.err != nil {
			return s
		}
		if n > 15 || seen[n] {
			f.fail(t.col, "expect vsgipending: sgi=%s: want distinct vSGIs 0..15, or none", t.text)
			return s
		}
		seen[n] = true
	}
	for n := range uint64(16) {
		if seen[n] {
			s.SGIs = append(s.SGIs, uint8(n))
		}
	}
	return s
}

func parseVAck(f *fields, at At) Stmt { return &VAckStmt{At: at, CPU: f.cpu()} }

func parseVEOI(f *fields, at At) Stmt {
	cpu := f.cpu()
	return &VEOIStmt{At: at, CPU: cpu, VLPI: model.INTID(f.optNum("vlpi", 32, 0))}
}

func parseVPMR(f *fields, at At) Stmt {
	cpu := f.cpu()
	return &VPMRStmt{At: at, CPU: cpu, Value: uint8(f.num("value", 8))}
}

func parseExpectVPT(f *fields, at At) Stmt {
	a := f.num("at", 64)
	s := &ExpectVPTStmt{At: at, Addr: model.GPA(a), VLPI: model.INTID(f.num("vlpi", 32))}
	w, ok := f.word("pending", "clear")
	if !ok {
		f.fail(f.endCol(), "expect vpt: want pending or clear, found end of line")
	}
	s.Pending = w == "pending"
	return s
}

func parseExpectVTE(f *fields, at At) Stmt {
	s := &ExpectVTEStmt{At: at, VPE: f.vpe()}
	if _, ok := f.word("invalid"); ok {
		s.Invalid = true
		return s
	}
	if f.has("cpu") || f.has("rdbase") {
		v := f.num(f.alias("cpu", "rdbase"), 36)
		s.CPU = &v
	}
	if f.has("vpt") {
		v := model.GPA(f.num("vpt", 64))
		s.VPT = &v
	}
	s.Bits = optInt(f, "bits", 9)
	return s
}

// parseExpectVirtualITE reads the fields of expect ite about a virtual
// ITE: vpe=, and optionally vlpi=, db= and next=; lpi= and icid=, which
// are a physical ITE's, are refused.
func parseExpectVirtualITE(f *fields, s *ExpectITEStmt) {
	for _, k := range []string{"lpi", "icid"} {
		if f.has(k) {
			f.fail(f.kv[k].col, "expect ite: want the fields of a virtual ITE (vpe=, vlpi=, db=, next=) or of a physical one (lpi=, icid=, next=), found %s= with vpe=/vlpi=/db=", k)
			return
		}
	}
	if !f.has("vpe") && !f.has("vpeid") {
		f.fail(f.endCol(), "expect ite: a virtual ITE wants field vpe=, found end of line")
		return
	}
	v := f.vpe()
	s.VPE = &v
	if f.has("vlpi") || f.has("vintid") {
		id := f.vintid()
		s.VLPI = &id
	}
	if db, ok := f.doorbell(); ok {
		s.DB = &db
	}
	s.Next = optInt(f, "next", 16)
}
