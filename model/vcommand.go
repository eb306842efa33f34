package model

import "fmt"

// This file is the GICv4.0 and GICv4.1 (virtual LPI) half of the command
// codec: the packets a hypervisor writes to drive vPEs and vLPIs. Only the
// codec lives here; neither backend executes these commands (the simulator
// does not model GICv4 yet, and KVM's emulated ITS is GICv3 only).
//
// Sources, and how far each is trusted. The field positions are those of
// Arm IHI 0069H. Linux's its_encode_* helpers
// (drivers/irqchip/irq-gic-v3-its.c) and QEMU's FIELD() definitions
// (hw/intc/gicv3_internal.h) agree on every field both define, except
// VPT_size (see [VMAPP]); VMAPI is QEMU's only (Linux never sends it), VSGI
// and INVDB Linux's only (QEMU has no GICv4.1), and for those the RES0
// bits are the ones no helper writes. Section numbers 5.3.19 (VMAPP,
// IHI 0069H), 5.3.20 (VMAPTI) and 5.3.21 (VMOVI, IHI 0069H.b) are checked
// against citations of the document; the other V* section numbers follow
// from its alphabetical order around those three and are marked
// "inferred". The GICv3 commands of command.go cite an older revision's
// chapter 6 numbering.
//
// Fields, [hi:lo] (every other bit is RES0; "4.1" marks the GICv4.1
// additions, which are RES0 in GICv4.0):
//
//	         DW0                      DW1                       DW2                   DW3
//	VMAPP    VCONF_addr 51:16 (4.1)   vPEID 47:32               V 63                  VPT_addr 51:16
//	         PTZ 9, Alloc 8 (4.1)     Default_Doorbell 31:0     RDbase 51:16          VPT_size 7:0
//	                                  (4.1)
//	VMAPTI   DeviceID 63:32           vPEID 47:32, EventID 31:0 Dbell_pINTID 63:32
//	                                                            vINTID 31:0
//	VMAPI    DeviceID 63:32           vPEID 47:32, EventID 31:0 Dbell_pINTID 63:32
//	VMOVI    DeviceID 63:32           vPEID 47:32, EventID 31:0 Dbell_pINTID 63:32
//	                                                            D 0
//	VMOVP    SequenceNumber 47:32     vPEID 47:32, ITSList 15:0 DB 63 (4.1)           Default_Doorbell 31:0
//	                                                            RDbase 51:16          (4.1)
//	VSYNC                             vPEID 47:32
//	VINVALL                           vPEID 47:32
//	INVDB    (4.1)                    vPEID 47:32
//	VSGI     vINTID 35:32 (4.1)       vPEID 47:32
//	         Priority 23:20, Group 10,
//	         Clear 9, Enable 8
//
// Every packet has its opcode in DW0[7:0].

// VPEID identifies a virtual PE: a vCPU whose vLPIs an ITS delivers
// directly. Commands carry it in 16 bits, DW1[47:32].
type VPEID uint16

// NoDoorbell is the Dbell_pINTID value that means "no doorbell": no
// physical LPI is generated for a vPE that is not resident
// (IHI 0069H.b, 5.3.20).
const NoDoorbell INTID = 1023

// Field limits of the GICv4 command encoding.
const (
	vAddrAlign    = 64 << 10              // VPT_addr and VCONF_addr hold bits 51:16
	maxVAddr      = 1<<52 - 1             // both are 52-bit physical addresses
	vAddrMask     = uint64(1<<36-1) << 16 // the field, in place: DW0/DW3[51:16]
	vpeidShift    = 32                    // vPEID, DW1[47:32]
	vptSizeMask   = 0xFF                  // VMAPP VPT_size, DW3[7:0]
	allocBit      = uint64(1) << 8        // VMAPP Alloc, DW0[8]
	ptzBit        = uint64(1) << 9        // VMAPP PTZ, DW0[9]
	dBit          = uint64(1)             // VMOVI D, DW2[0]
	sgiEnable     = uint64(1) << 8        // VSGI Enable, DW0[8]
	sgiClear      = uint64(1) << 9        // VSGI Clear, DW0[9]
	sgiGroup      = uint64(1) << 10       // VSGI Group, DW0[10]
	sgiPrioShift  = 20                    // VSGI Priority, DW0[23:20]
	sgiINTIDShift = 32                    // VSGI vINTID, DW0[35:32]
	maxVSGI       = 15                    // vSGIs are INTIDs 0..15
)

func vpeidDW(v VPEID) uint64 { return uint64(v) << vpeidShift }

func vpeidOf(dw1 uint64) VPEID { return VPEID(dw1 >> vpeidShift) }

func checkVAddr(name string, a GPA) error {
	if uint64(a) > maxVAddr || !a.IsAligned(vAddrAlign) {
		return fmt.Errorf("%s %v must be 64 KiB aligned and below 2^52 (the field holds bits 51:16): %w", name, a, ErrInvalidArgument)
	}
	return nil
}

func bit(b bool) int {
	if b {
		return 1
	}
	return 0
}

// VMAPP maps a vPE to a redistributor and its virtual pending table, or
// unmaps it (IHI 0069H, 5.3.19). One type covers both forms: the GICv4.0
// packet is the GICv4.1 one with Alloc, PTZ, VCONFAddr and DefaultDoorbell
// zero (they are RES0 in GICv4.0).
type VMAPP struct {
	VPEID VPEID // DW1[47:32]
	// RDbase is the target redistributor (DW2[51:16]): its processor number
	// when GITS_TYPER.PTA is 0, its physical address >> 16 otherwise.
	RDbase uint64
	// VPTAddr is the physical address of the vPE's virtual LPI pending
	// table, 64 KiB aligned (DW3[51:16]).
	VPTAddr GPA
	// VPTSize is the number of vINTID bits the pending table covers, minus
	// one (DW3[7:0]). Use [VMAPP.VINTIDBits] for the count.
	//
	// Linux's its_encode_vpt_size writes DW3[4:0]; QEMU defines DW3[7:0]
	// (the GICv4.1 width, with the upper bits RES0 in GICv4.0). The
	// codec keeps the wider field so that no bit of a GICv4.1 packet is
	// lost; a value above 31 names more than the 32 vINTID bits any GIC
	// has, which `itsbench decode` points out.
	VPTSize uint8
	// Valid maps the vPE when set; clear, it unmaps it (DW2[63]).
	Valid bool

	// Alloc (GICv4.1, DW0[8]): with Valid, this is the first map of the
	// vPE on any ITS; without, the last unmap.
	Alloc bool
	// PTZ (GICv4.1, DW0[9]): the pending table is known to be zero.
	PTZ bool
	// VCONFAddr (GICv4.1, DW0[51:16]) is the physical address of the VM's
	// vLPI configuration table, 64 KiB aligned. In GICv4.0 this table is
	// found through GICR_VPROPBASER instead.
	VCONFAddr GPA
	// DefaultDoorbell (GICv4.1, DW1[31:0]) is the physical LPI rung for a
	// vLPI of a non-resident vPE when the event has no doorbell of its own.
	DefaultDoorbell INTID
}

// VINTIDBits returns the number of vINTID bits the pending table covers.
func (c VMAPP) VINTIDBits() int { return int(c.VPTSize) + 1 }

// IsGICv41 reports whether any GICv4.1 field is set.
func (c VMAPP) IsGICv41() bool {
	return c.Alloc || c.PTZ || c.VCONFAddr != 0 || c.DefaultDoorbell != 0
}

func (VMAPP) Opcode() Opcode { return OpVMAPP }

func (c VMAPP) Encode() (Packet, error) {
	if err := checkRDbase("VMAPP: RDbase", c.RDbase); err != nil {
		return Packet{}, err
	}
	if err := checkVAddr("VMAPP: VPT_addr", c.VPTAddr); err != nil {
		return Packet{}, err
	}
	if err := checkVAddr("VMAPP: VCONF_addr", c.VCONFAddr); err != nil {
		return Packet{}, err
	}
	var p Packet
	dw0 := uint64(OpVMAPP) | uint64(c.VCONFAddr)
	if c.Alloc {
		dw0 |= allocBit
	}
	if c.PTZ {
		dw0 |= ptzBit
	}
	p.setDW(0, dw0)
	p.setDW(1, vpeidDW(c.VPEID)|uint64(c.DefaultDoorbell))
	dw2 := c.RDbase << 16
	if c.Valid {
		dw2 |= validBit
	}
	p.setDW(2, dw2)
	p.setDW(3, uint64(c.VPTAddr)|uint64(c.VPTSize))
	return p, nil
}

// String shows the GICv4.1 fields only when one is set, and of an unmap
// only the fields Linux writes (vPEID, and Alloc in GICv4.1).
func (c VMAPP) String() string {
	if !c.Valid {
		s := fmt.Sprintf("VMAPP vpeid=%d valid=0", c.VPEID)
		if c.Alloc {
			s += " alloc=1"
		}
		return s
	}
	s := fmt.Sprintf("VMAPP vpeid=%d rdbase=%d vpt=%v bits=%d", c.VPEID, c.RDbase, c.VPTAddr, c.VINTIDBits())
	if c.IsGICv41() {
		s += fmt.Sprintf(" alloc=%d ptz=%d vconf=%v db=%d", bit(c.Alloc), bit(c.PTZ), c.VCONFAddr, c.DefaultDoorbell)
	}
	return s
}

// VMAPTI maps an event to a vLPI of a vPE (IHI 0069H.b, 5.3.20).
type VMAPTI struct {
	DeviceID DeviceID // DW0[63:32]
	EventID  EventID  // DW1[31:0]
	VINTID   INTID    // the vLPI, DW2[31:0]
	VPEID    VPEID    // DW1[47:32]
	// Doorbell is the physical LPI rung when the vLPI becomes pending while
	// the vPE is not resident, or [NoDoorbell] (Dbell_pINTID, DW2[63:32]).
	// Linux writes NoDoorbell on GICv4.1, which has default doorbells.
	Doorbell INTID
}

func (VMAPTI) Opcode() Opcode { return OpVMAPTI }

func (c VMAPTI) Encode() (Packet, error) {
	p := header(OpVMAPTI, c.DeviceID)
	p.setDW(1, vpeidDW(c.VPEID)|uint64(c.EventID))
	p.setDW(2, uint64(c.Doorbell)<<32|uint64(c.VINTID))
	return p, nil
}

func (c VMAPTI) String() string {
	return fmt.Sprintf("VMAPTI dev=%#x ev=%d vintid=%d vpeid=%d db=%d", uint32(c.DeviceID), c.EventID, c.VINTID, c.VPEID, c.Doorbell)
}

// VMAPI maps an event to the vLPI whose vINTID equals the EventID
// (IHI 0069H, 5.3.18, inferred). Its packet is VMAPTI's with DW2[31:0]
// RES0. QEMU implements it; Linux never sends it.
type VMAPI struct {
	DeviceID DeviceID // DW0[63:32]
	EventID  EventID  // DW1[31:0], also the vINTID
	VPEID    VPEID    // DW1[47:32]
	Doorbell INTID    // Dbell_pINTID, DW2[63:32]; [NoDoorbell] for none
}

func (VMAPI) Opcode() Opcode { return OpVMAPI }

func (c VMAPI) Encode() (Packet, error) {
	p := header(OpVMAPI, c.DeviceID)
	p.setDW(1, vpeidDW(c.VPEID)|uint64(c.EventID))
	p.setDW(2, uint64(c.Doorbell)<<32)
	return p, nil
}

func (c VMAPI) String() string {
	return fmt.Sprintf("VMAPI dev=%#x ev=%d vpeid=%d db=%d", uint32(c.DeviceID), c.EventID, c.VPEID, c.Doorbell)
}

// VMOVI moves an event's vLPI to another vPE (IHI 0069H.b, 5.3.21).
type VMOVI struct {
	DeviceID DeviceID // DW0[63:32]
	EventID  EventID  // DW1[31:0]
	VPEID    VPEID    // the destination vPE, DW1[47:32]
	// D says Doorbell is valid and replaces the event's doorbell (DW2[0]);
	// clear, the event keeps its doorbell. Linux always sets it.
	D bool
	// Doorbell is the new Dbell_pINTID (DW2[63:32]), [NoDoorbell] for none.
	Doorbell INTID
}

func (VMOVI) Opcode() Opcode { return OpVMOVI }

func (c VMOVI) Encode() (Packet, error) {
	p := header(OpVMOVI, c.DeviceID)
	p.setDW(1, vpeidDW(c.VPEID)|uint64(c.EventID))
	dw2 := uint64(c.Doorbell) << 32
	if c.D {
		dw2 |= dBit
	}
	p.setDW(2, dw2)
	return p, nil
}

// String shows the doorbell when D is set, and when D is clear but the
// field holds a value anyway.
func (c VMOVI) String() string {
	s := fmt.Sprintf("VMOVI dev=%#x ev=%d vpeid=%d", uint32(c.DeviceID), c.EventID, c.VPEID)
	switch {
	case c.D:
		s += fmt.Sprintf(" db=%d", c.Doorbell)
	case c.Doorbell != 0:
		s += fmt.Sprintf(" d=0 db=%d", c.Doorbell)
	}
	return s
}

// VMOVP moves a vPE to another redistributor (IHI 0069H, 5.3.22, inferred).
// With GITS_TYPER.VMOVP 0, software sends the same VMOVP, with the same
// SequenceNumber and ITSList, to every ITS of ITSList; with VMOVP 1 both
// are ignored and one ITS is enough.
type VMOVP struct {
	// SequenceNumber orders the VMOVPs of several ITSes (DW0[47:32]).
	SequenceNumber uint16
	// ITSList is a bitmap of the GITS_CTLR.ITS_Number of the ITSes the vPE
	// is mapped on (DW1[15:0]).
	ITSList uint16
	VPEID   VPEID // DW1[47:32]
	// RDbase is the new target redistributor (DW2[51:16]), as in [VMAPP].
	RDbase uint64
	// DB (GICv4.1, DW2[63]) says DefaultDoorbell is valid.
	DB bool
	// DefaultDoorbell (GICv4.1, DW3[31:0]) replaces the vPE's default
	// doorbell when DB is set.
	DefaultDoorbell INTID
}

func (VMOVP) Opcode() Opcode { return OpVMOVP }

func (c VMOVP) Encode() (Packet, error) {
	if err := checkRDbase("VMOVP: RDbase", c.RDbase); err != nil {
		return Packet{}, err
	}
	var p Packet
	p.setDW(0, uint64(c.SequenceNumber)<<32|uint64(OpVMOVP))
	p.setDW(1, vpeidDW(c.VPEID)|uint64(c.ITSList))
	dw2 := c.RDbase << 16
	if c.DB {
		dw2 |= validBit
	}
	p.setDW(2, dw2)
	p.setDW(3, uint64(c.DefaultDoorbell))
	return p, nil
}

// String shows SequenceNumber and ITSList only when one is set, and the
// default doorbell when DB is set (or the field holds a value anyway).
func (c VMOVP) String() string {
	s := fmt.Sprintf("VMOVP vpeid=%d rdbase=%d", c.VPEID, c.RDbase)
	if c.SequenceNumber != 0 || c.ITSList != 0 {
		s += fmt.Sprintf(" seq=%d itslist=%#x", c.SequenceNumber, c.ITSList)
	}
	switch {
	case c.DB:
		s += fmt.Sprintf(" db=%d", c.DefaultDoorbell)
	case c.DefaultDoorbell != 0:
		s += fmt.Sprintf(" dbvalid=0 db=%d", c.DefaultDoorbell)
	}
	return s
}

// vpePacket encodes the shape shared by VSYNC, VINVALL and INVDB: a vPEID,
// nothing else.
func vpePacket(op Opcode, v VPEID) Packet {
	p := header(op, 0)
	p.setDW(1, vpeidDW(v))
	return p
}

func vpeString(op Opcode, v VPEID) string { return fmt.Sprintf("%v vpeid=%d", op, v) }

// VSYNC waits until the effects of earlier commands on a vPE are visible
// (IHI 0069H, 5.3.24, inferred). Linux sends it after every V* command, and
// after INV, INT and CLEAR of a vLPI.
type VSYNC struct {
	VPEID VPEID // DW1[47:32]
}

func (VSYNC) Opcode() Opcode            { return OpVSYNC }
func (c VSYNC) Encode() (Packet, error) { return vpePacket(OpVSYNC, c.VPEID), nil }
func (c VSYNC) String() string          { return vpeString(OpVSYNC, c.VPEID) }

// VINVALL makes the redistributors reload the configuration of every vLPI
// of a vPE (IHI 0069H, 5.3.17, inferred).
type VINVALL struct {
	VPEID VPEID // DW1[47:32]
}

func (VINVALL) Opcode() Opcode            { return OpVINVALL }
func (c VINVALL) Encode() (Packet, error) { return vpePacket(OpVINVALL, c.VPEID), nil }
func (c VINVALL) String() string          { return vpeString(OpVINVALL, c.VPEID) }

// INVDB (GICv4.1) makes the redistributors drop what they cached of a
// vPE's doorbell configuration (IHI 0069H, 5.3.9, inferred).
type INVDB struct {
	VPEID VPEID // DW1[47:32]
}

func (INVDB) Opcode() Opcode            { return OpINVDB }
func (c INVDB) Encode() (Packet, error) { return vpePacket(OpINVDB, c.VPEID), nil }
func (c INVDB) String() string          { return vpeString(OpINVDB, c.VPEID) }

// VSGI (GICv4.1) writes the configuration of a vPE's vSGI, or clears its
// pending state (IHI 0069H, 5.3.23, inferred; 8.8 "Direct injection of
// vSGIs"). One command cannot do both: with Clear it clears the pending
// state and leaves the configuration; without, it writes Enable, Group and
// Priority and leaves the pending state.
type VSGI struct {
	VPEID VPEID // DW1[47:32]
	// VINTID is the vSGI, 0..15 (DW0[35:32]).
	VINTID uint8
	// Priority is the vSGI's 8-bit priority. Only bits [7:4] are encoded
	// (DW0[23:20]), so it must be a multiple of 16.
	Priority uint8
	Group    bool // 1 = Group 1 (DW0[10])
	Enable   bool // DW0[8]
	Clear    bool // DW0[9]
}

func (VSGI) Opcode() Opcode { return OpVSGI }

func (c VSGI) Encode() (Packet, error) {
	if c.VINTID > maxVSGI {
		return Packet{}, fmt.Errorf("VSGI: vINTID %d does not fit DW0[35:32] (vSGIs 0..15): %w", c.VINTID, ErrInvalidArgument)
	}
	if c.Priority&0xF != 0 {
		return Packet{}, fmt.Errorf("VSGI: Priority %#x has bits [3:0] set; DW0[23:20] holds bits [7:4] only: %w", c.Priority, ErrInvalidArgument)
	}
	dw0 := uint64(c.VINTID)<<sgiINTIDShift | uint64(c.Priority>>4)<<sgiPrioShift | uint64(OpVSGI)
	if c.Enable {
		dw0 |= sgiEnable
	}
	if c.Clear {
		dw0 |= sgiClear
	}
	if c.Group {
		dw0 |= sgiGroup
	}
	var p Packet
	p.setDW(0, dw0)
	p.setDW(1, vpeidDW(c.VPEID))
	return p, nil
}

func (c VSGI) String() string {
	return fmt.Sprintf("VSGI vpeid=%d vintid=%d prio=%#02x group=%d enable=%d clear=%d",
		c.VPEID, c.VINTID, c.Priority, bit(c.Group), bit(c.Enable), bit(c.Clear))
}

// decodeGICv4 decodes the packet of GICv4 opcode op; ok is false for any
// other opcode.
func decodeGICv4(op Opcode, p Packet) (cmd Command, ok bool) {
	dw0, dw1, dw2, dw3 := p.DW(0), p.DW(1), p.DW(2), p.DW(3)
	dev := DeviceID(dw0 >> 32)
	ev := EventID(uint32(dw1))
	vpe := vpeidOf(dw1)
	switch op {
	case OpVMAPP:
		return VMAPP{
			VPEID: vpe, RDbase: (dw2 & rdbaseMask) >> 16,
			VPTAddr: GPA(dw3 & vAddrMask), VPTSize: uint8(dw3 & vptSizeMask),
			Valid: dw2&validBit != 0, Alloc: dw0&allocBit != 0, PTZ: dw0&ptzBit != 0,
			VCONFAddr: GPA(dw0 & vAddrMask), DefaultDoorbell: INTID(uint32(dw1)),
		}, true
	case OpVMAPTI:
		return VMAPTI{DeviceID: dev, EventID: ev, VINTID: INTID(uint32(dw2)), VPEID: vpe, Doorbell: INTID(dw2 >> 32)}, true
	case OpVMAPI:
		return VMAPI{DeviceID: dev, EventID: ev, VPEID: vpe, Doorbell: INTID(dw2 >> 32)}, true
	case OpVMOVI:
		return VMOVI{DeviceID: dev, EventID: ev, VPEID: vpe, D: dw2&dBit != 0, Doorbell: INTID(dw2 >> 32)}, true
	case OpVMOVP:
		return VMOVP{
			SequenceNumber: uint16(dw0 >> 32), ITSList: uint16(dw1), VPEID: vpe,
			RDbase: (dw2 & rdbaseMask) >> 16, DB: dw2&validBit != 0, DefaultDoorbell: INTID(uint32(dw3)),
		}, true
	case OpVSYNC:
		return VSYNC{VPEID: vpe}, true
	case OpVINVALL:
		return VINVALL{VPEID: vpe}, true
	case OpINVDB:
		return INVDB{VPEID: vpe}, true
	case OpVSGI:
		return VSGI{
			VPEID: vpe, VINTID: uint8(dw0>>sgiINTIDShift) & maxVSGI,
			Priority: uint8(dw0>>sgiPrioShift&0xF) << 4,
			Group:    dw0&sgiGroup != 0, Enable: dw0&sgiEnable != 0, Clear: dw0&sgiClear != 0,
		}, true
	}
	return nil, false
}
