package sim_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/gicits/gicits/model"
	"github.com/google/go-cmp/cmp"
)

// FuzzVirtualCommandQueue41 is FuzzVirtualCommandQueue for a GICv4.1
// machine with two ITSes. Its layout is fuzzLayout with 8 MiB of RAM and a
// 4 MiB ITT area, so that ITS 1's tables (640 KiB at the top of the ITT
// area) leave room for each ITS's own two ITTs: devices 1 and 2 of ITS i
// at ITTs + i MiB and ITTs + i MiB + 64 KiB. The VPTs are
// FuzzVirtualCommandQueue's; the two vLPI configuration tables (VMAPP's
// VCONF_addr) and the vPE configuration table (GICR_VPROPBASER) follow
// them, below the vPE table of the simulator at Scratch.
func vfuzz41Layout() model.Layout {
	l := fuzzLayout()
	l.RAMSize = 8 << 20
	l.ITTsSize = 4 << 20
	l.ITSes = 2
	return l
}

var (
	vfuzz41VConfs = [2]model.GPA{
		fuzzLayout().RAMBase + 0x28_0000,
		fuzzLayout().RAMBase + 0x29_0000,
	}
	vfuzz41VPETable = fuzzLayout().RAMBase + 0x2A_0000
)

// vfuzz41ITT returns the ITT of device dev (1 or 2) on ITS its.
func vfuzz41ITT(its int, dev model.DeviceID) model.GPA {
	return vfuzz41Layout().ITTs + model.GPA(its)<<20 + model.GPA(dev-1)<<16
}

// The opcodes of FuzzVirtualCommandQueue41's actions, op % v41Ops. The
// four bytes of an action are those of vfuzzOp; for commands, bit 6 of a
// picks the ITS whose queue takes it.
const (
	v41VMAPP = iota
	v41VMAPTI
	v41VMAPI
	v41VMOVI
	v41VMOVP
	v41VSYNC
	v41VINVALL
	v41INVDB
	v41VSGI
	v41INT
	v41CLEAR
	v41INV
	v41DISCARD
	v41MAPD
	v41MAPTI
	v41SGIR
	v41Schedule
	v41Deschedule
	v41MSI
	v41VAck
	v41Ack
	v41VPMR
	v41VConfig
	v41PConfig
	v41INVLPIR
	v41INVALLR
	v41VSGIPend
	v41Ops
)

// v41VPE picks vPE 1, 2 or 3 mostly, now and then 4, or 8192 (beyond any
// vPE table).
func v41VPE(x byte) model.VPEID {
	return [...]model.VPEID{1, 2, 3, 1, 2, 3, 4, 8192}[x%8]
}

// v41ITS is the ITS a command of o goes to, or an MSI or GITS_SGIR write
// goes through.
func (o vfuzzOp) v41ITS() int { return int(o.a >> 6 & 1) }

// command41 returns the ITS command o stands for in
// FuzzVirtualCommandQueue41, or nil.
func (o vfuzzOp) command41() model.Command {
	dev := vfuzzDevice(o.a)
	ev := vfuzzEvent(dev, o.b)
	switch o.op % v41Ops {
	case v41VMAPP:
		// c: 7 !Valid, 6 Alloc, 5 PTZ, 4:2 default doorbell, 1:0 VPT size.
		return model.VMAPP{
			VPEID:           v41VPE(o.a),
			RDbase:          uint64(o.b % 3), // 2: beyond two CPUs
			VPTAddr:         vfuzzVPTs[o.b/3%3],
			VPTSize:         [...]uint8{15, 15, 13, 16}[o.c%4],
			Valid:           o.c&0x80 == 0,
			Alloc:           o.c&0x40 != 0,
			PTZ:             o.c&0x20 != 0,
			VCONFAddr:       vfuzz41VConfs[o.b/9%2],
			DefaultDoorbell: vfuzzDoorbell(o.c >> 2),
		}
	case v41VMAPTI:
		return model.VMAPTI{DeviceID: dev, EventID: ev, VINTID: vfuzzVINTID(o.c), VPEID: v41VPE(o.c >> 5), Doorbell: vfuzzDoorbell(o.a >> 3)}
	case v41VMAPI:
		return model.VMAPI{DeviceID: dev, EventID: ev, VPEID: v41VPE(o.c), Doorbell: vfuzzDoorbell(o.c >> 3)}
	case v41VMOVI:
		return model.VMOVI{DeviceID: dev, EventID: ev, VPEID: v41VPE(o.c), D: o.c&0x80 != 0, Doorbell: vfuzzDoorbell(o.c >> 3)}
	case v41VMOVP:
		return model.VMOVP{
			// b: 3:2 sequence number, 1:0 ITSList; c: 7 DB, 4:2 default
			// doorbell, 1:0 RDbase (2 and 3: beyond two CPUs).
			VPEID:           v41VPE(o.a),
			RDbase:          uint64(o.c & 3),
			ITSList:         uint16(o.b & 3),
			SequenceNumber:  uint16(o.b >> 2 & 3),
			DB:              o.c&0x80 != 0,
			DefaultDoorbell: vfuzzDoorbell(o.c >> 2),
		}
	case v41VSYNC:
		return model.VSYNC{VPEID: v41VPE(o.a)}
	case v41VINVALL:
		return model.VINVALL{VPEID: v41VPE(o.a)}
	case v41INVDB:
		return model.INVDB{VPEID: v41VPE(o.a)}
	case v41VSGI:
		return model.VSGI{VPEID: v41VPE(o.a), VINTID: o.b % 16, Priority: o.c & 0xF0, Group: o.c&1 != 0, Enable: o.c&2 != 0, Clear: o.c&4 != 0}
	case v41INT:
		return model.INT{DeviceID: dev, EventID: ev}
	case v41CLEAR:
		return model.CLEAR{DeviceID: dev, EventID: ev}
	case v41INV:
		return model.INV{DeviceID: dev, EventID: ev}
	case v41DISCARD:
		return model.DISCARD{DeviceID: dev, EventID: ev}
	case v41MAPD:
		if dev == 3 {
			return model.MAPD{DeviceID: 3}
		}
		return model.MAPD{DeviceID: dev, Size: vfuzzSize[dev], ITTAddr: vfuzz41ITT(o.v41ITS(), dev), Valid: o.c&1 == 0}
	case v41MAPTI:
		return model.MAPTI{DeviceID: dev, EventID: ev, INTID: 8192 + model.INTID(o.c%64), ICID: model.ICID(o.c >> 6 % 2)}
	}
	return nil
}

func (o vfuzzOp) String41() string {
	its := o.v41ITS()
	if c := o.command41(); c != nil {
		return fmt.Sprintf("its %d: %v", its, c)
	}
	cpu := o.a % 2
	switch o.op % v41Ops {
	case v41SGIR:
		return fmt.Sprintf("its %d: GITS_SGIR vpe=%d sgi=%d", its, v41VPE(o.b), o.c%16)
	case v41Schedule:
		return fmt.Sprintf("vschedule cpu=%d vpe=%d grp0=%v grp1=%v", cpu, v41VPE(o.b), o.c&1 != 0, o.c&2 != 0)
	case v41Deschedule:
		return fmt.Sprintf("vdeschedule cpu=%d db=%v pendinglast=%v", cpu, o.b&1 != 0, o.b&2 != 0)
	case v41MSI:
		dev := vfuzzDevice(o.a)
		return fmt.Sprintf("its %d: msi dev=%d ev=%d", its, dev, vfuzzEvent(dev, o.b))
	case v41VAck:
		return fmt.Sprintf("vack cpu=%d eoi=%v", cpu, o.b&1 == 0)
	case v41Ack:
		return fmt.Sprintf("ack cpu=%d", cpu)
	case v41VPMR:
		return fmt.Sprintf("vpmr cpu=%d value=%#x", cpu, o.b)
	case v41VConfig:
		return fmt.Sprintf("vconf %d: vlpi %d prio=%#x enabled=%v", o.a%2, vfuzzVINTID(o.b), o.c&0xF0, o.c&1 == 0)
	case v41PConfig:
		return fmt.Sprintf("lpi %d prio=%#x enabled=%v", v41PConfigINTID(o.b), o.c&0xF0, o.c&1 == 0)
	case v41INVLPIR:
		return fmt.Sprintf("GICR_INVLPIR cpu=%d vpe=%d vintid=%d", cpu, v41VPE(o.b), vfuzzVINTID(o.c))
	case v41INVALLR:
		return fmt.Sprintf("GICR_INVALLR cpu=%d vpe=%d", cpu, v41VPE(o.b))
	case v41VSGIPend:
		return fmt.Sprintf("GICR_VSGIPENDR cpu=%d vpe=%d", cpu, v41VPE(o.b))
	}
	return "?"
}

// v41PConfigINTID picks a physical LPI whose configuration byte an action
// rewrites: one of the doorbells, or a mapped LPI.
func v41PConfigINTID(x byte) model.INTID {
	return [...]model.INTID{8250, 8251, 8252, 8192 + model.INTID(x>>2%64)}[x%4]
}

// vfuzz41Typer returns the GITS_TYPER the first input byte chooses:
// GICv41ITSTyper, with bit 0 VMOVP cleared (each ITS of the ITSList
// moves its own mapping), with bit 1 nID cleared (per-event doorbells).
func vfuzz41Typer(x byte) model.ITSTyper {
	t := model.GICv41ITSTyper
	if x&1 != 0 {
		t &^= 1 << 37
	}
	if x&2 != 0 {
		t &^= model.ITSTyper(model.GITS_TYPER_nID)
	}
	return t
}

// vfuzz41 is one simulator of FuzzVirtualCommandQueue41 and its ITSes'
// views.
type vfuzz41 struct {
	*env
	its [2]model.Backend
}

// openVFuzz41 opens a GICv4.1 simulator for one input: two ITSes, two
// CPUs with LPIs enabled, LPIs 8192..8255 enabled at 0xA0 except 8251 (a
// disabled doorbell), GICR_VPROPBASER valid on both CPUs, and on each ITS
// collections 0 and 1 on CPUs 0 and 1 and devices 1 and 2 mapped. vLPI
// configuration table 0 has vINTIDs 8192..8207 enabled at 0xA0; table 1
// has the even ones enabled at 0x80 and the odd ones disabled.
func openVFuzz41(t *testing.T, typer model.ITSTyper, noCache bool) *vfuzz41 {
	e := open(t, model.Config{CPUs: 2, Layout: vfuzz41Layout(), ITSTyper: typer, NoTranslationCache: noCache})
	e.enable(0, 1)
	e.config(0xA0, true, idRange(8192, 8256)...)
	e.config(0xA0, false, 8251)
	must(t, e.b.Memory().WriteAt(bytes.Repeat([]byte{byte(model.MakeLPIConfig(0xA0, true))}, 16), vfuzz41VConfs[0]))
	for i := range 16 {
		must(t, e.b.Memory().WriteAt([]byte{byte(model.MakeLPIConfig(0x80, i%2 == 0))}, vfuzz41VConfs[1]+model.GPA(i)))
	}
	prop, err := model.MakeVPropBaser41(vfuzz41VPETable, model.PageSize64K, 1, false, true)
	must(t, err)
	for cpu := range model.CPU(2) {
		must(t, e.b.WriteRedistributorRegister(cpu, model.GICR_VPROPBASER, uint64(prop)))
	}
	v := &vfuzz41{env: e}
	for i := range v.its {
		its, err := model.ITSOf(e.b, i)
		must(t, err)
		v.its[i] = its
		must(t, model.SubmitCommands(its,
			model.MAPC{ICID: 0, RDbase: 0, Valid: true},
			model.MAPC{ICID: 1, RDbase: 1, Valid: true},
			model.MAPD{DeviceID: 1, Size: vfuzzSize[1], ITTAddr: vfuzz41ITT(i, 1), Valid: true},
			model.MAPD{DeviceID: 2, Size: vfuzzSize[2], ITTAddr: vfuzz41ITT(i, 2), Valid: true},
		))
	}
	return v
}

// run performs o and returns what it observed, as a string the cached and
// the walking simulator must agree on.
func (v *vfuzz41) run(t *testing.T, o vfuzzOp) string {
	its := v.its[o.v41ITS()]
	if c := o.command41(); c != nil {
		err := model.SubmitCommands(its, c)
		ces := model.CommandErrors(err)
		if err != nil && len(ces) == 0 {
			t.Fatalf("%v: %v is not a command error", o.String41(), err)
		}
		var codes []model.ErrorCode
		for _, ce := range ces {
			if ce.Code == 0 && ce.Cause == nil {
				t.Errorf("%v: command error with neither code nor cause: %v", o.String41(), ce)
			}
			codes = append(codes, ce.Code)
		}
		return fmt.Sprint(codes)
	}
	b := v.b
	cpu := model.CPU(o.a % 2)
	switch o.op % v41Ops {
	case v41SGIR:
		val, err := model.MakeITSSGIR(v41VPE(o.b), o.c%16)
		must(t, err)
		return fmt.Sprint(its.WriteITSRegister(model.GITS_SGIR, val))
	case v41Schedule:
		pend := model.MakeVPendBaser41(v41VPE(o.b), true, o.c&1 != 0, o.c&2 != 0, false)
		err := b.WriteRedistributorRegister(cpu, model.GICR_VPENDBASER, uint64(pend))
		after, _ := b.ReadRedistributorRegister(cpu, model.GICR_VPENDBASER)
		return fmt.Sprintf("%v %#x", err, after)
	case v41Deschedule:
		w := uint64(model.MakeVPendBaser41(0, false, false, false, o.b&1 != 0))
		if o.b&2 != 0 {
			w |= model.GICR_VPENDBASER_PendingLast
		}
		err := b.WriteRedistributorRegister(cpu, model.GICR_VPENDBASER, w)
		after, _ := b.ReadRedistributorRegister(cpu, model.GICR_VPENDBASER)
		return fmt.Sprintf("%v %#x", err, after)
	case v41MSI:
		dev := vfuzzDevice(o.a)
		d, err := b.SignalMSI(model.MSI{Doorbell: its.Layout().Doorbell(), Data: uint32(vfuzzEvent(dev, o.b)), DeviceID: dev, DeviceIDValid: true})
		return fmt.Sprint(d, err)
	case v41VAck:
		id, err := b.AcknowledgeVirtual(cpu)
		var eoi error
		if err == nil && id != model.SpuriousINTID && o.b&1 == 0 {
			eoi = b.EOIVirtual(cpu, id)
		}
		return fmt.Sprint(id, err, eoi)
	case v41Ack:
		id, err := b.Acknowledge(cpu)
		var eoi error
		if err == nil && id != model.SpuriousINTID {
			eoi = b.EOI(cpu, id)
		}
		return fmt.Sprint(id, err, eoi)
	case v41VPMR:
		return fmt.Sprint(b.SetVirtualPriorityMask(cpu, o.b))
	case v41VConfig:
		id := vfuzzVINTID(o.b)
		if id < model.LPIBase || id >= 8192+64 {
			return "no byte"
		}
		cfg := model.MakeLPIConfig(o.c&0xF0, o.c&1 == 0)
		return fmt.Sprint(b.Memory().WriteAt([]byte{byte(cfg)}, vfuzz41VConfs[o.a%2]+model.GPA(id-model.LPIBase)))
	case v41PConfig:
		prop, err := b.Layout().PropBaser()
		must(t, err)
		id := v41PConfigINTID(o.b)
		cfg := model.MakeLPIConfig(o.c&0xF0, o.c&1 == 0)
		return fmt.Sprint(b.Memory().WriteAt([]byte{byte(cfg)}, prop.Addr()+model.GPA(id-model.LPIBase)))
	case v41INVLPIR:
		return fmt.Sprint(b.WriteRedistributorRegister(cpu, model.GICR_INVLPIR, model.MakeInvVLPIR(v41VPE(o.b), vfuzzVINTID(o.c))))
	case v41INVALLR:
		return fmt.Sprint(b.WriteRedistributorRegister(cpu, model.GICR_INVALLR, model.MakeInvVLPIR(v41VPE(o.b), 0)))
	case v41VSGIPend:
		err := b.WriteRedistributorRegister(cpu, model.GICR_VSGIR, uint64(v41VPE(o.b)))
		r, rerr := b.ReadRedistributorRegister(cpu, model.GICR_VSGIPENDR)
		return fmt.Sprintf("%v %#x %v", err, r, rerr)
	}
	t.Fatalf("no action for %v", o.String41())
	return ""
}

// vfuzz41Pending returns what is pending on each CPU: physical, and
// virtual when GICR_VPENDBASER says a vPE is resident.
func vfuzz41Pending(e *env) string {
	var s string
	for cpu := range model.CPU(2) {
		p, err := e.b.Pending(cpu)
		s += fmt.Sprintf("cpu %d: pending %v %v", cpu, p, err)
		if r, err := e.b.ReadRedistributorRegister(cpu, model.GICR_VPENDBASER); err == nil && model.VPendBaser41(r).Valid() {
			vp, verr := e.b.PendingVirtual(cpu)
			s += fmt.Sprintf(", vpe %d vpending %v %v", model.VPendBaser41(r).VPEID(), vp, verr)
		}
		s += "\n"
	}
	return s
}

// FuzzVirtualCommandQueue41 drives a GICv4.1 simulator with two ITSes and
// two CPUs with a sequence of actions the input's bytes choose: the first
// byte picks GITS_TYPER (GICv41ITSTyper, or with VMOVP = 0, or with
// per-event doorbells: vfuzz41Typer), then four bytes an action. The
// actions: on either ITS, VMAPP with the GICv4.1 fields (Alloc, PTZ,
// VCONF_addr, default doorbell), VMAPTI and VMAPI with and without
// doorbells, VMOVI, VMOVP (ITSList, sequence number, DB), VSYNC, VINVALL,
// INVDB, VSGI (configuration and clear), physical commands on the same
// events (INT, CLEAR, INV, DISCARD, MAPD, MAPTI), GITS_SGIR writes and
// MSIs through either ITS's doorbell; GICR_VPENDBASER scheduling by vPEID
// (VGrp0En, VGrp1En) and descheduling with and without the doorbell
// request and PendingLast; GICR_INVLPIR and GICR_INVALLR with V;
// GICR_VSGIR then GICR_VSGIPENDR; virtual and physical acknowledges,
// ICV_PMR_EL1, vLPI and physical LPI configuration writes. The same
// sequence runs on a sim with its translation cache and on one walking
// guest memory for every MSI. Invariants: no panic; every error from a
// command is a *model.CommandError; and the cache changes nothing
// observable: after every action, its result and what is pending on each
// CPU, physical and (with a vPE resident) virtual; at the end, both
// ITSes' State and the bytes of every VPT.
func FuzzVirtualCommandQueue41(f *testing.F) {
	op := func(op, a, b, c byte) vfuzzOp { return vfuzzOp{op, a, b, c} }
	const its1 = 1 << 6 // bit 6 of a: ITS 1
	// vPE 1 on CPU 0 with VPT 0, VCONF 0 and the default doorbell 8250,
	// mapped on both ITSes (Alloc on the first); device 1 event 0 of ITS
	// 0 -> vINTID 8200, device 1 event 1 of ITS 1 -> vINTID 8201, device 2
	// event 8193 of ITS 0 -> vINTID 8193 by VMAPI.
	mapped := []vfuzzOp{
		op(v41VMAPP, 0, 0, 0x40|1<<2),
		op(v41VMAPP, its1, 0, 1<<2),
		op(v41VMAPTI, 3<<3, 0, 8),
		op(v41VMAPTI, its1|3<<3, 1, 9),
		op(v41VMAPI, 1, 0x81, 0),
		op(v41VSYNC, 0, 0, 0),
		op(v41VSYNC, its1, 0, 0),
	}
	msi := op(v41MSI, 0, 0, 0)
	msi1 := op(v41MSI, its1, 1, 0)
	sched := op(v41Schedule, 0, 0, 2)
	type seed struct {
		typer byte
		ops   []vfuzzOp
	}
	with := func(ops ...vfuzzOp) []vfuzzOp { return append(slices.Clone(mapped), ops...) }
	seeds := []seed{
		// Resident delivery through both ITSes, cached and then hit.
		{0, with(sched, msi, msi1, msi, op(v41VAck, 0, 0, 0), op(v41VAck, 0, 0, 0), msi1, op(v41VAck, 0, 1, 0))},
		// Not resident: the default doorbell once when asked for, not with
		// PendingLast written; group 0 only.
		{0, with(sched, op(v41Deschedule, 0, 1, 0), msi, msi1, op(v41Ack, 0, 0, 0), op(v41Schedule, 0, 0, 3), op(v41VAck, 0, 0, 0), op(v41Deschedule, 0, 3, 0), msi, op(v41Ack, 0, 0, 0), op(v41Schedule, 0, 0, 1), op(v41VAck, 0, 0, 0))},
		// Per-event doorbells (nID = 0), VMOVI to vPE 2 on another VPT.
		{2, with(op(v41VMAPP, 1, 4, 0x40|2<<2), msi, op(v41VMOVI, 0, 0, 0x81|1<<3), msi, op(v41Ack, 1, 0, 0), op(v41Ack, 0, 0, 0), op(v41Schedule, 1, 1, 2), op(v41VAck, 1, 0, 0))},
		// VMOVP with VMOVP = 1 moves both ITSes' mappings, with a new
		// default doorbell.
		{0, with(sched, op(v41Deschedule, 0, 1, 0), op(v41VMOVP, 0, 3|1<<2, 0x80|5<<2|1), msi1, op(v41Ack, 1, 0, 0), op(v41Schedule, 1, 0, 2), op(v41VAck, 1, 0, 0))},
		// VMOVP = 0: ITS 0 then ITS 1 of the ITSList, same sequence number.
		{1, with(op(v41VMOVP, 0, 3|1<<2, 1), msi1, op(v41VMOVP, its1, 3|1<<2, 1), msi, op(v41Schedule, 1, 0, 2), op(v41VAck, 1, 0, 0), op(v41VAck, 1, 0, 0))},
		// vSGIs: configure, send through either ITS, read, clear.
		{0, with(op(v41VSGI, 0, 3, 0x80|3), op(v41VSGI, its1, 5, 0xA0|2), sched, op(v41SGIR, 0, 0, 3), op(v41SGIR, its1, 0, 5), op(v41VSGIPend, 1, 0, 0), op(v41VAck, 0, 0, 0), op(v41VSGI, 0, 5, 4), op(v41VSGIPend, 0, 0, 0), op(v41Schedule, 0, 0, 3), op(v41VAck, 0, 0, 0))},
		// vLPI configuration, re-read by GICR_INVLPIR, GICR_INVALLR,
		// VINVALL and INV; VMAPP with VCONF 1 and PTZ.
		{0, with(sched, msi, op(v41VConfig, 0, 8, 0x41), op(v41INVLPIR, 1, 0, 8), op(v41VAck, 0, 0, 0), op(v41VConfig, 0, 8, 0x90), op(v41INVALLR, 0, 0, 0), op(v41VINVALL, its1, 0, 0), op(v41INV, 0, 0, 0), msi, op(v41VAck, 0, 0, 0), op(v41VMAPP, 1, 9|3, 0x60), op(v41VMAPTI, 0, 2, 0x40|9))},
		// INVDB after the default doorbell is disabled behind the
		// redistributors' back.
		{0, with(sched, op(v41Deschedule, 0, 1, 0), msi, op(v41Ack, 0, 0, 0), op(v41PConfig, 0, 0, 1), op(v41INVDB, its1, 0, 0), sched, op(v41VAck, 0, 0, 0), op(v41Deschedule, 0, 1, 0), msi, op(v41Ack, 0, 0, 0))},
		// Physical commands on virtual events; MAPD V=0 and again; MAPTI.
		{0, with(sched, msi, op(v41INT, its1, 1, 0), op(v41CLEAR, 0, 0, 0), op(v41DISCARD, its1, 1, 0), msi1, op(v41MAPD, 0, 0, 1), msi, op(v41MAPD, 0, 0, 0), op(v41MAPTI, 0, 0, 5), msi, op(v41Ack, 0, 0, 0), op(v41VAck, 0, 0, 0))},
		// Errors: VMAPP V=0 Alloc on one ITS while the other maps it, vPE
		// 8192, RDbase 2, VPTSize 13; the priority mask.
		{0, with(sched, op(v41VPMR, 0, 0x80, 0), msi, op(v41VAck, 0, 0, 0), op(v41VMAPP, its1, 0, 0xC0), msi1, op(v41VMAPP, 7, 2, 2), op(v41INVDB, 7, 0, 0), op(v41VSGI, 7, 1, 2), op(v41VMOVP, 0, 0, 2), op(v41Deschedule, 1, 1, 0))},
	}
	covered := map[byte]bool{}
	for _, s := range seeds {
		for _, o := range s.ops {
			covered[o.op%v41Ops] = true
		}
		f.Add(append([]byte{s.typer}, vfuzzEncode(s.ops...)...))
	}
	for op := range byte(v41Ops) {
		if !covered[op] {
			f.Fatalf("no seed has action %d (%v)", op, vfuzzOp{op: op}.String41())
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		typer := vfuzz41Typer(data[0])
		ops := vfuzzOpsOf(data[1:])
		cached, walk := openVFuzz41(t, typer, false), openVFuzz41(t, typer, true)
		done := []string{fmt.Sprintf("GITS_TYPER %#x", uint64(typer))}
		for _, o := range ops {
			done = append(done, o.String41())
			rc, rw := cached.run(t, o), walk.run(t, o)
			if rc != rw {
				t.Fatalf("%v: cached %q, walk %q; after\n%s", o.String41(), rc, rw, lines(done))
			}
			if pc, pw := vfuzz41Pending(cached.env), vfuzz41Pending(walk.env); pc != pw {
				t.Fatalf("after %v: pending, cached:\n%swalk:\n%safter\n%s", o.String41(), pc, pw, lines(done))
			}
		}
		for i := range 2 {
			if diff := cmp.Diff(walk.b.ITSAt(i).State(), cached.b.ITSAt(i).State()); diff != "" {
				t.Fatalf("ITS %d state (-walk +cached):\n%s\nafter\n%s", i, diff, lines(done))
			}
		}
		if !bytes.Equal(vptBytesOf(t, cached.env), vptBytesOf(t, walk.env)) {
			t.Fatalf("VPT bytes differ, after\n%s", lines(done))
		}
	})
}
